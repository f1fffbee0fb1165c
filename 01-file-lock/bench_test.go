package filelock_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"

	filelock "example.com/ipc/01-file-lock"
	"golang.org/x/sys/unix"
)

// BenchmarkFlock measures a file and flock(2): the slow baseline, since a file has no way to
// wake a process. Byte 0 of the file says whose turn it is, the data follows at offset 1, and
// each side opens the file itself (OpenFile), so that each has its own lock. To wait for its
// turn, a side polls: it takes the lock (LOCK_EX), reads the turn byte, and if it is not its
// turn, releases the lock and gives the CPU away (sched_yield) before it looks again.
//
//   - rtt: this process writes 64 bytes at offset 1 and the turn 1 under the lock, then polls
//     for 2 and reads the 64 bytes; the peer polls for 1, reads the 64 bytes, writes them
//     back and the turn 2.
//   - throughput: this process polls for 0, then writes 64 KiB and the turn 1; the peer polls
//     for 1, reads the 64 KiB and writes the turn 0. The last 0 says that the peer has read
//     everything.
//
// The paths differ in how a side takes the lock:
//   - raw: flock(2) LOCK_EX, which blocks while the other side holds the lock, as a C
//     program calls it.
//   - example: as the writer and the counter take it: TryLock (LOCK_EX|LOCK_NB) and, if the
//     other side holds the lock, WaitLock, which blocks in flock(2) in a goroutine of its own
//     so that Ctrl-C can end the wait. With both processes on one CPU (IPC_BENCH_PIN=same)
//     the other side almost never holds the lock when this one asks, and the two paths cost
//     the same; on two CPUs (split) it often does, and each such wait costs a goroutine and
//     the wake-up of a thread of the runtime to run it, but that is lost in the two processes'
//     fight over the lock (the README's costs).
func BenchmarkFlock(b *testing.B) {
	for _, kind := range []string{"rtt", "throughput"} {
		for _, path := range []string{"raw", "example"} {
			b.Run(kind+"/"+path, func(b *testing.B) { benchFlock(b, kind, path) })
		}
	}
}

// The file: the turn byte, then the data.
const (
	flockDataOff = 1
	flockSize    = flockDataOff + benchChunkSize
)

func benchFlock(b *testing.B, kind, path string) {
	self, cpu := benchCPUs(b)
	pinSelf(b, self)
	name := filepath.Join(b.TempDir(), "bench") // removed by the benchmark's clean-up
	f, err := filelock.OpenFile(name, unix.O_RDWR|unix.O_CREAT)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	if err := f.Truncate(flockSize); err != nil {
		b.Fatal(err)
	}
	t := turns(f, path)
	role := map[string]string{"rtt": "echo", "throughput": "sink"}[kind]
	p := startPeer(b, cpu, nil, role, path, name, strconv.Itoa(b.N))
	watchPeer(b, p, func(<-chan struct{}) { t.gone.Store(true) })
	if kind == "rtt" {
		msg := make([]byte, benchMsgSize)
		roundTrips(b, func() error {
			if err := t.lock(); err != nil {
				return err
			}
			if err := t.write(msg, 1); err != nil {
				return err
			}
			if err := t.unlock(); err != nil {
				return err
			}
			return t.pollFor(2, func() error { return t.read(msg) })
		})
	} else {
		chunk := make([]byte, benchChunkSize)
		throughput(b, benchChunkSize,
			func() error { return t.pollFor(0, func() error { return t.write(chunk, 1) }) },
			func() error { return t.pollFor(0, func() error { return nil }) })
	}
	p.wait(b)
}

// turn is one side's open file, and how it takes its lock.
type turn struct {
	fd   int
	lock func() error
	gone atomic.Bool // the peer has died: see watchPeer
	b    [1]byte     // the turn byte, read or written
}

func turns(f *os.File, path string) *turn {
	fd := int(f.Fd())
	t := &turn{fd: fd, lock: func() error {
		if err := unix.Flock(fd, unix.LOCK_EX); err != nil {
			return fmt.Errorf("flock LOCK_EX: %w", err)
		}
		return nil
	}}
	if path == "example" {
		ctx, cancel := context.WithCancel(context.Background()) // as signal.NotifyContext's
		_ = cancel                                              // never cancelled here
		t.lock = func() error {
			ok, err := filelock.TryLock(f, filelock.Flock, true)
			if ok || err != nil {
				return err
			}
			return filelock.WaitLock(ctx, f, filelock.Flock, true)
		}
	}
	return t
}

func (t *turn) unlock() error {
	if err := unix.Flock(t.fd, unix.LOCK_UN); err != nil {
		return fmt.Errorf("flock LOCK_UN: %w", err)
	}
	return nil
}

// read reads len(p) bytes of data.
func (t *turn) read(p []byte) error {
	if n, err := unix.Pread(t.fd, p, flockDataOff); err != nil || n != len(p) {
		return fmt.Errorf("pread: %d bytes, %v", n, err)
	}
	return nil
}

// write writes p as the data, then the turn next.
func (t *turn) write(p []byte, next byte) error {
	if n, err := unix.Pwrite(t.fd, p, flockDataOff); err != nil || n != len(p) {
		return fmt.Errorf("pwrite: %d bytes, %v", n, err)
	}
	return t.setTurn(next)
}

// setTurn writes the turn next.
func (t *turn) setTurn(next byte) error {
	t.b[0] = next
	if _, err := unix.Pwrite(t.fd, t.b[:], 0); err != nil {
		return fmt.Errorf("pwrite: %w", err)
	}
	return nil
}

// pollFor waits for the turn want, then does step, all under the lock.
func (t *turn) pollFor(want byte, step func() error) error {
	for {
		if err := t.lock(); err != nil {
			return err
		}
		if _, err := unix.Pread(t.fd, t.b[:], 0); err != nil {
			return fmt.Errorf("pread: %w", err)
		}
		if t.b[0] == want {
			if err := step(); err != nil {
				return err
			}
			return t.unlock()
		}
		if err := t.unlock(); err != nil {
			return err
		}
		if t.gone.Load() {
			return errors.New("the peer has died")
		}
		unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0) // x/sys/unix has no wrapper
	}
}

// The peers: `echo|sink raw|example FILE N`. Each opens the file itself, and removes nothing.
var benchPeers = map[string]func(args []string) error{
	"echo": func(args []string) error {
		msg := make([]byte, benchMsgSize)
		return flockPeer(args, func(t *turn) error {
			return t.pollFor(1, func() error {
				if err := t.read(msg); err != nil {
					return err
				}
				return t.write(msg, 2)
			})
		})
	},
	"sink": func(args []string) error {
		chunk := make([]byte, benchChunkSize)
		return flockPeer(args, func(t *turn) error {
			return t.pollFor(1, func() error {
				if err := t.read(chunk); err != nil {
					return err
				}
				return t.setTurn(0)
			})
		})
	},
}

func flockPeer(args []string, once func(t *turn) error) error {
	if len(args) != 3 {
		return fmt.Errorf("want raw|example FILE N")
	}
	n, err := peerCount(args[2])
	if err != nil {
		return err
	}
	f, err := filelock.OpenFile(args[1], unix.O_RDWR)
	if err != nil {
		return err
	}
	defer f.Close()
	t := turns(f, args[0])
	peerReady()
	for i := range n {
		if err := once(t); err != nil {
			return err
		}
		benchYield(i)
	}
	return nil
}
