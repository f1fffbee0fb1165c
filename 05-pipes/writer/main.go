// Writer writes lines to its standard output, meant to be a pipe: the given lines, or with -n
// the numbers 1 to N, or else the lines of its standard input. The shell makes the pipe; the
// reader, or any other program, reads the other end.
//
// It demonstrates write(2) into a pipe: each write of at most PIPE_BUF (4096) bytes is atomic,
// and the writer never splits a line across two writes, so lines from several writers sharing
// one pipe never mix. A write blocks while the pipe is full. When every reader has gone, the
// write fails with EPIPE and the kernel sends SIGPIPE; a Go program dies of that SIGPIPE, quietly,
// when the write was to standard output, like C's yes(1) or seq(1) would: the writer leaves it so
// (exit status 141), since it has nothing to clean up.
//
// Usage:
//
//	writer [-n N] [line ...]
//
// In one terminal, since the shell creates the pipe and starts both ends at once:
//
//	go run ./writer a b c | go run ./reader
//	go run ./writer -n 100000000 | head -1
//
// There is no object to create or remove: the pipe vanishes when the last process holding an
// end closes it. The writer says nothing on stderr unless something fails or it is interrupted,
// so that it fits in a pipeline like seq(1). Ctrl-C or SIGTERM ends it, even blocked in a read or
// a write, with a line on stderr and then the signal's own status (130 or 143), so that a shell
// loop stops too; started with SIGINT ignored (a background job, writer &), it keeps ignoring it.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"

	pipes "example.com/ipc/05-pipes"
	"golang.org/x/sys/unix"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("writer: ")
	n := flag.Int("n", 0, "write the numbers 1 to `N`, one a line, instead of the arguments or standard input")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `Usage: writer [-n N] [line ...]

Writer writes lines to standard output: each argument as a line, or with -n the numbers 1 to N,
or with neither the lines of standard input, byte for byte. Each line goes out whole in one
write(2), so lines from several writers into one pipe never mix.

Examples:
  writer a b c | reader
  writer -n 100000000 | head -1

Flags:
`)
		flag.PrintDefaults()
	}
	pipes.ParseFlags("writer")
	if *n < 0 {
		log.Printf("-n %d: want zero or more", *n)
		os.Exit(2)
	}
	count := -1 // no -n: the arguments, or else standard input
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "n" {
			count = *n
		}
	})
	if count >= 0 && flag.NArg() > 0 {
		log.Printf("-n %d and the line %q: give -n or lines, not both (see writer -h)", count, flag.Arg(0))
		os.Exit(2)
	}
	// Catch Ctrl-C and SIGTERM (see exit.go), and never stop catching them: a second signal
	// must not kill us with the default action while we say so. Exit then dies of the first.
	ctx := pipes.CatchSignals()
	err := run(ctx, count, flag.Args())
	pipes.Exit(ctx, err)
}

func run(ctx context.Context, n int, args []string) error {
	if n < 0 && len(args) == 0 {
		if _, err := unix.IoctlGetTermios(0, unix.TCGETS); err == nil {
			log.Print("reading lines from standard input (end with Ctrl-D)...")
		}
	}

	// 1. Write in a goroutine, so that Ctrl-C can end the program while it waits: a read(2) of
	// standard input, or a write(2) into a full pipe, blocks, and a signal does not end it (Go
	// installs its handlers with SA_RESTART, so the kernel restarts the call).
	var count pipes.Count
	done := make(chan error, 1)
	go func() { done <- write(n, args, &count) }()

	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		// The blocked write (or read), if any, dies with the process, of the signal (Exit).
		log.Printf("interrupted after %v", &count)
		return nil
	}
}

// write writes the lines, chunk by chunk.
func write(n int, args []string, count *pipes.Count) error {
	for chunk, err := range pipes.Chunks(n, args, os.Stdin) {
		if err != nil {
			return err // "read /dev/stdin: is a directory"
		}
		// 2. One write(2) per chunk of whole lines (os.File.Write makes one call, and another
		// only for what the kernel did not take). No bufio.Writer here: it would cut the
		// stream every 4096 bytes wherever that falls, in the middle of a line.
		//
		// 3. If the pipe has no reader left, write(2) fails with EPIPE and the kernel sends
		// SIGPIPE. For a write to fd 1 or 2, Go then lets the SIGPIPE kill the process, as it
		// would kill a C program: quietly, exit status 141 in the shell. So nothing here
		// handles EPIPE.
		if _, err := os.Stdout.Write(chunk); err != nil {
			return err // "write /dev/stdout: no space left on device"
		}
		count.Add(chunk)
	}
	return nil
}
