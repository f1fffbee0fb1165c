// Client connects to the server's TCP port, sends each line (its arguments, or the lines of its
// standard input), and prints each answer line on standard output.
//
// It demonstrates connect(2) on a TCP socket with a timeout, then write(2) and read(2) on the
// connection, one request line and one response line at a time, and shutdown(2) SHUT_WR after
// the last line (a half-close: "nothing more comes"), after which it reads until the server
// closes its end too.
//
// Usage:
//
//	client [-addr HOST:PORT] [-timeout D] [line ...]
//
// Run the pair in two terminals, the server first:
//
//	terminal 1: go run ./server
//	terminal 2: go run ./client hello "second line"
//	            printf 'one\ntwo\n' | go run ./client
//
// Objects: the client makes none. With no server at HOST:PORT (connection refused) it ends at
// once with one line, status 1; a host that does not answer at all is given -timeout, then the
// same. If the server closes the connection before every line got its answer (a line too long,
// -idle, a server killed), it says so, status 1. Ctrl-C or SIGTERM ends every wait (for the
// connection, for the server, for standard input, for standard output): the client closes the
// connection and dies of the signal (130 or 143). Exit status: 0 when every line got its
// answer, 1 on an error, 2 on a usage error.
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

	tcpsock "example.com/ipc/09-tcp-socket"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("client: ")
	addr := flag.String("addr", tcpsock.DefaultAddr, "the server's `HOST:PORT`")
	timeout := flag.Duration("timeout", tcpsock.DefaultTimeout, "how `long` to wait for the connection to be made")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `Usage: client [-addr HOST:PORT] [-timeout D] [line ...]

Client sends each line (its arguments, or else the lines of its standard input) to the server's
TCP port and prints each answer, the line in upper case.

Examples, with the server running in another terminal:
  client hello "second line"
  printf 'one\ntwo\n' | client
  client -addr [::1]:7777 -timeout 2s hello

Flags:
`)
		flag.PrintDefaults()
	}
	tcpsock.ParseFlags("client")
	if err := tcpsock.CheckAddr(*addr); err != nil {
		log.Print(err)
		os.Exit(2)
	}
	if *timeout <= 0 {
		log.Printf("-timeout %v: want more than 0", *timeout)
		os.Exit(2)
	}
	for i, a := range flag.Args() {
		if strings.Contains(a, "\n") {
			log.Printf("argument %d has a newline in it, which would make it two lines; pass each line as an argument of its own", i+1)
			os.Exit(2)
		}
	}
	ctx := tcpsock.CatchSignals()
	err := run(ctx, *addr, *timeout, flag.Args())
	tcpsock.Exit(ctx, err)
}

func run(ctx context.Context, addr string, timeout time.Duration, args []string) error {
	// 1. connect(2) to the server's port, for -timeout at most: refused at once if nothing
	// listens there (ECONNREFUSED), but a host that does not answer at all would keep connect
	// waiting for minutes. Ctrl-C ends the wait too (the context).
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, "tcp", addr)
	if ctx.Err() != nil {
		return interrupted(0)
	}
	if err != nil {
		return tcpsock.DialError(addr, timeout, err)
	}
	conn := c.(*net.TCPConn)
	// 5. Close the connection at the end, whatever happened: the server sees end of file.
	defer conn.Close()
	// Ctrl-C or SIGTERM: a deadline in the past ends every read and write on the connection.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	answers := bufio.NewReader(conn)

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
			}
			// 4. Every line got its answer: say that nothing more comes, with shutdown(2)
			// SHUT_WR, a half-close. The server reads end of file, closes its end, and we read
			// end of file in turn: both ends know that the conversation is over, and no data is
			// left unread on either side (a close with data unread would send a reset).
			// A server that keeps its end open after that gets -timeout, and no more: every
			// line has its answer already.
			if err := conn.CloseWrite(); err != nil {
				return connError(ctx, err, n, fmt.Sprintf("shutdown %s", addr))
			}
			conn.SetReadDeadline(time.Now().Add(timeout))
			if ctx.Err() != nil { // Ctrl-C's deadline, just replaced by ours
				return interrupted(n)
			}
			if extra, err := answers.ReadBytes('\n'); len(extra) > 0 {
				return fmt.Errorf("the server sent more than the answers, after %s: %q", answersN(n), extra)
			} else if errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() == nil {
				return nil
			} else if err != io.EOF {
				return connError(ctx, err, n, fmt.Sprintf("read %s", addr))
			}
			return nil
		}
		if _, err := conn.Write([]byte(line + "\n")); err != nil {
			return connError(ctx, err, n, fmt.Sprintf("write %s", addr))
		}
		answer, err := answers.ReadBytes('\n')
		if err != nil {
			return connError(ctx, err, n, fmt.Sprintf("read %s", addr))
		}
		if err := printLine(ctx, answer); err != nil {
			return err
		}
	}
}

// connError says what went wrong on the connection after n answers. The server closing the
// connection shows in several ways, by timing: end of file (read returns 0), ECONNRESET (it
// closed with our data unread), EPIPE (it had closed before we wrote).
func connError(ctx context.Context, err error, n int, op string) error {
	if ctx.Err() != nil {
		return interrupted(n)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return fmt.Errorf("the server closed the connection after %s (a line too long? -idle? see the server's log)", answersN(n))
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
