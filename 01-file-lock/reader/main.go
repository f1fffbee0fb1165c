// Reader prints the content of a shared file, read while it holds a shared lock on the file, so
// that it never sees a message that a writer is halfway through writing. Many readers may hold
// the shared lock at once; a writer waits until they have all released it.
//
// It demonstrates flock(2) with LOCK_SH (or, with -lock ofd, fcntl(2) F_OFD_SETLKW with
// F_RDLCK), then read(2) under the lock.
//
// Usage:
//
//	reader [-file PATH] [-hold DURATION] [-lock flock|ofd]
//
// Run the writer first (it creates the file), then the reader, in two terminals:
//
//	terminal 1: go run ./writer -hold 10s "hello, reader"
//	terminal 2: go run ./reader
//
// The reader waits while the writer holds the lock, then prints "hello, reader". It never
// creates or removes the file. It refuses, and leaves untouched, anything at the path but a
// regular file of ours with one link (no symlink, no hard link to another file).
//
// Ctrl-C or SIGTERM ends any wait (for the lock, for a stalled standard output, during -hold):
// the reader says so, releases its lock, and dies of the signal, so that its shell sees status
// 130 or 143. Started with SIGINT ignored (reader & in a script), it keeps ignoring it. If
// whoever reads its standard output has gone (reader | head -c 5), it releases its lock and
// dies of SIGPIPE, quietly, as cat does (status 141). A closed standard error loses only the
// narration.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	filelock "example.com/ipc/01-file-lock"
	"golang.org/x/sys/unix"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("reader: ")
	path := flag.String("file", filelock.DefaultPath, "the shared `path`")
	hold := flag.Duration("hold", 0, "keep the shared lock this `duration` after reading, to watch a writer wait (default 0: release it at once)")
	kind := flag.String("lock", filelock.Flock, "lock `kind`: flock or ofd (the writer must use the same)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `Usage: reader [-file PATH] [-hold DURATION] [-lock flock|ofd]

Reader takes a shared lock on the shared file, prints its content to standard output and
releases the lock.

Example, after "writer hello" in another terminal:
  reader

Flags:
`)
		flag.PrintDefaults()
	}
	filelock.ParseFlags("reader")
	if flag.NArg() > 0 {
		log.Printf("unexpected argument %q: the reader takes only flags (see reader -h)", flag.Arg(0))
		os.Exit(2)
	}
	if *kind != filelock.Flock && *kind != filelock.OFD {
		log.Printf("-lock %q: want flock or ofd", *kind)
		os.Exit(2)
	}
	ctx := filelock.CatchSignals()
	err := run(ctx, *path, *hold, *kind)
	filelock.Exit(ctx, err) // after Ctrl-C or SIGTERM, dies of it once run has cleaned up
}

func run(ctx context.Context, path string, hold time.Duration, kind string) error {
	// 1. Open the file for reading. The writer creates it; the reader never does.
	f, err := filelock.OpenFile(path, unix.O_RDONLY)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%v (run the writer first)", err)
	}
	if err != nil {
		return err
	}
	defer f.Close()

	// 2. Take a shared lock: other readers may hold one too, but no writer holds the
	// exclusive lock while we have it, so the content cannot change under us.
	ok, err := filelock.TryLock(f, kind, false)
	if err != nil {
		return fmt.Errorf("lock %s (%s): %w", path, kind, err)
	}
	if !ok {
		log.Printf("waiting for a shared lock on %s (a writer holds the lock)...", path)
		if err := filelock.WaitLock(ctx, f, kind, false); errors.Is(err, context.Canceled) {
			log.Print("interrupted while waiting for the lock; nothing read")
			return nil
		} else if err != nil {
			return fmt.Errorf("lock %s (%s): %w", path, kind, err)
		}
	}

	// 3. Read the whole file under the lock, from the start, and print it unchanged. The
	// print may block while whoever reads our stdout does not read (reader | less), and a
	// signal does not end that write(2) (SA_RESTART again), so it runs in a goroutine, as the
	// lock's wait does: Ctrl-C ends the program, and with it the write and the lock.
	data, err := io.ReadAll(f)
	if err != nil {
		return err
	}
	printed := make(chan error, 1)
	go func() {
		_, err := os.Stdout.Write(data)
		printed <- err
	}()
	select {
	case err := <-printed:
		if err != nil {
			return err // EPIPE if our reader has gone: Exit then dies of SIGPIPE, quietly
		}
	case <-ctx.Done():
		log.Print("interrupted while printing")
		return nil
	}

	// 4. Keep the lock for -hold, so that a writer started now has to wait.
	if hold > 0 {
		log.Printf("holding a shared lock on %s for %v...", path, hold)
		select {
		case <-time.After(hold):
		case <-ctx.Done():
			log.Print("interrupted while holding the lock")
		}
	}

	// 5. Release the lock. Closing the file (deferred above) would release it too.
	if err := filelock.Unlock(f, kind); err != nil {
		return fmt.Errorf("unlock %s (%s): %w", path, kind, err)
	}
	return nil
}
