package shmposix_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	shmposix "example.com/ipc/03-shm-posix"
	"golang.org/x/sys/unix"
)

// spinPeer is the command spinpeer of the scripts (publish_order.txtar), run from the test
// binary by testscript.Main:
//
//	spinpeer ROUNDS NAME MESSAGEFILE
//
// It checks the one ordering this example exists to teach: the writer stores Full only after
// the message and its length. Each round it creates the object NAME, maps it, and spins on the
// state word with atomic loads, never sleeping, in a goroutine on a thread of its own; once
// that goroutine spins, it runs `writer -name NAME -size N <MESSAGEFILE`. The moment the
// spinner sees Full, it reads the length and the message, as the reader would, and compares
// them with MESSAGEFILE. A writer that publishes first and copies after is caught in the act,
// usually in the first round: the spinner sees Full with a length of 0, or a part of the
// message.
// The reader alone cannot show this: it sleeps in FUTEX_WAIT, and the writer wakes it only
// after the copy. spinpeer removes the object after each round, and exits 1 at the first bad
// round, saying what it saw.
func spinPeer() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: spinpeer ROUNDS NAME MESSAGEFILE")
		os.Exit(2)
	}
	rounds, err := strconv.Atoi(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "spinpeer:", err)
		os.Exit(2)
	}
	want, err := os.ReadFile(os.Args[3])
	if err != nil {
		fmt.Fprintln(os.Stderr, "spinpeer:", err)
		os.Exit(2)
	}
	for i := 1; i <= rounds; i++ {
		if err := spinRound(os.Args[2], os.Args[3], want); err != nil {
			fmt.Fprintf(os.Stderr, "spinpeer: round %d: %v\n", i, err)
			os.Exit(1)
		}
	}
	fmt.Printf("%d rounds: every Full came with the whole message (%d bytes)\n", rounds, len(want))
}

// spinRound is one round of spinPeer.
func spinRound(name, file string, want []byte) error {
	path, err := shmposix.Path(name)
	if err != nil {
		return err
	}
	fd, err := shmposix.ShmOpen(path, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL, shmposix.Mode)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	defer unix.Unlink(path)
	size := shmposix.HeaderSize + len(want)
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		return err
	}
	mem, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return err
	}
	defer unix.Munmap(mem)
	h := shmposix.HeaderOf(mem)

	spinning := make(chan struct{})
	seen := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		close(spinning)
		start := time.Now()
		for i := 0; ; i++ {
			s := atomic.LoadUint32(&h.State)
			if s == shmposix.Full {
				break
			}
			if s != shmposix.Empty && s != shmposix.Writing {
				seen <- fmt.Errorf("state %d", s)
				return
			}
			if i%(1<<16) == 0 && time.Since(start) > 10*time.Second {
				seen <- fmt.Errorf("no Full after 10 s")
				return
			}
		}
		// Full: what the reader would read now, at once.
		n := int(h.Len)
		switch {
		case n != len(want):
			seen <- fmt.Errorf("saw Full with a length of %d, want %d: Full was stored before the length", n, len(want))
		case !bytes.Equal(mem[shmposix.HeaderSize:shmposix.HeaderSize+n], want):
			seen <- fmt.Errorf("saw Full with a message that differs from the one written: Full was stored before the copy")
		default:
			seen <- nil
		}
	}()
	<-spinning

	in, err := os.Open(file)
	if err != nil {
		return err
	}
	defer in.Close()
	var stderr bytes.Buffer
	w := exec.Command("writer", "-name", name, "-size", strconv.Itoa(len(want)))
	w.Stdin, w.Stderr = in, &stderr
	if err := w.Run(); err != nil {
		return fmt.Errorf("writer: %v: %s", err, stderr.Bytes())
	}
	return <-seen
}
