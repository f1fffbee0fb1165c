// Tour builds every example pair of the cookbook and runs it, as real separate processes, one
// example after another. It prints what it runs and what each side saw, like a terminal
// session, and ends with one line per example: ok, or failed and why.
//
// Usage, from the root of the repository:
//
//	go run ./tour [example ...]
//
// With no arguments it tours every example; name some (01-file-lock) to tour only those. All
// the objects the examples make live in a temporary directory that the tour removes at the
// end, also after Ctrl-C: it sends SIGTERM to the programs it started, and each of them
// cleans up after itself.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
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
	{"05-pipes", "unnamed pipes: a shell pipeline, EOF, SIGPIPE, and a parent doing it without a shell", []string{"writer", "reader", "parent"}, playPipes},
	{"06-fifo", "named pipes: either start order, shell tools, a reader following many writers", []string{"writer", "reader"}, playFIFO},
}

func main() {
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `Usage: go run ./tour [example ...]

Tour builds and runs every example pair (or the ones named), narrating each step, and ends
with one line per example. Run it from the root of the repository.

Example:
  go run ./tour 01-file-lock

The examples: %s
`, strings.Join(exampleDirs(), ", "))
	}
	flag.Parse()
	chosen, err := choose(flag.Args())
	if err != nil {
		fmt.Fprintf(os.Stderr, "tour: %v\n", err)
		os.Exit(2)
	}
	ok, err := run(chosen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "tour: %v\n", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}

func choose(names []string) ([]example, error) {
	if len(names) == 0 {
		return examples, nil
	}
	var chosen []example
	for _, name := range names {
		found := false
		for _, ex := range examples {
			if ex.dir == strings.TrimSuffix(name, "/") {
				chosen, found = append(chosen, ex), true
			}
		}
		if !found {
			return nil, fmt.Errorf("no example %q (the examples: %s)", name, strings.Join(exampleDirs(), ", "))
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

// run tours the examples and reports whether they all passed.
func run(chosen []example) (bool, error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	root, err := findRoot()
	if err != nil {
		return false, err
	}
	tmp, err := os.MkdirTemp("", "ipc-tour-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(tmp)

	start := time.Now()
	results := make([]string, 0, len(chosen))
	allOK := true
	for _, ex := range chosen {
		fmt.Printf("\n== %s: %s\n", ex.dir, ex.title)
		t := &tour{ctx: ctx, dir: filepath.Join(tmp, ex.dir), bin: filepath.Join(tmp, "bin", ex.dir)}
		err := t.build(root, ex)
		if err == nil {
			err = t.play(ex)
		}
		if ctx.Err() != nil {
			fmt.Println("\ntour: interrupted; the programs were stopped and the temporary files removed")
			return false, nil
		}
		if err != nil {
			allOK = false
			fmt.Printf("   FAILED: %v\n", err)
			results = append(results, fmt.Sprintf("%-16s failed: %v", ex.dir, err))
		} else {
			results = append(results, fmt.Sprintf("%-16s ok", ex.dir))
		}
	}
	fmt.Printf("\n== summary (%.1fs)\n", time.Since(start).Seconds())
	for _, r := range results {
		fmt.Println(r)
	}
	return allOK, nil
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
