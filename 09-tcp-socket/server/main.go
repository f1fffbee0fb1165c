// Server listens on a TCP socket and answers each line that a client sends with the line in
// upper case, for many clients at once, until Ctrl-C or SIGTERM; it logs each connection's start
// and end, with the client's address.
//
// It demonstrates socket(2), bind(2) to a host and a port, listen(2), accept(2), read(2) and
// write(2) on a TCP connection, a read deadline that ends an idle connection, and a graceful
// shutdown. Go's net package makes the socket, sets SO_REUSEADDR, binds and listens
// (net.Listen) and accepts; golang.org/x/sys/unix only asks the kernel how many bytes wait
// unread (SIOCINQ), which net does not tell.
//
// Usage:
//
//	server [-addr HOST:PORT] [-grace D] [-idle D]
//
// Run the pair in two terminals, the server first (a client with no server fails at once):
//
//	terminal 1: go run ./server
//	terminal 2: go run ./client hello "second line"
//	            echo hi | go run ./client
//
// The protocol: each request line (at most 64 KiB, newline not counted) gets one response line,
// the request in upper case. A longer line gets its connection closed, and the server says why;
// the others are served on. With -idle D, a connection from which no byte has come for D is
// closed, and the server says so.
//
// Objects: none in the file system. The server listens on HOST:PORT (127.0.0.1:7777 by default:
// loopback, which only this machine reaches), and its first line on stderr says the address it
// actually listens on, port included (with port 0, the kernel picks a free one). The port is
// free again for another server as soon as this one exits: Go sets SO_REUSEADDR on the listening
// socket, so connections still in TIME_WAIT do not hold it. A port that another process listens
// on is refused: one line, status 1.
//
// On Ctrl-C or SIGTERM the server stops accepting at once, closes idle connections, lets a
// connection in the middle of a line finish that line and get its answer (for up to -grace),
// and exits 0. Exit status: 0 after that shutdown, 1 if it cannot start, 2 on a usage error.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	tcpsock "example.com/ipc/09-tcp-socket"
	"golang.org/x/sys/unix"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("server: ")
	addr := flag.String("addr", tcpsock.DefaultAddr, "listen on `HOST:PORT` (port 0: a free port, which the first line says)")
	grace := flag.Duration("grace", 5*time.Second, "on Ctrl-C or SIGTERM, how `long` to let lines in progress finish")
	idle := flag.Duration("idle", 0, "close a connection from which no byte has come for this `long` (0: never)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `Usage: server [-addr HOST:PORT] [-grace D] [-idle D]

Server listens on a TCP socket and answers each line that a client sends with the line in
upper case, for many clients at once, until Ctrl-C or SIGTERM. Its first line says the address
it listens on.

Examples, then run the client in another terminal:
  server                       (on 127.0.0.1:7777, loopback: this machine only)
  server -addr [::1]:0 -idle 1m  (IPv6 loopback, a free port, idle clients closed)

Flags:
`)
		flag.PrintDefaults()
	}
	tcpsock.ParseFlags("server")
	if flag.NArg() > 0 {
		log.Printf("unexpected argument %q: the server takes only flags (see server -h)", flag.Arg(0))
		os.Exit(2)
	}
	if err := tcpsock.CheckAddr(*addr); err != nil {
		log.Print(err)
		os.Exit(2)
	}
	if *grace < 0 {
		log.Printf("-grace %v: want 0 or more", *grace)
		os.Exit(2)
	}
	if *idle < 0 {
		log.Printf("-idle %v: want 0 (never) or more", *idle)
		os.Exit(2)
	}
	ctx := tcpsock.CatchSignals()
	if err := run(ctx, *addr, *grace, *idle); err != nil {
		log.Print(err)
		os.Exit(1)
	}
	// A signal means "shut down gracefully", which is done: exit 0, not death by the signal.
	os.Exit(0)
}

func run(ctx context.Context, addr string, grace, idle time.Duration) error {
	// 1. socket, bind and listen, in net.Listen. Go sets SO_REUSEADDR first, so that a server
	// restarted at once binds the port although connections of the last one are still in
	// TIME_WAIT; it does not let two servers listen on one port: the second gets EADDRINUSE.
	l, err := net.Listen("tcp", addr)
	if errors.Is(err, unix.EADDRINUSE) {
		return fmt.Errorf("listen %s: %w (another server listens on this port: stop it, or pass another -addr)", addr, tcpsock.Unwrap(err))
	}
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, tcpsock.Unwrap(err))
	}
	defer l.Close()
	// The address actually bound: with port 0 the kernel has picked one, and clients need it.
	log.Printf("listening on %s, waiting for clients...", l.Addr())

	// 5. On Ctrl-C or SIGTERM, stop accepting at once: closing the listener ends Accept.
	stopAccept := context.AfterFunc(ctx, func() { l.Close() })
	defer stopAccept()

	// 2. Accept connections, and serve each in a goroutine of its own, so that a slow client
	// never holds up the others.
	var all conns
	all.set = map[*conn]bool{}
	for n := 1; ; n++ {
		c, err := l.Accept()
		if ctx.Err() != nil {
			if c != nil {
				c.Close()
			}
			break
		}
		if err != nil {
			// EMFILE and the like: this connection is lost, the server is not. Wait a moment, so
			// as not to spin while the condition lasts.
			log.Printf("accept %s: %v", l.Addr(), tcpsock.Unwrap(err))
			time.Sleep(100 * time.Millisecond)
			continue
		}
		cc := &conn{c: c, n: n}
		all.add(cc)
		go func() {
			defer all.done(cc)
			serve(cc, idle)
		}()
	}
	l.Close()

	// 5. Graceful shutdown: close idle connections, let the others finish their line, until the
	// grace period ends.
	log.Printf("%v: shutting down: no new connections; closing idle ones, finishing lines in progress (for up to %v)...", context.Cause(ctx), grace)
	all.shutdown(time.Now().Add(grace))
	all.wg.Wait()
	return nil
}

// conn is one client's connection, with what the shutdown needs to know of it.
type conn struct {
	c net.Conn
	n int // its number in the log

	mu       sync.Mutex
	stopping bool      // the server is shutting down
	graceEnd time.Time // ...and the connection must end by then
}

// conns is the set of open connections.
type conns struct {
	mu       sync.Mutex
	set      map[*conn]bool
	stopping bool
	graceEnd time.Time
	wg       sync.WaitGroup
}

func (a *conns) add(c *conn) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.set[c] = true
	a.wg.Add(1)
	if a.stopping {
		c.stop(a.graceEnd)
	}
}

func (a *conns) done(c *conn) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.set, c)
	a.wg.Done()
}

// shutdown tells every connection to stop.
func (a *conns) shutdown(graceEnd time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stopping, a.graceEnd = true, graceEnd
	for c := range a.set {
		c.stop(graceEnd)
	}
}

// stop wakes the connection's goroutine from its read at once (a deadline in the past), so that
// it sees that the server is stopping: it then ends an idle connection, and gives one in the
// middle of a line until graceEnd. Its writes must end by then too: a client that does not read
// its answers would otherwise hold the server up for ever.
//
// The lock is held while the deadlines are set, so that serve, which sets the -idle deadline
// under the same lock, never sets it after this one: a stop is never undone.
func (c *conn) stop(graceEnd time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopping, c.graceEnd = true, graceEnd
	c.c.SetReadDeadline(time.Now())
	c.c.SetWriteDeadline(graceEnd)
}

// idleDeadline gives the next read until d from now, unless the server is stopping (then stop
// has set the deadline, which stays).
func (c *conn) idleDeadline(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.stopping {
		c.c.SetReadDeadline(time.Now().Add(d))
	}
}

func (c *conn) stoppingUntil() (bool, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopping, c.graceEnd
}

// serve answers one client's lines until it closes the connection, and logs the connection's
// start and end.
func serve(c *conn, idle time.Duration) {
	defer c.c.Close()
	answered := 0
	end := func(why string) {
		log.Printf("connection %d: end: %s; %s answered", c.n, why, lines(answered))
	}

	// 3. Who is at the other end: an address, the client's IP address and port, which is all
	// that TCP knows of it (no user, no process: anyone who can reach the port can connect).
	log.Printf("connection %d: start: from %s", c.n, c.c.RemoteAddr())

	// 4. Read lines and answer each. The buffer holds one line of MaxLine bytes and its newline;
	// a line that does not fit is too long.
	buf := make([]byte, tcpsock.MaxLine+1)
	start, stop := 0, 0 // buf[start:stop] is read and not yet answered
	finishing := false  // shutting down, and finishing the line in progress
	w := bufio.NewWriter(c.c)
	for {
		// A whole line in the buffer: answer it.
		if i := bytes.IndexByte(buf[start:stop], '\n'); i >= 0 {
			line := buf[start : start+i]
			start += i + 1
			w.Write(tcpsock.Upper(line))
			w.WriteByte('\n')
			// Answer now if nothing more is read already; a client that sent many lines at once
			// gets their answers in one write.
			if bytes.IndexByte(buf[start:stop], '\n') < 0 {
				if err := w.Flush(); err != nil {
					end(fmt.Sprintf("write: %v", tcpsock.Unwrap(err)))
					return
				}
			}
			answered++
			continue
		}
		if stopping, _ := c.stoppingUntil(); stopping && start == stop {
			if finishing {
				end("shutting down; closed the connection after its line in progress")
			} else {
				end("shutting down; closed the idle connection")
			}
			return
		}
		// No whole line: make room at the end of the buffer, or give up on a line too long.
		if start > 0 {
			copy(buf, buf[start:stop])
			stop -= start
			start = 0
		}
		if stop == len(buf) {
			end(fmt.Sprintf("a line longer than %d bytes, the limit; closed the connection", tcpsock.MaxLine))
			return
		}
		// -idle: this read may wait for the next byte for so long, and no longer.
		if idle > 0 {
			c.idleDeadline(idle)
		}
		n, err := c.c.Read(buf[stop:])
		stop += n
		switch {
		case err == nil:
		case errors.Is(err, os.ErrDeadlineExceeded):
			stopping, graceEnd := c.stoppingUntil()
			if !stopping { // not the shutdown's deadline: -idle's
				if start < stop {
					end(fmt.Sprintf("idle: no byte for %v (-idle) in the middle of a line (%s unanswered); closed the connection", idle, bytesN(stop-start)))
				} else {
					end(fmt.Sprintf("idle: no byte for %v (-idle); closed the connection", idle))
				}
				return
			}
			inProgress := start < stop || unread(c.c) > 0
			if inProgress && time.Now().Before(graceEnd) {
				// In the middle of a line (part of it read, or still in the socket's buffer,
				// not read yet): let the client finish it, within the grace period.
				c.c.SetReadDeadline(graceEnd)
				finishing = true
				continue
			}
			if inProgress {
				end(fmt.Sprintf("shutting down, the grace period over in the middle of a line (%s unanswered); closed the connection", bytesN(stop-start)))
				return
			}
		case errors.Is(err, io.EOF) && start < stop:
			end(fmt.Sprintf("the client closed the connection in the middle of a line (%s unanswered)", bytesN(stop-start)))
			return
		case errors.Is(err, io.EOF):
			end("the client closed the connection")
			return
		case errors.Is(err, unix.ECONNRESET):
			// The client's kernel answered our data with a reset: it closed the connection
			// without reading what we sent, or it was killed with data unread.
			end(fmt.Sprintf("the client reset the connection (%s unanswered)", bytesN(stop-start)))
			return
		default:
			end(fmt.Sprintf("read: %v", tcpsock.Unwrap(err)))
			return
		}
	}
}

// unread returns how many bytes the kernel holds for us to read on c: ioctl(2) SIOCINQ (FIONREAD).
// The shutdown's deadline in the past ends a read before it looks at the socket, so a client
// that sent half a line that we have not read yet would look idle without it.
func unread(c net.Conn) int {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0
	}
	n := 0
	rc.Control(func(fd uintptr) {
		n, _ = unix.IoctlGetInt(int(fd), unix.SIOCINQ)
	})
	return n
}

// lines says "1 line" or "n lines".
func lines(n int) string {
	if n == 1 {
		return "1 line"
	}
	return fmt.Sprintf("%d lines", n)
}

// bytesN says "1 byte" or "n bytes".
func bytesN(n int) string {
	if n == 1 {
		return "1 byte"
	}
	return fmt.Sprintf("%d bytes", n)
}
