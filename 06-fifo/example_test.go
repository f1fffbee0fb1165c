package fifo_test

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Example is the pair in one process and a child: this process makes the FIFO and reads it, as
// the reader does; a shell writes two lines into it, as the writer or `echo hi > PATH` does.
// The programs do the same, and more carefully: they check what they find at the path, and a
// signal ends every wait.
func Example() {
	// A FIFO is a name in the file system; ours is unique (the programs use $TMPDIR/ipc-fifo).
	path := filepath.Join(os.TempDir(), fmt.Sprintf("fifo-example-%d", os.Getpid()))

	// Make it: a pipe with a name, mode 0600 for us alone. Whoever makes it removes it.
	check(unix.Mkfifo(path, 0o600))
	defer unix.Unlink(path)

	// A writer that must not wait: O_NONBLOCK fails with ENXIO while no reader has it open.
	_, err := unix.Open(path, unix.O_WRONLY|unix.O_NONBLOCK, 0)
	fmt.Println("writer, no reader yet:", err)
	// A writer that waits: the shell's > is a plain open, which blocks until a reader comes.
	// Then each echo is one write(2) of a whole line.
	sh := exec.Command("sh", "-c", `exec >"$1"; echo hello; echo "second line"`, "sh", path)
	check(sh.Start())

	// Reader: with O_NONBLOCK, open returns at once, writer or not (a plain open would wait).
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK, 0)
	check(err)
	f := os.NewFile(uintptr(fd), path) // non-blocking: Go's poller waits in its reads
	defer f.Close()

	// Until a writer comes, read would return 0, end of file, at once: wait for one with poll.
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	_, err = unix.Poll(fds, -1)
	for err == unix.EINTR { // Go's own signals interrupt poll: retry
		_, err = unix.Poll(fds, -1)
	}
	check(err)

	// Read to end of file: read returns 0 once the pipe is empty and no writer has it open.
	lines, err := io.ReadAll(f)
	check(err)
	check(sh.Wait())
	fmt.Print(string(lines))
	// Output:
	// writer, no reader yet: no such device or address
	// hello
	// second line
}

// check panics on an error. Unlike log.Fatal, a panic runs the deferred calls first, so the
// FIFO is removed even when a step fails.
func check(err error) {
	if err != nil {
		panic(err)
	}
}
