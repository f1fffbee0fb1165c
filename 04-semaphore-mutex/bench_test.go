package semmutex_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	semmutex "example.com/ipc/04-semaphore-mutex"
	"golang.org/x/sys/unix"
)

// BenchmarkSem measures a ping-pong on a set of two System V semaphores, with no data: this
// process posts semaphore 0 (semop +1) and waits on semaphore 1 (semop -1); the peer waits on
// 0 and posts 1. A round trip is two semops each side, and two wake-ups. There is no
// throughput benchmark: a semaphore carries no data.
//
//   - raw: Semop, which is semop(2), blocking, as a C program calls it.
//   - example: SemopContext, the wait of this example's programs: semtimedop(2) with a timeout
//     of PollInterval (100 ms), and a look at the context between two, so that Ctrl-C ends
//     it. A wait that ends before its timeout costs the kernel a timer to arm and cancel,
//     and Go a look at the clock and at the context.
func BenchmarkSem(b *testing.B) {
	for _, path := range []string{"raw", "example"} {
		b.Run("rtt/"+path, func(b *testing.B) { benchSem(b, path) })
	}
}

func benchSem(b *testing.B, path string) {
	self, cpu := benchCPUs(b)
	pinSelf(b, self)
	id, err := semmutex.Semget(unix.IPC_PRIVATE, 2, semmutex.Mode)
	if err != nil {
		b.Fatal("semget:", err)
	}
	b.Cleanup(func() { semmutex.Semctl(id, 0, unix.IPC_RMID, 0) })
	semop := semWait(path)
	post := []semmutex.Sembuf{{Num: 0, Op: 1}}
	wait := []semmutex.Sembuf{{Num: 1, Op: -1}}
	p := startPeer(b, cpu, nil, "sem", path, strconv.Itoa(id), strconv.Itoa(b.N))
	watchPeer(b, p, func(<-chan struct{}) { semmutex.Semctl(id, 0, unix.IPC_RMID, 0) }) // EIDRM
	roundTrips(b, func() error {
		if err := semop(id, post); err != nil {
			return fmt.Errorf("semop +1: %w", err)
		}
		if err := semop(id, wait); err != nil {
			return fmt.Errorf("semop -1: %w", err)
		}
		return nil
	})
	p.wait(b)
}

// semWait returns the call that path waits with: Semop (raw), or SemopContext with a context
// that can be cancelled, as signal.NotifyContext makes in the programs (example).
func semWait(path string) func(id int, sops []semmutex.Sembuf) error {
	if path == "example" {
		ctx, cancel := context.WithCancel(context.Background())
		_ = cancel // never cancelled: the benchmark is not interrupted
		return func(id int, sops []semmutex.Sembuf) error { return semmutex.SemopContext(ctx, id, sops) }
	}
	return semmutex.Semop
}

// The peer: `sem raw|example SEMID N`: N times, wait on semaphore 0, post semaphore 1.
var benchPeers = map[string]func(args []string) error{
	"sem": func(args []string) error {
		if len(args) != 3 {
			return fmt.Errorf("want raw|example SEMID N")
		}
		id, err := strconv.Atoi(args[1])
		if err != nil {
			return fmt.Errorf("semid %q: want a number", args[1])
		}
		n, err := peerCount(args[2])
		if err != nil {
			return err
		}
		semop := semWait(args[0])
		wait := []semmutex.Sembuf{{Num: 0, Op: -1}}
		post := []semmutex.Sembuf{{Num: 1, Op: 1}}
		peerReady()
		for i := range n {
			if err := semop(id, wait); err != nil {
				return fmt.Errorf("semop -1: %w", err)
			}
			if err := semop(id, post); err != nil {
				return fmt.Errorf("semop +1: %w", err)
			}
			benchYield(i)
		}
		return nil
	},
}
