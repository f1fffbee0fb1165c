// Counter adds one to a decimal number kept in a shared file, N times, each time under an
// exclusive lock. Several counters started at once end with exactly (counters * N) in the file;
// with -lock none they lose updates: two of them read the same number, both add one, and one
// increment vanishes. That race is what the lock exists to prevent.
//
// It demonstrates a read-modify-write cycle under flock(2) LOCK_EX (or fcntl(2)
// F_OFD_SETLKW): lock, pread(2), ftruncate(2), pwrite(2), unlock.
//
// Usage:
//
//	counter [-file PATH] [-n N] [-lock flock|ofd|none]
//
// Run several at once and read the total:
//
//	t="${TMPDIR:-/tmp}"; go build -o "$t/counter" ./counter && rm -f "$t/count.txt"
//	for i in 1 2 3 4; do "$t/counter" -file "$t/count.txt" -n 10000 & done; wait
//	cat "$t/count.txt"    # 40000; with -lock none, less
//
// A missing or empty file counts as 0. The counter creates the file with mode 0600 if it is
// missing; no program removes it. It refuses, and leaves untouched, anything at the path but a
// regular file of ours with one link (no symlink, no hard link to another file).
//
// Ctrl-C or SIGTERM ends it between two increments, or while it waits for the lock: it says
// how many it made, and dies of the signal, so that its shell sees status 130 or 143. Started
// with SIGINT ignored (counter & in a script, as above), it keeps ignoring it. A closed
// standard error loses only the narration.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"strconv"
	"strings"

	filelock "example.com/ipc/01-file-lock"
	"golang.org/x/sys/unix"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("counter: ")
	path := flag.String("file", filelock.DefaultPath, "the shared `path`")
	n := flag.Int("n", 1000, "how many times to add one")
	kind := flag.String("lock", filelock.Flock, "lock `kind`: flock, ofd or none (all counters must use the same)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `Usage: counter [-file PATH] [-n N] [-lock flock|ofd|none]

Counter adds one to the decimal number in the shared file, N times, each time under an
exclusive lock. Start several at once: the file ends with exactly their sum, unless -lock none.

Example:
  counter -file count.txt -n 10000 & counter -file count.txt -n 10000 & wait; cat count.txt

Flags:
`)
		flag.PrintDefaults()
	}
	filelock.ParseFlags("counter")
	if flag.NArg() > 0 {
		log.Printf("unexpected argument %q: the counter takes only flags (see counter -h)", flag.Arg(0))
		os.Exit(2)
	}
	if *kind != filelock.Flock && *kind != filelock.OFD && *kind != filelock.None {
		log.Printf("-lock %q: want flock, ofd or none", *kind)
		os.Exit(2)
	}
	if *n < 0 {
		log.Printf("-n %d: want zero or more", *n)
		os.Exit(2)
	}
	ctx := filelock.CatchSignals()
	err := run(ctx, *path, *n, *kind)
	filelock.Exit(ctx, err) // after Ctrl-C or SIGTERM, dies of it once run has cleaned up
}

func run(ctx context.Context, path string, n int, kind string) error {
	// 1. Open the file once, creating it if needed (never truncating it: it holds the count).
	f, err := filelock.OpenFile(path, unix.O_RDWR|unix.O_CREAT)
	if err != nil {
		return err
	}
	defer f.Close()

	var last uint64
	for i := 0; i < n; i++ {
		// 2. Take the exclusive lock for the whole read-modify-write cycle: a lock around
		// the read alone, or the write alone, would still lose updates.
		// Say so if the first lock has to wait; later waits are just the other counters' turns.
		ok, err := filelock.TryLock(f, kind, true)
		if err == nil && !ok {
			if i == 0 {
				log.Printf("waiting for the exclusive lock on %s...", path)
			}
			err = filelock.WaitLock(ctx, f, kind, true)
		}
		if errors.Is(err, context.Canceled) {
			log.Printf("interrupted after %d of %d increments", i, n)
			return nil
		}
		if err != nil {
			return fmt.Errorf("lock %s (%s): %w", path, kind, err)
		}

		// 3. Read the number through the locked descriptor (re-opening the path could
		// reach another file), add one and write it back in place.
		var buf [maxLen]byte
		m, err := f.ReadAt(buf[:], 0)
		if err != nil && err != io.EOF {
			return err
		}
		if last, err = parse(buf[:m]); err != nil {
			return fmt.Errorf("%s: %v (remove the file, or pass -file with another path)", path, err)
		}
		last++
		if err := f.Truncate(0); err != nil {
			return err
		}
		if _, err := f.WriteAt([]byte(strconv.FormatUint(last, 10)+"\n"), 0); err != nil {
			return err
		}

		// 4. Release the lock, so that the other counters get their turn.
		if err := filelock.Unlock(f, kind); err != nil {
			return fmt.Errorf("unlock %s (%s): %w", path, kind, err)
		}
		if ctx.Err() != nil {
			log.Printf("interrupted after %d of %d increments", i+1, n)
			return nil
		}
	}
	if n > 0 {
		log.Printf("added %d to %s; the last value it wrote was %d", n, path, last)
	}
	return nil
}

// maxLen is more than the longest counter: 20 digits and a newline.
const maxLen = 32

// parse reads the counter from the file's first line: a decimal number; an empty file is 0.
// (Only the first line counts: without the lock, racing truncates and writes can leave stray
// bytes after it, as in "1\n35\n".)
func parse(b []byte) (uint64, error) {
	line, _, _ := strings.Cut(string(b), "\n")
	if len(b) == 0 {
		return 0, nil
	}
	v, err := strconv.ParseUint(line, 10, 64)
	if err != nil || len(line) >= maxLen-1 {
		return 0, fmt.Errorf("does not hold a counter (want a decimal number, found %.20q)", b)
	}
	return v, nil
}
