package semmutex

// What the counter and its workers agree on: the layout of the counter's segment, its semaphore
// set, and the mutex built on a futex in that segment.

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// DefaultCounterProj is the counter's default ftok project id, 'C' (67): its segment and its set
// have another layout than the ring's, so they must not meet the producer's and the consumer's
// objects at one key.
const DefaultCounterProj = 'C'

// Counter is the start of the counter's segment, as this C struct:
//
//	struct counter {
//		uint32_t lock;     /* the futex mutex: 0 free, else the owner's pid | WAITERS */
//		uint32_t pad;
//		uint64_t value;    /* what the workers add one to, M times each */
//		uint64_t done[];   /* done[i]: how many times worker i has added one */
//	};
//
// Only the holder of the mutex reads or writes value (with -lock none, anyone at any time: that
// is the point). Each done[i] is written by worker i alone, so the counter can tell what each
// worker added, dead or alive.
type Counter struct {
	Lock  uint32
	_     uint32
	Value uint64
}

// CounterSize is the size of the segment for k workers.
func CounterSize(k int) int {
	return int(unsafe.Sizeof(Counter{})) + 8*k
}

// CounterIn returns the Counter at the start of a segment, and its done slots.
func CounterIn(seg []byte, k int) (*Counter, []uint64) {
	if len(seg) < CounterSize(k) {
		panic(fmt.Sprintf("a segment of %d bytes for %d workers; want %d", len(seg), k, CounterSize(k)))
	}
	c := (*Counter)(unsafe.Pointer(&seg[0]))
	done := unsafe.Slice((*uint64)(unsafe.Pointer(&seg[unsafe.Sizeof(Counter{})])), k)
	return c, done
}

// The semaphores of the counter's set, by number. The set exists whatever the lock, for the
// start line; SemLock is the mutex of -lock sem only.
const (
	SemLock  = 0 // 1: the mutex, taken and released with SEM_UNDO
	SemReady = 1 // 0: each worker adds 1 when it is attached and ready
	SemGo    = 2 // 0: the counter adds K once all K are ready, so that they start together
)

// CounterValues are the values the counter gives its set.
var CounterValues = []uint16{SemLock: 1, SemReady: 0, SemGo: 0}

// The futex(2) operations and the bit of a futex mutex's word that says someone may be waiting.
// FUTEX_WAIT and FUTEX_WAKE without FUTEX_PRIVATE_FLAG: the waiters are in other processes, and
// the kernel must find them by the page of the shared segment, not by a virtual address.
const (
	FUTEX_WAIT    = 0
	FUTEX_WAKE    = 1
	FUTEX_WAITERS = 0x80000000 // the same bit as in the kernel's robust and PI futexes
)

// Futex is futex(2) with FUTEX_WAIT (sleep while *addr == val; EAGAIN at once if it is not,
// EINTR when a signal handler runs) or FUTEX_WAKE (wake up to val sleepers).
func Futex(addr *uint32, op int, val uint32) (int, error) {
	r, _, e := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), uintptr(op), uintptr(val), 0, 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

// FutexLock takes the mutex whose word is *w for the process pid, the way glibc's pthread mutex
// does (Drepper, "Futexes Are Tricky", mutex 3), but with the owner's pid as the word, as
// glibc's robust mutexes keep the owner's thread id:
//
//   - 0 means free: one compare-and-swap 0 -> pid takes it, with no system call;
//   - pid means held, nobody waits; pid|FUTEX_WAITERS means held, and someone may sleep.
//
// A taker that finds it held sets FUTEX_WAITERS (so that the holder will wake someone when it
// unlocks) and sleeps in FUTEX_WAIT for as long as the word is still what it saw. When it wakes
// and finds the mutex free, it takes it with FUTEX_WAITERS set: it cannot know whether others
// still sleep, so it wakes one when it unlocks, to be safe.
func FutexLock(w *uint32, pid uint32) {
	if atomic.CompareAndSwapUint32(w, 0, pid) {
		return // free: taken without a system call
	}
	for {
		v := atomic.LoadUint32(w)
		switch {
		case v == 0:
			if atomic.CompareAndSwapUint32(w, 0, pid|FUTEX_WAITERS) {
				return
			}
			continue
		case v&FUTEX_WAITERS == 0:
			if !atomic.CompareAndSwapUint32(w, v, v|FUTEX_WAITERS) {
				continue // changed under us: look again
			}
		}
		// Sleep while the word is still "held, with waiters". EAGAIN (it changed before we
		// slept) and EINTR (a signal handler ran: Go's SIGURG, say) just mean: look again.
		Futex(w, FUTEX_WAIT, v|FUTEX_WAITERS)
	}
}

// FutexUnlock releases the mutex whose word is *w, held by pid: with no system call if nobody
// waits; else it frees the word and wakes one sleeper, which then competes for it.
func FutexUnlock(w *uint32, pid uint32) {
	if atomic.CompareAndSwapUint32(w, pid, 0) {
		return // nobody waits
	}
	atomic.StoreUint32(w, 0)
	Futex(w, FUTEX_WAKE, 1)
}

// FutexOwner is the pid that holds the mutex whose word is *w, or 0 if it is free.
func FutexOwner(w *uint32) uint32 {
	return atomic.LoadUint32(w) &^ FUTEX_WAITERS
}
