// Package semmutex is what the programs of this example agree on, like the shared header of a C
// example: how the key of the semaphore set is chosen, the set's mode, which set found at the
// key is ours to use (CheckOwner), and the System V semaphore calls that golang.org/x/sys/unix
// lacks (Semget, Semop, Semtimedop, Semctl), with the kernel's struct layouts (Sembuf, SemidDs).
// exit.go is how the programs parse their flags and end on a signal, the same in every example
// of the cookbook.
//
// counter.go is what the counter and its workers agree on: the counter's segment (struct
// counter), its set, and the futex mutex (FutexLock, FutexUnlock, FutexOwner).
//
// SemidDs is defined for linux/amd64 and linux/arm64 only (the layout differs between them, see
// semid_amd64.go); on 32-bit systems the semaphore calls go through other system calls.
//
// A System V semaphore set (semget, semop, semctl; listed by ipcs -s) is kernel-persistent, as
// a System V segment is: it stays until someone removes it with semctl(IPC_RMID), or the machine
// reboots. Unlike a segment, it goes at once: a process blocked in semop on it wakes with EIDRM.
package semmutex

import (
	"flag"
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// DefaultPath is the file that ftok turns into the default key: the temporary directory. ftok
// needs a file that exists before any program runs and keeps its inode for as long as the set
// lives; the temporary directory does both, so no program creates or removes a file just to
// name the set. (A file that is removed and created again gets a new inode, and with it a new
// key: the set made under the old key can no longer be found by path.)
var DefaultPath = os.TempDir()

// DefaultProj is the default ftok project id, 'S' (83), for semaphores. 02-shm-sysv uses 'M', so
// that the two examples, run with no flags, do not meet at one key. Only its low 8 bits count.
const DefaultProj = 'S'

// Mode is the permission of a set (or segment) that a program creates: only its owner may use it.
// System V IPC ignores the umask: the mode given to semget is the mode the set gets.
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
		return fmt.Errorf("-proj %d: want 1 to 255 (ftok keeps only the low 8 bits; 'S' is 83)", proj)
	}
	return nil
}

// ParseKey parses a -key value: decimal, or hexadecimal after 0x as ipcs shows keys. A key is
// 32 bits. 0 is refused: it is IPC_PRIVATE, which makes a new set that no other process can find
// by its key.
func ParseKey(s string) (uint32, error) {
	base, digits := 10, s
	if rest, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		base, digits = 16, rest
	}
	k, err := strconv.ParseUint(digits, base, 32)
	if err != nil {
		return 0, fmt.Errorf("-key %q: want a number from 1 to 4294967295, in decimal or in hex with 0x (as ipcs -s shows keys)", s)
	}
	if k == unix.IPC_PRIVATE {
		return 0, fmt.Errorf("-key %s: key 0 is IPC_PRIVATE, which makes a new set that no other process can find by its key (pick another key)", s)
	}
	return uint32(k), nil
}

// SemKey converts a key to the int that Semget passes to semget(2) (and unix.SysvShmGet to
// shmget(2)), whose key_t is a signed 32-bit int in C: keys from 0x80000000 up are negative there.
func SemKey(key uint32) int {
	return int(int32(key))
}

// CheckOwner refuses a semaphore set that is not ours alone, given what semctl(IPC_STAT) says of
// it (ds) and our effective uid; key and id name the set in the error. A key is only a number,
// which anyone may pick, so a set found at our key may be anyone's. It is ours alone if:
//
//   - its owner (sem_perm.uid) is us. Not enough by itself: the owner is whoever its creator or
//     its last owner set with semctl(IPC_SET);
//   - its creator (sem_perm.cuid) is us. The creator is set by semget and never changes, and it
//     keeps its rights for the set's whole life, whoever owns it: the kernel grants the owner's
//     bits of the mode to the creator too, and lets it IPC_SET the owner and the mode. Another
//     user can make a set at our key, hand it over to us (IPC_SET uid=us), and go on taking our
//     mutex or posting items that were never produced;
//   - its mode gives nothing to group or others (mode & 0o077 == 0). A wider mode lets other
//     users operate on the set, with the same effect.
//
// A set that passes was made by a process running as us, and no other user (but root) may
// operate on it or change it.
func CheckOwner(key uint32, id int, ds *SemidDs, euid int) error {
	perm := &ds.Perm
	switch {
	case int(perm.Uid) != euid:
		return fmt.Errorf("semaphore set key 0x%08x (semid %d) belongs to uid %d, not to you (uid %d); refusing to use it (pass another -key or -path/-proj)", key, id, perm.Uid, euid)
	case int(perm.Cuid) != euid:
		return fmt.Errorf("semaphore set key 0x%08x (semid %d) was created by uid %d, not by you (uid %d), and its creator may change its owner and mode at any time; refusing to use it (pass another -key or -path/-proj)", key, id, perm.Cuid, euid)
	case perm.Mode&0o077 != 0:
		return fmt.Errorf("semaphore set key 0x%08x (semid %d) has mode %04o, which lets group or others use it; refusing to use it (remove it: ipcrm -s %d, or pass another -key or -path/-proj)", key, id, perm.Mode&0o777, id)
	}
	return nil
}

// KeyFromFlags is the key that both programs' key flags name: -key, or else ftok of -path and
// -proj (their defaults give DefaultPath and DefaultProj). It is called from main after
// ParseFlags, and exits 2 on a usage error, 1 if ftok fails.
func KeyFromFlags(keyFlag, path string, proj int) uint32 {
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["key"] && (set["path"] || set["proj"]) {
		log.Print("-key and -path/-proj are two ways to give the key: pass one or the other")
		os.Exit(2)
	}
	if set["key"] {
		key, err := ParseKey(keyFlag)
		if err != nil {
			log.Print(err)
			os.Exit(2)
		}
		return key
	}
	if err := CheckProj(proj); err != nil {
		log.Print(err)
		os.Exit(2)
	}
	key, err := Ftok(path, proj)
	if err != nil {
		log.Printf("%v (ftok needs a file that exists: create it, or pass another -path, or -key)", err)
		os.Exit(1)
	}
	return key
}

// DefaultKeyText describes the default key, for -h.
func DefaultKeyText() string {
	key, err := Ftok(DefaultPath, DefaultProj)
	if err != nil {
		return fmt.Sprintf("ftok(%q, %d) fails: %v", DefaultPath, DefaultProj, err)
	}
	return fmt.Sprintf("ftok(%q, %d) = 0x%08x", DefaultPath, DefaultProj, key)
}
