package semmutex_test

import (
	"fmt"
	"strconv"

	semmutex "example.com/ipc/04-semaphore-mutex"
	"golang.org/x/sys/unix"
)

// Example is the bounded buffer in one process: a goroutine puts 12 items and the end marker
// through the ring's 8 slots, as the producer does, and the function takes them, as the
// consumer does. The programs do the same in two processes, which find the set and the segment
// by a key from ftok(3), wait for the set to be initialised, and end their waits on Ctrl-C.
func Example() {
	// A new set that no key finds (IPC_PRIVATE): mutex 1 (free), 8 empty slots, 0 full slots.
	semid := must(semmutex.Semget(unix.IPC_PRIVATE, 3, 0o600))
	defer semmutex.Semctl(semid, 0, unix.IPC_RMID, 0)
	check(semmutex.SemctlAll(semid, semmutex.SETALL, semmutex.InitialValues))
	shmid := must(unix.SysvShmGet(unix.IPC_PRIVATE, semmutex.SegSize, 0o600)) // zeros: an empty ring
	defer unix.SysvShmCtl(shmid, unix.IPC_RMID, nil)
	seg := must(unix.SysvShmAttach(shmid, 0, 0))
	defer unix.SysvShmDetach(seg)
	sem := func(num uint16, op, flg int16) { // one semop(2): it waits until it can be done
		check(semmutex.Semop(semid, []semmutex.Sembuf{{Num: num, Op: op, Flg: flg}}))
	}

	// Producer: wait for an empty slot, lock, put (the 13th: the end marker), unlock, signal full.
	go func() {
		for i := 1; i <= 13; i++ {
			sem(semmutex.SemEmpty, -1, 0) // waits while the ring is full
			sem(semmutex.SemMutex, -1, semmutex.SEM_UNDO)
			check(semmutex.PutItem(seg, []byte(strconv.Itoa(i)), i == 13))
			sem(semmutex.SemMutex, 1, semmutex.SEM_UNDO)
			sem(semmutex.SemFull, 1, 0)
		}
	}()
	// Consumer: wait for a full slot, lock, take an item, unlock, signal an empty slot.
	for {
		sem(semmutex.SemFull, -1, 0) // waits while the ring is empty
		sem(semmutex.SemMutex, -1, semmutex.SEM_UNDO)
		item, end, err := semmutex.TakeItem(seg)
		sem(semmutex.SemMutex, 1, semmutex.SEM_UNDO)
		sem(semmutex.SemEmpty, 1, 0)
		check(err)
		if end {
			fmt.Println("end")
			return
		}
		fmt.Printf("%s ", item)
	}
	// Output:
	// 1 2 3 4 5 6 7 8 9 10 11 12 end
}

// must returns v, or panics on an error, as check does.
func must[T any](v T, err error) T {
	check(err)
	return v
}

// check panics on an error. Unlike log.Fatal, a panic runs the deferred calls first, so the set
// and the segment are removed even when a step fails.
func check(err error) {
	if err != nil {
		panic(err)
	}
}
