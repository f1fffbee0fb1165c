package fifo_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkFIFO measures two FIFOs between this process and its peer, made by mkfifo(3) with
// mode 0600 in a fresh temporary directory: "to" (this process writes, the peer reads) and
// "from" (the other way). This process opens "to" for writing, then "from" for reading; the
// peer opens "to" for reading, then "from" for writing, so that each open finds its partner.
// Once open, a FIFO is a pipe, and the loops are BenchmarkPipe's (05-pipes).
//
//   - raw: open(2) without O_NONBLOCK, then read(2) and write(2) on the blocking descriptors,
//     as a C program does.
//   - osfile: os.OpenFile, whose *os.File is non-blocking and in Go's poller: epoll takes a
//     FIFO (not a regular file), so a read that finds the FIFO empty parks its goroutine until
//     epoll says that it is readable. 06's programs get such a file from fifo.Open.
//
// rtt is a round trip of 64 bytes; throughput streams 64 KiB writes one way.
func BenchmarkFIFO(b *testing.B) {
	for _, kind := range []string{"rtt", "throughput"} {
		for _, path := range []string{"raw", "osfile"} {
			b.Run(kind+"/"+path, func(b *testing.B) { benchFIFO(b, kind, path) })
		}
	}
}

func benchFIFO(b *testing.B, kind, path string) {
	self, cpu := benchCPUs(b)
	pinSelf(b, self)
	dir := b.TempDir() // removed, with the FIFOs, when the benchmark ends; the peer removes nothing
	to, from := filepath.Join(dir, "to"), filepath.Join(dir, "from")
	for _, name := range []string{to, from} {
		if err := unix.Mkfifo(name, 0o600); err != nil {
			b.Fatal("mkfifo:", err)
		}
	}
	// Each open waits for the peer to open the other end, so they run while startPeer waits
	// for the peer's "ready", which comes once the peer has opened both.
	var w, r *os.File
	var openErr error
	opened := make(chan struct{})
	go func() {
		defer close(opened)
		if w, openErr = openFIFO(path, to, unix.O_WRONLY); openErr == nil {
			r, openErr = openFIFO(path, from, unix.O_RDONLY)
		}
	}()
	b.Cleanup(func() {
		// If the peer never opened its ends, the opens above are waiting still. An open for
		// reading and writing never waits, and counts as both a reader and a writer of the
		// FIFO, so it ends them.
		for _, name := range []string{to, from} {
			if fd, err := unix.Open(name, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0); err == nil {
				defer unix.Close(fd)
			}
		}
		<-opened
		for _, f := range []*os.File{w, r} {
			if f != nil {
				f.Close()
			}
		}
	})
	role := map[string]string{"rtt": "echo", "throughput": "sink"}[kind]
	p := startPeer(b, cpu, nil, role, path, to, from, strconv.Itoa(b.N))
	select {
	case <-opened:
	case <-time.After(benchWait):
		b.Fatalf("the FIFOs were not open %v after the peer said ready", benchWait)
	}
	if openErr != nil {
		b.Fatal(openErr)
	}
	if kind == "rtt" {
		streamRoundTrips(b, stream(path, w), stream(path, r))
	} else {
		streamThroughput(b, stream(path, w), stream(path, r))
	}
	p.wait(b)
}

// openFIFO opens the FIFO name for flag (unix.O_RDONLY or unix.O_WRONLY), waiting for the
// other end: with os.OpenFile for osfile, with open(2) for raw, the descriptor staying
// blocking (os.NewFile leaves a blocking descriptor out of the poller).
func openFIFO(path, name string, flag int) (*os.File, error) {
	if path == "osfile" {
		return os.OpenFile(name, flag, 0)
	}
	for {
		fd, err := unix.Open(name, flag|unix.O_CLOEXEC, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: name, Err: err}
		}
		return os.NewFile(uintptr(fd), name), nil
	}
}

// stream is how path reads and writes f: the *os.File itself, or read(2) and write(2) on its
// descriptor.
func stream(path string, f *os.File) io.ReadWriter {
	if path == "osfile" {
		return f
	}
	return rawFD(f.Fd())
}

// The peers: `echo|sink raw|osfile TO FROM N`, reading TO and writing FROM.
var benchPeers = map[string]func(args []string) error{
	"echo": func(args []string) error { return fifoPeer(args, streamEcho) },
	"sink": func(args []string) error { return fifoPeer(args, streamSink) },
}

func fifoPeer(args []string, loop func(r io.Reader, w io.Writer, n int) error) error {
	if len(args) != 4 {
		return fmt.Errorf("want raw|osfile TO FROM N")
	}
	n, err := peerCount(args[3])
	if err != nil {
		return err
	}
	r, err := openFIFO(args[0], args[1], unix.O_RDONLY)
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := openFIFO(args[0], args[2], unix.O_WRONLY)
	if err != nil {
		return err
	}
	defer w.Close()
	return loop(stream(args[0], r), stream(args[0], w), n)
}
