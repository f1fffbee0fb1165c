// Writer replaces the content of a shared file while it holds an exclusive lock on the file, so
// that a reader, which reads under a shared lock, never sees a half-written message.
//
// It demonstrates flock(2) with LOCK_EX (or, with -lock ofd, fcntl(2) F_OFD_SETLKW with
// F_WRLCK), then ftruncate(2) and write(2) under the lock.
//
// Usage:
//
//	writer [-file PATH] [-hold DURATION] [-lock flock|ofd] [message ...]
//
// The message is the arguments joined by spaces, with a newline; with no arguments it is
// standard input, byte for byte. Run the pair in two terminals, the writer first (it creates the
// file); -hold keeps the lock so that you can watch a reader wait for it:
//
//	terminal 1: go run ./writer -hold 10s "hello, reader"
//	terminal 2: go run ./reader
//
// The writer (or the counter) creates the file with mode 0600 if it is missing. No program
// removes it: it is the data the processes share; remove it with rm when you are done. The file
// is refused, and left untouched, unless it is a regular file of ours with one link: not a
// symlink, and not a hard link, through which the writer would overwrite another file.
//
// Ctrl-C or SIGTERM ends any wait (for standard input, for the lock, during -hold): the writer
// says so, releases its lock, and dies of the signal, so that its shell sees status 130 or 143.
// Started with SIGINT ignored (writer & in a script), it keeps ignoring it. A closed standard
// error (writer 2>&1 | head -1) loses only the narration: the message is written all the same.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"time"

	filelock "example.com/ipc/01-file-lock"
	"golang.org/x/sys/unix"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("writer: ")
	path := flag.String("file", filelock.DefaultPath, "the shared `path`")
	hold := flag.Duration("hold", 0, "keep the lock this `duration` after writing, to watch a reader wait (default 0: release it at once)")
	kind := flag.String("lock", filelock.Flock, "lock `kind`: flock or ofd (the reader must use the same)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `Usage: writer [-file PATH] [-hold DURATION] [-lock flock|ofd] [message ...]

Writer takes an exclusive lock on the shared file, replaces its content with the message
(the arguments joined by spaces, or standard input if there are none) and releases the lock.

Example, then run the reader in another terminal:
  writer -hold 10s "hello, reader"

Flags:
`)
		flag.PrintDefaults()
	}
	filelock.ParseFlags("writer")
	if *kind != filelock.Flock && *kind != filelock.OFD {
		log.Printf("-lock %q: want flock or ofd", *kind)
		os.Exit(2)
	}
	ctx := filelock.CatchSignals()
	err := run(ctx, *path, *hold, *kind, flag.Args())
	filelock.Exit(ctx, err) // after Ctrl-C or SIGTERM, dies of it once run has cleaned up
}

func run(ctx context.Context, path string, hold time.Duration, kind string, args []string) error {
	// 1. Get the message before touching the file: no lock is held while a person types, and
	// Ctrl-C here has nothing to clean up. A signal does not end a read(2) of a terminal or a
	// pipe (Go's handlers use SA_RESTART), so the read runs in a goroutine, and Ctrl-C ends the
	// wait for it.
	msg := []byte(strings.Join(args, " ") + "\n")
	if len(args) == 0 {
		if _, err := unix.IoctlGetTermios(0, unix.TCGETS); err == nil {
			log.Print("reading the message from standard input (end it with Ctrl-D)...")
		}
		read := make(chan error, 1)
		go func() {
			var err error
			msg, err = io.ReadAll(os.Stdin)
			read <- err
		}()
		select {
		case err := <-read:
			if err != nil {
				return fmt.Errorf("read standard input: %w", err)
			}
		case <-ctx.Done():
			log.Print("interrupted while reading the message; nothing written")
			return nil
		}
	}

	// 2. Open the file, creating it if needed, but do not truncate it yet: O_TRUNC (as in
	// os.Create) would empty it before we hold the lock, under the feet of a reader, and
	// before OpenFile has checked it (a hard link to another file would already be emptied).
	f, err := filelock.OpenFile(path, unix.O_RDWR|unix.O_CREAT)
	if err != nil {
		return err
	}
	defer f.Close()

	// 3. Take the exclusive lock. It is granted only when no other open file holds a lock
	// on it, shared or exclusive, so we may have to wait for every reader to finish.
	ok, err := filelock.TryLock(f, kind, true)
	if err != nil {
		return fmt.Errorf("lock %s (%s): %w", path, kind, err)
	}
	if !ok {
		log.Printf("waiting for the exclusive lock on %s...", path)
		if err := filelock.WaitLock(ctx, f, kind, true); errors.Is(err, context.Canceled) {
			log.Print("interrupted while waiting for the lock; nothing written")
			return nil
		} else if err != nil {
			return fmt.Errorf("lock %s (%s): %w", path, kind, err)
		}
	}

	// 4. Replace the content while no one else can read it: truncate, then write from offset 0.
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt(msg, 0); err != nil {
		return err
	}
	log.Printf("wrote %d bytes to %s", len(msg), path)

	// 5. Keep the lock for -hold, so that a reader started now has to wait.
	if hold > 0 {
		log.Printf("holding the exclusive lock on %s for %v...", path, hold)
		select {
		case <-time.After(hold):
		case <-ctx.Done():
			log.Print("interrupted while holding the lock")
		}
	}

	// 6. Release the lock. Closing the file (deferred above, and on any early return) would
	// release it too; so would the kernel if this process died.
	if err := filelock.Unlock(f, kind); err != nil {
		return fmt.Errorf("unlock %s (%s): %w", path, kind, err)
	}
	log.Printf("released the lock on %s", path)
	return nil
}
