// Writer puts one message into a POSIX shared memory object and wakes the reader waiting for
// it. The message stays in the object after the writer exits, until a reader takes it.
//
// It demonstrates shm_open(3) (in Go: open(2) on /dev/shm/NAME with O_CREAT|O_EXCL), ftruncate(2),
// mmap(2) with MAP_SHARED, a compare-and-swap and an atomic store on a word of the mapping, and
// futex(2) FUTEX_WAKE.
//
// Usage:
//
//	writer [-name NAME] [-size BYTES] [message ...]
//
// The message is the arguments joined by spaces or, with none, the whole of standard input
// less one final newline (echo hello | writer writes what writer hello does; an empty input
// is no message, and is refused). Run the pair in two terminals, in either order: a reader
// started first waits for the message, one started after reads it at once.
//
//	terminal 1: go run ./reader
//	terminal 2: go run ./writer "hello, reader"
//
// Whichever program starts first creates the object, with mode 0600 and room for -size bytes
// of message. The reader that takes the message removes it. An object holds one message: a
// writer that finds an unread message there refuses, and leaves it alone.
//
// An object found at the name is used only if it is no symbolic link (O_NOFOLLOW), is a regular
// file, is ours, and has one name only (st_nlink 1: a hard link there would be a second name of
// another object in /dev/shm, perhaps another program's); anything else is refused with one
// line and left as it was.
//
// The writer reads the whole message before it creates or opens anything. Ctrl-C or SIGTERM,
// also while it waits for standard input, ends it with the signal's status (130 or 143); a
// writer started with SIGINT ignored (writer & in a script) keeps ignoring it. SIGPIPE is
// caught: a closed standard error costs the narration only.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"os"
	"strings"
	"sync/atomic"

	shmposix "example.com/ipc/03-shm-posix"
	"golang.org/x/sys/unix"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("writer: ")
	name := flag.String("name", shmposix.DefaultName, "the shared memory object's `NAME`: the file /dev/shm/NAME (the leading slash is optional; the default comes from $TMPDIR, so give both programs the same $TMPDIR)")
	size := flag.Int("size", shmposix.DefaultSize, "the largest message, in `BYTES`, that the writer accepts, and that the object holds if the writer creates it")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `Usage: writer [-name NAME] [-size BYTES] [message ...]

Writer puts the message (the arguments joined by spaces, or else all of standard input
less one final newline) into the POSIX shared memory object NAME, creating it if needed,
and wakes a reader waiting for it.

Example, before or after running the reader in another terminal:
  writer "hello, reader"
  date | writer

Flags:
`)
		flag.PrintDefaults()
	}
	shmposix.ParseFlags("writer")
	path, err := shmposix.Path(*name)
	if err != nil {
		log.Printf("-name %q: %v", *name, err)
		os.Exit(2)
	}
	if *size < 1 || *size > shmposix.MaxSize {
		log.Printf("-size %d: want 1 to %d bytes", *size, shmposix.MaxSize)
		os.Exit(2)
	}
	if msg := strings.Join(flag.Args(), " "); len(msg) > *size {
		log.Printf("the message is %d bytes, more than -size %d (pass a larger -size)", len(msg), *size)
		os.Exit(2)
	}
	ctx := shmposix.CatchSignals()
	err = run(ctx, path, *size, flag.Args())
	shmposix.Exit(ctx, err)
}

// run publishes the message: args joined by spaces, or else standard input. ctx ends on Ctrl-C
// or SIGTERM; run then cleans up and returns, and main's Exit dies of that signal.
func run(ctx context.Context, path string, size int, args []string) error {
	// 0. Get the message before touching any object: nothing is made while a person types,
	// and Ctrl-C here has nothing to clean up.
	msg := strings.Join(args, " ")
	if len(args) == 0 {
		var err error
		msg, err = readMessage(ctx, size)
		if errors.Is(err, context.Canceled) {
			log.Print("interrupted while reading the message from standard input; nothing written")
			return nil
		}
		if err != nil {
			return err
		}
	}

	// 1. Create the object, or open the one a reader (or another writer) created first.
	// O_EXCL makes exactly one process the creator when both start at once; the other gets
	// EEXIST and opens what is there.
	fd, err := shmposix.ShmOpen(path, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL, shmposix.Mode)
	created := err == nil
	if errors.Is(err, unix.EEXIST) {
		fd, err = shmposix.ShmOpen(path, unix.O_RDWR, 0)
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)

	// 2. A new object is empty: give it its size, which fills it with zeros, so its state is
	// Empty. An object someone else created has its size already, or will in a moment.
	objSize := shmposix.HeaderSize + size
	if created {
		if err := unix.Ftruncate(fd, int64(objSize)); err != nil {
			unix.Unlink(path)
			return &os.PathError{Op: "ftruncate", Path: path, Err: err}
		}
	} else {
		objSize, err = shmposix.CheckExisting(ctx, fd, path)
		if errors.Is(err, context.Canceled) {
			log.Print("interrupted; nothing written")
			return nil
		}
		if err != nil {
			return err
		}
		if room := objSize - shmposix.HeaderSize; len(msg) > room {
			return fmt.Errorf("the message is %d bytes, but %s holds at most %d (its creator chose that size; start the reader with -size %d, or pass -name with another name)", len(msg), path, room, len(msg))
		}
	}

	// 3. Map the whole object, shared: our stores go to the object's pages, which every
	// process that maps it sees. The descriptor is no longer needed once it is mapped.
	mem, err := unix.Mmap(fd, 0, objSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		if created {
			unix.Unlink(path)
		}
		return &os.PathError{Op: "mmap", Path: path, Err: err}
	}
	defer unix.Munmap(mem)
	h := shmposix.HeaderOf(mem)

	// 4. Claim the object: move the state from Empty to Writing with a compare-and-swap, so that
	// of two writers only one writes. Anything else is left as it is.
	if !atomic.CompareAndSwapUint32(&h.State, shmposix.Empty, shmposix.Writing) {
		switch s := atomic.LoadUint32(&h.State); s {
		case shmposix.Full:
			return fmt.Errorf("%s already holds an unread message; left it alone (run the reader to take it, then write again)", path)
		case shmposix.Writing:
			return fmt.Errorf("another writer is writing a message into %s; left it alone (run the reader to take it, then write again)", path)
		case shmposix.Done:
			return fmt.Errorf("%s is being removed by a reader; nothing written (run the writer again)", path)
		default:
			return fmt.Errorf("%s holds an unknown state %d: it is not one of these objects (pass -name with another name)", path, s)
		}
	}

	// 5. Write the message, then its length, with ordinary stores: no reader looks at them
	// until the state says Full.
	copy(mem[shmposix.HeaderSize:], msg)
	h.Len = uint32(len(msg))

	// 6. Publish: the atomic store of Full comes after the stores above, in this process's
	// program order and, because sync/atomic is sequentially consistent, in the order any
	// other process sees them. A reader that loads Full sees the whole message.
	atomic.StoreUint32(&h.State, shmposix.Full)

	// 7. Wake every reader asleep in FUTEX_WAIT on the word (a reader not asleep yet will see
	// Full before it sleeps). The shared FUTEX_WAKE, not FUTEX_WAKE_PRIVATE: the reader is
	// another process.
	if _, err := shmposix.Futex(&h.State, shmposix.FUTEX_WAKE, math.MaxInt32, nil); err != nil {
		return fmt.Errorf("futex FUTEX_WAKE %s: %w", path, err)
	}
	log.Printf("published %d bytes in %s", len(msg), path)
	return nil
}

// readMessage reads the message from standard input: all of it, less one final newline, so
// that echo hello | writer writes what writer hello does, and a text file written in comes
// out of the reader the same. It reads at most size+2 bytes (a message of size bytes, its
// newline, and one byte to see that there is more), so an endless input is refused too.
//
// A read blocks until there is input (a person typing, a pipe whose writer is slow), and a
// signal does not end it: the kernel restarts it. So it runs in a goroutine, and when ctx ends
// readMessage stops waiting for it and returns ctx's error; the read dies with the process.
func readMessage(ctx context.Context, size int) (string, error) {
	if _, err := unix.IoctlGetTermios(0, unix.TCGETS); err == nil {
		log.Print("reading the message from standard input (end it with Ctrl-D)...")
	}
	type result struct {
		in  []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		in, err := io.ReadAll(io.LimitReader(os.Stdin, int64(size)+2))
		done <- result{in, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	msg := strings.TrimSuffix(string(r.in), "\n")
	switch {
	case r.err != nil:
		return "", r.err // "read /dev/stdin: is a directory"
	case len(r.in) == 0:
		return "", errors.New("no message: standard input is empty; nothing written")
	case len(msg) > size:
		return "", fmt.Errorf("the message on standard input is more than -size %d bytes (pass a larger -size); nothing written", size)
	}
	return msg, nil
}
