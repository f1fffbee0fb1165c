package filelock_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	filelock "example.com/ipc/01-file-lock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// open opens path twice, as two processes would: two open file descriptions. Both lock kinds
// belong to the open file description, so the two conflict even within one process.
func openTwice(t *testing.T) (*os.File, *os.File) {
	path := filepath.Join(t.TempDir(), "f.txt")
	a, err := filelock.OpenFile(path, unix.O_RDWR|unix.O_CREAT)
	require.NoError(t, err)
	t.Cleanup(func() { a.Close() })
	b, err := filelock.OpenFile(path, unix.O_RDWR)
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	return a, b
}

func TestLockConflicts(t *testing.T) {
	for _, kind := range []string{filelock.Flock, filelock.OFD} {
		t.Run(kind, func(t *testing.T) {
			a, b := openTwice(t)

			// Shared locks coexist.
			ok, err := filelock.TryLock(a, kind, false)
			require.NoError(t, err)
			require.True(t, ok)
			ok, err = filelock.TryLock(b, kind, false)
			require.NoError(t, err)
			assert.True(t, ok, "a second shared lock is refused")
			require.NoError(t, filelock.Unlock(b, kind))

			// A shared lock keeps out an exclusive one, and the other way round.
			ok, err = filelock.TryLock(b, kind, true)
			require.NoError(t, err)
			assert.False(t, ok, "an exclusive lock is granted over a shared one")
			require.NoError(t, filelock.Unlock(a, kind))
			ok, err = filelock.TryLock(a, kind, true)
			require.NoError(t, err)
			require.True(t, ok)
			ok, err = filelock.TryLock(b, kind, false)
			require.NoError(t, err)
			assert.False(t, ok, "a shared lock is granted over an exclusive one")

			// Unlock lets the waiter in.
			done := make(chan error, 1)
			go func() { done <- filelock.WaitLock(context.Background(), b, kind, true) }()
			select {
			case err := <-done:
				t.Fatalf("WaitLock returned %v while the lock was held", err)
			case <-time.After(50 * time.Millisecond):
			}
			require.NoError(t, filelock.Unlock(a, kind))
			select {
			case err := <-done:
				assert.NoError(t, err)
			case <-time.After(10 * time.Second):
				t.Fatal("WaitLock did not return after the holder unlocked")
			}
		})
	}
}

func TestWaitLockEndsWithContext(t *testing.T) {
	for _, kind := range []string{filelock.Flock, filelock.OFD} {
		t.Run(kind, func(t *testing.T) {
			a, b := openTwice(t)
			ok, err := filelock.TryLock(a, kind, true)
			require.NoError(t, err)
			require.True(t, ok)

			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- filelock.WaitLock(ctx, b, kind, false) }()
			select {
			case err := <-done:
				assert.ErrorIs(t, err, context.DeadlineExceeded)
			case <-time.After(10 * time.Second):
				t.Fatal("WaitLock did not return when its context ended")
			}
		})
	}
}

// The trap the README warns about, shown: classic POSIX record locks (fcntl F_SETLK, lockf)
// belong to the process, so a second descriptor in the same process does not conflict with
// the first, and closing any descriptor of the file drops the process's lock.
func TestClassicPOSIXLocksBelongToTheProcess(t *testing.T) {
	a, b := openTwice(t)
	wrlck := unix.Flock_t{Type: unix.F_WRLCK}
	require.NoError(t, unix.FcntlFlock(a.Fd(), unix.F_SETLK, &wrlck))
	assert.NoError(t, unix.FcntlFlock(b.Fd(), unix.F_SETLK, &wrlck), "the same process's second descriptor was refused")

	// Closing b, which never took a lock of its own, drops the lock taken through a: another
	// open file description now gets an OFD write lock, which conflicts with POSIX locks.
	c, err := filelock.OpenFile(a.Name(), unix.O_RDWR)
	require.NoError(t, err)
	defer c.Close()
	ok, err := filelock.TryLock(c, filelock.OFD, true)
	require.NoError(t, err)
	assert.False(t, ok, "the POSIX lock was not there to refuse the OFD lock")
	require.NoError(t, b.Close())
	ok, err = filelock.TryLock(c, filelock.OFD, true)
	require.NoError(t, err)
	assert.True(t, ok, "closing another descriptor did not drop the POSIX lock")
}

func TestOpenFileRefuses(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	require.NoError(t, os.WriteFile(target, []byte("keep"), 0o600))
	link := filepath.Join(dir, "link")
	require.NoError(t, os.Symlink(target, link))
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, unix.Mkfifo(fifo, 0o600))

	_, err := filelock.OpenFile(link, unix.O_RDWR|unix.O_CREAT)
	assert.ErrorContains(t, err, "symbolic link")
	_, err = filelock.OpenFile(fifo, unix.O_RDONLY) // must not block
	assert.ErrorContains(t, err, "not a regular file")
	_, err = filelock.OpenFile(dir, unix.O_RDONLY)
	assert.ErrorContains(t, err, "not a regular file")
	_, err = filelock.OpenFile(filepath.Join(dir, "missing", "f"), unix.O_RDWR|unix.O_CREAT)
	assert.ErrorContains(t, err, "does not exist")
	// A hard link is a second name of target: opening it would reach target's data.
	hard := filepath.Join(dir, "hard")
	require.NoError(t, os.Link(target, hard))
	_, err = filelock.OpenFile(hard, unix.O_RDWR|unix.O_CREAT)
	assert.ErrorContains(t, err, "has 2 hard links")
	_, err = filelock.OpenFile(hard, unix.O_RDONLY)
	assert.ErrorContains(t, err, "has 2 hard links")

	data, err := os.ReadFile(target)
	require.NoError(t, err)
	assert.Equal(t, "keep", string(data))
}

func TestOpenFileCreatesWithMode0600(t *testing.T) {
	old := unix.Umask(0)
	defer unix.Umask(old)
	path := filepath.Join(t.TempDir(), "new")
	f, err := filelock.OpenFile(path, unix.O_RDWR|unix.O_CREAT)
	require.NoError(t, err)
	f.Close()
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
}
