// Producer puts items in a bounded ring in a System V shared memory segment, guarded by a set of
// three System V semaphores, for the consumer to take: a mutex for the ring's indices, and two
// counting semaphores for its empty and its full slots. The ring has a few slots (8); the
// producer may put any number of items through it, waiting for a free slot when it is full.
//
// It demonstrates semget(2) with IPC_CREAT|IPC_EXCL and its race-free initialisation (TLPI
// 47.5, semmutex.Open), semop(2)/semtimedop(2) with SEM_UNDO on the mutex only, shmget(2),
// shmat(2) and shmdt(2).
//
// Usage:
//
//	producer [-key K | -path FILE -proj N] [-n N] [line ...]
//
// The items are the arguments, or with -n the numbers 1 to N, or else the lines of standard
// input; each is at most 256 bytes (a longer one is refused before anything is created). After
// the last item the producer puts an end marker, detaches and exits 0. Run the pair in two
// terminals, in either order, or at once:
//
//	terminal 1: go run ./producer -n 1000
//	terminal 2: go run ./consumer
//
// Objects: whichever program starts first creates the segment and the semaphore set (mode 0600,
// at the same key, ftok of -path and -proj by default); the other finds them, and refuses them
// unless they are ours alone (a program that made the set and then refuses the segment at the
// key removes the set it made). On a normal run the consumer removes both, after it has printed
// the end marker's arrival. The producer removes nothing on a normal run: it may finish long before
// the consumer starts, and the items wait in the ring.
//
// Ctrl-C or SIGTERM ends any wait within semmutex.PollInterval (the waits are semtimedop calls
// with a short timeout, in a loop that checks for the signal: a signal does not end a semop in
// Go). An interrupted producer removes the set and the segment, whoever made them, so that
// nothing is left: the run cannot complete anyway. A consumer waiting on the set then wakes
// with EIDRM and ends with one line, status 1. It dies of the signal (130 or 143).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"strconv"

	semmutex "example.com/ipc/04-semaphore-mutex"
	"golang.org/x/sys/unix"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("producer: ")
	keyFlag := flag.String("key", "", "the `key` of the set and the segment, decimal or 0x hex (default: ftok of -path and -proj)")
	path := flag.String("path", semmutex.DefaultPath, "an existing `file` that ftok turns into the key, with -proj")
	proj := flag.Int("proj", semmutex.DefaultProj, "the ftok project `id`, 1 to 255")
	n := flag.Int("n", 0, "put the numbers 1 to `N`, one an item, instead of the arguments or standard input")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `Usage: producer [-key K | -path FILE -proj N] [-n N] [line ...]

Producer puts items (the arguments, or the numbers 1 to N, or else the lines of standard input;
at most %d bytes each) and then an end marker in a ring of %d slots in a System V shared memory
segment, guarded by three System V semaphores, for the consumer to take.

Examples, with the consumer in another terminal:
  producer -n 1000
  producer hello world
  ls | producer

Default key: %s

Flags:
`, semmutex.ItemSize, semmutex.Slots, semmutex.DefaultKeyText())
		flag.PrintDefaults()
	}
	semmutex.ParseFlags("producer")
	key := semmutex.KeyFromFlags(*keyFlag, *path, *proj)
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["n"] && flag.NArg() > 0 {
		log.Print("-n and lines as arguments are two ways to give the items: pass one or the other")
		os.Exit(2)
	}
	if *n < 0 {
		log.Printf("-n %d: want 0 or more", *n)
		os.Exit(2)
	}
	ctx := semmutex.CatchSignals()

	// The items, all known and checked before anything is created.
	var items [][]byte
	switch {
	case set["n"]:
		for i := 1; i <= *n; i++ {
			items = append(items, []byte(strconv.Itoa(i)))
		}
	case flag.NArg() > 0:
		for _, a := range flag.Args() {
			items = append(items, []byte(a))
		}
	default:
		var err error
		if items, err = readLines(ctx); err != nil {
			semmutex.Exit(ctx, err)
		}
	}
	for i, it := range items {
		if len(it) > semmutex.ItemSize {
			log.Printf("item %d is %d bytes, more than a slot holds (%d); nothing was put", i+1, len(it), semmutex.ItemSize)
			os.Exit(2)
		}
	}
	err := run(ctx, key, items)
	semmutex.Exit(ctx, err)
}

func run(ctx context.Context, key uint32, items [][]byte) (err error) {
	// 1. The semaphore set: created and initialised (mutex 1, empty 8, full 0) by whichever
	// program comes first, found and waited for (until initialised) by the other.
	semid, created, err := semmutex.Open(ctx, key, semmutex.InitialValues)
	if err != nil {
		return err
	}
	if created {
		log.Printf("created semaphore set key 0x%08x (semid %d)", key, semid)
	}

	// 2. The segment, at the same key (sets and segments have separate keys). A new segment is
	// all zeros: an empty ring.
	shmid, segCreated, err := semmutex.OpenSegment(key)
	if err != nil {
		if created { // a set that we made for a run that cannot happen
			removeAll(key, semid, -1)
		}
		return err
	}
	if segCreated {
		log.Printf("created segment key 0x%08x (shmid %d, %d bytes)", key, shmid, semmutex.SegSize)
	}
	// An interrupted or failed producer removes both: the consumer could never finish.
	defer func() {
		if err != nil {
			removeAll(key, semid, shmid)
		}
	}()

	seg, err := unix.SysvShmAttach(shmid, 0, 0)
	if err != nil {
		return fmt.Errorf("shmat key 0x%08x (shmid %d): %w", key, shmid, err)
	}
	defer unix.SysvShmDetach(seg)

	// 3. Put each item, then the end marker.
	for i := 0; i <= len(items); i++ {
		var item []byte
		if i < len(items) {
			item = items[i]
		}
		if err := put(ctx, semid, seg, item, i == len(items)); err != nil {
			return err
		}
	}
	log.Printf("put %d items and the end marker", len(items))
	return nil
}

// put puts one item: wait for an empty slot, lock, write it, unlock, signal a full slot.
func put(ctx context.Context, semid int, seg []byte, item []byte, end bool) error {
	// Wait for an empty slot. No SEM_UNDO on a counting semaphore: the slot is used up by the
	// item, and the consumer gives it back, not the kernel when we exit.
	if err := semop(ctx, semid, semmutex.Sembuf{Num: semmutex.SemEmpty, Op: -1}, "an empty slot"); err != nil {
		return err
	}
	// Lock the mutex with SEM_UNDO: if we die holding it, the kernel releases it.
	if err := semop(ctx, semid, semmutex.Sembuf{Num: semmutex.SemMutex, Op: -1, Flg: semmutex.SEM_UNDO}, "the mutex"); err != nil {
		return err
	}
	perr := semmutex.PutItem(seg, item, end)
	if err := semmutex.Semop(semid, []semmutex.Sembuf{{Num: semmutex.SemMutex, Op: 1, Flg: semmutex.SEM_UNDO}}); err != nil {
		return removed(err)
	}
	if perr != nil {
		return perr
	}
	// One more full slot: a consumer waiting for one wakes.
	if err := semmutex.Semop(semid, []semmutex.Sembuf{{Num: semmutex.SemFull, Op: 1}}); err != nil {
		return removed(err)
	}
	return nil
}

// semop does one operation, waiting until it can, or until Ctrl-C or SIGTERM.
func semop(ctx context.Context, semid int, op semmutex.Sembuf, what string) error {
	err := semmutex.SemopContext(ctx, semid, []semmutex.Sembuf{op})
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted while waiting for %s", what)
	}
	return removed(err)
}

// removed explains the errors of a semop on a set that is gone.
func removed(err error) error {
	if errors.Is(err, unix.EIDRM) || errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("the semaphore set was removed (was the consumer interrupted?): %w", err)
	}
	if err != nil {
		return fmt.Errorf("semop: %w", err)
	}
	return nil
}

// removeAll removes the set and the segment (no segment if shmid is -1) after an interrupted or
// failed run. The set goes at once (a consumer blocked on it wakes with EIDRM); the segment when
// the last process detaches.
func removeAll(key uint32, semid, shmid int) {
	if _, err := semmutex.Semctl(semid, 0, unix.IPC_RMID, 0); err == nil {
		log.Printf("removed semaphore set key 0x%08x (semid %d)", key, semid)
	}
	if shmid < 0 {
		return
	}
	if _, err := unix.SysvShmCtl(shmid, unix.IPC_RMID, nil); err == nil {
		log.Printf("removed segment key 0x%08x (shmid %d)", key, shmid)
	}
}

// readLines reads the lines of standard input, without their newlines. The read runs in a
// goroutine, so that Ctrl-C ends the wait for it (read(2) is restarted after a signal).
func readLines(ctx context.Context) ([][]byte, error) {
	type result struct {
		items [][]byte
		err   error
	}
	done := make(chan result, 1)
	go func() {
		var items [][]byte
		sc := bufio.NewScanner(os.Stdin)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			items = append(items, append([]byte(nil), sc.Bytes()...))
		}
		done <- result{items, sc.Err()}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, fmt.Errorf("read standard input: %w", r.err)
		}
		return r.items, nil
	case <-ctx.Done():
		return nil, errors.New("interrupted while reading standard input; nothing was put")
	}
}
