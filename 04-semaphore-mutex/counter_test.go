package semmutex_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"

	semmutex "example.com/ipc/04-semaphore-mutex"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// The lock word through the states of FutexLock and FutexUnlock: free (0), held with nobody
// waiting (the pid), held with a waiter (pid|FUTEX_WAITERS), and free again once the waiter
// has had it.
func TestFutexLockWord(t *testing.T) {
	var w uint32
	semmutex.FutexLock(&w, 101)
	assert.Equal(t, uint32(101), atomic.LoadUint32(&w), "taken with no waiter: the word is the owner's pid")
	assert.Equal(t, uint32(101), semmutex.FutexOwner(&w))
	semmutex.FutexUnlock(&w, 101)
	assert.Zero(t, atomic.LoadUint32(&w))
	assert.Zero(t, semmutex.FutexOwner(&w))

	semmutex.FutexLock(&w, 101)
	got := make(chan struct{})
	go func() {
		semmutex.FutexLock(&w, 202)
		close(got)
	}()
	// The waiter marks the word before it sleeps; the owner stays 101 until it unlocks.
	for atomic.LoadUint32(&w) != 101|semmutex.FUTEX_WAITERS {
		select {
		case <-got:
			t.Fatal("the second taker got a mutex that was held")
		default:
		}
		runtime.Gosched()
	}
	assert.Equal(t, uint32(101), semmutex.FutexOwner(&w))
	semmutex.FutexUnlock(&w, 101)
	<-got
	// It took it after a sleep, so it cannot know that nobody else sleeps: it keeps the bit.
	assert.Equal(t, uint32(202)|semmutex.FUTEX_WAITERS, atomic.LoadUint32(&w))
	semmutex.FutexUnlock(&w, 202)
	assert.Zero(t, atomic.LoadUint32(&w))
}

// Many takers, each with its own "pid", in a System V segment: every read-add-write inside the
// mutex counts.
func TestFutexLockCounts(t *testing.T) {
	const takers, times = 8, 20000
	id, err := unix.SysvShmGet(unix.IPC_PRIVATE, semmutex.CounterSize(takers), unix.IPC_CREAT|semmutex.Mode)
	require.NoError(t, err)
	t.Cleanup(func() { unix.SysvShmCtl(id, unix.IPC_RMID, nil) })
	seg, err := unix.SysvShmAttach(id, 0, 0)
	require.NoError(t, err)
	t.Cleanup(func() { unix.SysvShmDetach(seg) })
	c, done := semmutex.CounterIn(seg, takers)

	var wg sync.WaitGroup
	for i := range takers {
		wg.Go(func() {
			pid := uint32(1000 + i)
			for j := range times {
				semmutex.FutexLock(&c.Lock, pid)
				if owner := semmutex.FutexOwner(&c.Lock); owner != pid {
					t.Errorf("taker %d holds the mutex, but the word names %d", pid, owner)
				}
				atomic.StoreUint64(&c.Value, atomic.LoadUint64(&c.Value)+1)
				semmutex.FutexUnlock(&c.Lock, pid)
				atomic.StoreUint64(&done[i], uint64(j+1))
			}
		})
	}
	wg.Wait()
	assert.Equal(t, uint64(takers*times), c.Value)
	for i := range done {
		assert.Equal(t, uint64(times), done[i])
	}
	assert.Zero(t, c.Lock)
}

// The counter's segment as C lays out struct counter, and the futex constants of the kernel's
// headers (when gcc is there).
func TestCounterLayoutAgainstC(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("no gcc")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "counter.c")
	require.NoError(t, os.WriteFile(src, []byte(`#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/futex.h>
struct counter {
	uint32_t lock;
	uint32_t pad;
	uint64_t value;
	uint64_t done[];
};
int main(void) {
	printf("%zu %zu %zu %zu %d %d %u\n", sizeof(struct counter) + 4 * sizeof(uint64_t),
		offsetof(struct counter, lock), offsetof(struct counter, value),
		offsetof(struct counter, done), FUTEX_WAIT, FUTEX_WAKE, FUTEX_WAITERS);
	return 0;
}
`), 0o600))
	bin := filepath.Join(dir, "counter")
	out, err := exec.Command("gcc", "-Wall", "-Werror", "-o", bin, src).CombinedOutput()
	require.NoError(t, err, "%s", out)
	out, err = exec.Command(bin).Output()
	require.NoError(t, err)

	var c semmutex.Counter
	seg := make([]byte, semmutex.CounterSize(4))
	pc, done := semmutex.CounterIn(seg, 4)
	doneOff := uintptr(unsafe.Pointer(&done[0])) - uintptr(unsafe.Pointer(pc))
	want := fmt.Sprintf("%d %d %d %d %d %d %d\n", semmutex.CounterSize(4), unsafe.Offsetof(c.Lock),
		unsafe.Offsetof(c.Value), doneOff, semmutex.FUTEX_WAIT, semmutex.FUTEX_WAKE, uint32(semmutex.FUTEX_WAITERS))
	assert.Equal(t, want, string(out))
}
