package semmutex_test

import (
	"context"
	"io"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"
	"unsafe"

	semmutex "example.com/ipc/04-semaphore-mutex"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// newSet makes a private set (IPC_PRIVATE: no other process can find it) with nsems semaphores
// and the given mode, and removes it when the test ends, even if the test removed it already.
func newSet(t *testing.T, nsems, mode int) int {
	t.Helper()
	id, err := semmutex.Semget(unix.IPC_PRIVATE, nsems, unix.IPC_CREAT|unix.IPC_EXCL|mode)
	require.NoError(t, err)
	t.Cleanup(func() { semmutex.Semctl(id, 0, unix.IPC_RMID, 0) })
	return id
}

// newKey derives a key from a new temporary directory with ftok, as the programs will from
// $TMPDIR, so that no other test or run meets it. A key that already has a set (ftok keeps only
// 24 bits of the file) is skipped for another directory.
func newKey(t *testing.T) uint32 {
	t.Helper()
	for range 10 {
		key, err := semmutex.Ftok(t.TempDir(), semmutex.DefaultProj)
		require.NoError(t, err)
		if _, err := semmutex.Semget(semmutex.SemKey(key), 0, 0); err == unix.ENOENT {
			return key
		}
	}
	t.Fatal("no free key in 10 temporary directories")
	return 0
}

// removeAtKey removes, when the test ends, whatever set is at key then: the set that Open made.
func removeAtKey(t *testing.T, key uint32) {
	t.Cleanup(func() {
		if id, err := semmutex.Semget(semmutex.SemKey(key), 0, 0); err == nil {
			semmutex.Semctl(id, 0, unix.IPC_RMID, 0)
		}
	})
}

// waitFor polls cond until it is true, for at most 10 s: readiness is an event, not a sleep.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting, after 10 s, for %s", what)
		}
	}
}

// waiters is GETNCNT: how many tasks are blocked waiting for semaphore num to grow.
func waiters(t *testing.T, id, num int) int {
	n, err := semmutex.Semctl(id, num, semmutex.GETNCNT, 0)
	require.NoError(t, err)
	return n
}

// The layouts the kernel reads and writes (include/uapi/linux/sem.h, and asm/sembuf.h for each
// architecture). TestLayoutsAgainstC checks the same numbers with the C compiler.
func TestLayouts(t *testing.T) {
	var sb semmutex.Sembuf
	assert.EqualValues(t, 6, unsafe.Sizeof(sb))
	assert.EqualValues(t, 0, unsafe.Offsetof(sb.Num))
	assert.EqualValues(t, 2, unsafe.Offsetof(sb.Op))
	assert.EqualValues(t, 4, unsafe.Offsetof(sb.Flg))
	assert.EqualValues(t, 6*3, unsafe.Sizeof([3]semmutex.Sembuf{}), "an array of them has no padding")

	var ds semmutex.SemidDs
	assert.EqualValues(t, 48, unsafe.Sizeof(ds.Perm), "struct ipc64_perm")
	assert.EqualValues(t, 0, unsafe.Offsetof(ds.Perm))
	assert.EqualValues(t, 48, unsafe.Offsetof(ds.Otime))
	switch runtime.GOARCH {
	case "amd64":
		assert.EqualValues(t, 64, unsafe.Offsetof(ds.Ctime))
		assert.EqualValues(t, 80, unsafe.Offsetof(ds.Nsems))
		assert.EqualValues(t, 104, unsafe.Sizeof(ds))
	case "arm64":
		assert.EqualValues(t, 56, unsafe.Offsetof(ds.Ctime))
		assert.EqualValues(t, 64, unsafe.Offsetof(ds.Nsems))
		assert.EqualValues(t, 88, unsafe.Sizeof(ds))
	default:
		t.Fatalf("no layout known for %s", runtime.GOARCH)
	}
}

// The same sizes, offsets and constants, as the C compiler sees them in the kernel's headers
// on this machine (when gcc is there).
func TestLayoutsAgainstC(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("no gcc")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "layout.c")
	require.NoError(t, os.WriteFile(src, []byte(`#include <stdio.h>
#include <stddef.h>
#include <linux/sem.h>
int main(void) {
	printf("%zu %zu %zu %zu\n", sizeof(struct sembuf), offsetof(struct sembuf, sem_num),
		offsetof(struct sembuf, sem_op), offsetof(struct sembuf, sem_flg));
	printf("%zu %zu %zu %zu %zu\n", sizeof(struct semid64_ds), sizeof(struct ipc64_perm),
		offsetof(struct semid64_ds, sem_otime), offsetof(struct semid64_ds, sem_ctime),
		offsetof(struct semid64_ds, sem_nsems));
	printf("%d %d %d %d %d %d %d %d %d\n", GETPID, GETVAL, GETALL, GETNCNT, GETZCNT, SETVAL,
		SETALL, SEM_UNDO, SEMVMX);
	return 0;
}
`), 0o600))
	bin := filepath.Join(dir, "layout")
	out, err := exec.Command("gcc", "-o", bin, src).CombinedOutput()
	require.NoError(t, err, "%s", out)
	out, err = exec.Command(bin).Output()
	require.NoError(t, err)

	var sb semmutex.Sembuf
	var ds semmutex.SemidDs
	want := strconv.Itoa(int(unsafe.Sizeof(sb))) + " " + strconv.Itoa(int(unsafe.Offsetof(sb.Num))) + " " +
		strconv.Itoa(int(unsafe.Offsetof(sb.Op))) + " " + strconv.Itoa(int(unsafe.Offsetof(sb.Flg))) + "\n" +
		strconv.Itoa(int(unsafe.Sizeof(ds))) + " " + strconv.Itoa(int(unsafe.Sizeof(ds.Perm))) + " " +
		strconv.Itoa(int(unsafe.Offsetof(ds.Otime))) + " " + strconv.Itoa(int(unsafe.Offsetof(ds.Ctime))) + " " +
		strconv.Itoa(int(unsafe.Offsetof(ds.Nsems))) + "\n"
	for _, c := range []int{semmutex.GETPID, semmutex.GETVAL, semmutex.GETALL, semmutex.GETNCNT, semmutex.GETZCNT,
		semmutex.SETVAL, semmutex.SETALL, semmutex.SEM_UNDO, semmutex.SEMVMX} {
		want += strconv.Itoa(c) + " "
	}
	want = want[:len(want)-1] + "\n"
	assert.Equal(t, want, string(out))
}

// A set, from creation to removal: created with Mode whatever the umask, all zeros at first,
// then SETALL, GETALL, SETVAL, GETVAL and a semop, as IPC_STAT and the values show them.
func TestRoundTrip(t *testing.T) {
	old := unix.Umask(0o077)
	defer unix.Umask(old)
	id := newSet(t, 3, semmutex.Mode)

	var ds semmutex.SemidDs
	require.NoError(t, semmutex.SemctlDs(id, unix.IPC_STAT, &ds))
	assert.EqualValues(t, 3, ds.Nsems)
	assert.EqualValues(t, 0o600, ds.Perm.Mode&0o777)
	assert.EqualValues(t, os.Geteuid(), ds.Perm.Uid)
	assert.EqualValues(t, os.Geteuid(), ds.Perm.Cuid)
	assert.Zero(t, ds.Otime, "no semop yet")
	assert.NotZero(t, ds.Ctime)
	require.NoError(t, semmutex.CheckOwner(0, id, &ds, os.Geteuid()))

	vals := make([]uint16, 3)
	require.NoError(t, semmutex.SemctlAll(id, semmutex.GETALL, vals))
	assert.Equal(t, []uint16{0, 0, 0}, vals, "a new set is all zeros")

	require.NoError(t, semmutex.SemctlAll(id, semmutex.SETALL, []uint16{1, 0, 8}))
	require.NoError(t, semmutex.SemctlAll(id, semmutex.GETALL, vals))
	assert.Equal(t, []uint16{1, 0, 8}, vals)
	require.NoError(t, semmutex.SemctlDs(id, unix.IPC_STAT, &ds))
	assert.Zero(t, ds.Otime, "SETALL is not a semop")

	_, err := semmutex.Semctl(id, 1, semmutex.SETVAL, 5)
	require.NoError(t, err)
	v, err := semmutex.Semctl(id, 1, semmutex.GETVAL, 0)
	require.NoError(t, err)
	assert.Equal(t, 5, v)

	// One semop, several operations, all at once: take the mutex, take one of 8, give one to 5.
	require.NoError(t, semmutex.Semop(id, []semmutex.Sembuf{{Num: 0, Op: -1}, {Num: 2, Op: -1}, {Num: 1, Op: 1}}))
	require.NoError(t, semmutex.SemctlAll(id, semmutex.GETALL, vals))
	assert.Equal(t, []uint16{0, 6, 7}, vals)
	require.NoError(t, semmutex.SemctlDs(id, unix.IPC_STAT, &ds))
	assert.NotZero(t, ds.Otime, "the semop set sem_otime")
	pid, err := semmutex.Semctl(id, 0, semmutex.GETPID, 0)
	require.NoError(t, err)
	assert.Equal(t, os.Getpid(), pid)

	// None of them happens if one cannot: the mutex is taken, so IPC_NOWAIT fails with EAGAIN
	// and semaphore 1 keeps its value.
	err = semmutex.Semop(id, []semmutex.Sembuf{{Num: 1, Op: 1}, {Num: 0, Op: -1, Flg: unix.IPC_NOWAIT}})
	assert.ErrorIs(t, err, unix.EAGAIN)
	require.NoError(t, semmutex.SemctlAll(id, semmutex.GETALL, vals))
	assert.Equal(t, []uint16{0, 6, 7}, vals)

	// The wrappers refuse what would make the kernel read or write the wrong memory.
	assert.ErrorIs(t, semmutex.SemctlAll(id, semmutex.GETALL, make([]uint16, 2)), unix.EINVAL)
	assert.ErrorIs(t, semmutex.SemctlAll(id, semmutex.SETALL, make([]uint16, 4)), unix.EINVAL)
	_, err = semmutex.Semctl(id, 0, semmutex.GETALL, 0)
	assert.ErrorIs(t, err, unix.EINVAL)
	_, err = semmutex.Semctl(id, 0, unix.IPC_STAT, 0)
	assert.ErrorIs(t, err, unix.EINVAL)
	_, err = semmutex.Semctl(id, 0, semmutex.SETVAL, semmutex.SEMVMX+1)
	assert.ErrorIs(t, err, unix.ERANGE)

	// Removed: gone at once, not at a last detach as a segment is.
	_, err = semmutex.Semctl(id, 0, unix.IPC_RMID, 0)
	require.NoError(t, err)
	assert.ErrorIs(t, semmutex.SemctlDs(id, unix.IPC_STAT, &ds), unix.EINVAL)
}

// A semtimedop that cannot proceed fails with EAGAIN when its timeout runs out, and changes
// nothing. (Timings are not asserted: only that it ends, and how.)
func TestSemtimedopTimesOut(t *testing.T) {
	id := newSet(t, 1, semmutex.Mode)
	ts := unix.NsecToTimespec((50 * time.Millisecond).Nanoseconds())
	err := semmutex.Semtimedop(id, []semmutex.Sembuf{{Num: 0, Op: -1}}, &ts)
	assert.ErrorIs(t, err, unix.EAGAIN)
	v, err := semmutex.Semctl(id, 0, semmutex.GETVAL, 0)
	require.NoError(t, err)
	assert.Equal(t, 0, v)

	// With a value to take, it does not wait at all.
	_, err = semmutex.Semctl(id, 0, semmutex.SETVAL, 1)
	require.NoError(t, err)
	require.NoError(t, semmutex.Semtimedop(id, []semmutex.Sembuf{{Num: 0, Op: -1}}, &ts))
}

// SemopContext ends when its context does, which is how a blocked program ends on Ctrl-C.
func TestSemopContext(t *testing.T) {
	id := newSet(t, 1, semmutex.Mode)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- semmutex.SemopContext(ctx, id, []semmutex.Sembuf{{Num: 0, Op: -1}}) }()
	waitFor(t, "the goroutine to block in semtimedop", func() bool { return waiters(t, id, 0) == 1 })
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)

	// And it takes the semaphore when it can.
	go func() { done <- semmutex.SemopContext(context.Background(), id, []semmutex.Sembuf{{Num: 0, Op: -1}}) }()
	waitFor(t, "the goroutine to block in semtimedop", func() bool { return waiters(t, id, 0) == 1 })
	require.NoError(t, semmutex.Semop(id, []semmutex.Sembuf{{Num: 0, Op: 1}}))
	assert.NoError(t, <-done)
}

// A process blocked in semop wakes with EIDRM when the set is removed: the way out of a wait
// that its peer can always take.
func TestRemovedUnderAWaiter(t *testing.T) {
	id := newSet(t, 1, semmutex.Mode)
	done := make(chan error, 1)
	go func() { done <- semmutex.Semop(id, []semmutex.Sembuf{{Num: 0, Op: -1}}) }()
	waitFor(t, "the goroutine to block in semop", func() bool { return waiters(t, id, 0) == 1 })
	_, err := semmutex.Semctl(id, 0, unix.IPC_RMID, 0)
	require.NoError(t, err)
	assert.ErrorIs(t, <-done, unix.EIDRM)
}

// signalBlockedThread runs op on a thread of its own, waits until that thread is blocked on
// semaphore 0 of id, sends it SIGUSR1 (tgkill: that thread and no other), and waits until Go's
// handler has caught the signal, which it does on that thread, after the kernel has ended the
// system call. It returns the channel that op's result arrives on.
func signalBlockedThread(t *testing.T, id int, op func() error) <-chan error {
	caught := make(chan os.Signal, 1)
	signal.Notify(caught, syscall.SIGUSR1)
	defer signal.Stop(caught)
	tids := make(chan int)
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		tids <- unix.Gettid()
		done <- op()
	}()
	tid := <-tids
	waitFor(t, "the thread to block in semop", func() bool { return waiters(t, id, 0) == 1 })
	require.NoError(t, unix.Tgkill(os.Getpid(), tid, syscall.SIGUSR1))
	select {
	case <-caught:
	case <-time.After(10 * time.Second):
		t.Fatal("SIGUSR1 not caught after 10 s")
	}
	return done
}

// signal(7): semop and semtimedop are never restarted after a signal handler, and Go installs
// its handlers with SA_RESTART. The raw system call returns EINTR; Semop and Semtimedop retry,
// and go on waiting.
func TestEINTR(t *testing.T) {
	id := newSet(t, 1, semmutex.Mode)
	sops := []semmutex.Sembuf{{Num: 0, Op: -1}}

	// The raw call: EINTR, long before its 60 s run out.
	done := signalBlockedThread(t, id, func() error {
		ts := unix.NsecToTimespec((60 * time.Second).Nanoseconds())
		_, _, e := unix.Syscall6(unix.SYS_SEMTIMEDOP, uintptr(id), uintptr(unsafe.Pointer(&sops[0])), 1, uintptr(unsafe.Pointer(&ts)), 0, 0)
		return e
	})
	assert.Equal(t, unix.EINTR, <-done)

	// The wrappers: blocked again after the signal (the interrupted call has returned by the time
	// the handler runs); they end when the semaphore can be taken.
	for name, op := range map[string]func() error{
		"Semop": func() error { return semmutex.Semop(id, sops) },
		"Semtimedop": func() error {
			ts := unix.NsecToTimespec((60 * time.Second).Nanoseconds())
			return semmutex.Semtimedop(id, sops, &ts)
		},
	} {
		done := signalBlockedThread(t, id, op)
		waitFor(t, name+" to wait again", func() bool { return waiters(t, id, 0) == 1 })
		select {
		case err := <-done:
			t.Fatalf("%s returned %v after a signal, with nothing to take", name, err)
		default:
		}
		require.NoError(t, semmutex.Semop(id, []semmutex.Sembuf{{Num: 0, Op: 1}}))
		assert.NoError(t, <-done, name)
	}
}

// Open creates and initialises a set at a free key, with sem_otime set; a second Open finds it
// initialised and does not create it again.
func TestOpenCreates(t *testing.T) {
	key := newKey(t)
	removeAtKey(t, key)
	id, created, err := semmutex.Open(context.Background(), key, []uint16{1, 0, 4})
	require.NoError(t, err)
	assert.True(t, created)
	vals := make([]uint16, 3)
	require.NoError(t, semmutex.SemctlAll(id, semmutex.GETALL, vals))
	assert.Equal(t, []uint16{1, 0, 4}, vals, "the values, unchanged by the semop that set sem_otime")
	var ds semmutex.SemidDs
	require.NoError(t, semmutex.SemctlDs(id, unix.IPC_STAT, &ds))
	assert.NotZero(t, ds.Otime)
	assert.EqualValues(t, semmutex.Mode, ds.Perm.Mode&0o777)
	assert.EqualValues(t, key, uint32(ds.Perm.Key))

	again, created, err := semmutex.Open(context.Background(), key, []uint16{1, 0, 4})
	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, id, again)

	// A set of another size at the key is not ours to use.
	_, _, err = semmutex.Open(context.Background(), key, []uint16{1})
	assert.ErrorContains(t, err, "has 3 semaphores, not 1")

	// With the first semaphore at 0, sem_otime is set by a wait-for-zero.
	key0 := newKey(t)
	removeAtKey(t, key0)
	id0, created, err := semmutex.Open(context.Background(), key0, []uint16{0, 2})
	require.NoError(t, err)
	assert.True(t, created)
	require.NoError(t, semmutex.SemctlDs(id0, unix.IPC_STAT, &ds))
	assert.NotZero(t, ds.Otime)
}

// TLPI 47.5: a process that finds a set made but not yet initialised waits until sem_otime is
// set, and no longer than its context allows.
func TestOpenWaitsForInitialisation(t *testing.T) {
	log.SetOutput(io.Discard) // Open says that it waits: not in the test's output
	t.Cleanup(func() { log.SetOutput(os.Stderr) })
	key := newKey(t)
	// A creator caught between semget and its initialisation.
	id, err := semmutex.Semget(semmutex.SemKey(key), 2, unix.IPC_CREAT|unix.IPC_EXCL|semmutex.Mode)
	require.NoError(t, err)
	t.Cleanup(func() { semmutex.Semctl(id, 0, unix.IPC_RMID, 0) })

	// Bounded: with nobody to initialise it, Open gives up when its context ends.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, _, err = semmutex.Open(ctx, key, []uint16{1, 3})
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorContains(t, err, "is still not initialised")

	// Bounded without a deadline of the caller's too: by InitWait.
	semmutex.SetInitWait(t, 50*time.Millisecond)
	_, _, err = semmutex.Open(context.Background(), key, []uint16{1, 3})
	assert.ErrorContains(t, err, "is still not initialised (its creator may have died before it set the values; remove it: ipcrm -s ")
	assert.ErrorContains(t, err, "waited 50ms")
	semmutex.SetInitWait(t, semmutex.InitWait)

	// Waiting: Open returns once the creator has set the values and done its semop, and not
	// before (the values it would see before are the zeros of a new set).
	type result struct {
		id      int
		created bool
		err     error
	}
	done := make(chan result, 1)
	go func() {
		id, created, err := semmutex.Open(context.Background(), key, []uint16{1, 3})
		done <- result{id, created, err}
	}()
	require.NoError(t, semmutex.SemctlAll(id, semmutex.SETALL, []uint16{1, 3}))
	select {
	case r := <-done:
		t.Fatalf("Open returned %+v before the set was initialised", r)
	case <-time.After(50 * time.Millisecond):
	}
	require.NoError(t, semmutex.Semop(id, []semmutex.Sembuf{{Num: 1, Op: -1}, {Num: 1, Op: 1}}))
	r := <-done
	require.NoError(t, r.err)
	assert.False(t, r.created)
	assert.Equal(t, id, r.id)
}

// A set is ours alone if its owner and its creator are us and its mode gives nothing to group
// or others; a real set made with 0640 is refused.
func TestCheckOwner(t *testing.T) {
	desc := func(uid, cuid, mode uint32) *semmutex.SemidDs {
		return &semmutex.SemidDs{Perm: unix.SysvIpcPerm{Uid: uid, Cuid: cuid, Mode: mode}}
	}
	for _, ds := range []*semmutex.SemidDs{desc(1000, 1000, 0o600), desc(1000, 1000, 0o400), desc(1000, 1000, 0)} {
		assert.NoError(t, semmutex.CheckOwner(0x1234, 7, ds, 1000), "mode %o", ds.Perm.Mode)
	}
	err := semmutex.CheckOwner(0x1234, 7, desc(65534, 65534, 0o600), 1000)
	assert.EqualError(t, err, "semaphore set key 0x00001234 (semid 7) belongs to uid 65534, not to you (uid 1000); refusing to use it (pass another -key or -path/-proj)")
	// Handed over with IPC_SET: the owner is us, the creator is not.
	err = semmutex.CheckOwner(0x1234, 7, desc(1000, 65534, 0o600), 1000)
	assert.EqualError(t, err, "semaphore set key 0x00001234 (semid 7) was created by uid 65534, not by you (uid 1000), and its creator may change its owner and mode at any time; refusing to use it (pass another -key or -path/-proj)")
	for _, mode := range []uint32{0o640, 0o604, 0o620, 0o602, 0o666} {
		err = semmutex.CheckOwner(0x1234, 7, desc(1000, 1000, mode), 1000)
		assert.EqualError(t, err, "semaphore set key 0x00001234 (semid 7) has mode 0"+strconv.FormatUint(uint64(mode), 8)+", which lets group or others use it; refusing to use it (remove it: ipcrm -s 7, or pass another -key or -path/-proj)")
	}
	// Root is no exception.
	err = semmutex.CheckOwner(0x1234, 7, desc(0, 65534, 0o600), 0)
	assert.ErrorContains(t, err, "was created by uid 65534, not by you (uid 0)")

	// A real set, made by us with mode 0640.
	id := newSet(t, 1, 0o640)
	var ds semmutex.SemidDs
	require.NoError(t, semmutex.SemctlDs(id, unix.IPC_STAT, &ds))
	err = semmutex.CheckOwner(0, id, &ds, os.Geteuid())
	assert.ErrorContains(t, err, "has mode 0640, which lets group or others use it")
}

// The arithmetic of ftok, as in 02-shm-sysv, and on a real file.
func TestFtok(t *testing.T) {
	assert.Equal(t, uint32(0x53345678), semmutex.FtokOf(0x1234, 0x12345678, 'S'))
	assert.Equal(t, uint32(0xff00ffff), semmutex.FtokOf(0, 0xffff, 0x1ff))
	assert.Equal(t, uint32(0x01ab0007), semmutex.FtokOf(unix.Mkdev(259, 0x1ab), 7, 1))

	fi, err := os.Stat(os.TempDir())
	require.NoError(t, err)
	st := fi.Sys().(*syscall.Stat_t)
	key, err := semmutex.Ftok(os.TempDir(), semmutex.DefaultProj)
	require.NoError(t, err)
	assert.Equal(t, uint32('S')<<24|uint32(st.Dev%256)<<16|uint32(st.Ino%65536), key)

	_, err = semmutex.Ftok(filepath.Join(t.TempDir(), "missing"), 1)
	assert.ErrorIs(t, err, unix.ENOENT)
}

func TestKeyFlags(t *testing.T) {
	for s, want := range map[string]uint32{"1": 1, "0x53001234": 0x53001234, "0XFFFFFFFF": 0xffffffff, "4294967295": 0xffffffff} {
		k, err := semmutex.ParseKey(s)
		require.NoError(t, err, s)
		assert.Equal(t, want, k, s)
	}
	for _, s := range []string{"", "x", "-1", "0x", "4294967296", "0x100000000"} {
		_, err := semmutex.ParseKey(s)
		assert.ErrorContains(t, err, "want a number from 1 to 4294967295", s)
	}
	_, err := semmutex.ParseKey("0")
	assert.ErrorContains(t, err, "key 0 is IPC_PRIVATE")
	_, err = semmutex.ParseKey("0x0")
	assert.ErrorContains(t, err, "key 0 is IPC_PRIVATE")

	assert.NoError(t, semmutex.CheckProj(1))
	assert.NoError(t, semmutex.CheckProj(255))
	assert.EqualError(t, semmutex.CheckProj(0), "-proj 0: want 1 to 255 (ftok keeps only the low 8 bits; 'S' is 83)")
	assert.Error(t, semmutex.CheckProj(256))

	assert.Equal(t, -1, semmutex.SemKey(0xffffffff))
	assert.Equal(t, 0x53001234, semmutex.SemKey(0x53001234))
}

func TestDefaults(t *testing.T) {
	assert.Equal(t, os.TempDir(), semmutex.DefaultPath)
	assert.EqualValues(t, 83, semmutex.DefaultProj)
	assert.NotEqualValues(t, 'M', semmutex.DefaultProj, "02-shm-sysv's project id")
	assert.NoError(t, semmutex.CheckProj(semmutex.DefaultProj))
	assert.Equal(t, os.FileMode(0o600), os.FileMode(semmutex.Mode))
}
