package shmsysv_test

import (
	"bytes"
	"fmt"
	"os"

	shmsysv "example.com/ipc/02-shm-sysv"
	"golang.org/x/sys/unix"
)

// Example is the life of a segment in one process: the writer's half creates it, writes a
// message and detaches, leaving it with nobody attached; the reader's half finds it again by its
// key, checks that it is ours alone and reads the message. The programs do the same, each half
// in its own process (and the reader, not a defer, removes the segment).
func Example() {
	// Both sides derive the key from a file they agree on: ftok(3). (A fresh directory here.)
	dir, err := os.MkdirTemp("", "shmsysv-example")
	check(err)
	defer os.RemoveAll(dir)
	key, err := shmsysv.Ftok(dir, 'M')
	check(err)

	// Writer: create the segment; IPC_EXCL fails if the key is taken, 0600 is for us alone.
	id, err := unix.SysvShmGet(shmsysv.ShmKey(key), 4096, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
	check(err)
	// Remove it however this ends: nothing else would, until reboot.
	defer unix.SysvShmCtl(id, unix.IPC_RMID, nil)
	// Map it, leave the message and a NUL (where a C reader stops), unmap it.
	mem, err := unix.SysvShmAttach(id, 0, 0)
	check(err)
	copy(mem, "hello, shared memory\x00")
	check(unix.SysvShmDetach(mem))

	// Reader: find the segment by its key (size 0: any size; no IPC_CREAT: never make one).
	id, err = unix.SysvShmGet(shmsysv.ShmKey(key), 0, 0)
	check(err)
	// Anyone may pick a key: use the segment only if its uid, cuid and mode say it is ours.
	var ds unix.SysvShmDesc
	_, err = unix.SysvShmCtl(id, unix.IPC_STAT, &ds)
	check(err)
	check(shmsysv.CheckOwner(key, id, &ds, os.Geteuid()))
	fmt.Printf("%d bytes, mode %04o, %d attached\n", ds.Segsz, ds.Perm.Mode&0o777, ds.Nattch)
	// Map it read-only, and copy the message out (string does) before unmapping it.
	mem, err = unix.SysvShmAttach(id, 0, unix.SHM_RDONLY)
	check(err)
	msg := string(mem[:bytes.IndexByte(mem, 0)])
	check(unix.SysvShmDetach(mem))
	fmt.Println(msg)
	// Output:
	// 4096 bytes, mode 0600, 0 attached
	// hello, shared memory
}

// check panics on an error. Unlike log.Fatal, a panic runs the deferred calls first, so the
// segment is removed even when a step fails.
func check(err error) {
	if err != nil {
		panic(err)
	}
}
