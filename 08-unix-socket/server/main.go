// Server listens on a Unix stream socket and answers each line that a client sends with the line
// in upper case, for many clients at once, until Ctrl-C or SIGTERM; it logs each connection's
// start and end, with the client's pid, uid and gid.
//
// It demonstrates socket(2), bind(2) with a mode set by the umask, listen(2), accept(2),
// getsockopt(2) SO_PEERCRED, recvmsg(2) with SCM_RIGHTS (a client may send an open file instead
// of lines), and a graceful shutdown. Go's net package makes the socket, binds and listens
// (net.ListenUnix) and accepts; golang.org/x/sys/unix does what net hides: the credentials and
// the control messages that carry descriptors.
//
// Usage:
//
//	server [-path P] [-grace D] [-allow-uid UID]
//
// Run the pair in two terminals, the server first (a client with no server fails at once):
//
//	terminal 1: go run ./server
//	terminal 2: go run ./client hello "second line"
//	            echo hi | go run ./client
//	            go run ./client -sendfd /etc/hostname
//
// The protocol: each request line (at most 64 KiB, newline not counted) gets one response line,
// the request in upper case. A longer line gets its connection closed, and the server says why;
// the others are served on. A client that sends an open descriptor (SCM_RIGHTS) with its line
// gets the content of that file, upper-cased line by line, instead, and then the server closes
// the connection: the server reads the file through the descriptor, which works even for a file
// that it could not open by name.
//
// Objects: the server makes the socket file at P, with mode 0600 from the moment it exists, and
// removes it when it exits, if the file at P is still the one it made. A socket file found at P
// is removed first only if nothing answers on it (a stale file left by a server that crashed); a
// live server's socket, or anything that is not a socket, is refused and left alone. A P that
// starts with '@' is a name in Linux's abstract namespace: no file at all.
//
// On Ctrl-C or SIGTERM the server stops accepting at once, closes idle connections, lets a
// connection in the middle of a line finish that line and get its answer (for up to -grace),
// removes its socket file, and exits 0. Exit status: 0 after that shutdown, 1 if it cannot
// start, 2 on a usage error.
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
	"strconv"
	"sync"
	"syscall"
	"time"

	unixsock "example.com/ipc/08-unix-socket"
	"golang.org/x/sys/unix"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("server: ")
	path := flag.String("path", unixsock.DefaultPath, "the socket's `path`, or @name for Linux's abstract namespace")
	grace := flag.Duration("grace", 5*time.Second, "on Ctrl-C or SIGTERM, how `long` to let lines in progress finish")
	allow := flag.String("allow-uid", "", "serve only clients of this `uid` (SO_PEERCRED); refuse the others (default: anyone who may connect)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `Usage: server [-path P] [-grace D] [-allow-uid UID]

Server listens on a Unix stream socket and answers each line that a client sends with the line
in upper case, for many clients at once, until Ctrl-C or SIGTERM.

Example, then run the client in another terminal:
  server -allow-uid $(id -u)

Flags:
`)
		flag.PrintDefaults()
	}
	unixsock.ParseFlags("server")
	if flag.NArg() > 0 {
		log.Printf("unexpected argument %q: the server takes only flags (see server -h)", flag.Arg(0))
		os.Exit(2)
	}
	if err := unixsock.CheckPath(*path); err != nil {
		log.Print(err)
		os.Exit(2)
	}
	if *grace < 0 {
		log.Printf("-grace %v: want 0 or more", *grace)
		os.Exit(2)
	}
	allowUID := -1
	if *allow != "" {
		uid, err := strconv.ParseUint(*allow, 10, 32)
		if err != nil || uid == 1<<32-1 {
			log.Printf("-allow-uid %q: want a user id, a number such as $(id -u)", *allow)
			os.Exit(2)
		}
		allowUID = int(uid)
	}
	ctx := unixsock.CatchSignals()
	if err := run(ctx, *path, *grace, allowUID); err != nil {
		log.Print(err)
		os.Exit(1)
	}
	// A signal means "shut down gracefully", which is done: exit 0, not death by the signal.
	os.Exit(0)
}

func run(ctx context.Context, path string, grace time.Duration, allowUID int) error {
	// 1. Make way at the path: a stale socket file that a crashed server left is removed; a live
	// server's socket, or anything that is not a socket, is refused and left as it was. (An
	// abstract name has no file: it went with the last process that had it open.)
	if !unixsock.Abstract(path) {
		removed, err := unixsock.RemoveStale(path)
		if err != nil {
			return err
		}
		if removed {
			log.Printf("removed stale socket %s (nothing listened on it: left by a server that crashed?)", path)
		}
	}

	// 2. socket, bind and listen. bind makes the socket file, with mode 0777 minus the umask, and
	// a client may connect as soon as the file exists: so the umask is 0177 during bind, and the
	// file is 0600 from its first moment. (A chmod after bind leaves a window in which anyone may
	// connect; fchmod on the socket does not reach the file.) The umask belongs to the whole
	// process, so it is set back at once, before any other file is made.
	old := unix.Umask(0o777 &^ unixsock.Mode)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	unix.Umask(old)
	if errors.Is(err, unix.EADDRINUSE) && unixsock.Abstract(path) {
		return fmt.Errorf("bind %s: %w (another server listens on this abstract name; stop it first, or pass another -path)", path, unwrap(err))
	}
	if errors.Is(err, unix.EADDRINUSE) {
		return fmt.Errorf("bind %s: %w (another server made it just now? stop it first, or pass another -path)", path, unwrap(err))
	}
	if err != nil {
		return fmt.Errorf("bind %s: %w", path, unwrap(err))
	}
	// Go would unlink the path when the listener is closed, whatever file is there by then: we
	// remove it ourselves (7), only if it is still ours.
	l.SetUnlinkOnClose(false)
	var ours unix.Stat_t
	if !unixsock.Abstract(path) {
		if err := unix.Lstat(path, &ours); err != nil {
			l.Close()
			return &os.PathError{Op: "lstat", Path: path, Err: err}
		}
		defer removeIfOurs(path, &ours)
		log.Printf("listening on %s (mode %#o), waiting for clients...", path, ours.Mode&0o777)
	} else {
		log.Printf("listening on %s (abstract namespace: no file), waiting for clients...", path)
	}

	// 6. On Ctrl-C or SIGTERM, stop accepting at once: closing the listener ends Accept.
	stopAccept := context.AfterFunc(ctx, func() { l.Close() })
	defer stopAccept()

	// 3. Accept connections, and serve each in a goroutine of its own, so that a slow client
	// never holds up the others.
	var all conns
	all.set = map[*conn]bool{}
	for n := 1; ; n++ {
		c, err := l.AcceptUnix()
		if ctx.Err() != nil {
			if c != nil {
				c.Close()
			}
			break
		}
		if err != nil {
			// EMFILE and the like: this connection is lost, the server is not. Wait a moment, so
			// as not to spin while the condition lasts.
			log.Printf("accept %s: %v", path, unwrap(err))
			time.Sleep(100 * time.Millisecond)
			continue
		}
		cc := &conn{c: c, n: n}
		all.add(cc)
		go func() {
			defer all.done(cc)
			serve(cc, allowUID)
		}()
	}
	l.Close()

	// 6. Graceful shutdown: close idle connections, let the others finish their line, until the
	// grace period ends.
	log.Printf("%v: shutting down: no new connections; closing idle ones, finishing lines in progress (for up to %v)...", context.Cause(ctx), grace)
	all.shutdown(time.Now().Add(grace))
	all.wg.Wait()
	return nil
}

// conn is one client's connection, with what the shutdown needs to know of it.
type conn struct {
	c *net.UnixConn
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
func (c *conn) stop(graceEnd time.Time) {
	c.mu.Lock()
	c.stopping, c.graceEnd = true, graceEnd
	c.mu.Unlock()
	c.c.SetReadDeadline(time.Now())
	c.c.SetWriteDeadline(graceEnd)
}

func (c *conn) stoppingUntil() (bool, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopping, c.graceEnd
}

// serve answers one client's lines until it closes the connection, and logs the connection's
// start and end.
func serve(c *conn, allowUID int) {
	defer c.c.Close()
	answered := 0
	end := func(why string) {
		log.Printf("connection %d: end: %s; %s answered", c.n, why, lines(answered))
	}

	// 4. Who is at the other end: SO_PEERCRED, the pid, uid and gid of the process that
	// connected, as the kernel recorded them at connect(2). With -allow-uid, anyone else is
	// refused at once, before a byte of theirs is read.
	cred, err := unixsock.PeerCred(c.c)
	if err != nil {
		log.Printf("connection %d: start: %v", c.n, err)
		end("no credentials")
		return
	}
	log.Printf("connection %d: start: pid %d, uid %d, gid %d", c.n, cred.Pid, cred.Uid, cred.Gid)
	if allowUID >= 0 && int(cred.Uid) != allowUID {
		end(fmt.Sprintf("refused: uid %d is not -allow-uid %d; closed the connection", cred.Uid, allowUID))
		return
	}

	// 5. Read lines and answer each. The buffer holds one line of MaxLine bytes and its newline;
	// a line that does not fit is too long. Data comes with recvmsg(2), which also brings the
	// descriptors that a client may send (SCM_RIGHTS).
	buf := make([]byte, unixsock.MaxLine+1)
	start, stop := 0, 0 // buf[start:stop] is read and not yet answered
	var fds []int       // descriptors received, not yet used
	finishing := false  // shutting down, and finishing the line in progress
	defer func() {
		for _, fd := range fds { // every descriptor received is closed, used or not
			unix.Close(fd)
		}
	}()
	w := bufio.NewWriter(c.c)
	for {
		// A whole line in the buffer: answer it. With a descriptor, answer with its file.
		if i := bytes.IndexByte(buf[start:stop], '\n'); i >= 0 {
			line := buf[start : start+i]
			start += i + 1
			if len(fds) > 0 {
				n, err := answerFile(c, w, fds)
				fds = nil
				answered += n
				if err != nil {
					end(err.Error())
				} else {
					end("answered the file that the client sent; closed the connection")
				}
				return
			}
			w.Write(unixsock.Upper(line))
			w.WriteByte('\n')
			// Answer now if nothing more is read already; a client that sent many lines at once
			// gets their answers in one write.
			if bytes.IndexByte(buf[start:stop], '\n') < 0 {
				if err := w.Flush(); err != nil {
					end(fmt.Sprintf("write: %v", unwrap(err)))
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
			end(fmt.Sprintf("a line longer than %d bytes, the limit; closed the connection", unixsock.MaxLine))
			return
		}
		n, got, err := unixsock.Recvmsg(c.c, buf[stop:])
		stop += n
		fds = append(fds, got...)
		switch {
		case err == nil:
		case errors.Is(err, os.ErrDeadlineExceeded):
			stopping, graceEnd := c.stoppingUntil()
			if !stopping { // a deadline only the shutdown sets
				end(err.Error())
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
		default: // "recvmsg: ..." (MSG_CTRUNC too: Recvmsg has closed what came)
			end(err.Error())
			return
		}
	}
}

// answerFile answers with the content of the file that the client sent the descriptor of,
// upper-cased line by line, and returns how many lines it wrote. It uses the first descriptor
// and closes all of them: the server reads a file through a descriptor, which it may do whatever
// the file's mode says of the server's user; the permission was checked when the client opened
// it.
func answerFile(c *conn, w *bufio.Writer, fds []int) (int, error) {
	for _, fd := range fds[1:] {
		unix.Close(fd)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fds[0], &st); err != nil {
		unix.Close(fds[0])
		return 0, fmt.Errorf("fstat the descriptor received: %v", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fds[0])
		return 0, errors.New("the descriptor received is not a regular file; closed the connection")
	}
	f := os.NewFile(uintptr(fds[0]), "the file received")
	defer f.Close()
	log.Printf("connection %d: received a descriptor (SCM_RIGHTS) of a regular file, %s, owner uid %d, mode %#o; answering with its lines", c.n, bytesN(int(st.Size)), st.Uid, st.Mode&0o777)
	in := bufio.NewReader(f)
	n := 0
	for {
		line, err := in.ReadBytes('\n')
		if len(line) > 0 {
			w.Write(unixsock.Upper(bytes.TrimSuffix(line, []byte("\n"))))
			w.WriteByte('\n')
			n++
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			w.Flush()
			return n, fmt.Errorf("read the file received: %v", unwrap(err))
		}
	}
	if err := w.Flush(); err != nil {
		return n, fmt.Errorf("write: %v", unwrap(err))
	}
	return n, nil
}

// unread returns how many bytes the kernel holds for us to read on c: ioctl(2) SIOCINQ (FIONREAD).
// The shutdown's deadline in the past ends a read before it looks at the socket, so a client
// that sent half a line that we have not read yet would look idle without it.
func unread(c *net.UnixConn) int {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0
	}
	n := 0
	rc.Control(func(fd uintptr) {
		n, _ = unix.IoctlGetInt(int(fd), unix.SIOCINQ)
	})
	return n
}

// removeIfOurs removes the socket file at path if it is still the one this server made (the same
// inode): another server may have replaced it since, after taking ours for stale.
func removeIfOurs(path string, ours *unix.Stat_t) {
	var now unix.Stat_t
	if err := unix.Lstat(path, &now); err != nil {
		log.Printf("not removing %s: %v", path, unwrap(err))
		return
	}
	if now.Dev != ours.Dev || now.Ino != ours.Ino {
		log.Printf("not removing %s: it is no longer the socket this server made", path)
		return
	}
	if err := unix.Unlink(path); err != nil {
		log.Printf("unlink %s: %v", path, err)
		return
	}
	log.Printf("removed socket %s", path)
}

// unwrap takes the errno out of the errors that net and os wrap around it.
func unwrap(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
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
