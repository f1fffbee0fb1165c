// Parent does what the shell does for "writer | reader", without a shell: it creates a pipe,
// starts the reader program as a child process with the read end of the pipe as the child's
// standard input, writes lines into the write end, closes it so that the child sees end of
// file, and waits for the child to exit.
//
// It demonstrates pipe2(2) with O_CLOEXEC, fcntl(2) F_GETPIPE_SZ, starting a child with a pipe
// as its stdin (os/exec: Go has no bare fork), closing the ends a process does not use, write(2)
// blocking on a full pipe, EPIPE, and waitpid(2) (cmd.Wait).
//
// Usage:
//
//	parent [-n N] [-mistake keep-read-end|keep-write-end|no-cloexec] [line ...]
//
// The lines are the arguments, or with -n the numbers 1 to N, or else the parent's standard
// input. The child is the program named "reader" in the same directory as the parent's own
// executable (os.Executable), or else the first "reader" on PATH. So build both into one
// directory, and run the parent alone, in one terminal:
//
//	go build -o "${TMPDIR:-/tmp}/pipes/" ./reader ./parent
//	"${TMPDIR:-/tmp}/pipes/parent" a b c
//
// The pipe is created by the parent and vanishes when the last process holding an end of it
// closes it; there is nothing to remove. -mistake makes, on purpose, one of the classic
// mistakes that leave a pipe user waiting for ever (Ctrl-C ends the wait).
//
// What the parent owns is its child. On Ctrl-C or SIGTERM it sends the reader SIGTERM (a Ctrl-C
// at the terminal has reached the reader already, in the same process group), waits for it to
// exit (and kills it if it has not within five seconds), says how it ended, and then dies of its
// own signal (130 or 143). Started with SIGINT ignored (a background job, parent &), both it and
// the reader keep ignoring it. And it catches SIGPIPE, which the writer and the reader leave to
// kill them: a write to a closed stderr (parent 2>&1 | head -1) must not kill the parent before it
// has waited for its child.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	pipes "example.com/ipc/05-pipes"
	"golang.org/x/sys/unix"
)

// The mistakes -mistake can make.
const (
	keepReadEnd  = "keep-read-end"  // the parent keeps its copy of the read end open
	keepWriteEnd = "keep-write-end" // the parent never closes the write end
	noCloexec    = "no-cloexec"     // the pipe is made without O_CLOEXEC: the child inherits both ends
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("parent: ")
	n := flag.Int("n", 0, "write the numbers 1 to `N`, one a line, instead of the arguments or standard input")
	mistake := flag.String("mistake", "", "make a classic `mistake` on purpose: "+keepReadEnd+", "+keepWriteEnd+" or "+noCloexec+" (default none)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `Usage: parent [-n N] [-mistake keep-read-end|keep-write-end|no-cloexec] [line ...]

Parent creates a pipe, starts the reader program (found next to the parent's executable, or else
on PATH) with the read end as its standard input, writes the lines into the write end (each
argument as a line, or with -n the numbers 1 to N, or else standard input), closes it so that the
reader sees EOF, and waits for the reader to exit.

Example:
  go build -o "${TMPDIR:-/tmp}/pipes/" ./reader ./parent && "${TMPDIR:-/tmp}/pipes/parent" a b c

Flags:
`)
		flag.PrintDefaults()
	}
	pipes.ParseFlags("parent")
	if *n < 0 {
		log.Printf("-n %d: want zero or more", *n)
		os.Exit(2)
	}
	count := -1 // no -n: the arguments, or else standard input
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "n" {
			count = *n
		}
	})
	if count >= 0 && flag.NArg() > 0 {
		log.Printf("-n %d and the line %q: give -n or lines, not both (see parent -h)", count, flag.Arg(0))
		os.Exit(2)
	}
	switch *mistake {
	case "", keepReadEnd, keepWriteEnd, noCloexec:
	default:
		log.Printf("-mistake %q: want %s, %s or %s", *mistake, keepReadEnd, keepWriteEnd, noCloexec)
		os.Exit(2)
	}
	// Catch Ctrl-C and SIGTERM (see exit.go; never stopped, see the reader). Ctrl-C reaches the
	// whole process group, the reader included; SIGTERM reaches only us, and we pass it on.
	ctx := pipes.CatchSignals()
	// Catch SIGPIPE too, unlike the writer and the reader, since the parent has a child to wait
	// for: a write to a closed stderr then fails with EPIPE, which log ignores, instead of
	// killing us and leaving the reader to run on, orphaned, with no one to report how it ended.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	err := run(ctx, count, flag.Args(), *mistake)
	pipes.Exit(ctx, err)
}

func run(ctx context.Context, n int, args []string, mistake string) error {
	// 1. Find the reader before making anything.
	readerPath, err := findReader()
	if err != nil {
		return err
	}

	// 2. Make the pipe: fds[0] is the read end, fds[1] the write end. O_CLOEXEC marks both to
	// be closed in any program we exec, so that the reader gets the read end only as its stdin,
	// where we put it, and no copy of the write end at all.
	flags := unix.O_CLOEXEC
	if mistake == noCloexec {
		flags = 0
	}
	var fds [2]int
	if err := unix.Pipe2(fds[:], flags); err != nil {
		return os.NewSyscallError("pipe2", err)
	}
	r := os.NewFile(uintptr(fds[0]), "pipe read end")
	w := os.NewFile(uintptr(fds[1]), "pipe write end")
	defer r.Close()
	defer w.Close()
	size, err := unix.FcntlInt(uintptr(fds[1]), unix.F_GETPIPE_SZ, 0)
	if err != nil {
		return os.NewSyscallError("fcntl F_GETPIPE_SZ", err)
	}
	log.Printf("pipe2: read end fd %d, write end fd %d, room for %d bytes (F_GETPIPE_SZ)", fds[0], fds[1], size)

	// 3. Start the reader with the read end as its stdin. os/exec forks and, in the child,
	// dup2()s the *os.File we give as Stdin onto fd 0, then execs the reader. (Give it anything
	// but an *os.File and os/exec makes a second pipe, and a goroutine to copy into it.)
	cmd := exec.Command(readerPath)
	cmd.Stdin = r
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	log.Printf("started %s (pid %d) with the read end as its stdin", readerPath, cmd.Process.Pid)
	var waitErr error
	reaped := make(chan struct{}) // closed once cmd.Wait has returned waitErr
	go func() { waitErr = cmd.Wait(); close(reaped) }()

	// 4. Close our copy of the read end: the child has its own. While any process holds a read
	// end, a writer never gets EPIPE; if the reader died, our writes would fill the pipe and
	// then block for ever, waiting for a reader that is ourselves.
	if mistake == keepReadEnd {
		log.Print("NOT closing our copy of the read end (-mistake keep-read-end)")
	} else {
		r.Close()
	}

	// 5. Write the lines, in a goroutine so that Ctrl-C or SIGTERM can end a write blocked on a
	// full pipe (the kernel restarts it after a signal).
	if n < 0 && len(args) == 0 {
		if _, err := unix.IoctlGetTermios(0, unix.TCGETS); err == nil {
			log.Print("reading lines from standard input (end with Ctrl-D)...")
		}
	}
	var count pipes.Count
	wrote := make(chan error, 1)
	go func() { wrote <- write(w, n, args, &count) }()
	var writeErr error
	select {
	case writeErr = <-wrote:
	case <-ctx.Done():
		log.Printf("interrupted while writing, after %v", &count)
		stopReader(cmd, reaped)
		return nil // and Exit dies of the signal
	}

	// 6. Close the write end. The reader sees EOF once no process holds a write end: this was
	// the last one, unless a copy leaked into the child (-mistake no-cloexec). Close it after
	// a failed write too: the reader, if it is still there, must not wait for more.
	switch {
	case mistake == keepWriteEnd && writeErr == nil:
		log.Printf("wrote %v; NOT closing the write end (-mistake keep-write-end)", &count)
	case writeErr == nil:
		w.Close()
		log.Printf("wrote %v and closed the write end", &count)
	default:
		w.Close()
	}

	// 7. Wait for the reader to exit, and collect its exit status (waitpid(2)), so that it
	// does not linger as a zombie.
	if writeErr == nil {
		log.Printf("waiting for the reader (pid %d) to exit...", cmd.Process.Pid)
	}
	select {
	case <-reaped:
		// A reader killed by SIGINT or SIGTERM was most likely hit by the same Ctrl-C as we were
		// (the terminal signals the whole process group), or by the same kill of the group. Our
		// own signal may still be on its way: Go hands it to the program through a goroutine, and
		// the wait may end first. Give it a moment, so that we end as interrupted (130), not as
		// failed (1); it was so 3 times out of 100 without this.
		ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if ws.Signaled() && (ws.Signal() == syscall.SIGINT || ws.Signal() == syscall.SIGTERM) {
			select {
			case <-ctx.Done():
			case <-time.After(250 * time.Millisecond):
			}
		}
	case <-ctx.Done():
	}
	if ctx.Err() != nil {
		if writeErr == nil {
			log.Print("interrupted while waiting for the reader")
		} else {
			log.Printf("interrupted while writing, after %v", &count)
		}
		stopReader(cmd, reaped)
		return nil // and Exit dies of the signal
	}
	if errors.Is(writeErr, syscall.EPIPE) {
		// No read end is open any more: the reader has gone.
		return fmt.Errorf("write to the pipe: broken pipe (EPIPE) after %v: the reader exited before reading everything (%v)", &count, cmd.ProcessState)
	}
	if writeErr != nil {
		return writeErr
	}
	if waitErr != nil {
		return fmt.Errorf("the reader failed: %v", cmd.ProcessState)
	}
	log.Print("the reader exited with status 0")
	return nil
}

// write writes the lines into the pipe, each chunk of whole lines with one write(2).
func write(w *os.File, n int, args []string, count *pipes.Count) error {
	full := false
	for chunk, err := range pipes.Chunks(n, args, os.Stdin) {
		if err != nil {
			return err // "read /dev/stdin: is a directory"
		}
		// A write blocks while the pipe is full. Say so the first time: poll(2) with a timeout of
		// 0 tells, without waiting, whether there is room (POLLOUT); ioctl FIONREAD says how many
		// bytes wait unread. (Chunks of almost 4096 bytes each take a page of their own, so a
		// full pipe may hold a little less than its size.)
		if !full {
			pfd := []unix.PollFd{{Fd: int32(w.Fd()), Events: unix.POLLOUT}}
			if k, err := unix.Poll(pfd, 0); err == nil && k == 0 {
				unread, _ := unix.IoctlGetInt(int(w.Fd()), unix.TIOCINQ) // FIONREAD
				log.Printf("the pipe is full (%d bytes unread); waiting for the reader to read...", unread)
				full = true
			}
		}
		// The write end is not fd 1 or 2, so a write after the reader has gone does not kill
		// us with SIGPIPE (Go ignores it for other descriptors): it fails with EPIPE.
		if _, err := w.Write(chunk); err != nil {
			return err
		}
		count.Add(chunk)
	}
	return nil
}

// stopReader passes SIGTERM on to the reader, unless it has exited already, and waits for it
// to exit, so that no child is left running. After Ctrl-C the reader has had SIGINT already,
// from the terminal; one more signal does no harm. A reader that does not exit within five
// seconds is killed.
func stopReader(cmd *exec.Cmd, reaped <-chan struct{}) {
	select {
	case <-reaped:
	default:
		log.Printf("sending SIGTERM to the reader (pid %d) and waiting for it to exit...", cmd.Process.Pid)
		cmd.Process.Signal(syscall.SIGTERM) // fails harmlessly if it has exited since
		select {
		case <-reaped:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-reaped
		}
	}
	log.Printf("the reader has exited (%v)", cmd.ProcessState)
}

// findReader returns the path of the reader program: "reader" in the directory of our own
// executable (go build -o DIR/ ./reader ./parent puts them together), or else on PATH.
func findReader() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	next := filepath.Join(filepath.Dir(exe), "reader")
	if st, err := os.Stat(next); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
		return next, nil
	}
	path, err := exec.LookPath("reader")
	if err != nil {
		return "", fmt.Errorf("cannot find the reader program: not at %s, nor on PATH (build both into one directory: go build -o \"${TMPDIR:-/tmp}/pipes/\" ./reader ./parent)", next)
	}
	return path, nil
}
