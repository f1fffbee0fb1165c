package shmposix_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"testing"

	shmposix "example.com/ipc/03-shm-posix"
	"golang.org/x/sys/unix"
)

// BenchmarkShmFutex measures a POSIX shared memory object (a file in /dev/shm, opened with
// ShmOpen and mapped shared) whose first word says whose turn it is, as the header of this
// example does: a side that must wait for a value sleeps in FUTEX_WAIT while the word holds
// another, and the other side stores the value and wakes it with FUTEX_WAKE. The data, at
// offset 64, moves with copy into and out of the mapping.
//
//   - rtt: this process copies 64 bytes in, sets the word to 1 and waits for 0, then copies
//     64 bytes out; the peer waits for 1, copies the 64 bytes out and back in, and sets 0.
//   - throughput: this process waits for 0, copies 64 KiB in and sets 1; the peer waits for
//     1, copies 64 KiB out and sets 0. The last 0 says that the peer has copied everything.
//
// The paths differ in how a side sleeps in FUTEX_WAIT:
//   - raw: Futex in the waiting goroutine itself, as a C program calls futex(2).
//   - example: as the reader's futexWait does it (reader/main.go, copied here: a main package
//     cannot be imported), so that Ctrl-C can end the wait: Futex in a goroutine started for
//     that one wait, whose result comes back on a channel, the waiter selecting on it and on
//     its context. The go statement and the channel cost little by themselves; what costs is
//     that `go` wakes an idle thread of the runtime to run the new goroutine, and the threads
//     take turns on the CPU the two processes share (IPC_BENCH_PIN=same). While pinned, both
//     processes run with GOMAXPROCS 1 (benchkit_test.go), so there is no idle P, no thread is
//     woken, and the example's wait costs only a little more than the raw one; with
//     GOMAXPROCS 2 on one CPU (an idle P), each wait woke another thread, and cost about three
//     times as much.
func BenchmarkShmFutex(b *testing.B) {
	for _, kind := range []string{"rtt", "throughput"} {
		for _, path := range []string{"raw", "example"} {
			b.Run(kind+"/"+path, func(b *testing.B) { benchShmFutex(b, kind, path) })
		}
	}
}

// The layout of the object: the state word (the Header's State), then the data.
const (
	shmDataOff = 64
	shmSize    = shmDataOff + benchChunkSize
)

// shmSeq makes the names of this process's objects unique.
var shmSeq atomic.Int64

func benchShmFutex(b *testing.B, kind, path string) {
	self, cpu := benchCPUs(b)
	pinSelf(b, self)
	name := fmt.Sprintf("/ipcbench-%d-%d", os.Getpid(), shmSeq.Add(1))
	file, err := shmposix.Path(name)
	if err != nil {
		b.Fatal(err)
	}
	fd, err := shmposix.ShmOpen(file, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL, shmposix.Mode)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { unix.Unlink(file) }) // done once the peer is ready; this is for a failure
	b.Cleanup(func() { unix.Close(fd) })
	if err := unix.Ftruncate(fd, shmSize); err != nil {
		b.Fatal("ftruncate:", err)
	}
	mem, err := unix.Mmap(fd, 0, shmSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		b.Fatal("mmap:", err)
	}
	b.Cleanup(func() { unix.Munmap(mem) })
	word, data := &shmposix.HeaderOf(mem).State, mem[shmDataOff:]
	waitFor := futexWaiter(path)

	role := map[string]string{"rtt": "echo", "throughput": "sink"}[kind]
	p := startPeer(b, cpu, nil, role, path, name, strconv.Itoa(b.N))
	watchPeer(b, p, func(<-chan struct{}) { futexSet(word, peerGone) })
	if err := unix.Unlink(file); err != nil { // both have it open and mapped: the name can go
		b.Fatal("unlink:", err)
	}
	if kind == "rtt" {
		msg := make([]byte, benchMsgSize)
		roundTrips(b, func() error {
			copy(data, msg)
			if err := futexSet(word, 1); err != nil {
				return err
			}
			if err := waitFor(word, 0); err != nil {
				return err
			}
			copy(msg, data)
			return nil
		})
	} else {
		chunk := make([]byte, benchChunkSize)
		throughput(b, benchChunkSize,
			func() error {
				if err := waitFor(word, 0); err != nil {
					return err
				}
				copy(data, chunk)
				return futexSet(word, 1)
			},
			func() error { return waitFor(word, 0) })
	}
	p.wait(b)
}

// A waiter waits until *word is v.
type waiter func(word *uint32, v uint32) error

// futexWaiter returns the wait of path: while *word is not v, FUTEX_WAIT with the value the
// word holds, which sleeps unless the word has changed since (then EAGAIN at once, and a look
// again).
func futexWaiter(path string) waiter {
	sleep := func(word *uint32, s uint32) error {
		_, err := shmposix.Futex(word, shmposix.FUTEX_WAIT, s, nil)
		return err
	}
	if path == "example" {
		ctx, cancel := context.WithCancel(context.Background()) // as signal.NotifyContext's
		_ = cancel                                              // never cancelled here
		sleep = func(word *uint32, s uint32) error { return futexWaitExample(ctx, word, s) }
	}
	return func(word *uint32, v uint32) error {
		for {
			s := atomic.LoadUint32(word)
			if s == v {
				return nil
			}
			if s == peerGone {
				return errors.New("the peer has died")
			}
			if err := sleep(word, s); err != nil && err != unix.EAGAIN && err != unix.EINTR {
				return fmt.Errorf("futex FUTEX_WAIT: %w", err)
			}
		}
	}
}

// futexWaitExample is the reader's futexWait (reader/main.go): FUTEX_WAIT in a goroutine of
// its own, which the caller stops waiting for when ctx ends.
func futexWaitExample(ctx context.Context, addr *uint32, val uint32) error {
	done := make(chan error, 1)
	go func() {
		_, err := shmposix.Futex(addr, shmposix.FUTEX_WAIT, val, nil)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// peerGone is the value of the word once the peer has died: see watchPeer.
const peerGone = ^uint32(0)

// futexSet stores v in *word and wakes one waiter, if there is one: the other side.
func futexSet(word *uint32, v uint32) error {
	atomic.StoreUint32(word, v)
	if _, err := shmposix.Futex(word, shmposix.FUTEX_WAKE, 1, nil); err != nil {
		return fmt.Errorf("futex FUTEX_WAKE: %w", err)
	}
	return nil
}

// The peers: `echo|sink raw|example NAME N`. They open the object by its name and map it, and
// remove nothing: the benchmark unlinks the name once they are ready.
var benchPeers = map[string]func(args []string) error{
	"echo": func(args []string) error {
		msg := make([]byte, benchMsgSize)
		return shmFutexPeer(args, func(word *uint32, data []byte, waitFor waiter) error {
			if err := waitFor(word, 1); err != nil {
				return err
			}
			copy(msg, data)
			copy(data, msg)
			return futexSet(word, 0)
		})
	},
	"sink": func(args []string) error {
		chunk := make([]byte, benchChunkSize)
		return shmFutexPeer(args, func(word *uint32, data []byte, waitFor waiter) error {
			if err := waitFor(word, 1); err != nil {
				return err
			}
			copy(chunk, data)
			return futexSet(word, 0)
		})
	},
}

func shmFutexPeer(args []string, once func(word *uint32, data []byte, waitFor waiter) error) error {
	if len(args) != 3 {
		return fmt.Errorf("want raw|example NAME N")
	}
	n, err := peerCount(args[2])
	if err != nil {
		return err
	}
	file, err := shmposix.Path(args[1])
	if err != nil {
		return err
	}
	fd, err := shmposix.ShmOpen(file, unix.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	mem, err := unix.Mmap(fd, 0, shmSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("mmap: %w", err)
	}
	defer unix.Munmap(mem)
	word, data := &shmposix.HeaderOf(mem).State, mem[shmDataOff:]
	waitFor := futexWaiter(args[0])
	peerReady()
	for i := range n {
		if err := once(word, data, waitFor); err != nil {
			return err
		}
		benchYield(i)
	}
	return nil
}
