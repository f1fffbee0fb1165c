// Reader prints the message that the writer left in a System V shared memory segment, then
// removes the segment.
//
// It demonstrates shmget(2) to find an existing segment by its key, shmctl(2) IPC_STAT to check
// its owner, creator and mode, shmat(2) with SHM_RDONLY, shmdt(2), and shmctl(2) IPC_RMID.
//
// Usage:
//
//	reader [-key K | -path FILE -proj N] [-keep]
//
// The key is -key, or ftok(3) of -path and -proj (by default the temporary directory and 'M'),
// as for the writer. Run the writer first (it creates the segment), then the reader, in two
// terminals:
//
//	terminal 1: go run ./writer hello, shared memory
//	terminal 2: go run ./reader
//
// The reader prints "hello, shared memory" and removes the segment; with -keep it leaves the
// segment for another reader. It never creates a segment: with none, it says to run the writer
// first. It refuses a segment that is not ours alone (our uid, our cuid, mode 0600 or narrower:
// see shmsysv.CheckOwner), and leaves it untouched.
//
// It prints the message before it removes anything: if stdout does not take the message
// (reader >/dev/full), the segment stays, with the message. Its only wait is for stdout to take
// the message (reader | less); Ctrl-C or SIGTERM ends it, the segment stays, and the reader dies
// of the signal (status 130 or 143), as the shell expects. A stdout closed by whoever read it
// makes it keep the segment and die of SIGPIPE, quietly (141), as cat does; a closed stderr is
// ignored (see exit.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"

	shmsysv "example.com/ipc/02-shm-sysv"
	"golang.org/x/sys/unix"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("reader: ")
	keyFlag := flag.String("key", "", "the segment's `key`, decimal or 0x hex (default: ftok of -path and -proj)")
	path := flag.String("path", shmsysv.DefaultPath, "an existing `file` that ftok turns into the key, with -proj")
	proj := flag.Int("proj", shmsysv.DefaultProj, "the ftok project `id`, 1 to 255")
	keep := flag.Bool("keep", false, "leave the segment in place after reading it, instead of removing it")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `Usage: reader [-key K | -path FILE -proj N] [-keep]

Reader prints the message at offset 0 of the System V shared memory segment with the key (its
bytes up to the first NUL), then removes the segment unless -keep is given.

Example, after "writer hello, shared memory" in another terminal:
  reader

Default key: %s

Flags:
`, defaultKey())
		flag.PrintDefaults()
	}
	shmsysv.ParseFlags("reader")
	if flag.NArg() > 0 {
		log.Printf("unexpected argument %q: the reader takes only flags (see reader -h)", flag.Arg(0))
		os.Exit(2)
	}
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["key"] && (set["path"] || set["proj"]) {
		log.Print("-key and -path/-proj are two ways to give the key: pass one or the other")
		os.Exit(2)
	}
	var key uint32
	var err error
	if set["key"] {
		key, err = shmsysv.ParseKey(*keyFlag)
	} else {
		err = shmsysv.CheckProj(*proj)
	}
	if err != nil {
		log.Print(err)
		os.Exit(2)
	}
	if !set["key"] {
		if key, err = shmsysv.Ftok(*path, *proj); err != nil {
			log.Printf("%v (ftok needs a file that exists: pass the -path the writer used, or -key)", err)
			os.Exit(1)
		}
	}
	ctx := shmsysv.CatchSignals()
	err = run(ctx, key, *keep)
	shmsysv.Exit(ctx, err)
}

func run(ctx context.Context, key uint32, keep bool) error {
	// 1. Find the segment by its key. Size 0 and flags 0: we take whatever size it has, and
	// without IPC_CREAT we never create one.
	id, err := unix.SysvShmGet(shmsysv.ShmKey(key), 0, 0)
	if errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("shmget key 0x%08x: no segment has this key (run the writer first)", key)
	}
	if err != nil {
		return fmt.Errorf("shmget key 0x%08x: %w", key, err)
	}

	// 2. Check that it is ours alone before we read it, and before we remove it: a key is only
	// a number, which another user's program may have picked too, and a segment that another
	// user made and handed over to us may hold what that user forged (see CheckOwner).
	var ds unix.SysvShmDesc
	if _, err := unix.SysvShmCtl(id, unix.IPC_STAT, &ds); errors.Is(err, unix.EACCES) {
		return fmt.Errorf("shmctl IPC_STAT key 0x%08x (shmid %d): permission denied (the segment belongs to another user; pass another -key or -path/-proj)", key, id)
	} else if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EIDRM) {
		return fmt.Errorf("shmctl IPC_STAT key 0x%08x (shmid %d): the segment was removed meanwhile (by another reader?); run the writer again", key, id)
	} else if err != nil {
		return fmt.Errorf("shmctl IPC_STAT key 0x%08x (shmid %d): %w", key, id, err)
	}
	if err := shmsysv.CheckOwner(key, id, &ds, os.Geteuid()); err != nil {
		return err
	}

	// 3. Attach read-only: the reader has no business writing to the segment.
	seg, err := unix.SysvShmAttach(id, 0, unix.SHM_RDONLY)
	if err != nil {
		return fmt.Errorf("shmat key 0x%08x (shmid %d): %w", key, id, err)
	}

	// 4. Copy the message out (up to the first NUL), then detach. seg is the segment's memory
	// in our address space: after shmdt, touching it would crash.
	msg, err := shmsysv.Get(seg)
	if derr := unix.SysvShmDetach(seg); derr != nil {
		return fmt.Errorf("shmdt key 0x%08x (shmid %d): %w", key, id, derr)
	}
	if err != nil {
		return fmt.Errorf("segment key 0x%08x (shmid %d): %v; left as it is", key, id, err)
	}

	// 5. Print the message, one line, before anything is removed. If that fails, or Ctrl-C
	// ends a wait for stdout to take it, the segment stays, and with it the message.
	if err := printMessage(ctx, append(msg, '\n')); errors.Is(err, context.Canceled) {
		return fmt.Errorf("interrupted while printing the message; segment key 0x%08x (shmid %d) stays, with the message", key, id)
	} else if err != nil {
		return fmt.Errorf("%w; segment key 0x%08x (shmid %d) stays, with the message", err, key, id)
	}

	// 6. Remove the segment. IPC_RMID frees it once the last process attached to it detaches;
	// until then it stays, its key set to 0 (IPC_PRIVATE), so no one else can find it.
	if keep {
		log.Printf("kept segment key 0x%08x (shmid %d) for another reader (-keep)", key, id)
		return nil
	}
	if _, err := unix.SysvShmCtl(id, unix.IPC_RMID, nil); errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EIDRM) {
		log.Printf("segment key 0x%08x (shmid %d) was removed meanwhile by another process", key, id)
		return nil
	} else if err != nil {
		return fmt.Errorf("shmctl IPC_RMID key 0x%08x (shmid %d): %w", key, id, err)
	}
	log.Printf("removed segment key 0x%08x (shmid %d)", key, id)
	return nil
}

// printMessage writes msg to standard output with one write(2). That write blocks while whoever
// reads our standard output does not read (reader | less), and a signal does not end it: the
// kernel restarts it after Ctrl-C (SA_RESTART). So it runs in a goroutine, and when ctx is done
// we stop waiting for it: the program exits, and the write dies with it.
func printMessage(ctx context.Context, msg []byte) error {
	if ctx.Err() != nil { // interrupted already: print nothing
		return ctx.Err()
	}
	done := make(chan error, 1)
	go func() {
		_, err := os.Stdout.Write(msg)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	select {
	case err := <-done: // the message went out after all
		return err
	default:
		return ctx.Err()
	}
}

// defaultKey describes the default key for -h.
func defaultKey() string {
	key, err := shmsysv.Ftok(shmsysv.DefaultPath, shmsysv.DefaultProj)
	if err != nil {
		return fmt.Sprintf("ftok(%q, %d) fails: %v", shmsysv.DefaultPath, shmsysv.DefaultProj, err)
	}
	return fmt.Sprintf("ftok(%q, %d) = 0x%08x", shmsysv.DefaultPath, shmsysv.DefaultProj, key)
}
