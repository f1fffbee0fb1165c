package unixsock_test

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	unixsock "example.com/ipc/08-unix-socket"
	"golang.org/x/sys/unix"
)

// BenchmarkUnix measures a Unix stream socket between this process and its peer: one
// connection, used both ways.
//
//   - raw: socket(2), bind(2), listen(2), accept4(2) and connect(2) of golang.org/x/sys/unix,
//     then read(2) and write(2), on blocking descriptors, as a C program does.
//   - net: net.Listen and net.Dial, then the net.Conn's Read and Write, as the module's server
//     and client do. Go makes every socket non-blocking: a Read that finds the socket empty
//     parks its goroutine, and Go's poller wakes it when epoll says the socket is readable.
//
// The listener is at a short path in a fresh directory under /tmp (sun_path holds 108 bytes,
// the path's final NUL among them). The peer connects, then says ready, and only then does this
// process accept: the connection is made before the timing starts.
//
// rtt is a round trip of 64 bytes; throughput streams 64 KiB writes one way.
func BenchmarkUnix(b *testing.B) {
	for _, kind := range []string{"rtt", "throughput"} {
		for _, path := range []string{"raw", "net"} {
			b.Run(kind+"/"+path, func(b *testing.B) { benchUnix(b, kind, path) })
		}
	}
}

func benchUnix(b *testing.B, kind, path string) {
	self, cpu := benchCPUs(b)
	pinSelf(b, self)
	addr, accept := listen(b, path)
	role := map[string]string{"rtt": "echo", "throughput": "sink"}[kind]
	p := startPeer(b, cpu, nil, role, path, addr, strconv.Itoa(b.N))
	c := accept()
	if kind == "rtt" {
		streamRoundTrips(b, c, c)
	} else {
		streamThroughput(b, c, c)
	}
	p.wait(b)
}

// listen listens at a socket path of its own, as path says, and returns the path and how to
// accept the peer's connection. The listener, the connection and the directory of the path
// are closed and removed when the benchmark ends.
func listen(b *testing.B, path string) (addr string, accept func() io.ReadWriter) {
	// /tmp, not $TMPDIR, which may be too long for sun_path.
	dir, err := os.MkdirTemp("/tmp", "ipcbench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	addr = filepath.Join(dir, "s")
	if err := unixsock.CheckPath(addr); err != nil {
		b.Fatal(err)
	}
	if path == "net" {
		l, err := net.Listen("unix", addr)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { l.Close() })
		return addr, func() io.ReadWriter {
			c, err := l.Accept()
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { c.Close() })
			return c
		}
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		b.Fatal("socket:", err)
	}
	b.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: addr}); err != nil {
		b.Fatalf("bind %s: %v", addr, err)
	}
	if err := unix.Listen(fd, 1); err != nil {
		b.Fatal("listen:", err)
	}
	return addr, func() io.ReadWriter {
		c, _, err := unix.Accept4(fd, unix.SOCK_CLOEXEC)
		if err != nil {
			b.Fatal("accept4:", err)
		}
		b.Cleanup(func() { unix.Close(c) })
		return rawFD(c)
	}
}

// dial connects to the listener at addr, as path says. The peer's exit closes the connection.
func dial(path, addr string) (io.ReadWriter, error) {
	if path == "net" {
		return net.Dial("unix", addr)
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: addr}); err != nil {
		return nil, fmt.Errorf("connect %s: %w", addr, err)
	}
	return rawFD(fd), nil
}

// The peers: `echo|sink raw|net PATH N`, connected to the listener at PATH.
var benchPeers = map[string]func(args []string) error{
	"echo": func(args []string) error { return sockPeer(args, streamEcho) },
	"sink": func(args []string) error { return sockPeer(args, streamSink) },
}

func sockPeer(args []string, loop func(r io.Reader, w io.Writer, n int) error) error {
	if len(args) != 3 {
		return fmt.Errorf("want raw|net PATH N")
	}
	n, err := peerCount(args[2])
	if err != nil {
		return err
	}
	// Connected before loop says ready: the benchmark accepts once it has read the ready.
	c, err := dial(args[0], args[1])
	if err != nil {
		return err
	}
	return loop(c, c, n)
}
