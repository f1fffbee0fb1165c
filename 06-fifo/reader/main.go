// Reader prints the lines that writers in other processes write into a FIFO (a named pipe),
// until every writer has closed it; with -follow it goes on, writer after writer, until Ctrl-C.
//
// It demonstrates mkfifo(3) (the system call mknodat(2) with S_IFIFO); open(2) of a FIFO for
// reading with O_NONBLOCK, and poll(2) to wait for a writer (a blocking open would wait too, but
// Ctrl-C could not end it); read(2) up to end of file, which comes when the last writer closes
// the FIFO; and unlink(2).
//
// Usage:
//
//	reader [-path PATH] [-follow]
//
// Run the pair in two terminals, in either order: each waits for the other.
//
//	terminal 1: go run ./reader
//	terminal 2: go run ./writer hello "second line"
//
// Whichever starts first makes the FIFO (mode 0600) and removes it when it exits, also after
// Ctrl-C or SIGTERM; the other leaves it alone. Shell tools work as the writer:
// echo hi > PATH. A FIFO found at PATH is used only if it is ours: not a symbolic link, a FIFO,
// owned by us, with no other name (st_nlink 1).
//
// Each line is printed whole or not at all: a line that Ctrl-C cuts short is dropped, and the
// narration counts its bytes; only the end of file after the last writer ends a last line that
// has no newline.
//
// Ctrl-C or SIGTERM ends every wait (for a writer, for data, for standard output to take a
// line); the reader says so, removes the FIFO if it made it, and then dies of the signal, so
// that the shell sees status 130 or 143. Started with SIGINT ignored (reader & in a script), it
// keeps ignoring it. If whoever reads its standard output goes away (reader | head -1), it
// removes the FIFO and dies of SIGPIPE, quietly (141), as cat does. Exit status: 0 at end of
// file, 1 on an error, 2 on a usage error.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	fifo "example.com/ipc/06-fifo"
	"golang.org/x/sys/unix"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("reader: ")
	path := flag.String("path", fifo.DefaultPath, "the FIFO's `path`")
	follow := flag.Bool("follow", false, "keep reading, writer after writer, until Ctrl-C")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `Usage: reader [-path PATH] [-follow]

Reader opens the FIFO for reading, making it first if it is missing, waits for a writer, and
prints every line written into it until every writer has closed it (with -follow, until Ctrl-C).

Example, then run the writer (or echo hi > PATH) in another terminal:
  reader -follow

Flags:
`)
		flag.PrintDefaults()
	}
	fifo.ParseFlags("reader")
	if flag.NArg() > 0 {
		log.Printf("unexpected argument %q: the reader takes only flags (see reader -h)", flag.Arg(0))
		os.Exit(2)
	}
	if *path == "" {
		log.Print("-path is empty: want the path of a FIFO")
		os.Exit(2)
	}
	// Ctrl-C and SIGTERM cancel ctx, which ends every wait in run; SIGPIPE is caught, so that
	// a write to a closed standard output (reader | head -1) fails with EPIPE instead of
	// killing the reader before it has removed the FIFO. Exit then ends the program with the
	// status that the signal or EPIPE calls for (130, 143, 141), after run's clean-up.
	ctx := fifo.CatchSignals()
	err := run(ctx, *path, *follow)
	fifo.Exit(ctx, err)
}

func run(ctx context.Context, path string, follow bool) error {
	// 6. On the way out (also after Ctrl-C or an error), remove the FIFO if we made it, and
	// close it.
	var made *fifo.Made
	var f *os.File
	defer func() {
		if made != nil {
			if err := made.Remove(); err != nil {
				log.Print(err)
			} else {
				log.Printf("removed FIFO %s", path)
			}
		}
		if f != nil {
			f.Close()
		}
	}()

	n := 0
	for round := 0; ; round++ {
		// 1. Make the FIFO, unless it is there already (made by a writer, or by mkfifo(1)).
		// Only the program that made it removes it.
		m, err := fifo.Make(path)
		if err != nil {
			return err
		}
		if m != nil {
			if made != nil {
				made.Remove() // someone removed the FIFO we made before: just release it
			}
			made = m
			log.Printf("created FIFO %s (mode %#o)", path, fifo.Mode)
		}

		// 2. Open the FIFO for reading. With O_NONBLOCK the open returns at once; without
		// it, open would block until a writer opens the FIFO, and Ctrl-C could not end it.
		// Open the new descriptor before closing the old one (-follow), so that the FIFO
		// always has a reader: a writer arriving meanwhile is neither kept waiting nor
		// refused, and what it writes waits in the pipe.
		next, err := fifo.Open(path, unix.O_RDONLY|unix.O_NONBLOCK)
		if err != nil {
			return err
		}
		if f != nil {
			f.Close()
		}
		f = next
		// Ctrl-C sets a deadline in the past, which ends the wait for a writer or for data.
		stopWait := context.AfterFunc(ctx, func() { next.SetReadDeadline(time.Now()) })

		// 3. Wait for a writer. Until one has opened the FIFO, read would return 0 (end of
		// file) at once: no writer has it open. poll(2) says when one has written (POLLIN) or
		// has come and gone (POLLHUP); a new descriptor never reports earlier writers' POLLHUP.
		if round == 0 {
			log.Printf("waiting for a writer to open %s...", path)
		} else {
			log.Printf("every writer has closed %s; waiting for the next writer...", path)
		}
		err = waitForWriter(f)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			log.Printf("interrupted after %s", nLines(n))
			return nil // Exit dies of the signal, after the clean-up
		}
		if err != nil {
			return fmt.Errorf("poll %s: %w", path, err)
		}

		// 4. Print each line unchanged, until end of file: read returns 0 when the FIFO is
		// empty and no writer has it open any more. While a writer has it open, read waits.
		// Printing waits too, while whoever reads our standard output does not read.
		// A line is printed whole or not at all: the end of file after the last writer is
		// the only end of a last line without a newline; a line that Ctrl-C cuts short is
		// dropped, and counted in the narration.
		in := bufio.NewReader(f)
		for {
			line, err := in.ReadBytes('\n')
			if err != nil && err != io.EOF {
				if errors.Is(err, os.ErrDeadlineExceeded) {
					log.Printf("interrupted after %s%s", nLines(n), dropped(len(line)))
					return nil
				}
				return fmt.Errorf("read %s: %w%s", path, err, dropped(len(line)))
			}
			if len(line) > 0 {
				if err := printLine(ctx, line); errors.Is(err, context.Canceled) {
					log.Printf("interrupted after %s", nLines(n))
					return nil
				} else if err != nil {
					return err
				}
				n++
			}
			if err == io.EOF {
				break
			}
		}
		stopWait()

		// 5. Without -follow, the first end of file is the end. With it, go round: open the
		// FIFO anew (a descriptor that saw POLLHUP would report it again at once, and poll
		// would spin); make it anew if the writer that made it has removed it.
		if !follow {
			log.Printf("read %s; every writer has closed %s", nLines(n), path)
			return nil
		}
	}
}

// waitForWriter waits until the FIFO open on f has data, or a writer has opened and closed it
// since f was opened: poll(2) reports POLLIN or POLLHUP. The poll does not wait itself (its
// timeout is 0): when it finds nothing, Go's poller (epoll) sleeps until the FIFO changes and
// then calls it again. A read deadline ends the wait with os.ErrDeadlineExceeded.
func waitForWriter(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var pollErr error
	err = rc.Read(func(fd uintptr) bool {
		p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(p, 0)
		for err == unix.EINTR {
			n, err = unix.Poll(p, 0)
		}
		pollErr = err
		return err != nil || n > 0
	})
	if err != nil {
		return err
	}
	return pollErr
}

// printLine writes line to standard output with one write(2). That write blocks while whoever
// reads our standard output does not read (reader | less), and a signal does not end it: the
// kernel restarts it after Ctrl-C (SA_RESTART). So it runs in a goroutine, and when ctx is done
// we stop waiting for it: run removes the FIFO, the program exits, and the write dies with it.
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
	case err := <-done: // the line went out after all: count it
		return err
	default:
		return ctx.Err()
	}
}

// dropped says how many bytes of an unfinished line were not printed, if any.
func dropped(size int) string {
	switch size {
	case 0:
		return ""
	case 1:
		return "; dropped 1 byte of an unfinished line"
	}
	return fmt.Sprintf("; dropped %d bytes of an unfinished line", size)
}

// nLines says "1 line" or "n lines".
func nLines(n int) string {
	if n == 1 {
		return "1 line"
	}
	return fmt.Sprintf("%d lines", n)
}
