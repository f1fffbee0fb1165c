package shmposix_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	shmposix "example.com/ipc/03-shm-posix"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestPath(t *testing.T) {
	for name, want := range map[string]string{
		"/demo":                        "/dev/shm/demo",
		"demo":                         "/dev/shm/demo",
		"/a.b-c_d":                     "/dev/shm/a.b-c_d",
		strings.Repeat("x", 255):       "/dev/shm/" + strings.Repeat("x", 255),
		"/" + strings.Repeat("x", 255): "/dev/shm/" + strings.Repeat("x", 255),
	} {
		got, err := shmposix.Path(name)
		if assert.NoError(t, err, name) {
			assert.Equal(t, want, got, name)
		}
	}
	for name, want := range map[string]string{
		"":                       "empty name",
		"/":                      "empty name",
		"a/b":                    "a '/' only at its start",
		"/a/b":                   "a '/' only at its start",
		"//a":                    "a '/' only at its start",
		"a/":                     "a '/' only at its start",
		".":                      "not the name of an object",
		"/..":                    "not the name of an object",
		strings.Repeat("x", 256): "256 bytes long; a name holds at most 255 bytes (NAME_MAX)",
	} {
		_, err := shmposix.Path(name)
		assert.ErrorContains(t, err, want, "%q", name)
	}
}

func TestDefaultName(t *testing.T) {
	assert.Equal(t, "/ipc-shm-posix", shmposix.DefaultNameFor("/tmp"))
	// Spellings of /tmp (TMPDIR=/tmp/ in one terminal, none in the other) are one object.
	assert.Equal(t, "/ipc-shm-posix", shmposix.DefaultNameFor("/tmp/"))
	assert.Equal(t, "/ipc-shm-posix", shmposix.DefaultNameFor("//tmp/."))
	assert.Equal(t, shmposix.DefaultNameFor("/home/me/tmp"), shmposix.DefaultNameFor("/home/me/tmp/"))
	a := shmposix.DefaultNameFor("/home/me/tmp")
	b := shmposix.DefaultNameFor("/home/you/tmp")
	assert.Regexp(t, `^/ipc-shm-posix-[0-9a-f]{8}$`, a)
	assert.NotEqual(t, a, b)
	_, err := shmposix.Path(shmposix.DefaultName)
	assert.NoError(t, err)
}

// The Go header must have the layout of the C struct in the package comment.
func TestHeaderLayout(t *testing.T) {
	var h shmposix.Header
	assert.Equal(t, 8, shmposix.HeaderSize)
	assert.Equal(t, uintptr(0), unsafe.Offsetof(h.State))
	assert.Equal(t, uintptr(4), unsafe.Offsetof(h.Len))
	assert.Equal(t, 0, shmposix.Empty, "a new object, filled with zeros by ftruncate, must be Empty")
}

// object creates a shared memory object for one test, of size bytes, and removes it after.
func object(t *testing.T, size int) (path string, fd int) {
	path, err := shmposix.Path(fmt.Sprintf("ipctest-unit-%d-%s", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "_")))
	require.NoError(t, err)
	fd, err = shmposix.ShmOpen(path, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL, shmposix.Mode)
	require.NoError(t, err)
	t.Cleanup(func() {
		unix.Close(fd)
		os.Remove(path)
	})
	require.NoError(t, unix.Ftruncate(fd, int64(size)))
	return path, fd
}

// mapping maps the object open at fd, as another process would: a second mapping of the same
// pages at another address.
func mapping(t *testing.T, fd, size int) []byte {
	mem, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Munmap(mem) })
	return mem
}

func TestShmOpen(t *testing.T) {
	old := unix.Umask(0)
	defer unix.Umask(old)
	path, _ := object(t, 4096)
	st, err := os.Lstat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode())

	// O_EXCL refuses the existing object, even through a symbolic link.
	_, err = shmposix.ShmOpen(path, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL, shmposix.Mode)
	assert.ErrorIs(t, err, unix.EEXIST)
	link := path + "-link"
	require.NoError(t, os.Symlink(path, link))
	defer os.Remove(link)
	_, err = shmposix.ShmOpen(link, unix.O_RDWR, 0)
	assert.ErrorContains(t, err, "it is a symbolic link, which this program refuses to follow")
}

// The futex word works across two mappings of one object, as it does across two processes,
// with the shared operations only: a private wake, keyed by this process and the address,
// does not find a waiter on the other mapping.
func TestFutexSharedAcrossMappings(t *testing.T) {
	_, fd := object(t, 4096)
	a := shmposix.HeaderOf(mapping(t, fd, 4096))
	b := shmposix.HeaderOf(mapping(t, fd, 4096))
	require.NotSame(t, a, b)

	woken := make(chan error, 1)
	go func() {
		_, err := shmposix.Futex(&a.State, shmposix.FUTEX_WAIT, shmposix.Empty, nil)
		woken <- err
	}()

	// For 100 ms, a private wake through the other mapping wakes no one.
	const futexPrivateFlag = 128
	for start := time.Now(); time.Since(start) < 100*time.Millisecond; time.Sleep(5 * time.Millisecond) {
		n, err := shmposix.Futex(&b.State, shmposix.FUTEX_WAKE|futexPrivateFlag, 1, nil)
		require.NoError(t, err)
		require.Equal(t, 0, n, "FUTEX_WAKE_PRIVATE woke a waiter on another mapping")
	}
	select {
	case err := <-woken:
		t.Fatalf("FUTEX_WAIT returned %v with no wake", err)
	default:
	}

	// A shared wake through the other mapping wakes it (once it is asleep).
	atomic.StoreUint32(&b.State, shmposix.Full)
	for start := time.Now(); ; time.Sleep(time.Millisecond) {
		n, err := shmposix.Futex(&b.State, shmposix.FUTEX_WAKE, 1, nil)
		require.NoError(t, err)
		if n == 1 {
			break
		}
		select {
		case err := <-woken:
			// It had not gone to sleep yet when the state changed: the kernel saw Full, not
			// Empty, and returned EAGAIN at once. That is the lost-wake-up protection.
			assert.ErrorIs(t, err, unix.EAGAIN)
			return
		default:
		}
		require.Less(t, time.Since(start), 10*time.Second, "FUTEX_WAKE found no waiter")
	}
	select {
	case err := <-woken:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("FUTEX_WAIT did not return after FUTEX_WAKE")
	}
	assert.Equal(t, uint32(shmposix.Full), atomic.LoadUint32(&a.State), "the other mapping does not see the store")
}

func TestFutexWaitReturns(t *testing.T) {
	_, fd := object(t, 4096)
	h := shmposix.HeaderOf(mapping(t, fd, 4096))

	// The word does not hold the value: no sleep at all.
	_, err := shmposix.Futex(&h.State, shmposix.FUTEX_WAIT, shmposix.Full, nil)
	assert.ErrorIs(t, err, unix.EAGAIN)

	// A timeout ends the sleep.
	ts := unix.NsecToTimespec((10 * time.Millisecond).Nanoseconds())
	_, err = shmposix.Futex(&h.State, shmposix.FUTEX_WAIT, shmposix.Empty, &ts)
	assert.ErrorIs(t, err, unix.ETIMEDOUT)
}

func TestCheckExisting(t *testing.T) {
	ctx := context.Background()

	// An object whose creator has not called ftruncate yet: CheckExisting waits for it.
	path, fd := object(t, 0)
	go func() {
		time.Sleep(50 * time.Millisecond)
		unix.Ftruncate(fd, 4104)
	}()
	size, err := shmposix.CheckExisting(ctx, fd, path)
	require.NoError(t, err)
	assert.Equal(t, 4104, size)

	// One that never gets a size: an error after SizeWait.
	t.Run("stuck", func(t *testing.T) {
		path, fd := object(t, 0)
		start := time.Now()
		_, err := shmposix.CheckExisting(ctx, fd, path)
		assert.ErrorContains(t, err, "has size 0: its creator never set its size")
		assert.GreaterOrEqual(t, time.Since(start), shmposix.SizeWait)
	})
	// Ctrl-C ends that wait early.
	t.Run("canceled", func(t *testing.T) {
		path, fd := object(t, 0)
		ctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := shmposix.CheckExisting(ctx, fd, path)
		assert.ErrorIs(t, err, context.Canceled)
	})
	t.Run("too small", func(t *testing.T) {
		path, fd := object(t, 7)
		_, err := shmposix.CheckExisting(ctx, fd, path)
		assert.ErrorContains(t, err, "holds 7 bytes, too few for the 8-byte header")
	})
	t.Run("not regular", func(t *testing.T) {
		fd, err := unix.Open(t.TempDir(), unix.O_RDONLY, 0)
		require.NoError(t, err)
		defer unix.Close(fd)
		_, err = shmposix.CheckExisting(ctx, fd, "dir")
		assert.ErrorContains(t, err, "dir is not a regular file")
	})
	// A second name of another object passes O_NOFOLLOW and the owner check.
	t.Run("hard link", func(t *testing.T) {
		path, fd := object(t, 4104)
		require.NoError(t, os.Link(path, path+"-link"))
		defer os.Remove(path + "-link")
		_, err := shmposix.CheckExisting(ctx, fd, path)
		assert.ErrorContains(t, err, path+" has 2 hard links; refusing to use it")
	})
	t.Run("another owner", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("needs root to give a file away")
		}
		path := filepath.Join(t.TempDir(), "theirs")
		require.NoError(t, os.WriteFile(path, make([]byte, 4104), 0o600))
		require.NoError(t, os.Chown(path, 65534, 65534))
		fd, err := unix.Open(path, unix.O_RDWR, 0)
		require.NoError(t, err)
		defer unix.Close(fd)
		_, err = shmposix.CheckExisting(ctx, fd, path)
		assert.ErrorContains(t, err, "belongs to uid 65534, not to you (uid 0)")
	})
}
