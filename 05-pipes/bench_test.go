package pipes_test

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkPipe measures two pipes between this process and its peer: one each way.
//
//   - raw: read(2) and write(2) on blocking descriptors, as a C program does.
//   - osfile: *os.File on the descriptors os.Pipe makes, which are non-blocking: a read that
//     finds the pipe empty parks its goroutine, and Go's poller wakes it when epoll says the
//     pipe is readable. That is the path of a Go program that uses os.Pipe, exec.Cmd's
//     StdinPipe and StdoutPipe among them.
//
// rtt is a round trip of 64 bytes; throughput streams 64 KiB writes one way.
func BenchmarkPipe(b *testing.B) {
	for _, kind := range []string{"rtt", "throughput"} {
		for _, path := range []string{"raw", "osfile"} {
			b.Run(kind+"/"+path, func(b *testing.B) { benchPipe(b, kind, path) })
		}
	}
}

func benchPipe(b *testing.B, kind, path string) {
	self, cpu := benchCPUs(b)
	pinSelf(b, self)
	// to: this process writes, the peer reads (its fd 3). from: the peer writes (its fd 4).
	toR, toW := pipe(b, path)
	fromR, fromW := pipe(b, path)
	role := map[string]string{"rtt": "echo", "throughput": "sink"}[kind]
	p := startPeer(b, cpu, []*os.File{toR, fromW}, role, path, strconv.Itoa(b.N))
	toR.Close() // the peer's ends: closed here, so that an EOF can come
	fromW.Close()
	w, r := stream(path, toW), stream(path, fromR)
	if kind == "rtt" {
		streamRoundTrips(b, w, r)
	} else {
		streamThroughput(b, w, r)
	}
	p.wait(b)
	toW.Close()
	fromR.Close()
}

// pipe makes a pipe: blocking for raw (pipe2 without O_NONBLOCK), as os.Pipe makes it for
// osfile.
func pipe(b *testing.B, path string) (r, w *os.File) {
	if path == "osfile" {
		r, w, err := os.Pipe()
		if err != nil {
			b.Fatal(err)
		}
		return r, w
	}
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		b.Fatal("pipe2:", err)
	}
	return os.NewFile(uintptr(fds[0]), "pipe"), os.NewFile(uintptr(fds[1]), "pipe")
}

// stream is how path reads and writes f: the *os.File itself, or read(2) and write(2) on its
// descriptor.
func stream(path string, f *os.File) io.ReadWriter {
	if path == "osfile" {
		return f
	}
	return rawFD(f.Fd())
}

// The peers: `echo|sink raw|osfile N`, reading fd 3 and writing fd 4.
var benchPeers = map[string]func(args []string) error{
	"echo": func(args []string) error { return pipePeer(args, streamEcho) },
	"sink": func(args []string) error { return pipePeer(args, streamSink) },
}

func pipePeer(args []string, loop func(r io.Reader, w io.Writer, n int) error) error {
	if len(args) != 2 {
		return fmt.Errorf("want raw|osfile N")
	}
	n, err := peerCount(args[1])
	if err != nil {
		return err
	}
	// The descriptors came through exec: os.NewFile makes them pollable only if they are
	// non-blocking, which they are for osfile (O_NONBLOCK belongs to the pipe's open file
	// description, which both processes share).
	r, w := os.NewFile(3, "pipe"), os.NewFile(4, "pipe")
	return loop(stream(args[0], r), stream(args[0], w), n)
}
