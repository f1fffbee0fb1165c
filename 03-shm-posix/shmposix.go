// Package shmposix is what the writer and the reader of this example agree on, like the shared
// header of a C example: the default object name and size, how a name becomes a file under
// /dev/shm, the layout of the mapping (a header holding a futex word and a length, then the
// message), the mode, and the futex(2) and shm_open(3) that golang.org/x/sys/unix lacks.
//
// The layout, as C sees it:
//
//	struct shm_message {
//		uint32_t state; /* the futex word: EMPTY, WRITING, FULL or DONE; atomic access only */
//		uint32_t len;   /* the length of the message, written before state becomes FULL */
//		char data[];    /* the message: len bytes, no NUL */
//	};
package shmposix

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Dir is where Linux keeps POSIX shared memory objects: glibc's shm_open(3) opens the file
// Dir/NAME on this tmpfs, and shm_unlink(3) removes it.
const Dir = "/dev/shm"

// DefaultName is the object the programs share when no -name is given.
var DefaultName = DefaultNameFor(os.TempDir())

// DefaultNameFor returns the default object name for programs whose os.TempDir() is dir:
// "/ipc-shm-posix" for the usual /tmp. /dev/shm is one namespace for the whole machine, unlike
// a temporary directory, so programs run with another $TMPDIR (as the tests are) get a name of
// their own, with a hash of that directory appended. The directory is cleaned first, so that
// TMPDIR=/tmp/ in one terminal and no TMPDIR in the other still name the same object.
func DefaultNameFor(dir string) string {
	dir = filepath.Clean(dir)
	if dir == "/tmp" {
		return "/ipc-shm-posix"
	}
	h := fnv.New32a()
	h.Write([]byte(dir))
	return fmt.Sprintf("/ipc-shm-posix-%08x", h.Sum32())
}

// DefaultSize is the largest message an object holds when no -size is given: the object is
// HeaderSize bytes more.
const DefaultSize = 4096

// MaxSize is the largest -size the programs accept (1 GiB): len is a uint32, and a message
// comes from the command line anyway.
const MaxSize = 1 << 30

// Mode is the permission of an object the programs create: only its owner may map it.
const Mode = 0o600

// NameMax is NAME_MAX, the longest name of a file in a directory, so the longest object name
// (not counting the leading slash).
const NameMax = 255

// Path returns the file that holds the object called name: Dir/name, without the name's
// leading slash. POSIX says a portable name is one leading slash and no other; Path accepts the
// name with or without that slash (glibc drops any number of them, Path only one) and refuses
// anything else that is not a single file name in Dir.
func Path(name string) (string, error) {
	base := strings.TrimPrefix(name, "/")
	switch {
	case base == "":
		return "", errors.New("empty name (want a name like /my-shm)")
	case strings.Contains(base, "/"):
		return "", errors.New("a name may hold a '/' only at its start (want a name like /my-shm)")
	case base == "." || base == "..":
		return "", errors.New("not the name of an object but of a directory (want a name like /my-shm)")
	case len(base) > NameMax:
		return "", fmt.Errorf("%d bytes long; a name holds at most %d bytes (NAME_MAX) after its leading slash", len(base), NameMax)
	}
	return Dir + "/" + base, nil
}

// The states of the futex word. Empty must be 0: ftruncate(2) fills a new object with zeros, so
// an object starts Empty with no step of ours in between.
const (
	Empty   = 0 // no message yet: the reader waits
	Writing = 1 // a writer has claimed the object and is writing the message
	Full    = 2 // the message is complete: len and data may be read
	Done    = 3 // a reader took the message, or closed the object: it is being removed
)

// Header is the start of every mapping, struct shm_message above without its data.
//
// State is the futex word: every access to it goes through sync/atomic (another process
// changes it under our feet), and it is the one word the reader waits on. Len is written by
// the one writer before it makes State Full, and read by the reader only after it has seen
// Full, so ordinary loads and stores are enough for it.
type Header struct {
	State uint32
	Len   uint32
}

// HeaderSize is the size of the header: the message starts at this offset.
const HeaderSize = int(unsafe.Sizeof(Header{}))

// HeaderOf returns the header at the start of a mapping, which must hold at least HeaderSize
// bytes. mmap(2) returns a page-aligned address, so State is aligned as a futex word must be.
func HeaderOf(mem []byte) *Header {
	_ = mem[HeaderSize-1] // panic here, not in the kernel, if the mapping is too small
	return (*Header)(unsafe.Pointer(&mem[0]))
}

// The futex(2) operations the programs use, named as in <linux/futex.h>. These are the shared
// forms: the kernel finds the waiters by the object's page, so two processes (or two mappings)
// meet. FUTEX_WAIT_PRIVATE and FUTEX_WAKE_PRIVATE (| 128) find them by virtual address in one
// process only: a private wake in the writer would never reach the reader.
const (
	FUTEX_WAIT = 0
	FUTEX_WAKE = 1
)

// Futex is futex(2), which golang.org/x/sys/unix does not wrap, with the arguments that
// FUTEX_WAIT and FUTEX_WAKE use.
//
// FUTEX_WAIT sleeps if *addr still holds val (checked atomically with going to sleep, so a
// wake between the caller's last look and the call is not lost: the call then returns EAGAIN
// at once), until a FUTEX_WAKE on the same word, or timeout (nil for none, ETIMEDOUT), or a
// signal (EINTR; Go's handlers have SA_RESTART, so the kernel usually restarts the call). It
// may also return spuriously: the caller always loads the word again.
//
// FUTEX_WAKE wakes up to val waiters and returns how many it woke.
func Futex(addr *uint32, op int, val uint32, timeout *unix.Timespec) (int, error) {
	r, _, errno := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), uintptr(op), uintptr(val), uintptr(unsafe.Pointer(timeout)), 0, 0)
	if errno != 0 {
		return int(r), errno
	}
	return int(r), nil
}

// ShmOpen is shm_open(3) as glibc implements it on Linux, for a path from Path: open(2) on the
// file in /dev/shm, with O_NOFOLLOW (a symbolic link planted there, in a directory anyone may
// write, is refused with ELOOP, not followed) and O_CLOEXEC. It returns the descriptor. The
// errors say which object and what to do.
func ShmOpen(path string, flag int, mode uint32) (int, error) {
	fd, err := unix.Open(path, flag|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode)
	switch {
	case err == nil:
		return fd, nil
	case errors.Is(err, unix.ELOOP):
		return -1, fmt.Errorf("open %s: it is a symbolic link, which this program refuses to follow (remove it, or pass -name with another name)", path)
	case errors.Is(err, unix.EACCES):
		return -1, fmt.Errorf("open %s: permission denied (the object belongs to another user; pass -name with another name)", path)
	case errors.Is(err, unix.ENOENT) && flag&unix.O_CREAT != 0:
		return -1, fmt.Errorf("open %s: %s does not exist (POSIX shared memory needs a tmpfs mounted there)", path, Dir)
	}
	return -1, &os.PathError{Op: "open", Path: path, Err: err}
}

// SizeWait bounds how long CheckExisting waits for an object's creator to set its size.
const SizeWait = time.Second

// CheckExisting checks an object that another process created, open at fd, and returns its
// size: it must be a regular file, owned by us, with one name only (st_nlink 1), and with room
// for at least the header. Open it with ShmOpen first, so that a symbolic link is refused, and
// call CheckExisting before writing anything into it.
//
// The link count matters because a hard link passes the other checks: it is the same file as
// another name in /dev/shm (a hard link cannot leave its file system), say another program's
// shared memory object, which is ours and regular. Anyone who can write in /dev/shm, we
// ourselves by mistake included, can make that link at our name; the writer would then write
// its message into the other object, and the reader would take whatever it holds and unlink
// the name. (fs.protected_hardlinks keeps other users from linking to our files on most
// systems, but not on all, and never stops us.)
//
// Creating an object takes two steps, open(2) then ftruncate(2), and in between the object is
// there with size 0 (a C program calling shm_open then ftruncate has the same gap). So a size
// of 0 means "not ready yet": CheckExisting looks again every millisecond, for at most
// SizeWait, then says that the creator must have died in the gap. (The futex word cannot be
// used for this wait: until the object has a size, there is no word to map.)
func CheckExisting(ctx context.Context, fd int, path string) (int, error) {
	var st unix.Stat_t
	for start := time.Now(); ; time.Sleep(time.Millisecond) {
		if err := unix.Fstat(fd, &st); err != nil {
			return 0, &os.PathError{Op: "fstat", Path: path, Err: err}
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			return 0, fmt.Errorf("%s is not a regular file; refusing to use it (pass -name with another name)", path)
		}
		if uid := os.Geteuid(); int(st.Uid) != uid {
			return 0, fmt.Errorf("%s belongs to uid %d, not to you (uid %d); refusing to use it (pass -name with another name)", path, st.Uid, uid)
		}
		if st.Nlink != 1 {
			return 0, fmt.Errorf("%s has %d hard links; refusing to use it (a hard link could make this program write into another file; remove it, or pass -name with another name)", path, st.Nlink)
		}
		if st.Size != 0 || time.Since(start) > SizeWait {
			break
		}
		if err := ctx.Err(); err != nil {
			return 0, err
		}
	}
	switch {
	case st.Size == 0:
		return 0, fmt.Errorf("%s has size 0: its creator never set its size (did it die between shm_open and ftruncate?); remove it with rm %s if no program is using it", path, path)
	case st.Size < int64(HeaderSize):
		return 0, fmt.Errorf("%s holds %d bytes, too few for the %d-byte header: it is not one of these objects (pass -name with another name)", path, st.Size, HeaderSize)
	case st.Size > int64(HeaderSize+MaxSize):
		return 0, fmt.Errorf("%s holds %d bytes, more than the largest object of these programs (%d bytes): it is not one of these objects (pass -name with another name)", path, st.Size, HeaderSize+MaxSize)
	}
	return int(st.Size), nil
}
