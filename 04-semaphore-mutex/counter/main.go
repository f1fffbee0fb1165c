// Counter shows what a mutex is for: K worker processes each add one to a counter in a System V
// shared memory segment, M times, and the final value is K*M only if each read-add-write is
// done inside a mutex. It starts the workers itself: it runs its own executable again, once per
// worker (Go has no fork(2); this is how a Go program does what a C example does with fork).
//
// It demonstrates three ways to lock, with -lock:
//
//   - sem (the default): a System V semaphore of value 1, taken (semop -1) and released (semop
//     +1) with SEM_UNDO, so that the kernel releases it if its holder dies;
//   - futex: a mutex in the segment itself, as glibc builds pthread mutexes: an atomic
//     compare-and-swap takes it with no system call when it is free, and futex(2) puts a taker
//     to sleep when it is not. Its word holds the owner's pid, so the counter can tell whether a
//     dead worker held it;
//   - none: no lock at all, and updates are lost.
//
// Usage:
//
//	counter [-key K | -path FILE -proj N] [-procs K] [-n M] [-lock sem|futex|none] [-hold D]
//
// It prints the final value of the counter, the only line on standard output, and narrates on
// standard error. It exits 0 when every worker finished (with -lock none too, updates lost or
// not), and 1 when one failed. For example:
//
//	go run ./counter -lock futex
//
// Objects: the counter creates the segment and a set of three semaphores (the mutex of -lock
// sem, and two that start the workers together), mode 0600, at the same key (ftok of -path and
// -proj by default, another project id than the ring's), with IPC_EXCL: an object already at the
// key is refused. It removes both at its end, however it ends (but by SIGKILL: then ipcrm). The
// workers get the ids on their command line, and remove nothing.
//
// A worker that dies (-hold D makes worker 1 hold the mutex for D at its first turn, time to
// kill it): with -lock sem the kernel undoes its SEM_UNDO operation and the others go on; the
// counter prints a value short by what the dead worker never added, and exits 1. With -lock
// futex a dead holder's pid stays in the lock word, and the others would wait for it forever:
// the counter says so, ends them, and exits 1. Ctrl-C or SIGTERM ends the workers too, and the
// counter cleans up and dies of the signal.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	semmutex "example.com/ipc/04-semaphore-mutex"
	"golang.org/x/sys/unix"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("counter: ")
	if len(os.Args) > 1 && os.Args[1] == "worker" {
		worker(os.Args[2:])
		return
	}
	keyFlag := flag.String("key", "", "the `key` of the set and the segment, decimal or 0x hex (default: ftok of -path and -proj)")
	path := flag.String("path", semmutex.DefaultPath, "an existing `file` that ftok turns into the key, with -proj")
	proj := flag.Int("proj", semmutex.DefaultCounterProj, "the ftok project `id`, 1 to 255")
	procs := flag.Int("procs", 4, "how many worker `processes` to start, 1 to 64")
	n := flag.Int("n", 100000, "how many `times` each worker adds one")
	lock := flag.String("lock", "sem", "the mutex: sem (a System V semaphore with SEM_UNDO), futex (compare-and-swap and futex(2) in the segment) or none")
	hold := flag.Duration("hold", 0, "worker 1 holds the mutex this `long` at its first turn (to kill it there and see what happens)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `Usage: counter [-key K | -path FILE -proj N] [-procs K] [-n M] [-lock sem|futex|none] [-hold D]

Counter starts K worker processes (itself, run again) that each add one to a counter in a
System V shared memory segment M times, inside a mutex, then prints the counter's final value:
K*M if the mutex works.

Examples:
  counter                 4 workers, 100000 each, a System V semaphore: prints 400000
  counter -lock futex     the same with a futex mutex: prints 400000
  counter -lock none      no mutex: prints less, the updates that were lost
  counter -hold 1m        worker 1 holds the mutex for a minute: kill -KILL it, and see

Default key: %s

Flags:
`, defaultKeyText())
		flag.PrintDefaults()
	}
	semmutex.ParseFlags("counter")
	if flag.NArg() > 0 {
		log.Printf("unexpected argument %q (see counter -h)", flag.Arg(0))
		os.Exit(2)
	}
	switch {
	case *procs < 1 || *procs > 64:
		log.Printf("-procs %d: want 1 to 64", *procs)
		os.Exit(2)
	case *n < 1:
		log.Printf("-n %d: want 1 or more", *n)
		os.Exit(2)
	case *lock != "sem" && *lock != "futex" && *lock != "none":
		log.Printf("-lock %q: want sem, futex or none", *lock)
		os.Exit(2)
	case *hold < 0:
		log.Printf("-hold %v: want a duration of 0 or more", *hold)
		os.Exit(2)
	case *hold > 0 && *lock == "none":
		log.Print("-hold needs a mutex to hold: pass -lock sem or -lock futex")
		os.Exit(2)
	}
	key := semmutex.KeyFromFlags(*keyFlag, *path, *proj)
	ctx := semmutex.CatchSignals()
	err := run(ctx, key, job{procs: *procs, n: *n, lock: *lock, hold: *hold})
	semmutex.Exit(ctx, err)
}

// A job is what the workers do: procs of them each add one n times, inside lock.
type job struct {
	procs, n     int
	lock         string
	hold         time.Duration
	semid, shmid int
}

func run(ctx context.Context, key uint32, j job) (err error) {
	// 1. The semaphore set and the segment, made by us alone (IPC_EXCL), removed by us at the
	// end, whatever happens: no one else creates or removes them.
	j.semid, err = semmutex.Semget(semmutex.SemKey(key), len(semmutex.CounterValues), unix.IPC_CREAT|unix.IPC_EXCL|semmutex.Mode)
	if errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("a semaphore set is already at key 0x%08x, and the counter uses only objects it creates: another counter's, a producer's or a consumer's, or one left by a killed run (see ipcs -s; remove it with ipcrm -S 0x%08x if it is a leftover), or pass another -key or -path/-proj", key, key)
	}
	if err != nil {
		return fmt.Errorf("semget key 0x%08x: %w", key, err)
	}
	defer removeSet(key, j.semid)
	if err := semmutex.SemctlAll(j.semid, semmutex.SETALL, semmutex.CounterValues); err != nil {
		return fmt.Errorf("semctl SETALL semid %d: %w", j.semid, err)
	}
	log.Printf("created semaphore set key 0x%08x (semid %d)", key, j.semid)

	size := semmutex.CounterSize(j.procs)
	j.shmid, err = unix.SysvShmGet(semmutex.SemKey(key), size, unix.IPC_CREAT|unix.IPC_EXCL|semmutex.Mode)
	if errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("a segment is already at key 0x%08x, and the counter uses only objects it creates: another counter's, a producer's or a consumer's, or one left by a killed run (see ipcs -m; remove it with ipcrm -M 0x%08x if it is a leftover), or pass another -key or -path/-proj", key, key)
	}
	if err != nil {
		return fmt.Errorf("shmget key 0x%08x: %w", key, err)
	}
	defer removeSegment(key, j.shmid)
	log.Printf("created segment key 0x%08x (shmid %d, %d bytes)", key, j.shmid, size)
	seg, err := unix.SysvShmAttach(j.shmid, 0, 0)
	if err != nil {
		return fmt.Errorf("shmat shmid %d: %w", j.shmid, err)
	}
	defer unix.SysvShmDetach(seg)
	c, done := semmutex.CounterIn(seg, j.procs)

	// 2. Start the workers: this program again, with "worker" and the job as arguments.
	workers, exits, err := start(j)
	if err != nil {
		return err
	}
	// endAll ends the workers still running (SIGKILL: they may be asleep on a mutex that will
	// never be released, and nothing of theirs needs cleaning up) and waits for them.
	endAll := func() {
		for _, w := range workers {
			if w.state == nil {
				w.cmd.Process.Kill()
			}
		}
		for _, w := range workers {
			if w.state == nil {
				e := <-exits
				workers[e.i].state = e.state
			}
		}
	}
	pids := make([]string, len(workers))
	for i, w := range workers {
		pids[i] = strconv.Itoa(w.cmd.Process.Pid)
	}
	workersWord := "workers (pids"
	if j.procs == 1 {
		workersWord = "worker (pid"
	}
	log.Printf("started %d %s %s); each adds one %d times with -lock %s", j.procs, workersWord, strings.Join(pids, " "), j.n, j.lock)

	// 3. Wait until all are attached and ready, then let them go at once, so that they run at
	// the same time: a worker started late could otherwise finish before the next one starts,
	// and -lock none would seem to work.
	if err := semmutex.SemopContext(ctx, j.semid, []semmutex.Sembuf{{Num: semmutex.SemReady, Op: -int16(j.procs)}}); err != nil {
		endAll()
		if ctx.Err() != nil {
			return errors.New("interrupted while the workers started; ended them")
		}
		return fmt.Errorf("semop (wait for the workers to be ready): %w", err)
	}
	began := time.Now()
	if err := semmutex.Semop(j.semid, []semmutex.Sembuf{{Num: semmutex.SemGo, Op: int16(j.procs)}}); err != nil {
		endAll()
		return fmt.Errorf("semop (let the workers go): %w", err)
	}

	// 4. Wait for each worker to end. A worker that failed is reported, and with -lock futex we
	// look at whether it held the mutex.
	var failed []string
	for range workers {
		var e exit
		select {
		case e = <-exits:
		case <-ctx.Done():
			endAll()
			return errors.New("interrupted while the workers counted; ended them")
		}
		w := workers[e.i]
		w.state = e.state
		if e.state.Success() {
			continue
		}
		added := atomic.LoadUint64(&done[e.i])
		how := describe(e.state)
		failed = append(failed, fmt.Sprintf("worker %d", e.i+1))
		pid := uint32(w.cmd.Process.Pid)
		if j.lock == "futex" && semmutex.FutexOwner(&c.Lock) == pid {
			log.Printf("worker %d (pid %d) %s while it held the futex mutex: its pid is still in the lock word, and the other workers would wait for it forever; ending them", e.i+1, pid, how)
			endAll()
			return fmt.Errorf("worker %d died holding the mutex; the counter stood at %d", e.i+1, atomic.LoadUint64(&c.Value))
		}
		switch j.lock {
		case "sem":
			log.Printf("worker %d (pid %d) %s, having added %d of its %d; the kernel undid its SEM_UNDO operations (releasing the mutex, if it held it), and the others go on", e.i+1, pid, how, added, j.n)
		case "futex":
			// It did not hold the mutex, but it may have died between freeing the word and
			// waking a sleeper: wake them all, so that none sleeps for a wake that never comes.
			semmutex.Futex(&c.Lock, semmutex.FUTEX_WAKE, 1<<30)
			log.Printf("worker %d (pid %d) %s, having added %d of its %d, not holding the mutex; the others go on", e.i+1, pid, how, added, j.n)
		default:
			log.Printf("worker %d (pid %d) %s, having added %d of its %d", e.i+1, pid, how, added, j.n)
		}
	}
	took := time.Since(began)

	// 5. The result. The counter's value on standard output; on standard error, what it means.
	var sum uint64
	for i := range done {
		sum += atomic.LoadUint64(&done[i])
	}
	value := atomic.LoadUint64(&c.Value)
	if _, err := fmt.Println(value); err != nil {
		return err
	}
	log.Printf("%d additions in %v (%v each)", sum, took.Round(time.Millisecond), (took / time.Duration(max(sum, 1))).Round(time.Nanosecond))
	switch {
	case j.lock == "none" && value <= sum:
		log.Printf("%d updates lost (with no mutex, two workers that run at once can read the same value, and both write it back plus one)", sum-value)
	case value != sum:
		return fmt.Errorf("the counter is %d after %d additions inside the mutex: the mutex failed", value, sum)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%s of %d failed: the counter is short of %d by %d", strings.Join(failed, ", "), j.procs, j.procs*j.n, uint64(j.procs*j.n)-sum)
	}
	return nil
}

// A worker process, and its state once it has ended.
type workerProc struct {
	cmd   *exec.Cmd
	state *os.ProcessState
}

// An exit is the end of worker i.
type exit struct {
	i     int
	state *os.ProcessState
}

// start starts the workers: this program's executable, with "worker" and the job as arguments
// (the ids of the set and the segment: a child needs no key to find them). Each one's end is
// sent on exits.
func start(j job) ([]*workerProc, chan exit, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, nil, fmt.Errorf("find this program's executable to start the workers: %w", err)
	}
	exits := make(chan exit, j.procs)
	var workers []*workerProc
	for i := range j.procs {
		cmd := exec.Command(self, "worker", strconv.Itoa(i+1), strconv.Itoa(j.procs), strconv.Itoa(j.n), j.lock, j.hold.String(), strconv.Itoa(j.semid), strconv.Itoa(j.shmid))
		cmd.Stderr = os.Stderr
		// If the counter dies without ending them (SIGKILL), the kernel kills them too.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			for _, w := range workers {
				w.cmd.Process.Kill()
				w.cmd.Wait()
			}
			return nil, nil, fmt.Errorf("start worker %d: %w", i+1, err)
		}
		workers = append(workers, &workerProc{cmd: cmd})
		go func() {
			cmd.Wait()
			exits <- exit{i, cmd.ProcessState}
		}()
	}
	return workers, exits, nil
}

// describe says how a process ended: "was killed by SIGKILL", "exited with status 1".
func describe(st *os.ProcessState) string {
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return fmt.Sprintf("was killed by %s", unix.SignalName(ws.Signal()))
	}
	return fmt.Sprintf("exited with status %d", st.ExitCode())
}

// removeSet and removeSegment remove the counter's objects at its end.
func removeSet(key uint32, semid int) {
	if _, err := semmutex.Semctl(semid, 0, unix.IPC_RMID, 0); err != nil {
		log.Printf("semctl IPC_RMID semid %d: %v", semid, err)
		return
	}
	log.Printf("removed semaphore set key 0x%08x (semid %d)", key, semid)
}

func removeSegment(key uint32, shmid int) {
	if _, err := unix.SysvShmCtl(shmid, unix.IPC_RMID, nil); err != nil {
		log.Printf("shmctl IPC_RMID shmid %d: %v", shmid, err)
		return
	}
	log.Printf("removed segment key 0x%08x (shmid %d)", key, shmid)
}

// defaultKeyText describes the default key, for -h.
func defaultKeyText() string {
	key, err := semmutex.Ftok(semmutex.DefaultPath, semmutex.DefaultCounterProj)
	if err != nil {
		return fmt.Sprintf("ftok(%q, %d) fails: %v", semmutex.DefaultPath, semmutex.DefaultCounterProj, err)
	}
	return fmt.Sprintf("ftok(%q, %d) = 0x%08x", semmutex.DefaultPath, semmutex.DefaultCounterProj, key)
}
