package shmposix_test

import (
	"fmt"
	"os"
	"sync/atomic"

	shmposix "example.com/ipc/03-shm-posix"
	"golang.org/x/sys/unix"
)

// Example is the life of an object in one process, with two mappings of it for the two
// programs: the reader's half, in a goroutine, sleeps in FUTEX_WAIT on the state word of its
// mapping; the writer's half writes the message through the other mapping, publishes it with an
// atomic store and wakes the reader with FUTEX_WAKE. The programs do the same, each half in its
// own process (and the reader, not a defer, removes the object).
func Example() {
	// shm_open(3) is open(2) in /dev/shm: a name of our own, no symlink followed, for us alone.
	path := fmt.Sprintf("/dev/shm/shmposix-example-%d", os.Getpid())
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	check(err)
	// shm_unlink(3) is unlink(2). Remove the name however this ends: nothing else would.
	defer unix.Unlink(path)
	// Size it: the header and room for the message, all zeros, so the state starts Empty.
	size := shmposix.HeaderSize + 64
	check(unix.Ftruncate(fd, int64(size)))

	// Reader: map it shared; sleep while it is Empty (FUTEX_WAIT returns at once if it is not).
	rmem, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	check(err)
	got := make(chan string)
	go func() {
		r := shmposix.HeaderOf(rmem)
		for atomic.LoadUint32(&r.State) != shmposix.Full {
			shmposix.Futex(&r.State, shmposix.FUTEX_WAIT, shmposix.Empty, nil)
		}
		got <- string(rmem[shmposix.HeaderSize:][:r.Len]) // Full: Len and the bytes are complete
	}()

	// Writer: a second mapping of the object, at another address, as in another process.
	wmem, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	check(err)
	check(unix.Close(fd)) // the mappings keep the object; the descriptor is no longer needed
	w := shmposix.HeaderOf(wmem)
	// Message and length first, plain stores; then publish: whoever loads Full sees them.
	w.Len = uint32(copy(wmem[shmposix.HeaderSize:], "hello, reader"))
	atomic.StoreUint32(&w.State, shmposix.Full)
	// Wake the reader: the shared FUTEX_WAKE finds sleepers by the object's page, not address.
	_, err = shmposix.Futex(&w.State, shmposix.FUTEX_WAKE, 1, nil)
	check(err)
	fmt.Println(<-got) // the reader's copy, made after it saw Full
	check(unix.Munmap(wmem))
	check(unix.Munmap(rmem))
	// Output:
	// hello, reader
}

// check panics on an error. Unlike log.Fatal, a panic runs the deferred calls first, so the
// object is removed even when a step fails.
func check(err error) {
	if err != nil {
		panic(err)
	}
}
