// Reader takes the message out of a POSIX shared memory object, waiting for a writer to publish
// one if there is none yet, prints it, and then removes the object. If the message cannot be
// printed (a full disk, a closed pipe, Ctrl-C while a stalled pipe blocks the write), it stays
// in the object for the next reader.
//
// It demonstrates shm_open(3) (in Go: open(2) on /dev/shm/NAME with O_CREAT|O_EXCL), ftruncate(2),
// mmap(2) with MAP_SHARED, futex(2) FUTEX_WAIT on a word of the mapping, an atomic load and a
// compare-and-swap on that word, and shm_unlink(3) (in Go: unlink(2)).
//
// Usage:
//
//	reader [-name NAME] [-size BYTES]
//
// Run the pair in two terminals, in either order: a reader started first waits, asleep in
// FUTEX_WAIT, until the writer has published a whole message; one started after reads it at
// once.
//
//	terminal 1: go run ./reader
//	terminal 2: go run ./writer "hello, reader"
//
// Whichever program starts first creates the object, with mode 0600. The reader that takes
// the message removes the object; so does a waiting reader stopped with Ctrl-C or SIGTERM, if
// it created the object.
//
// An object found at the name is used only if it is no symbolic link (O_NOFOLLOW), is a regular
// file, is ours, and has one name only (st_nlink 1: a hard link there would be a second name of
// another object in /dev/shm, perhaps another program's); anything else is refused with one
// line and left as it was.
//
// Ctrl-C or SIGTERM ends every wait, for a message or for a stalled standard output to take
// it: the reader cleans up, then dies of the signal (status 130 or 143 in a shell). A reader
// started with SIGINT ignored (reader & in a script) keeps ignoring it. SIGPIPE is caught: a
// closed standard error costs the narration only; a closed standard output leaves the message
// for the next reader, and the reader then dies of SIGPIPE (141), as cat does.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"sync/atomic"

	shmposix "example.com/ipc/03-shm-posix"
	"golang.org/x/sys/unix"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("reader: ")
	name := flag.String("name", shmposix.DefaultName, "the shared memory object's `NAME`: the file /dev/shm/NAME (the leading slash is optional; the default comes from $TMPDIR, so give both programs the same $TMPDIR)")
	size := flag.Int("size", shmposix.DefaultSize, "the largest message, in `BYTES`, that the object holds if the reader creates it")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `Usage: reader [-name NAME] [-size BYTES]

Reader waits for a message in the POSIX shared memory object NAME, creating the object if
needed, prints the message and removes the object.

Example, then run "writer hello" in another terminal:
  reader

Flags:
`)
		flag.PrintDefaults()
	}
	shmposix.ParseFlags("reader")
	if flag.NArg() > 0 {
		log.Printf("unexpected argument %q: the reader takes only flags (see reader -h)", flag.Arg(0))
		os.Exit(2)
	}
	path, err := shmposix.Path(*name)
	if err != nil {
		log.Printf("-name %q: %v", *name, err)
		os.Exit(2)
	}
	if *size < 1 || *size > shmposix.MaxSize {
		log.Printf("-size %d: want 1 to %d bytes", *size, shmposix.MaxSize)
		os.Exit(2)
	}
	ctx := shmposix.CatchSignals()
	err = run(ctx, path, *size)
	shmposix.Exit(ctx, err)
}

// run takes the message. ctx ends on Ctrl-C or SIGTERM; run then cleans up and returns, and
// main's Exit dies of that signal.
func run(ctx context.Context, path string, size int) error {
	// 1. Create the object, or open the one a writer (or another reader) created first.
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
			log.Print("interrupted; nothing read")
			return nil
		}
		if err != nil {
			return err
		}
	}

	// 3. Map the whole object, shared, for writing too: taking the message is a store to the
	// state word.
	mem, err := unix.Mmap(fd, 0, objSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		if created {
			unix.Unlink(path)
		}
		return &os.PathError{Op: "mmap", Path: path, Err: err}
	}
	defer unix.Munmap(mem)
	h := shmposix.HeaderOf(mem)

	// 4. Wait until the state is Full: load it atomically and, while there is no whole message
	// (Empty, or Writing), sleep in FUTEX_WAIT on the word. The kernel sleeps only if the word
	// still holds the value we saw, so a writer that publishes between our load and our sleep
	// makes FUTEX_WAIT return at once, and its FUTEX_WAKE is never missed.
	for waiting := false; ; {
		s := atomic.LoadUint32(&h.State)
		if s == shmposix.Full {
			break
		}
		if s == shmposix.Done {
			return fmt.Errorf("another reader took the message in %s, or closed it; nothing read", path)
		}
		if s != shmposix.Empty && s != shmposix.Writing {
			return fmt.Errorf("%s holds an unknown state %d: it is not one of these objects (pass -name with another name)", path, s)
		}
		if !waiting {
			log.Printf("waiting for a writer to publish a message in %s...", path)
			waiting = true
		}
		if err := futexWait(ctx, &h.State, s); err != nil {
			return stopWaiting(h, path, created, err)
		}
	}

	// 5. The state is Full, so the length and the message are complete (see the writer's
	// step 6). Check the length against the mapping before trusting it.
	n := int(h.Len)
	if n > objSize-shmposix.HeaderSize {
		return fmt.Errorf("%s says its message is %d bytes, but it holds at most %d: it is corrupt; left it alone", path, n, objSize-shmposix.HeaderSize)
	}

	// 6. Take the message: move the state from Full to Done, so that of two readers only one
	// prints it, and a writer that opened the object meanwhile does not write into it.
	if !atomic.CompareAndSwapUint32(&h.State, shmposix.Full, shmposix.Done) {
		return fmt.Errorf("another reader took the message in %s; nothing read", path)
	}
	line := make([]byte, n+1) // a copy, and a newline: the mapping goes away before the process
	copy(line, mem[shmposix.HeaderSize:])
	line[n] = '\n'

	// 7. Print the message, one line, before removing anything: if standard output does not
	// take it (a full disk, a closed pipe, Ctrl-C while a stalled pipe blocks the write), give
	// the message back, Done to Full, and leave the object to the next reader. It may then have
	// gone out in part, or even whole at the last moment: printed twice rather than lost.
	if err := printLine(ctx, line); err != nil {
		atomic.StoreUint32(&h.State, shmposix.Full)
		switch {
		case errors.Is(err, context.Canceled):
			log.Printf("interrupted while printing the message; left it in %s for the next reader", path)
			return nil
		case errors.Is(err, unix.EPIPE):
			log.Printf("standard output is closed; left the message in %s for the next reader", path)
			return err // Exit dies of SIGPIPE, quietly, as cat does
		}
		return fmt.Errorf("%w; left the message in %s for the next reader", err, path)
	}

	// 8. Remove the object, as shm_unlink(3) does: the name goes now, and the memory when the
	// last process unmaps it.
	if err := unix.Unlink(path); err != nil {
		return &os.PathError{Op: "unlink", Path: path, Err: err}
	}
	return nil
}

// printLine writes line to standard output with one write(2), unless ctx is done already.
// That write blocks while whoever reads our standard output does not read (reader | less), and
// a signal does not end it: the kernel restarts it after Ctrl-C (SA_RESTART). So it runs in a
// goroutine, and when ctx ends printLine stops waiting for it and returns ctx's error: run
// gives the message back and returns, and the write dies with the process.
func printLine(ctx context.Context, line []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
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
	case err := <-done: // the line went out after all
		return err
	default:
		return ctx.Err()
	}
}

// futexWait sleeps in FUTEX_WAIT while *addr holds val. It returns nil when the sleep ended
// (a wake, or the word had changed, or a spurious return: the caller looks again), ctx's error
// when ctx ended first, and any other error of futex(2), which looking again would not cure.
//
// A signal does not end FUTEX_WAIT in a Go program: the runtime's handlers have SA_RESTART,
// and the signal may be delivered to another thread anyway. So the call runs in a goroutine
// of its own, and futexWait stops waiting for it when ctx ends. The goroutine then stays
// asleep in the kernel until someone wakes the word or the process exits, which it does
// soon; it touches no memory of the mapping when it returns, so unmapping is safe.
func futexWait(ctx context.Context, addr *uint32, val uint32) error {
	done := make(chan error, 1)
	go func() {
		_, err := shmposix.Futex(addr, shmposix.FUTEX_WAIT, val, nil)
		done <- err
	}()
	select {
	case err := <-done:
		if err == unix.EAGAIN || err == unix.EINTR {
			return nil // the word had changed, or a signal: look again
		}
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stopWaiting ends the wait early: on Ctrl-C or SIGTERM (why is context.Canceled), or when
// FUTEX_WAIT fails. A reader that created the object removes it, so that nothing is left in
// /dev/shm; but first it closes the object (Empty to Done), so that a writer arriving now
// refuses instead of publishing into a removed object, and wakes any other reader waiting on
// it, who would otherwise wait for ever. If a writer has claimed the object already, its
// message is left for the next reader.
func stopWaiting(h *shmposix.Header, path string, created bool, why error) error {
	what := "interrupted"
	if !errors.Is(why, context.Canceled) {
		what = fmt.Sprintf("futex FUTEX_WAIT %s: %v", path, why)
	}
	switch {
	case !created:
		what += fmt.Sprintf("; left %s, which another program created", path)
	case !atomic.CompareAndSwapUint32(&h.State, shmposix.Empty, shmposix.Done):
		what += fmt.Sprintf("; a writer has just claimed %s: left it and its message for the next reader (if that writer died, remove it with rm %s)", path, path)
	default:
		shmposix.Futex(&h.State, shmposix.FUTEX_WAKE, math.MaxInt32, nil)
		if err := unix.Unlink(path); err != nil {
			return &os.PathError{Op: "unlink", Path: path, Err: err}
		}
		what += "; removed " + path
	}
	if errors.Is(why, context.Canceled) {
		log.Print(what)
		return nil // main's Exit then dies of the signal
	}
	return errors.New(what)
}
