// Reader copies its standard input, meant to be the read end of a pipe, to its standard output
// byte for byte, until end of file, and then says on stderr how many lines and bytes it read.
// Lines may be of any length and hold any bytes, a carriage return or a NUL included.
//
// It demonstrates read(2) from a pipe: a read blocks while the pipe is empty and some process
// still holds the write end open, and returns 0 (end of file) only when every copy of the write
// end, in every process, has been closed.
//
// Usage:
//
//	reader
//
// In one terminal, since the shell creates the pipe and starts both ends at once:
//
//	go run ./writer a b c | go run ./reader
//
// The parent program starts the reader itself, with a pipe it made as the reader's standard
// input. There is no object to create or remove.
//
// Ctrl-C or SIGTERM ends the reader, even blocked in a read or a write, with the count on stderr
// and then the signal's own status (130 or 143); started with SIGINT ignored (a background job,
// reader &), it keeps ignoring it. A write to a closed stdout (reader | head -1) kills it with
// SIGPIPE, quietly, like the writer: it has nothing to clean up.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"

	pipes "example.com/ipc/05-pipes"
	"golang.org/x/sys/unix"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("reader: ")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `Usage: reader

Reader copies standard input to standard output byte for byte until end of file, then says on
standard error how many lines and bytes it read. It takes no flags and no arguments.

Example:
  writer a b c | reader
`)
	}
	pipes.ParseFlags("reader")
	if flag.NArg() > 0 {
		log.Printf("unexpected argument %q: the reader reads standard input and takes no arguments (try: writer %s | reader)", flag.Arg(0), flag.Arg(0))
		os.Exit(2)
	}
	// Catch Ctrl-C and SIGTERM (see exit.go), and never stop catching them: a second signal,
	// which may well come (Ctrl-C reaches the whole pipeline, and the parent passes SIGTERM on),
	// must not kill us with the default action while we print the count. Exit then dies of the
	// first one.
	ctx := pipes.CatchSignals()
	err := run(ctx)
	pipes.Exit(ctx, err)
}

func run(ctx context.Context) error {
	// 1. Say what we wait for. A read from a pipe blocks until some writer writes, or until
	// every write end is closed.
	if _, err := unix.IoctlGetTermios(0, unix.TCGETS); err == nil {
		log.Print("reading standard input until EOF (end it with Ctrl-D)...")
	} else {
		log.Print("reading standard input until EOF...")
	}

	// 2. Copy in a goroutine, so that Ctrl-C can end the program while read(2) waits: Go's
	// signal handlers use SA_RESTART, so the kernel restarts the read after a signal.
	var count pipes.Count
	done := make(chan error, 1)
	go func() { done <- copyStdin(&count) }()

	select {
	case err := <-done:
		if err != nil {
			return err
		}
		// 4. EOF: no process holds the write end any more.
		log.Printf("EOF after %v", &count)
		return nil
	case <-ctx.Done():
		log.Printf("interrupted after %v", &count)
		return nil
	}
}

// copyStdin copies standard input to standard output until EOF.
func copyStdin(count *pipes.Count) error {
	// 3. Copy whatever each read(2) returns, not line by line: a read returns at most what is in
	// the pipe, up to the buffer's size, and a line may arrive in several pieces. So there is no
	// line-length limit (bufio.Scanner stops at 64 KiB lines with "token too long") and no byte
	// is changed.
	buf := make([]byte, 64<<10)
	for {
		n, err := os.Stdin.Read(buf)
		if n > 0 {
			// A write to a closed pipe on fd 1 kills us with SIGPIPE, quietly: see the writer.
			if _, err := os.Stdout.Write(buf[:n]); err != nil {
				return err // "write /dev/stdout: no space left on device"
			}
			count.Add(buf[:n])
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err // "read /dev/stdin: is a directory"
		}
	}
}
