// Writer writes lines into a FIFO (a named pipe), for a reader in another process to print.
//
// It demonstrates mkfifo(3) (the system call mknodat(2) with S_IFIFO); open(2) of a FIFO for
// writing, which blocks until a reader opens it, and how to stop waiting on Ctrl-C; write(2) of
// one line at a time, atomic when the line is at most PIPE_BUF (4096) bytes; and unlink(2).
//
// Usage:
//
//	writer [-path PATH] [line ...]
//
// The lines are the arguments, or else the lines of standard input, byte for byte. Run the pair
// in two terminals, in either order: each waits for the other.
//
//	terminal 1: go run ./writer hello "second line"
//	terminal 2: go run ./reader
//
// Whichever starts first makes the FIFO (mode 0600) and removes it when it exits, also after
// Ctrl-C or SIGTERM; the other leaves it alone. Shell tools work as the reader: cat PATH. A
// FIFO found at PATH is used only if it is ours: not a symbolic link, a FIFO, owned by us,
// with no other name (st_nlink 1).
//
// Ctrl-C or SIGTERM ends every wait (for a reader, for a line of input, for room in a full
// pipe); the writer says so, removes the FIFO if it made it, and then dies of the signal, so
// that the shell sees status 130 or 143. Started with SIGINT ignored (writer & in a script), it
// keeps ignoring it. A closed standard error (writer 2>&1 | head -1) does not stop it: the
// narration is lost, the lines are written, and the FIFO is removed. Exit status: 0 when every
// line is written, 1 on an error (the reader has gone: broken pipe), 2 on a usage error.
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
	log.SetPrefix("writer: ")
	path := flag.String("path", fifo.DefaultPath, "the FIFO's `path`")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `Usage: writer [-path PATH] [line ...]

Writer opens the FIFO for writing, making it first if it is missing, waits for a reader, and
writes the lines (the arguments, or else standard input's lines) into it.

Example, then run the reader (or cat PATH) in another terminal:
  writer hello "second line"

Flags:
`)
		flag.PrintDefaults()
	}
	fifo.ParseFlags("writer")
	if *path == "" {
		log.Print("-path is empty: want the path of a FIFO")
		os.Exit(2)
	}
	// Ctrl-C and SIGTERM cancel ctx, which ends every wait in run; SIGPIPE is caught, so that
	// a write to a closed standard error (writer 2>&1 | head -1) fails, and log drops it,
	// instead of killing the writer before it has removed the FIFO. Exit then ends the
	// program with the status that the signal calls for (130, 143), after run's clean-up.
	ctx := fifo.CatchSignals()
	err := run(ctx, *path, flag.Args())
	fifo.Exit(ctx, err)
}

func run(ctx context.Context, path string, args []string) error {
	// 1. Make the FIFO, unless it is there already (made by a reader, or by mkfifo(1)).
	// Only the program that made it removes it.
	made, err := fifo.Make(path)
	if err != nil {
		return err
	}
	if made != nil {
		log.Printf("created FIFO %s (mode %#o)", path, fifo.Mode)
	}

	// 5. On the way out (also after Ctrl-C or an error), remove the FIFO if we made it, and
	// then close it. In that order: when a reader -follow sees its last writer close, it
	// looks at the path for the next FIFO, and must not find this one, which is going away.
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

	// 2. Open the FIFO for writing. O_NONBLOCK first, to learn without waiting whether a
	// reader has it open: if none has, open fails with ENXIO. Then wait in a blocking open.
	f, err = fifo.Open(path, unix.O_WRONLY|unix.O_NONBLOCK)
	if errors.Is(err, unix.ENXIO) {
		log.Printf("waiting for a reader to open %s...", path)
		f, err = openWhenReader(ctx, path)
		if errors.Is(err, context.Canceled) {
			log.Print("interrupted while waiting for a reader; nothing written")
			return nil // Exit dies of the signal, after the clean-up
		}
		if err == nil {
			log.Printf("a reader opened %s", path)
		}
	}
	if err != nil {
		return err
	}

	// 3. Take the lines from the arguments, or else from standard input as they come.
	lines := make(chan []byte)
	readErr := make(chan error, 1)
	go func() { readErr <- readLines(ctx, args, lines) }()

	// 4. Write each line with one write(2). A write of at most PIPE_BUF (4096) bytes into a
	// pipe is atomic: lines from several writers never mix within a line (longer ones may).
	// If the pipe is full, the write waits for the reader to make room; Ctrl-C ends the wait.
	stopWait := context.AfterFunc(ctx, func() { f.SetWriteDeadline(time.Now()) })
	defer stopWait()
	n := 0
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case line, ok := <-lines:
			if !ok {
				break loop
			}
			if _, err := f.Write(line); errors.Is(err, os.ErrDeadlineExceeded) {
				break loop
			} else if errors.Is(err, unix.EPIPE) {
				return fmt.Errorf("write %s: broken pipe (the reader has gone; %s written before that)", path, nLines(n))
			} else if err != nil {
				return err
			}
			n++
		}
	}
	if ctx.Err() != nil {
		log.Printf("interrupted after %s", nLines(n))
		return nil
	}
	if err := <-readErr; err != nil {
		return fmt.Errorf("read standard input: %w", err)
	}
	log.Printf("wrote %s to %s", nLines(n), path)
	return nil
}

// openWhenReader opens path for writing, waiting for a reader to open it, until ctx is done.
//
// A blocking open(2) of a FIFO is not ended by a signal: Go installs its signal handlers with
// SA_RESTART, so after Ctrl-C the kernel restarts the open, which waits on. So the open runs in
// a goroutine of its own, and on Ctrl-C we stop waiting for it and return: run removes the FIFO,
// the program exits, and the open dies with it. We do not end the open by opening the FIFO for
// reading ourselves: that would wake every other writer waiting on it as well, and they would
// then find their reader gone (EPIPE).
func openWhenReader(ctx context.Context, path string) (*os.File, error) {
	type result struct {
		f   *os.File
		err error
	}
	done := make(chan result, 1)
	go func() {
		f, err := fifo.Open(path, unix.O_WRONLY)
		done <- result{f, err}
	}()
	select {
	case r := <-done:
		return r.f, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// readLines sends the lines to write on lines, each with its newline, and closes it: the
// arguments, or else the lines of standard input, byte for byte, of any length (a last line
// without a newline is sent as it is). It stops early when ctx is done.
func readLines(ctx context.Context, args []string, lines chan<- []byte) error {
	defer close(lines)
	send := func(line []byte) bool {
		select {
		case lines <- line:
			return true
		case <-ctx.Done():
			return false
		}
	}
	if len(args) > 0 {
		for _, a := range args {
			if !send([]byte(a + "\n")) {
				return nil
			}
		}
		return nil
	}
	if _, err := unix.IoctlGetTermios(0, unix.TCGETS); err == nil {
		log.Print("reading lines from standard input (end them with Ctrl-D)...")
	}
	in := bufio.NewReader(os.Stdin)
	for {
		line, err := in.ReadBytes('\n')
		if len(line) > 0 && !send(line) {
			return nil
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// nLines says "1 line" or "n lines".
func nLines(n int) string {
	if n == 1 {
		return "1 line"
	}
	return fmt.Sprintf("%d lines", n)
}
