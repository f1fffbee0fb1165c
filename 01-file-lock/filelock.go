// Package filelock is what the writer, reader and counter of this example agree on, like the
// shared header of a C example: the default file, its mode, how it is opened, and the kind of
// lock. Every process sharing the file must use the same kind of lock: on Linux, flock(2) locks
// and fcntl(2) record locks are separate, and neither sees the other.
package filelock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// DefaultPath is the file the programs share when no -file is given.
var DefaultPath = filepath.Join(os.TempDir(), "ipc-file-lock.txt")

// Mode is the permission of a file the programs create: only its owner may read or write it.
const Mode = 0o600

// The kinds of lock, as the -lock flag spells them.
const (
	Flock = "flock" // flock(2): whole-file locks, also taken by flock(1)
	OFD   = "ofd"   // fcntl(2) F_OFD_SETLKW: open file description locks
	None  = "none"  // no lock at all (only the counter offers it, to show the race)
)

// OpenFile opens the shared file with flag (O_RDONLY, or O_RDWR|O_CREAT), creating it with Mode.
//
// The file usually lives in a shared directory such as /tmp, where anyone can plant a symlink
// or a FIFO under the expected name, so OpenFile is careful:
//   - O_NOFOLLOW: a symlink at path fails with ELOOP instead of being followed;
//   - O_NONBLOCK: opening a FIFO planted at path returns at once instead of blocking (the flag
//     has no effect on a regular file's reads and writes);
//   - O_NOCTTY: a terminal planted at path does not become our controlling terminal;
//   - then fstat(2) on the open descriptor (not stat on the name, which could change between
//     the two calls) refuses anything but a regular file owned by us with one link (st_nlink
//     1): a hard link is another name of a file elsewhere, which the caller would overwrite.
//
// It never truncates (no O_TRUNC): truncating at open would destroy the file before these
// checks, and before the lock (see the writer).
func OpenFile(path string, flag int) (*os.File, error) {
	fd, err := unix.Open(path, flag|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, Mode)
	if errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("open %s: it is a symbolic link, which this program refuses to follow (remove it, or pass -file with another path)", path)
	}
	if errors.Is(err, unix.ENOENT) {
		dir := filepath.Dir(path)
		if flag&unix.O_CREAT != 0 {
			return nil, fmt.Errorf("open %s: directory %s does not exist (create it, or pass -file with another path)", path, dir)
		}
		// Without O_CREAT, a missing file is the caller's to explain (run the writer first);
		// a missing directory means a wrong path, which no writer can have used.
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("open %s: directory %s does not exist (pass -file with the path the writer uses)", path, dir)
		}
	}
	if errors.Is(err, unix.EACCES) {
		return nil, fmt.Errorf("open %s: permission denied (you may not use this file or its directory; pass -file with another path)", path)
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "fstat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, fmt.Errorf("%s is not a regular file; refusing to use it (pass -file with another path)", path)
	}
	if uid := os.Geteuid(); int(st.Uid) != uid {
		unix.Close(fd)
		return nil, fmt.Errorf("%s belongs to uid %d, not to you (uid %d); refusing to use it (pass -file with another path)", path, st.Uid, uid)
	}
	if st.Nlink == 0 {
		// Not a hard link: no name is left. Someone removed the file between our open and our
		// fstat; what we wrote to it no other program could find.
		unix.Close(fd)
		return nil, fmt.Errorf("%s was removed while this program opened it (try again)", path)
	}
	if st.Nlink != 1 {
		// A hard link passes the checks above: it is no symlink, and the file is ours. But it
		// is a second name of a file elsewhere (ln victim.conf /tmp/ipc-file-lock.txt), whose
		// data we would truncate and overwrite. Refuse it before anything is written: this is
		// why the file is never opened with O_TRUNC.
		unix.Close(fd)
		what := "overwrite"
		if flag&(unix.O_WRONLY|unix.O_RDWR) == 0 {
			what = "print"
		}
		return nil, fmt.Errorf("%s has %d hard links; refusing to use it (a hard link could make this program %s another file; remove it, or pass -file with another path)", path, st.Nlink, what)
	}
	return os.NewFile(uintptr(fd), path), nil
}

// TryLock takes a lock of the given kind on the whole file without waiting. It reports false if
// another open file holds a conflicting lock.
func TryLock(f *os.File, kind string, exclusive bool) (bool, error) {
	err := lock(int(f.Fd()), kind, exclusive, false)
	if errors.Is(err, unix.EWOULDBLOCK) || errors.Is(err, unix.EACCES) {
		return false, nil // flock says EWOULDBLOCK; fcntl says EAGAIN (the same number) or EACCES
	}
	return err == nil, err
}

// WaitLock takes a lock of the given kind on the whole file, waiting for it until ctx is done.
//
// A signal does not end the wait by itself: Go installs its signal handlers with SA_RESTART,
// so the kernel restarts an interrupted flock(2) or fcntl(2). So the blocking call runs in its
// own goroutine, and WaitLock returns ctx.Err() when ctx is done. The call then stays blocked,
// and the caller must exit soon: the lock, if it is granted, dies with the process.
func WaitLock(ctx context.Context, f *os.File, kind string, exclusive bool) error {
	fd := int(f.Fd())
	done := make(chan error, 1)
	go func() { done <- lock(fd, kind, exclusive, true) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Unlock releases the lock that TryLock or WaitLock took. Closing the file releases it too.
func Unlock(f *os.File, kind string) error {
	switch kind {
	case Flock:
		return unix.Flock(int(f.Fd()), unix.LOCK_UN)
	case OFD:
		lk := unix.Flock_t{Type: unix.F_UNLCK, Whence: io.SeekStart}
		return unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk)
	}
	return nil
}

// lock is the one place where the two kinds of lock differ.
func lock(fd int, kind string, exclusive, wait bool) error {
	for {
		var err error
		switch kind {
		case Flock:
			// flock(2) locks the whole file, shared (LOCK_SH) or exclusive (LOCK_EX). The lock
			// belongs to the open file description: a dup or a forked child shares it.
			how := unix.LOCK_SH
			if exclusive {
				how = unix.LOCK_EX
			}
			if !wait {
				how |= unix.LOCK_NB
			}
			err = unix.Flock(fd, how)
		case OFD:
			// An OFD lock is a POSIX record lock (it conflicts with fcntl F_SETLK and lockf(3)
			// in other processes) that belongs to the open file description, not to the
			// process. Start 0 and Len 0 cover the whole file, however long it grows. Pid must
			// be 0. A read lock needs the file open for reading, a write lock for writing.
			lk := unix.Flock_t{Type: unix.F_RDLCK, Whence: io.SeekStart, Start: 0, Len: 0}
			if exclusive {
				lk.Type = unix.F_WRLCK
			}
			cmd := unix.F_OFD_SETLK
			if wait {
				cmd = unix.F_OFD_SETLKW
			}
			err = unix.FcntlFlock(uintptr(fd), cmd, &lk)
		case None:
			return nil
		default:
			return fmt.Errorf("unknown lock kind %q", kind)
		}
		if err != unix.EINTR {
			return err
		}
	}
}
