// Package shmsysv is what the writer and reader of this example agree on, like the shared header
// of a C example: how the key of the segment is chosen, the segment's default size and mode, its
// layout (the message at offset 0, then a NUL byte, which is what a C reader using a char *
// expects), and which segment found at the key is ours to use (CheckOwner). exit.go is how both
// programs parse their flags and end on a signal, the same in every example of the cookbook.
//
// System V shared memory (shmget, shmat, shmdt, shmctl; listed by ipcs -m) and POSIX shared
// memory (shm_open, mmap; files in /dev/shm) are separate: a segment made with one API cannot be
// opened with the other. Every process sharing a segment must use the same API.
//
// A System V segment is kernel-persistent: it outlives the process that created it and stays
// until it is marked for removal with shmctl(IPC_RMID) AND the last process attached to it has
// detached (or exited). A segment that nobody removes stays until the machine reboots (unless
// the sysctl kernel.shm_rmid_forced is 1: then a segment goes as soon as nobody is attached).
package shmsysv

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// DefaultPath is the file that ftok turns into the default key: the temporary directory. ftok
// needs a file that exists before either program runs and keeps its inode for as long as the
// segment lives; the temporary directory does both, so neither program creates or removes a
// file just to name the segment. (A file that is removed and created again gets a new inode,
// and with it a new key: the segment made under the old key can no longer be found by path.)
var DefaultPath = os.TempDir()

// DefaultProj is the default ftok project id, 'M' (77). Only its low 8 bits count.
const DefaultProj = 'M'

// DefaultSize is the size in bytes of a segment the writer creates when no -size is given: one
// page. The largest message it holds is one byte less, to leave room for the NUL.
const DefaultSize = 4096

// Mode is the permission of a segment the writer creates: only its owner may attach it. System V
// IPC ignores the umask: the mode given to shmget is the mode the segment gets.
const Mode = 0o600

// Ftok is ftok(3) exactly as glibc computes it, so that a C program calling ftok with the same
// path and project id gets the same key:
//
//	key = (proj & 0xff) << 24 | (st_dev & 0xff) << 16 | (st_ino & 0xffff)
//
// where st_dev and st_ino come from stat(2) on path, which (as in C) follows symbolic links.
// Nothing is opened, created or written through path: it only names a number. Two files can
// share a key: only 8 bits of the device and 16 of the inode are kept.
func Ftok(path string, proj int) (uint32, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, &os.PathError{Op: "ftok: stat", Path: path, Err: err}
	}
	return ftok(st.Dev, st.Ino, proj), nil
}

// ftok is the arithmetic of Ftok. st_dev is the whole dev_t (major and minor encoded together),
// of which glibc keeps the low 8 bits, as it does here.
func ftok(dev, ino uint64, proj int) uint32 {
	return uint32(proj&0xff)<<24 | uint32(dev&0xff)<<16 | uint32(ino&0xffff)
}

// CheckProj accepts a project id from 1 to 255. ftok keeps only the low 8 bits, so 256 would
// silently mean the same key as 0; and 0 has historically been undefined for ftok.
func CheckProj(proj int) error {
	if proj < 1 || proj > 255 {
		return fmt.Errorf("-proj %d: want 1 to 255 (ftok keeps only the low 8 bits; 'M' is 77)", proj)
	}
	return nil
}

// ParseKey parses a -key value: decimal, or hexadecimal after 0x as ipcs shows keys. A key is
// 32 bits. 0 is refused: it is IPC_PRIVATE, which makes a new segment that no other process can
// find by its key.
func ParseKey(s string) (uint32, error) {
	base, digits := 10, s
	if rest, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		base, digits = 16, rest
	}
	k, err := strconv.ParseUint(digits, base, 32)
	if err != nil {
		return 0, fmt.Errorf("-key %q: want a number from 1 to 4294967295, in decimal or in hex with 0x (as ipcs -m shows keys)", s)
	}
	if k == unix.IPC_PRIVATE {
		return 0, fmt.Errorf("-key %s: key 0 is IPC_PRIVATE, which makes a new segment that no other process can find by its key (pick another key)", s)
	}
	return uint32(k), nil
}

// ShmKey converts a key to the int that unix.SysvShmGet passes to shmget(2), whose key_t is a
// signed 32-bit int in C: keys from 0x80000000 up are negative there.
func ShmKey(key uint32) int {
	return int(int32(key))
}

// Put writes msg at offset 0 of the segment seg, followed by a NUL byte. It refuses, and leaves
// seg unchanged, a message that does not fit together with its NUL (it never truncates), or that
// holds a NUL itself (a C reader would stop there).
func Put(seg, msg []byte) error {
	if i := bytes.IndexByte(msg, 0); i >= 0 {
		return fmt.Errorf("the message holds a NUL byte at offset %d, where a C reader would stop", i)
	}
	if len(msg)+1 > len(seg) {
		return fmt.Errorf("the message is %d bytes; with its NUL it needs %d, but the segment is %d bytes", len(msg), len(msg)+1, len(seg))
	}
	copy(seg, msg)
	seg[len(msg)] = 0
	return nil
}

// Get returns a copy of the message at offset 0 of the segment seg: its bytes up to the first
// NUL. The copy stays valid after the segment is detached; seg itself does not. A segment with
// no NUL anywhere holds no message (a C reader would run off its end), and Get refuses it.
func Get(seg []byte) ([]byte, error) {
	n := bytes.IndexByte(seg, 0)
	if n < 0 {
		return nil, fmt.Errorf("no NUL byte in its %d bytes, so it holds no message", len(seg))
	}
	return bytes.Clone(seg[:n]), nil
}

// CheckOwner refuses a segment that is not ours alone, given what shmctl(IPC_STAT) says of it
// (ds) and our effective uid; key and id name the segment in the error. A key is only a number,
// which anyone may pick, so a segment found at our key may be anyone's. It is ours alone if:
//
//   - its owner (shm_perm.uid) is us. Not enough by itself: the owner is whoever its creator or
//     its last owner set with shmctl(IPC_SET);
//   - its creator (shm_perm.cuid) is us. The creator is set by shmget and never changes, and it
//     keeps its rights for the segment's whole life, whoever owns it: the kernel grants the
//     owner's bits of the mode to the creator too, and lets it IPC_SET the owner and the mode.
//     Another user can make a segment at our key, mode 0600 or 0666, put a message in it, hand
//     it over to us (IPC_SET uid=us), and go on reading what we write or forging what we read;
//   - its mode gives nothing to group or others (mode & 0o077 == 0). A wider mode lets other
//     users attach the segment, with the same effect, and a process once attached keeps its
//     access even after the mode is narrowed.
//
// A segment that passes was made by a process running as us, and no other user (but root) may
// attach it or change it.
func CheckOwner(key uint32, id int, ds *unix.SysvShmDesc, euid int) error {
	perm := &ds.Perm
	switch {
	case int(perm.Uid) != euid:
		return fmt.Errorf("segment key 0x%08x (shmid %d) belongs to uid %d, not to you (uid %d); refusing to use it (pass another -key or -path/-proj)", key, id, perm.Uid, euid)
	case int(perm.Cuid) != euid:
		return fmt.Errorf("segment key 0x%08x (shmid %d) was created by uid %d, not by you (uid %d), and its creator may change its owner and mode at any time; refusing to use it (pass another -key or -path/-proj)", key, id, perm.Cuid, euid)
	case perm.Mode&0o077 != 0:
		return fmt.Errorf("segment key 0x%08x (shmid %d) has mode %04o, which lets group or others attach it; refusing to use it (remove it: ipcrm -m %d, or pass another -key or -path/-proj)", key, id, perm.Mode&0o777, id)
	}
	return nil
}
