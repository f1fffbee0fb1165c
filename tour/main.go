// Tour builds every example pair of the cookbook and runs it, as real separate processes, one
// example after another. It prints what it runs and what each side saw, like a terminal
// session, and ends with one line per example: ok, or failed and why.
//
// Usage, from the root of the repository:
//
//	go run ./tour [example ...]
//
// With no arguments it tours every example; name some to tour only those, in full (06-fifo) or
// by a prefix that names one example (06). All the objects the examples make live in a
// temporary directory that the tour removes at the end.
//
// Ctrl-C or SIGTERM stops the tour: it sends SIGTERM to the programs it started, waits for
// each of them to clean up after itself, removes its temporary directory, and then dies of the
// signal it received, as every program of the cookbook does (status 130 or 143 in a shell).
// A tour with a failed example exits 1; a bad argument exits 2.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// An example is one module of the cookbook and the scenario the tour plays with it.
type example struct {
	dir      string   // the module's folder, which names it
	title    string   // what it shows, in a few words
	programs []string // the programs to build, each a folder of the module
	play     func(t *tour) error
}

// examples lists the modules in the order of the README's table. Each example adds itself
// here, with a file tour_NN.go holding its scenario.
var examples = []example{
	{"01-file-lock", "a shared file guarded by flock and OFD locks", []string{"writer", "reader", "counter"}, playFileLock},
	{"02-shm-sysv", "System V shared memory that outlives its writer", []string{"writer", "reader"}, playShmSysV},
	{"03-shm-posix", "POSIX shared memory: one message, published with an atomic store and a futex wake", []string{"writer", "reader"}, playShmPOSIX},
	{"04-semaphore-mutex", "System V semaphores: a mutex and two counting semaphores guard a ring; a counter with a semaphore, a futex or no lock", []string{"producer", "consumer", "counter"}, playSemMutex},
	{"05-pipes", "unnamed pipes: a shell pipeline, EOF, SIGPIPE, and a parent doing it without a shell", []string{"writer", "reader", "parent"}, playPipes},
	{"06-fifo", "named pipes: either start order, shell tools, a reader following many writers", []string{"writer", "reader"}, playFIFO},
	{"07-msgqueue", "message queues: System V types taken out of order, POSIX priorities", []string{"sender", "receiver", "psender", "preceiver"}, playMsgQueue},
	{"08-unix-socket", "a Unix stream socket: a server, many clients, SO_PEERCRED, a descriptor passed with SCM_RIGHTS, a graceful shutdown", []string{"server", "client"}, playUnixSocket},
	{"09-tcp-socket", "a TCP socket: the server of 08 on a port that the kernel picks, many clients, a half-close, a graceful shutdown", []string{"server", "client"}, playTCPSocket},
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("tour: ")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `Usage: go run ./tour [example ...]

Tour builds and runs every example pair (or the ones named, in full or by a prefix such as
06), narrating each step, and ends with one line per example. Run it from the root of the
repository. Ctrl-C stops the programs, removes the temporary files and ends the tour.

Example:
  go run ./tour 01-file-lock

The examples: %s
`, strings.Join(exampleDirs(), ", "))
	}
	ParseFlags("go run ./tour")
	chosen, err := choose(flag.Args())
	if err != nil {
		log.Print(err)
		os.Exit(2)
	}
	ctx := CatchSignals()
	err = run(ctx, os.Stdout, chosen)
	Exit(ctx, err)
}

// choose finds the examples named on the command line: by their folder (06-fifo, 06-fifo/,
// ./06-fifo) or by a prefix of it that only one example has (06).
func choose(names []string) ([]example, error) {
	if len(names) == 0 {
		return examples, nil
	}
	var chosen []example
	seen := map[string]bool{}
	for _, name := range names {
		want := strings.TrimPrefix(strings.TrimRight(name, "/"), "./")
		var matches []example
		for _, ex := range examples {
			if ex.dir == want {
				matches = []example{ex}
				break
			}
			if want != "" && strings.HasPrefix(ex.dir, want) {
				matches = append(matches, ex)
			}
		}
		switch {
		case len(matches) == 0:
			return nil, fmt.Errorf("no example %q (the examples: %s)", name, strings.Join(exampleDirs(), ", "))
		case len(matches) > 1:
			var dirs []string
			for _, ex := range matches {
				dirs = append(dirs, ex.dir)
			}
			return nil, fmt.Errorf("%q names more than one example (%s): give more of the name", name, strings.Join(dirs, ", "))
		}
		if !seen[matches[0].dir] {
			seen[matches[0].dir] = true
			chosen = append(chosen, matches[0])
		}
	}
	return chosen, nil
}

// exampleDirs lists the examples' folders.
func exampleDirs() []string {
	var all []string
	for _, ex := range examples {
		all = append(all, ex.dir)
	}
	return all
}

// run tours the examples, writing the transcript to w. It returns an error if an example
// failed, or if w failed (a closed pipe: go run ./tour | head), which stops the tour too. When
// ctx ends (Ctrl-C), it stops the programs and returns once they and the temporary files are
// gone.
func run(ctx context.Context, w io.Writer, chosen []example) error {
	root, err := findRoot()
	if err != nil {
		return err
	}
	// The transcript's first write error stops the tour, as Ctrl-C does: nobody reads it.
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	out := &transcript{ctx: ctx, w: w, failed: stop}

	tmp, err := os.MkdirTemp("", "ipc-tour-")
	if err != nil {
		return err
	}
	interrupt := interruptSignal()
	if interrupt != unix.SIGINT {
		out.line("(SIGINT is ignored here, as in a background job, and so in every program the tour starts: it interrupts them with SIGTERM instead)")
	}

	start := time.Now()
	results := make([]string, 0, len(chosen))
	width := 0 // of the summary's first column: the longest folder
	for _, ex := range chosen {
		width = max(width, len(ex.dir))
	}
	failed := 0
	for _, ex := range chosen {
		out.line(fmt.Sprintf("\n== %s: %s", ex.dir, ex.title))
		t := &tour{ctx: ctx, out: out, dir: filepath.Join(tmp, ex.dir), bin: filepath.Join(tmp, "bin", ex.dir), interrupt: interrupt}
		err := t.build(root, ex)
		if err == nil {
			err = t.play(ex)
		}
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			failed++
			out.line(fmt.Sprintf("   FAILED: %v", err))
			results = append(results, fmt.Sprintf("%-*s failed: %v", width, ex.dir, err))
		} else {
			results = append(results, fmt.Sprintf("%-*s ok", width, ex.dir))
		}
	}
	if err := os.RemoveAll(tmp); err != nil {
		log.Print(err)
	}
	if ctx.Err() != nil {
		if err := out.error(); err != nil {
			return err // the reader of the transcript has gone: end quietly
		}
		sig := "a signal"
		var c caught
		if errors.As(context.Cause(ctx), &c) {
			sig = unix.SignalName(c.sig.(syscall.Signal))
		}
		log.Printf("interrupted by %s; stopped the programs and removed the temporary files", sig)
		return nil // Exit dies of the signal
	}
	out.line(fmt.Sprintf("\n== summary (%.1fs)", time.Since(start).Seconds()))
	for _, r := range results {
		out.line(r)
	}
	if err := out.error(); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d examples failed", failed, len(chosen))
	}
	return nil
}

// findRoot finds the repository: the folder holding go.work, from here upwards.
func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.work here or above: run the tour from the repository (go run ./tour)")
		}
		dir = parent
	}
}

// interruptSignal is the signal that the tour sends to interrupt a program on purpose, as
// Ctrl-C would: SIGINT. But a tour started with SIGINT ignored (a background job of a script)
// passes that on to every program it starts, and they rightly keep ignoring it: then SIGTERM.
func interruptSignal() syscall.Signal {
	if signal.Ignored(unix.SIGINT) {
		return unix.SIGTERM
	}
	return unix.SIGINT
}

// signalName names a signal as kill(1) does: INT, TERM.
func signalName(sig syscall.Signal) string {
	return strings.TrimPrefix(unix.SignalName(sig), "SIG")
}
