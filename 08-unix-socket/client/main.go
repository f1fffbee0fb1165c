// Client connects to the server's Unix stream socket, sends each line (its arguments, or the
// lines of its standard input), and prints each answer line on standard output; or, with
// -sendfd, passes the server an open file instead and prints what the server read through it.
//
// It demonstrates connect(2) on a Unix socket, then write(2) and read(2) on the connection, one
// request line and one response line at a time; and, with -sendfd, sendmsg(2) with an SCM_RIGHTS
// control message that carries an open descriptor to another process, and shutdown(2) SHUT_WR to
// say that nothing more comes.
//
// Usage:
//
//	client [-path P] [-sendfd FILE] [line ...]
//
// Run the pair in two terminals, the server first:
//
//	terminal 1: go run ./server
//	terminal 2: go run ./client hello "second line"
//	            printf 'one\ntwo\n' | go run ./client
//	            go run ./client -sendfd notes.txt
//
// With -sendfd the client opens FILE itself, with its own permissions, and sends the open
// descriptor with one byte of data, a newline; the server answers with the file's lines in upper
// case and closes the connection. The server need not be allowed to open FILE by name: a
// descriptor carries the right to read that the opener had.
//
// Objects: the client makes none. With no server at P (no file, or a stale file that nothing
// listens on) it ends at once with one line, status 1; if the server closes the connection before
// every line got its answer (a line too long, a client of a uid that -allow-uid refuses, a server
// killed), it says so, status 1. Ctrl-C or SIGTERM ends every wait (for the server, for standard
// input, for standard output): the client closes the connection and dies of the signal (130 or
// 143). Exit status: 0 when every line got its answer, 1 on an error, 2 on a usage error.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	unixsock "example.com/ipc/08-unix-socket"
	"golang.org/x/sys/unix"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("client: ")
	path := flag.String("path", unixsock.DefaultPath, "the server's socket `path`, or @name for Linux's abstract namespace")
	sendfd := flag.String("sendfd", "", "pass the server an open descriptor of `FILE` (SCM_RIGHTS), and print its lines upper-cased")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `Usage: client [-path P] [-sendfd FILE] [line ...]

Client sends each line (its arguments, or else the lines of its standard input) to the server's
Unix socket and prints each answer, the line in upper case; with -sendfd it passes the server
an open file instead, and prints the file's lines upper-cased.

Examples, with the server running in another terminal:
  client hello "second line"
  printf 'one\ntwo\n' | client
  client -sendfd /etc/hostname

Flags:
`)
		flag.PrintDefaults()
	}
	unixsock.ParseFlags("client")
	if err := unixsock.CheckPath(*path); err != nil {
		log.Print(err)
		os.Exit(2)
	}
	if *sendfd != "" && flag.NArg() > 0 {
		log.Printf("-sendfd and lines: the server answers a descriptor with the file's lines, and then closes the connection; pass one or the other (see client -h)")
		os.Exit(2)
	}
	for i, a := range flag.Args() {
		if strings.Contains(a, "\n") {
			log.Printf("argument %d has a newline in it, which would make it two lines; pass each line as an argument of its own", i+1)
			os.Exit(2)
		}
	}
	ctx := unixsock.CatchSignals()
	err := run(ctx, *path, *sendfd, flag.Args())
	unixsock.Exit(ctx, err)
}

func run(ctx context.Context, path, sendfd string, args []string) error {
	// With -sendfd, open the file first: with our permissions, which the descriptor carries.
	var file *os.File
	if sendfd != "" {
		f, err := openRegular(sendfd)
		if err != nil {
			return err
		}
		defer f.Close()
		file = f
	}

	// 1. connect(2) to the server's socket. It fails at once if no server listens: ENOENT if
	// there is no file, ECONNREFUSED if a file is there but nothing listens on it (stale).
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return unixsock.DialError(path, err)
	}
	// 4. Close the connection at the end, whatever happened: the server sees end of file.
	defer conn.Close()
	// Ctrl-C or SIGTERM: a deadline in the past ends every read and write on the connection.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	answers := bufio.NewReader(conn)

	// 2b. -sendfd: send the descriptor, with one newline as its data (a descriptor cannot travel
	// alone on a stream socket), say that nothing more comes (shutdown SHUT_WR), and print the
	// lines that the server read through it, until it closes the connection.
	if file != nil {
		if err := unixsock.SendFd(conn, int(file.Fd()), []byte("\n")); err != nil {
			return connError(ctx, err, 0, fmt.Sprintf("sendmsg %s", path))
		}
		if err := conn.CloseWrite(); err != nil {
			return connError(ctx, err, 0, fmt.Sprintf("shutdown %s", path))
		}
		n := 0
		for {
			line, err := answers.ReadBytes('\n')
			if err == io.EOF && len(line) == 0 {
				return nil
			}
			if err != nil {
				return connError(ctx, err, n, fmt.Sprintf("read %s", path))
			}
			if err := printLine(ctx, line); err != nil {
				return err
			}
			n++
		}
	}

	// 2. The lines to send: the arguments, or else standard input, read in a goroutine so that
	// Ctrl-C ends the wait for the next one.
	lines := make(chan string)
	inErr := make(chan error, 1)
	go func() {
		defer close(lines)
		if len(args) > 0 {
			for _, a := range args {
				lines <- a
			}
			return
		}
		in := bufio.NewReader(os.Stdin)
		for {
			line, err := in.ReadString('\n')
			if len(line) > 0 {
				lines <- strings.TrimSuffix(line, "\n")
			}
			if err != nil {
				if err != io.EOF {
					inErr <- err
				}
				return
			}
		}
	}()

	// 3. One request line, then its answer: write the line, read one line back, print it.
	for n := 0; ; n++ {
		var line string
		var ok bool
		select {
		case line, ok = <-lines:
		case <-ctx.Done():
			return interrupted(n)
		}
		if !ok {
			select {
			case err := <-inErr:
				return fmt.Errorf("read standard input: %w", err)
			default:
				return nil // every line got its answer
			}
		}
		if _, err := conn.Write([]byte(line + "\n")); err != nil {
			return connError(ctx, err, n, fmt.Sprintf("write %s", path))
		}
		answer, err := answers.ReadBytes('\n')
		if err != nil {
			return connError(ctx, err, n, fmt.Sprintf("read %s", path))
		}
		if err := printLine(ctx, answer); err != nil {
			return err
		}
	}
}

// openRegular opens the file to send, and refuses anything but a regular file: the server reads
// only those (a FIFO, say, could keep it waiting for ever). O_NONBLOCK, so that opening a FIFO
// by mistake does not wait for a writer; it is cleared before the descriptor goes anywhere.
func openRegular(name string) (*os.File, error) {
	fd, err := unix.Open(name, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "fstat", Path: name, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, fmt.Errorf("-sendfd %s: not a regular file; the server reads only regular files", name)
	}
	unix.SetNonblock(fd, false)
	return os.NewFile(uintptr(fd), name), nil
}

// connError says what went wrong on the connection after n answers. The server closing the
// connection shows in several ways, by timing: end of file (read returns 0), ECONNRESET (it
// closed with our data unread), EPIPE (it had closed before we wrote).
func connError(ctx context.Context, err error, n int, op string) error {
	if ctx.Err() != nil {
		return interrupted(n)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return fmt.Errorf("the server closed the connection after %s (a line too long? refused? see the server's log)", answersN(n))
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		err = errno
	}
	return fmt.Errorf("%s: %w", op, err)
}

func interrupted(n int) error {
	return fmt.Errorf("interrupted after %s", answersN(n))
}

// answersN says "1 answer" or "n answers".
func answersN(n int) string {
	if n == 1 {
		return "1 answer"
	}
	return fmt.Sprintf("%d answers", n)
}

// printLine writes line to standard output with one write(2). That write blocks while whoever
// reads our standard output does not read (client | less), and a signal does not end it: the
// kernel restarts it after Ctrl-C (SA_RESTART). So it runs in a goroutine, and when ctx is done
// we stop waiting for it.
func printLine(ctx context.Context, line []byte) error {
	done := make(chan error, 1)
	go func() {
		_, err := os.Stdout.Write(line)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	select {
	case err := <-done: // it went out after all
		return err
	default:
		return errors.New("interrupted while printing an answer")
	}
}
