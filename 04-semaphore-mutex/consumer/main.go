// Consumer takes the items that the producer puts in a bounded ring in a System V shared memory
// segment, guarded by a set of three System V semaphores (a mutex for the ring's indices, and
// counting semaphores for its empty and full slots), and prints each as it takes it, one a line
// on standard output, until the end marker.
//
// It demonstrates semget(2) with IPC_CREAT|IPC_EXCL and its race-free initialisation (TLPI
// 47.5, semmutex.Open), semop(2)/semtimedop(2) with SEM_UNDO on the mutex only, shmget(2),
// shmat(2), shmdt(2), and the removal of both objects (semctl(2) and shmctl(2) IPC_RMID).
//
// Usage:
//
//	consumer [-key K | -path FILE -proj N]
//
// Run the pair in two terminals, in either order, or at once:
//
//	terminal 1: go run ./consumer
//	terminal 2: go run ./producer -n 1000
//
// Objects: whichever program starts first creates the segment and the semaphore set (mode 0600,
// at the same key, ftok of -path and -proj by default); the other finds them, and refuses them
// unless they are ours alone (a program that made the set and then refuses the segment at the
// key removes the set it made). At the end marker the consumer, after printing every item,
// removes both, and exits 0.
//
// Ctrl-C or SIGTERM ends any wait within semmutex.PollInterval (the waits are semtimedop calls
// with a short timeout, in a loop that checks for the signal: a signal does not end a semop in
// Go), and so does a write to a standard output that nobody reads (see printItem). An
// interrupted or failed consumer removes the set and the segment, whoever made them, so
// that nothing is left: the items still in the ring are lost, as they would be with any
// interrupted pipeline. A producer waiting on the set then wakes with EIDRM and ends with one
// line, status 1. The consumer dies of the signal (130 or 143).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"

	semmutex "example.com/ipc/04-semaphore-mutex"
	"golang.org/x/sys/unix"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("consumer: ")
	keyFlag := flag.String("key", "", "the `key` of the set and the segment, decimal or 0x hex (default: ftok of -path and -proj)")
	path := flag.String("path", semmutex.DefaultPath, "an existing `file` that ftok turns into the key, with -proj")
	proj := flag.Int("proj", semmutex.DefaultProj, "the ftok project `id`, 1 to 255")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `Usage: consumer [-key K | -path FILE -proj N]

Consumer takes the items that the producer puts in a ring of %d slots in a System V shared
memory segment, guarded by three System V semaphores, prints each on a line as it takes it,
and at the end marker removes the segment and the set.

Example, with the producer in another terminal:
  consumer

Default key: %s

Flags:
`, semmutex.Slots, semmutex.DefaultKeyText())
		flag.PrintDefaults()
	}
	semmutex.ParseFlags("consumer")
	if flag.NArg() > 0 {
		log.Printf("unexpected argument %q (see consumer -h)", flag.Arg(0))
		os.Exit(2)
	}
	key := semmutex.KeyFromFlags(*keyFlag, *path, *proj)
	ctx := semmutex.CatchSignals()
	err := run(ctx, key)
	semmutex.Exit(ctx, err)
}

func run(ctx context.Context, key uint32) (err error) {
	// 1. The semaphore set: created and initialised (mutex 1, empty 8, full 0) by whichever
	// program comes first, found and waited for (until initialised) by the other.
	semid, created, err := semmutex.Open(ctx, key, semmutex.InitialValues)
	if err != nil {
		return err
	}
	if created {
		log.Printf("created semaphore set key 0x%08x (semid %d)", key, semid)
	}

	// 2. The segment, at the same key. A new segment is all zeros: an empty ring.
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
	// 5. Remove both at the end, whatever happened: after the end marker (every item printed),
	// or after a signal or an error, when the run cannot complete.
	defer removeAll(key, semid, shmid)

	seg, err := unix.SysvShmAttach(shmid, 0, 0)
	if err != nil {
		return fmt.Errorf("shmat key 0x%08x (shmid %d): %w", key, shmid, err)
	}
	defer unix.SysvShmDetach(seg)

	// 3. Take items until the end marker, printing each at once.
	n := 0
	for {
		item, end, err := take(ctx, semid, seg)
		if err != nil {
			return err
		}
		if end {
			break
		}
		// 4. Print the item. Data first: the objects are removed only after.
		if err := printItem(ctx, append(item, '\n')); err != nil {
			return err
		}
		n++
	}
	log.Printf("took %d items and the end marker", n)
	return nil
}

// take takes one item: wait for a full slot, lock, read it, unlock, signal an empty slot.
func take(ctx context.Context, semid int, seg []byte) (item []byte, end bool, err error) {
	// Wait for a full slot (no SEM_UNDO: the slot is used up here, and given back below as an
	// empty one). Say so once, the first time there is none.
	full := []semmutex.Sembuf{{Num: semmutex.SemFull, Op: -1}}
	err = semmutex.Semop(semid, []semmutex.Sembuf{{Num: semmutex.SemFull, Op: -1, Flg: unix.IPC_NOWAIT}})
	if errors.Is(err, unix.EAGAIN) {
		if !narrated {
			log.Print("waiting for the producer...")
			narrated = true
		}
		err = semmutex.SemopContext(ctx, semid, full)
	}
	if ctx.Err() != nil {
		return nil, false, errors.New("interrupted while waiting for an item")
	}
	if err != nil {
		return nil, false, removed(err)
	}
	// Lock the mutex with SEM_UNDO: if we die holding it, the kernel releases it.
	err = semmutex.SemopContext(ctx, semid, []semmutex.Sembuf{{Num: semmutex.SemMutex, Op: -1, Flg: semmutex.SEM_UNDO}})
	if ctx.Err() != nil {
		return nil, false, errors.New("interrupted while waiting for the mutex")
	}
	if err != nil {
		return nil, false, removed(err)
	}
	item, end, terr := semmutex.TakeItem(seg)
	if err := semmutex.Semop(semid, []semmutex.Sembuf{{Num: semmutex.SemMutex, Op: 1, Flg: semmutex.SEM_UNDO}}); err != nil {
		return nil, false, removed(err)
	}
	if terr != nil {
		return nil, false, terr
	}
	// One more empty slot: a producer waiting for one wakes.
	if err := semmutex.Semop(semid, []semmutex.Sembuf{{Num: semmutex.SemEmpty, Op: 1}}); err != nil {
		return nil, false, removed(err)
	}
	return item, end, nil
}

// printItem writes an item and its newline to standard output with one write(2). That write
// blocks while whoever reads our standard output does not read (consumer | less), and a signal
// does not end it: the kernel restarts it after Ctrl-C (SA_RESTART). So it runs in a goroutine,
// and when ctx is done we stop waiting for it: the program cleans up and exits, and the write
// dies with it.
func printItem(ctx context.Context, line []byte) error {
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
	case err := <-done: // it went out after all
		return err
	default:
		return errors.New("interrupted while printing an item")
	}
}

// narrated is whether the consumer has said that it waits.
var narrated bool

// removed explains the errors of a semop on a set that is gone.
func removed(err error) error {
	if errors.Is(err, unix.EIDRM) || errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("the semaphore set was removed (was the producer interrupted?): %w", err)
	}
	return fmt.Errorf("semop: %w", err)
}

// removeAll removes the set and the segment (no segment if shmid is -1). The set goes at once
// (a producer blocked on it wakes with EIDRM); the segment when the last process detaches.
// Either may be gone already, removed by an interrupted producer.
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
