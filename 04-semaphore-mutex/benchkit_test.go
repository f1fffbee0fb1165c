package semmutex_test

// benchkit_test.go is the frame of this module's benchmarks (bench_test.go): the same text in
// every module of the cookbook (no package is shared between modules, so each has its copy,
// and .ci/run checks that the copies are one text). The bench program at the root of the
// workspace runs these benchmarks for all the modules and prints one table.
//
//   - The peer is this test binary run again under the name benchpeer: `benchpeer NAME ARG...`,
//     NAME being one of benchPeers (bench_test.go). TestMain calls benchPeerMain first, which
//     runs the peer and exits. The peer sets up, writes "ready" on its stdout, and only then
//     does the benchmark start its timer: the peer's start-up is not measured.
//   - IPC_BENCH_PIN says where the two processes run: same (the default: both on one CPU),
//     split (each on a CPU of its own) or off (wherever the scheduler puts them). On a virtual
//     machine, waking a process on another CPU can cost more than the message itself, so
//     "same" measures the kernel's path, and is what stays stable from machine to machine.
//   - A round-trip benchmark times each round trip, and reports the median (p50-ns) and the
//     99th percentile (p99-ns) besides the mean (ns/op). A throughput benchmark sets the bytes
//     of one operation, so that go test prints MB/s (10^6 bytes a second).
//   - Every loop, the benchmark's and the peer's, calls benchYield once a message: see there
//     why Go needs it and C does not.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const (
	benchMsgSize   = 64       // bytes of the message of a round trip
	benchChunkSize = 64 << 10 // bytes of a message of a throughput benchmark
	benchPeerName  = "benchpeer"
	benchWait      = 10 * time.Second // the longest wait for a peer's line or exit
)

// benchOnly reports whether go test was told to run no tests (-run '^$', as the benchmarks'
// command says): then TestMain need not build the programs, which only the tests run.
func benchOnly() bool {
	return slices.Contains(os.Args[1:], "-test.run=^$")
}

// benchPeerMain runs this process as a benchmark's peer, and exits, if it was started as one.
func benchPeerMain() {
	if filepath.Base(os.Args[0]) != benchPeerName {
		return
	}
	fail := func(err error) {
		fmt.Fprintf(os.Stderr, "%s %s: %v\n", benchPeerName, strings.Join(os.Args[1:], " "), err)
		os.Exit(1)
	}
	if len(os.Args) < 2 || benchPeers[os.Args[1]] == nil {
		fail(errors.New("want the name of a peer of bench_test.go"))
	}
	if cpu, err := strconv.Atoi(os.Getenv("IPC_BENCH_CPU")); err == nil && cpu >= 0 {
		if _, err := pinAll(cpu); err != nil {
			fail(err)
		}
	}
	if err := benchPeers[os.Args[1]](os.Args[2:]); err != nil {
		fail(err)
	}
	os.Exit(0)
}

// peerReady tells the benchmark that the peer has set up and waits for the first message.
func peerReady() { fmt.Println("ready") }

// peerDone tells the benchmark that the peer has received everything.
func peerDone() { fmt.Println("done") }

// benchCPUs returns the CPU of this process and the CPU of the peer (-1: any), as
// IPC_BENCH_PIN says: the first CPU this process may use for both (same), the first two (split),
// or none (off).
func benchCPUs(b *testing.B) (self, peer int) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		b.Fatal("sched_getaffinity:", err)
	}
	var cpus []int
	for cpu := 0; cpu < len(set)*64 && len(cpus) < 2; cpu++ {
		if set.IsSet(cpu) {
			cpus = append(cpus, cpu)
		}
	}
	switch mode := os.Getenv("IPC_BENCH_PIN"); mode {
	case "", "same":
		return cpus[0], cpus[0]
	case "split":
		if len(cpus) < 2 {
			b.Skip("IPC_BENCH_PIN=split needs two CPUs; this process may use one")
		}
		return cpus[0], cpus[1]
	case "off":
		return -1, -1
	default:
		b.Fatalf("IPC_BENCH_PIN=%s: want same, split or off", mode)
	}
	return -1, -1
}

// pinAll puts every thread of this process on cpu, and returns how to undo it.
// sched_setaffinity(2) sets the CPUs of one thread, and a Go program has several: each is a
// task in /proc/self/task. A thread made later inherits the CPUs of the thread that made it,
// so a second pass catches one made during the first.
func pinAll(cpu int) (undo func(), err error) {
	var old, one unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return nil, fmt.Errorf("sched_getaffinity: %w", err)
	}
	one.Set(cpu)
	setAll := func(set *unix.CPUSet) error {
		for range 2 {
			tasks, err := os.ReadDir("/proc/self/task")
			if err != nil {
				return err
			}
			for _, t := range tasks {
				tid, _ := strconv.Atoi(t.Name())
				if err := unix.SchedSetaffinity(tid, set); err != nil && err != unix.ESRCH {
					return fmt.Errorf("sched_setaffinity CPU %d: %w", cpu, err)
				}
			}
		}
		return nil
	}
	return func() { setAll(&old) }, setAll(&one)
}

// pinSelf pins this process to cpu (if not -1) until the benchmark ends, with GOMAXPROCS 1:
// the runtime would otherwise notice the change only up to a second later, and stop the world
// to make it, perhaps in the middle of a timed loop. (The peer, started by a pinned thread,
// inherits its CPU, and its runtime starts with GOMAXPROCS 1.)
func pinSelf(b *testing.B, cpu int) {
	if cpu < 0 {
		return
	}
	undo, err := pinAll(cpu)
	if err != nil {
		b.Fatal(err)
	}
	runtime.GOMAXPROCS(1)
	b.Cleanup(func() {
		undo()
		runtime.SetDefaultGOMAXPROCS()
	})
}

// benchYield lets the calling goroutine pass through Go's scheduler, once every 16 messages
// (i counts them), unless IPC_BENCH_YIELD=0.
//
// Why: a goroutine that does nothing but system calls never passes through the scheduler, and
// after 10 ms the runtime's monitor thread (sysmon, which wakes every 20 µs to 10 ms) takes it
// for one that hogs its processor. From then on, each time sysmon finds it blocked in a call,
// it takes the goroutine's P away and wakes another thread to run it, which finds nothing to
// do; the goroutine, back from its call, must take a P again; and sysmon, having done
// something, keeps waking every 20 µs. On a shared CPU that can double the cost of a message
// (the README shows it, with IPC_BENCH_YIELD=0). runtime.Gosched costs a fraction of a
// microsecond, and resets sysmon's view of the goroutine. A C program has no such thread.
func benchYield(i int) {
	if i%16 == 15 && !noYield {
		runtime.Gosched()
	}
}

var noYield = os.Getenv("IPC_BENCH_YIELD") == "0"

// A peer is the other process of a benchmark.
type peer struct {
	cmd    *exec.Cmd
	lines  chan string // its stdout, line by line
	exited chan error
}

// startPeer starts `benchpeer name args...` on cpu (-1: any), with files as its descriptors 3,
// 4, ..., and waits for its "ready". The peer is killed if the benchmark ends before it does.
func startPeer(b *testing.B, cpu int, files []*os.File, name string, args ...string) *peer {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := &exec.Cmd{
		Path:        exe,
		Args:        append([]string{benchPeerName, name}, args...),
		Env:         append(os.Environ(), "IPC_BENCH_CPU="+strconv.Itoa(cpu)),
		Stderr:      os.Stderr,
		ExtraFiles:  files,
		SysProcAttr: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	p := &peer{cmd: cmd, lines: make(chan string, 2), exited: make(chan error, 1)}
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			p.lines <- s.Text()
		}
		close(p.lines)
		p.exited <- cmd.Wait()
	}()
	b.Cleanup(func() {
		cmd.Process.Kill()
		<-p.exited
	})
	p.expect(b, "ready")
	return p
}

// expect waits for the line want from the peer.
func (p *peer) expect(b *testing.B, want string) {
	select {
	case line, ok := <-p.lines:
		if !ok {
			b.Fatalf("%s %s: exited before saying %q", benchPeerName, p.cmd.Args[1], want)
		}
		if line != want {
			b.Fatalf("%s %s said %q, not %q", benchPeerName, p.cmd.Args[1], line, want)
		}
	case <-time.After(benchWait):
		b.Fatalf("%s %s: no %q in %v", benchPeerName, p.cmd.Args[1], want, benchWait)
	}
}

// wait waits for the peer to exit, and fails the benchmark unless it exited 0.
func (p *peer) wait(b *testing.B) {
	select {
	case err := <-p.exited:
		p.exited <- err // for the clean-up
		if err != nil {
			b.Fatalf("%s %s: %v", benchPeerName, p.cmd.Args[1], err)
		}
	case <-time.After(benchWait):
		b.Fatalf("%s %s: still running %v after the benchmark", benchPeerName, p.cmd.Args[1], benchWait)
	}
}

// watchPeer calls unblock if the peer exits with an error before the benchmark ends. A pipe or
// a socket tells this process that its peer has gone (an end of file), but a semaphore, a
// futex, a lock being polled or a message queue does not: this process would wait for ever.
// unblock ends that wait (removes the semaphore set, sets a word, ...), and should return once
// stop is closed, which happens when the benchmark ends.
func watchPeer(b *testing.B, p *peer, unblock func(stop <-chan struct{})) {
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		select {
		case err := <-p.exited:
			p.exited <- err // for wait, and for the clean-up
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s %s: %v before the end; ending the benchmark's wait\n", benchPeerName, p.cmd.Args[1], err)
				unblock(stop)
			}
		case <-stop:
		}
	}()
	b.Cleanup(func() {
		close(stop)
		<-done
	})
}

// roundTrips runs once b.N times, timing each, and reports the median and the 99th percentile.
func roundTrips(b *testing.B, once func() error) {
	rtt := make([]time.Duration, b.N)
	b.ResetTimer()
	for i := range rtt {
		start := time.Now()
		if err := once(); err != nil {
			b.Fatal(err)
		}
		rtt[i] = time.Since(start)
		benchYield(i)
	}
	b.StopTimer()
	slices.Sort(rtt)
	b.ReportMetric(float64(percentile(rtt, 50)), "p50-ns")
	b.ReportMetric(float64(percentile(rtt, 99)), "p99-ns")
}

// percentile returns the p-th percentile of sorted by the nearest rank: the smallest value
// that p percent of the values do not exceed (the C reference computes it the same way).
func percentile(sorted []time.Duration, p int) time.Duration {
	rank := (len(sorted)*p + 99) / 100
	return sorted[max(rank, 1)-1]
}

// throughput sends b.N messages of size bytes with send, then waits with done until the peer
// has received them all: that is the time measured.
func throughput(b *testing.B, size int, send func() error, done func() error) {
	b.SetBytes(int64(size))
	b.ResetTimer()
	for i := range b.N {
		if err := send(); err != nil {
			b.Fatal(err)
		}
		benchYield(i)
	}
	if err := done(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
}

// rawFD reads and writes a blocking descriptor with read(2) and write(2) themselves: no Go
// poller, no buffering. A byte stream is read as it comes: in pieces, until EOF.
type rawFD int

func (fd rawFD) Read(p []byte) (int, error) {
	for {
		n, err := unix.Read(int(fd), p)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return 0, fmt.Errorf("read: %w", err)
		case n == 0 && len(p) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

func (fd rawFD) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		n, err := unix.Write(int(fd), p[done:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return done, fmt.Errorf("write: %w", err)
		}
		done += n
	}
	return done, nil
}

// The loops of the byte streams (pipe, FIFO, sockets), the same in Go and in the C reference:
//   - round trip: send benchMsgSize bytes, read benchMsgSize bytes back; the peer echoes.
//   - throughput: send b.N chunks of benchChunkSize; the peer reads them all, then sends one
//     byte back, and that byte ends the timing.

// streamRoundTrips is the benchmark's side of a round trip over w and r.
func streamRoundTrips(b *testing.B, w io.Writer, r io.Reader) {
	msg := make([]byte, benchMsgSize)
	roundTrips(b, func() error {
		if _, err := w.Write(msg); err != nil {
			return err
		}
		_, err := io.ReadFull(r, msg)
		return err
	})
}

// streamEcho is the peer's side: n times, read a message from r and write it back to w.
func streamEcho(r io.Reader, w io.Writer, n int) error {
	msg := make([]byte, benchMsgSize)
	peerReady()
	for i := range n {
		if _, err := io.ReadFull(r, msg); err != nil {
			return err
		}
		if _, err := w.Write(msg); err != nil {
			return err
		}
		benchYield(i)
	}
	return nil
}

// streamThroughput is the benchmark's side of a throughput run over w, the peer's byte coming
// back on r.
func streamThroughput(b *testing.B, w io.Writer, r io.Reader) {
	chunk := make([]byte, benchChunkSize)
	throughput(b, benchChunkSize,
		func() error { _, err := w.Write(chunk); return err },
		func() error { _, err := io.ReadFull(r, chunk[:1]); return err })
}

// streamSink is the peer's side: read n chunks' worth of bytes from r, then write a byte to w.
func streamSink(r io.Reader, w io.Writer, n int) error {
	buf := make([]byte, benchChunkSize)
	peerReady()
	for i, left := 0, n*benchChunkSize; left > 0; i++ {
		got, err := r.Read(buf[:min(left, len(buf))])
		if err != nil {
			return err
		}
		left -= got
		benchYield(i)
	}
	_, err := w.Write(buf[:1])
	return err
}

// peerCount is the peer's argument n: how many messages to expect.
func peerCount(arg string) (int, error) {
	n, err := strconv.Atoi(arg)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("count %q: want a number", arg)
	}
	return n, nil
}
