package main

import (
	"log"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	semmutex "example.com/ipc/04-semaphore-mutex"
	"golang.org/x/sys/unix"
)

// worker is one worker process: `counter worker I K N LOCK HOLD SEMID SHMID` (worker I of K, 1
// to K; ps shows it so), started by the counter, never by hand. It attaches the segment, says it is ready and waits for the go, then
// adds one to the counter N times, each time inside the mutex. It leaves signals as they are: a
// Ctrl-C in the terminal, or the counter's SIGKILL, ends it at once, and it has nothing to clean
// up (the counter removes the objects; the kernel detaches the segment and undoes SEM_UNDO).
func worker(args []string) {
	i, k, n, lock, hold, semid, shmid, ok := parseWorker(args)
	if !ok {
		log.Print("the worker command is for counter's own use; run counter -h")
		os.Exit(2)
	}
	log.SetPrefix("counter: worker " + strconv.Itoa(i+1) + ": ")
	seg, err := unix.SysvShmAttach(shmid, 0, 0)
	if err != nil {
		log.Fatalf("shmat shmid %d: %v", shmid, err)
	}
	c, done := semmutex.CounterIn(seg, k)
	pid := uint32(os.Getpid())

	// Ready, then wait for the go: all the workers start counting together.
	if err := semmutex.Semop(semid, []semmutex.Sembuf{{Num: semmutex.SemReady, Op: 1}}); err != nil {
		log.Fatalf("semop (ready) semid %d: %v", semid, err)
	}
	if err := semmutex.Semop(semid, []semmutex.Sembuf{{Num: semmutex.SemGo, Op: -1}}); err != nil {
		log.Fatalf("semop (wait for the go) semid %d: %v", semid, err)
	}

	// The mutex of -lock sem: a semaphore of value 1. SEM_UNDO on both operations: the kernel
	// keeps their sum (semadj, -1 while we hold it) and undoes it if we die, releasing the mutex.
	take := []semmutex.Sembuf{{Num: semmutex.SemLock, Op: -1, Flg: semmutex.SEM_UNDO}}
	give := []semmutex.Sembuf{{Num: semmutex.SemLock, Op: 1, Flg: semmutex.SEM_UNDO}}
	for j := range n {
		switch lock {
		case "sem":
			if err := semmutex.Semop(semid, take); err != nil {
				log.Fatalf("semop (take the mutex) semid %d: %v", semid, err)
			}
		case "futex":
			semmutex.FutexLock(&c.Lock, pid)
		}
		if i == 0 && j == 0 && hold > 0 {
			log.Printf("holding the mutex for %v (pid %d)", hold, pid)
			time.Sleep(hold)
		}
		// The critical section: read, add one, write back. Without the mutex another worker
		// can read the same value between our read and our write, and one addition is lost.
		atomic.StoreUint64(&c.Value, atomic.LoadUint64(&c.Value)+1)
		switch lock {
		case "sem":
			if err := semmutex.Semop(semid, give); err != nil {
				log.Fatalf("semop (release the mutex) semid %d: %v", semid, err)
			}
		case "futex":
			semmutex.FutexUnlock(&c.Lock, pid)
		}
		atomic.StoreUint64(&done[i], uint64(j+1))
	}
}

// parseWorker parses the worker's arguments, which the counter wrote.
func parseWorker(args []string) (i, k, n int, lock string, hold time.Duration, semid, shmid int, ok bool) {
	if len(args) != 7 {
		return
	}
	var err [6]error
	i, err[0] = strconv.Atoi(args[0]) // from 1, as the counter names them
	i--
	k, err[1] = strconv.Atoi(args[1])
	n, err[2] = strconv.Atoi(args[2])
	lock = args[3]
	hold, err[3] = time.ParseDuration(args[4])
	semid, err[4] = strconv.Atoi(args[5])
	shmid, err[5] = strconv.Atoi(args[6])
	for _, e := range err {
		if e != nil {
			return
		}
	}
	ok = i >= 0 && i < k && n > 0 && (lock == "sem" || lock == "futex" || lock == "none")
	return
}
