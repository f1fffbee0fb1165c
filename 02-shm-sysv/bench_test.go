package shmsysv_test

import (
	"fmt"
	"strconv"
	"testing"
	"unsafe"

	shmsysv "example.com/ipc/02-shm-sysv"
	"golang.org/x/sys/unix"
)

// BenchmarkShmSem measures a System V shared memory segment of 64 KiB, with a set of two
// System V semaphores to say whose turn it is (this example's programs need none: the reader
// runs after the writer). The data moves with copy into and out of the segment; the
// semaphores cost the system calls.
//
//   - rtt: this process copies 64 bytes into the segment, posts semaphore 0 and waits on
//     semaphore 1, then copies 64 bytes out; the peer waits on 0, copies the 64 bytes out and
//     back in, and posts 1.
//   - throughput: semaphore 0 counts full buffers (0 at first), semaphore 1 empty ones (1):
//     this process waits for an empty one, copies 64 KiB in and posts a full one; the peer
//     waits for a full one, copies 64 KiB out and posts an empty one. The last empty one
//     says that the peer has copied everything.
func BenchmarkShmSem(b *testing.B) {
	for _, kind := range []string{"rtt", "throughput"} {
		b.Run(kind, func(b *testing.B) { benchShmSem(b, kind) })
	}
}

// The semaphores of the set.
const (
	semPing  = 0 // rtt: this process posts, the peer waits
	semPong  = 1 // rtt: the peer posts, this process waits
	semFull  = 0 // throughput: a chunk is in the segment
	semEmpty = 1 // throughput: the segment may be written
)

func benchShmSem(b *testing.B, kind string) {
	self, cpu := benchCPUs(b)
	pinSelf(b, self)
	shmid, err := unix.SysvShmGet(unix.IPC_PRIVATE, benchChunkSize, shmsysv.Mode)
	if err != nil {
		b.Fatal("shmget:", err)
	}
	b.Cleanup(func() { unix.SysvShmCtl(shmid, unix.IPC_RMID, nil) })
	seg, err := unix.SysvShmAttach(shmid, 0, 0)
	if err != nil {
		b.Fatal("shmat:", err)
	}
	b.Cleanup(func() { unix.SysvShmDetach(seg) })
	semid, err := semget()
	if err != nil {
		b.Fatal("semget:", err)
	}
	b.Cleanup(func() { semrmid(semid) })

	if kind == "rtt" {
		p := startPeer(b, cpu, nil, "echo", strconv.Itoa(shmid), strconv.Itoa(semid), strconv.Itoa(b.N))
		watchPeer(b, p, func(<-chan struct{}) { semrmid(semid) }) // a waiting semop gets EIDRM
		msg := make([]byte, benchMsgSize)
		roundTrips(b, func() error {
			copy(seg, msg)
			if err := semop(semid, semPing, 1); err != nil {
				return err
			}
			if err := semop(semid, semPong, -1); err != nil {
				return err
			}
			copy(msg, seg)
			return nil
		})
		p.wait(b)
		return
	}
	if err := semop(semid, semEmpty, 1); err != nil { // the segment starts empty
		b.Fatal(err)
	}
	p := startPeer(b, cpu, nil, "sink", strconv.Itoa(shmid), strconv.Itoa(semid), strconv.Itoa(b.N))
	watchPeer(b, p, func(<-chan struct{}) { semrmid(semid) })
	chunk := make([]byte, benchChunkSize)
	throughput(b, benchChunkSize,
		func() error {
			if err := semop(semid, semEmpty, -1); err != nil {
				return err
			}
			copy(seg, chunk)
			return semop(semid, semFull, 1)
		},
		func() error { return semop(semid, semEmpty, -1) })
	p.wait(b)
}

// The peers: `echo|sink SHMID SEMID N`.
var benchPeers = map[string]func(args []string) error{
	"echo": func(args []string) error {
		msg := make([]byte, benchMsgSize)
		return shmSemPeer(args, func(seg []byte, semid int) error {
			if err := semop(semid, semPing, -1); err != nil {
				return err
			}
			copy(msg, seg)
			copy(seg, msg)
			return semop(semid, semPong, 1)
		})
	},
	"sink": func(args []string) error {
		chunk := make([]byte, benchChunkSize)
		return shmSemPeer(args, func(seg []byte, semid int) error {
			if err := semop(semid, semFull, -1); err != nil {
				return err
			}
			copy(chunk, seg)
			return semop(semid, semEmpty, 1)
		})
	},
}

// shmSemPeer attaches the segment, says it is ready, and runs once N times. It removes
// nothing: the benchmark does.
func shmSemPeer(args []string, once func(seg []byte, semid int) error) error {
	if len(args) != 3 {
		return fmt.Errorf("want SHMID SEMID N")
	}
	shmid, err1 := strconv.Atoi(args[0])
	semid, err2 := strconv.Atoi(args[1])
	if err1 != nil || err2 != nil {
		return fmt.Errorf("ids %q %q: want numbers", args[0], args[1])
	}
	n, err := peerCount(args[2])
	if err != nil {
		return err
	}
	seg, err := unix.SysvShmAttach(shmid, 0, 0)
	if err != nil {
		return fmt.Errorf("shmat: %w", err)
	}
	defer unix.SysvShmDetach(seg)
	peerReady()
	for i := range n {
		if err := once(seg, semid); err != nil {
			return err
		}
		benchYield(i)
	}
	return nil
}

// This module has no semaphores (04-semaphore-mutex has), and x/sys/unix wraps none of
// semget(2), semop(2), semctl(2): here they are, through unix.Syscall, as few as the benchmark
// needs.

// semget makes a private set of two semaphores, both 0.
func semget() (int, error) {
	id, _, e := unix.Syscall(unix.SYS_SEMGET, unix.IPC_PRIVATE, 2, shmsysv.Mode)
	if e != 0 {
		return -1, e
	}
	return int(id), nil
}

// semrmid removes the set.
func semrmid(id int) {
	unix.Syscall(unix.SYS_SEMCTL, uintptr(id), 0, unix.IPC_RMID)
}

// sembuf is struct sembuf of <sys/sem.h>.
type sembuf struct {
	num uint16
	op  int16
	flg int16
}

// semop adds op to the semaphore num of the set id, waiting while that would make it negative.
// A blocked semop returns EINTR after a signal handler, whatever SA_RESTART says, and Go has
// handlers (SIGURG preempts goroutines): so it tries again.
func semop(id int, num uint16, op int16) error {
	sop := sembuf{num: num, op: op}
	for {
		_, _, e := unix.Syscall(unix.SYS_SEMOP, uintptr(id), uintptr(unsafe.Pointer(&sop)), 1)
		switch e {
		case 0:
			return nil
		case unix.EINTR:
			continue
		}
		return fmt.Errorf("semop %d %+d: %w", num, op, e)
	}
}
