package filelock_test

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Example is the writer and the reader in one process. Each opens the file itself, so each has
// its own open file description, the thing a flock(2) lock belongs to, just as two processes
// would: the reader's lock is refused while the writer holds its exclusive lock, and granted
// once the writer lets go. The programs do the same, each in its own process, and the reader
// waits in flock instead of giving up.
func Example() {
	// The shared file, in a fresh directory (the programs': $TMPDIR, checked with fstat), 0600.
	dir, err := os.MkdirTemp("", "filelock-example")
	check(err)
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "ipc-file-lock.txt")
	w, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	check(err)
	defer unix.Close(w) // the last close of an open file releases its lock too

	// Writer: lock first, then empty the file and write (O_TRUNC would empty it unlocked).
	check(unix.Flock(w, unix.LOCK_EX))
	check(unix.Ftruncate(w, 0))
	_, err = unix.Pwrite(w, []byte("hello, reader\n"), 0)
	check(err)

	// Reader: its own open of the file. LOCK_NB asks without waiting: the writer holds it.
	r, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	check(err)
	defer unix.Close(r)
	if err := unix.Flock(r, unix.LOCK_SH|unix.LOCK_NB); err == unix.EWOULDBLOCK {
		fmt.Println("reader: EWOULDBLOCK, the writer holds the lock")
	}
	// The writer lets go; the reader gets its shared lock and reads the whole message.
	check(unix.Flock(w, unix.LOCK_UN))
	check(unix.Flock(r, unix.LOCK_SH))
	buf := make([]byte, 100)
	n, err := unix.Read(r, buf)
	check(err)
	fmt.Printf("reader: %s", buf[:n])
	// Now the reader's shared lock keeps a writer out, until the reader lets go.
	if err := unix.Flock(w, unix.LOCK_EX|unix.LOCK_NB); err == unix.EWOULDBLOCK {
		fmt.Println("writer: EWOULDBLOCK, a reader holds the lock")
	}
	check(unix.Flock(r, unix.LOCK_UN))
	// Output:
	// reader: EWOULDBLOCK, the writer holds the lock
	// reader: hello, reader
	// writer: EWOULDBLOCK, a reader holds the lock
}

// check panics on an error. Unlike log.Fatal, a panic runs the deferred calls first, so the
// descriptors are closed (and their locks released) and the directory removed even when a
// step fails.
func check(err error) {
	if err != nil {
		panic(err)
	}
}
