// Package msgqueue is what the programs of this example agree on, like the shared header of a C
// example. Two pairs share it: sender and receiver on System V message queues (msgget(2),
// msgsnd(2), msgrcv(2), msgctl(2); listed by ipcs -q), and psender and preceiver on POSIX message
// queues (mq_open(3) and its system calls; listed in /dev/mqueue). This file holds how each pair
// names its queue: the System V key, from ftok(3) or a number, and the POSIX pair's default name;
// sysv.go and posix.go hold the calls, which golang.org/x/sys/unix lacks, and what the programs
// check before they use a queue; exit.go is how every program parses its flags and ends on a
// signal, the same in every example of the cookbook.
package msgqueue

import (
	"flag"
	"fmt"
	"hash/fnv"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// DefaultPath is the file that ftok turns into the default key: the temporary directory. ftok
// needs a file that exists before any program runs and keeps its inode for as long as the queue
// lives; the temporary directory does both, so no program creates or removes a file just to
// name the queue. (A file that is removed and created again gets a new inode, and with it a new
// key: the queue made under the old key can no longer be found by path.)
var DefaultPath = os.TempDir()

// DefaultProj is the default ftok project id, 'Q' (81), for queues. 02-shm-sysv uses 'M' and
// 04-semaphore-mutex 'S' and 'C', so that the examples, run with no flags, do not meet at one
// key (a key names a segment, a set and a queue separately anyway). Only its low 8 bits count.
const DefaultProj = 'Q'

// Mode is the permission of a queue that a program creates: only its owner may use it. System V
// IPC ignores the umask: the mode given to msgget is the mode the queue gets. (mq_open applies
// the umask, which can only take bits away from 0600.)
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
		return fmt.Errorf("-proj %d: want 1 to 255 (ftok keeps only the low 8 bits; 'Q' is 81)", proj)
	}
	return nil
}

// ParseKey parses a -key value: decimal, or hexadecimal after 0x as ipcs shows keys. A key is
// 32 bits. 0 is refused: it is IPC_PRIVATE, which makes a new queue that no other process can find
// by its key.
func ParseKey(s string) (uint32, error) {
	base, digits := 10, s
	if rest, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		base, digits = 16, rest
	}
	k, err := strconv.ParseUint(digits, base, 32)
	if err != nil {
		return 0, fmt.Errorf("-key %q: want a number from 1 to 4294967295, in decimal or in hex with 0x (as ipcs -q shows keys)", s)
	}
	if k == unix.IPC_PRIVATE {
		return 0, fmt.Errorf("-key %s: key 0 is IPC_PRIVATE, which makes a new queue that no other process can find by its key (pick another key)", s)
	}
	return uint32(k), nil
}

// QueueKey converts a key to the int that Msgget passes to msgget(2), whose key_t is a signed
// 32-bit int in C: keys from 0x80000000 up are negative there.
func QueueKey(key uint32) int {
	return int(int32(key))
}

// KeyFromFlags is the key that the System V programs' key flags name: -key, or else ftok of -path and
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

// DefaultName is the POSIX queue that psender and preceiver share when no -name is given.
var DefaultName = DefaultNameFor(os.TempDir())

// DefaultNameFor returns the default POSIX queue name for programs whose os.TempDir() is dir:
// "/ipc-msgqueue" for the usual /tmp. POSIX queues live in one namespace for the whole machine
// (/dev/mqueue), unlike a temporary directory, so programs run with another $TMPDIR (as the
// tests are) get a name of their own, with a hash of that directory appended. The directory is
// cleaned first, so that TMPDIR=/tmp/ in one terminal and no TMPDIR in the other name the same
// queue.
func DefaultNameFor(dir string) string {
	dir = filepath.Clean(dir)
	if dir == "/tmp" {
		return "/ipc-msgqueue"
	}
	h := fnv.New32a()
	h.Write([]byte(dir))
	return fmt.Sprintf("/ipc-msgqueue-%08x", h.Sum32())
}
