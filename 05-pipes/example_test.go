package pipes_test

import (
	"fmt"
	"os"
	"os/exec"

	"golang.org/x/sys/unix"
)

// Example is what the parent does, and what a shell does for `writer | reader`: make a pipe,
// start a child with the read end as its stdin, write lines into the write end, close it, and
// wait for the child, which reads to end of file. The child here is a shell running cat; the
// parent program starts the reader, and catches signals and EPIPE on the way.
func Example() {
	// The pipe: fds[0] is its read end, fds[1] its write end. O_CLOEXEC closes both in every
	// program this process execs, so that no child holds an end it does not know about.
	fds := make([]int, 2)
	check(unix.Pipe2(fds, unix.O_CLOEXEC))
	r, w := os.NewFile(uintptr(fds[0]), "pipe-r"), os.NewFile(uintptr(fds[1]), "pipe-w")

	// The child: os/exec forks, dup2s the read end onto the child's fd 0, and execs.
	child := exec.Command("sh", "-c", `cat; echo "child: end of file"`)
	child.Stdin, child.Stdout = r, os.Stdout
	check(child.Start())
	// Our copy of the read end: close it, so that a write fails with EPIPE once the child is gone.
	check(r.Close())

	// Each line one write(2) of at most PIPE_BUF bytes: atomic, never mixed with another writer's.
	for _, line := range []string{"a", "b", "c"} {
		_, err := w.WriteString(line + "\n")
		check(err)
	}
	// Close the last write end: once the pipe is empty, the child's read returns 0, end of file.
	// (Keep it open, and cat waits for more, while we wait for cat: for ever.)
	check(w.Close())

	// Wait for the child (waitpid(2)), so that it leaves no zombie.
	check(child.Wait())
	fmt.Println("parent: child exited with status", child.ProcessState.ExitCode())
	// Output:
	// a
	// b
	// c
	// child: end of file
	// parent: child exited with status 0
}

// check panics on an error, which fails the example. (A pipe has no name to remove: the kernel
// frees it when the last descriptor of it closes, at the latest when the process exits.)
func check(err error) {
	if err != nil {
		panic(err)
	}
}
