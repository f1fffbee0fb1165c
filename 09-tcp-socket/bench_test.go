package tcpsock_test

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkTCP measures a TCP connection over loopback between this process and its peer: one
// connection, used both ways.
//
//   - raw: socket(2), bind(2), listen(2), accept4(2) and connect(2) of golang.org/x/sys/unix,
//     then read(2) and write(2), on blocking descriptors, as a C program does; TCP_NODELAY set
//     on both ends, as Go's net does.
//   - net: net.Listen and net.Dial, then the net.Conn's Read and Write, as the module's server
//     and client do. Go makes every socket non-blocking: a Read that finds the socket empty
//     parks its goroutine, and Go's poller wakes it when epoll says the socket is readable.
//
// The listener is on 127.0.0.1, at a port that the kernel picks (port 0). The peer connects,
// then says ready, and only then does this process accept: the connection is made before the
// timing starts.
//
// rtt is a round trip of 64 bytes; throughput streams 64 KiB writes one way.
func BenchmarkTCP(b *testing.B) {
	for _, kind := range []string{"rtt", "throughput"} {
		for _, path := range []string{"raw", "net"} {
			b.Run(kind+"/"+path, func(b *testing.B) { benchTCP(b, kind, path) })
		}
	}
}

func benchTCP(b *testing.B, kind, path string) {
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

// listen listens on 127.0.0.1 at a port that the kernel picks, as path says, and returns the
// port and how to accept the peer's connection. The listener and the connection are closed when
// the benchmark ends.
func listen(b *testing.B, path string) (addr string, accept func() io.ReadWriter) {
	if path == "net" {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { l.Close() })
		return strconv.Itoa(l.Addr().(*net.TCPAddr).Port), func() io.ReadWriter {
			c, err := l.Accept()
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { c.Close() })
			return c
		}
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		b.Fatal("socket:", err)
	}
	b.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		b.Fatal("bind 127.0.0.1:0:", err)
	}
	if err := unix.Listen(fd, 1); err != nil {
		b.Fatal("listen:", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		b.Fatal("getsockname:", err)
	}
	return strconv.Itoa(sa.(*unix.SockaddrInet4).Port), func() io.ReadWriter {
		c, _, err := unix.Accept4(fd, unix.SOCK_CLOEXEC)
		if err != nil {
			b.Fatal("accept4:", err)
		}
		b.Cleanup(func() { unix.Close(c) })
		if err := noDelay(c); err != nil {
			b.Fatal(err)
		}
		return rawFD(c)
	}
}

// dial connects to the listener at port addr of 127.0.0.1, as path says. The peer's exit
// closes the connection.
func dial(path, addr string) (io.ReadWriter, error) {
	if path == "net" {
		return net.Dial("tcp", "127.0.0.1:"+addr)
	}
	port, err := strconv.Atoi(addr)
	if err != nil {
		return nil, fmt.Errorf("port %q: want a number", addr)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	if err := noDelay(fd); err != nil {
		return nil, err
	}
	if err := unix.Connect(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: port}); err != nil {
		return nil, fmt.Errorf("connect 127.0.0.1:%d: %w", port, err)
	}
	return rawFD(fd), nil
}

// noDelay turns Nagle's algorithm off on fd, as Go's net does on every TCP connection: a short
// write goes out at once instead of waiting for the ACK of what was sent before.
func noDelay(fd int) error {
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		return fmt.Errorf("setsockopt TCP_NODELAY: %w", err)
	}
	return nil
}

// The peers: `echo|sink raw|net PORT N`, connected to the listener at 127.0.0.1:PORT.
var benchPeers = map[string]func(args []string) error{
	"echo": func(args []string) error { return sockPeer(args, streamEcho) },
	"sink": func(args []string) error { return sockPeer(args, streamSink) },
}

func sockPeer(args []string, loop func(r io.Reader, w io.Writer, n int) error) error {
	if len(args) != 3 {
		return fmt.Errorf("want raw|net PORT N")
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
