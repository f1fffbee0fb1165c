package semmutex

// The System V semaphore calls, which golang.org/x/sys/unix does not wrap: semget(2), semop(2),
// semtimedop(2) and semctl(2), called through unix.Syscall with the unix.SYS_ numbers, and the
// constants of <linux/sem.h> that x/sys does not define either.
//
// EINTR. semop and semtimedop are never restarted after a signal handler, whatever SA_RESTART
// says (signal(7), "Interruption of system calls and library functions by signal handlers"):
// a blocked call returns EINTR. A Go program has signal handlers for many signals, and signals
// reach its threads with no Ctrl-C at all (SIGURG, which the runtime sends to preempt a
// goroutine; SIGPROF when profiling), so a blocked semop can return EINTR at any time. Semop and
// Semtimedop retry on EINTR (Semtimedop with what is left of its timeout), so that a caller
// never sees it. The other side of that: a signal never ends a wait in Semop. Go's handler may
// run on any thread, not the one blocked in semop, and retrying hides it when it does. A wait
// that must end on Ctrl-C is a semtimedop with a short timeout in a loop that checks a context
// (SemopContext), or is ended by removing the set (the waiter gets EIDRM).

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The semctl commands of <linux/sem.h>, and the flag of a semop that the kernel undoes when the
// process exits. IPC_STAT, IPC_SET and IPC_RMID are in x/sys (unix.IPC_STAT...).
const (
	GETPID  = 11 // the pid of the last process that operated on semaphore semnum
	GETVAL  = 12 // the value of semaphore semnum
	GETALL  = 13 // the values of all the semaphores of the set
	GETNCNT = 14 // how many processes wait for semaphore semnum to grow
	GETZCNT = 15 // how many processes wait for semaphore semnum to be 0
	SETVAL  = 16 // set the value of semaphore semnum
	SETALL  = 17 // set the values of all the semaphores of the set

	SEM_UNDO = 0x1000 // sem_flg: the kernel reverses the operation when the process exits

	SEMVMX = 32767 // the largest value a semaphore can hold: more is ERANGE
)

// Sembuf is struct sembuf of <linux/sem.h>, one operation of a semop: 6 bytes, no padding, the
// same on every architecture.
//
//	struct sembuf {
//		unsigned short sem_num;	/* semaphore index in array */
//		short          sem_op;	/* semaphore operation */
//		short          sem_flg;	/* operation flags: IPC_NOWAIT, SEM_UNDO */
//	};
//
// Op > 0 adds Op to the semaphore; Op < 0 waits until the semaphore is at least -Op, then
// subtracts it; Op == 0 waits until the semaphore is 0. All the operations of one semop happen
// at once, or none does.
type Sembuf struct {
	Num uint16
	Op  int16
	Flg int16
}

// Semget is semget(2): the id of the semaphore set at key, which it creates with nsems
// semaphores (all 0) if flag has IPC_CREAT and there is none. With IPC_CREAT|IPC_EXCL it fails
// with EEXIST if there is one. The low 9 bits of flag are the mode of a new set; the umask does
// not apply. To find an existing set, nsems may be 0. key is a key_t, a signed int: see SemKey.
func Semget(key, nsems, flag int) (int, error) {
	r, _, e := unix.Syscall(unix.SYS_SEMGET, uintptr(key), uintptr(nsems), uintptr(flag))
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

// Semop is semop(2): it does the operations sops on the set id, all at once, waiting (unless an
// operation has IPC_NOWAIT, which makes it fail with EAGAIN instead) until they can all be done.
// It retries on EINTR (see the top of this file), so it waits until the operations are done or
// the set is removed (EIDRM, or EINVAL if it was gone before the call).
func Semop(id int, sops []Sembuf) error {
	if len(sops) == 0 {
		return unix.EINVAL
	}
	for {
		_, _, e := unix.Syscall(unix.SYS_SEMOP, uintptr(id), uintptr(unsafe.Pointer(&sops[0])), uintptr(len(sops)))
		switch e {
		case 0:
			return nil
		case unix.EINTR:
			continue
		default:
			return e
		}
	}
}

// Semtimedop is semtimedop(2): Semop that waits at most timeout, then fails with EAGAIN. A nil
// timeout waits as long as Semop. It retries on EINTR with what is left of the timeout, so a
// signal neither ends the wait early nor makes it longer.
func Semtimedop(id int, sops []Sembuf, timeout *unix.Timespec) error {
	if len(sops) == 0 {
		return unix.EINVAL
	}
	if timeout == nil {
		return Semop(id, sops)
	}
	deadline := time.Now().Add(time.Duration(timeout.Nano()))
	ts := *timeout
	for {
		_, _, e := unix.Syscall6(unix.SYS_SEMTIMEDOP, uintptr(id), uintptr(unsafe.Pointer(&sops[0])), uintptr(len(sops)), uintptr(unsafe.Pointer(&ts)), 0, 0)
		switch e {
		case 0:
			return nil
		case unix.EINTR:
			left := time.Until(deadline)
			if left <= 0 {
				return unix.EAGAIN
			}
			ts = unix.NsecToTimespec(left.Nanoseconds())
		default:
			return e
		}
	}
}

// PollInterval is how long SemopContext waits in one semtimedop before it looks at its context
// again: how long a Ctrl-C may take to end a wait.
const PollInterval = 100 * time.Millisecond

// SemopContext is Semop that also ends when ctx is done, returning context.Cause(ctx). It waits
// in semtimedop for PollInterval at a time and checks ctx in between: the way a blocked program
// ends on Ctrl-C (signal.NotifyContext cancels ctx), since a signal does not end a semop in Go.
func SemopContext(ctx context.Context, id int, sops []Sembuf) error {
	ts := unix.NsecToTimespec(PollInterval.Nanoseconds())
	for {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		err := Semtimedop(id, sops, &ts)
		if err != unix.EAGAIN || isNowait(sops) {
			return err
		}
	}
}

// isNowait says whether an operation of sops has IPC_NOWAIT: then EAGAIN is its answer, not a
// timeout.
func isNowait(sops []Sembuf) bool {
	for _, s := range sops {
		if s.Flg&unix.IPC_NOWAIT != 0 {
			return true
		}
	}
	return false
}

// Semctl is semctl(2) for the commands whose fourth argument is an int or nothing: GETVAL,
// SETVAL (val is the new value), GETPID, GETNCNT, GETZCNT and IPC_RMID (semnum and val are not
// used). It returns what semctl returns: the value asked for, or 0. Other commands pass a
// pointer: see SemctlAll and SemctlDs. Semctl refuses them with EINVAL rather than pass val to
// the kernel as an address.
func Semctl(id, semnum, cmd, val int) (int, error) {
	switch cmd {
	case GETVAL, SETVAL, GETPID, GETNCNT, GETZCNT, unix.IPC_RMID:
	default:
		return -1, unix.EINVAL
	}
	r, _, e := unix.Syscall6(unix.SYS_SEMCTL, uintptr(id), uintptr(semnum), uintptr(cmd), uintptr(val), 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

// SemctlAll is semctl(2) with GETALL (the values of all the semaphores of the set go into vals)
// or SETALL (they are set from vals). vals must have exactly as many elements as the set has
// semaphores: the kernel reads or writes that many, whatever the length of the slice, so
// SemctlAll first asks the set (IPC_STAT) and refuses any other length with EINVAL.
func SemctlAll(id, cmd int, vals []uint16) error {
	if cmd != GETALL && cmd != SETALL {
		return unix.EINVAL
	}
	var ds SemidDs
	if err := SemctlDs(id, unix.IPC_STAT, &ds); err != nil {
		return err
	}
	if uint64(len(vals)) != uint64(ds.Nsems) || len(vals) == 0 {
		return unix.EINVAL
	}
	_, _, e := unix.Syscall6(unix.SYS_SEMCTL, uintptr(id), 0, uintptr(cmd), uintptr(unsafe.Pointer(&vals[0])), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// SemctlDs is semctl(2) with IPC_STAT (the set's struct semid64_ds goes into ds) or IPC_SET (its
// owner, group and mode are set from ds.Perm). On 64-bit Linux the kernel always uses the 64-bit
// layout, SemidDs, and IPC_64 (0x100), which glibc or's into cmd on 32-bit systems, must not be
// passed: x86-64 answers IPC_STAT|IPC_64 with EINVAL.
func SemctlDs(id, cmd int, ds *SemidDs) error {
	if cmd != unix.IPC_STAT && cmd != unix.IPC_SET {
		return unix.EINVAL
	}
	_, _, e := unix.Syscall6(unix.SYS_SEMCTL, uintptr(id), 0, uintptr(cmd), uintptr(unsafe.Pointer(ds)), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// InitWait is a bound for Open's wait for another process to initialise the set.
const InitWait = 10 * time.Second

// initWait is InitWait, which a test may shorten.
var initWait = InitWait

// Open returns the id of the semaphore set at key, with len(vals) semaphores, and whether it
// created it (then the caller owns the set, and removes it). It is the race-free initialisation
// of TLPI 47.5. A set made by semget has all its semaphores at 0 until someone sets them, and a
// process that finds the set between its creation and its initialisation would use it at 0, or
// initialise it a second time over operations already done. So:
//
//   - the creator makes the set with IPC_CREAT|IPC_EXCL (exactly one process succeeds) and mode
//     Mode, sets the values (SETALL), then does one semop that leaves them as they are. The
//     kernel sets sem_otime at the first semop, and not at semget or SETALL: sem_otime != 0
//     means "initialised";
//   - a process that finds the set (EEXIST) checks that it is ours (CheckOwner) and has
//     len(vals) semaphores, then waits, polling IPC_STAT, until sem_otime != 0, for at most
//     InitWait, or until ctx is done: a creator that died between semget and its semop leaves a
//     set nobody initialises, and the wait must be bounded.
//
// If the creator fails to initialise the set, it removes it. A set that vanishes while a process
// waits for it (its creator removed it) is created again.
func Open(ctx context.Context, key uint32, vals []uint16) (id int, created bool, err error) {
	if len(vals) == 0 {
		return -1, false, errors.New("a semaphore set needs at least one semaphore")
	}
	for {
		if ctx.Err() != nil {
			return -1, false, fmt.Errorf("semaphore set key 0x%08x: %w", key, context.Cause(ctx))
		}
		id, err := Semget(SemKey(key), len(vals), unix.IPC_CREAT|unix.IPC_EXCL|Mode)
		if err == nil {
			if err := initialise(id, vals); err != nil {
				Semctl(id, 0, unix.IPC_RMID, 0)
				return -1, false, fmt.Errorf("semaphore set key 0x%08x (semid %d): %w", key, id, err)
			}
			return id, true, nil
		}
		if err != unix.EEXIST {
			return -1, false, fmt.Errorf("semget key 0x%08x: %w", key, err)
		}
		id, err = Semget(SemKey(key), 0, 0)
		if err == unix.ENOENT {
			continue // removed between the two semgets: try to create it again
		}
		if err != nil {
			return -1, false, fmt.Errorf("semget key 0x%08x: %w", key, err)
		}
		wctx, cancel := context.WithTimeoutCause(ctx, initWait, fmt.Errorf("waited %v", initWait))
		err = WaitInitialised(wctx, key, id, len(vals))
		cancel()
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EIDRM) {
			continue // removed while we waited
		}
		if err != nil {
			return -1, false, err
		}
		return id, false, nil
	}
}

// initialise sets the values of a new set, then does a semop that changes nothing, to set
// sem_otime: on semaphore 0, take one and give it back if it is above 0, else wait for 0 (which
// it is). IPC_NOWAIT: nobody else may have touched a set that is not yet initialised.
func initialise(id int, vals []uint16) error {
	if err := SemctlAll(id, SETALL, vals); err != nil {
		return fmt.Errorf("semctl SETALL %v: %w", vals, err)
	}
	sops := []Sembuf{{Num: 0, Op: 0, Flg: unix.IPC_NOWAIT}}
	if vals[0] > 0 {
		sops = []Sembuf{{Num: 0, Op: -1, Flg: unix.IPC_NOWAIT}, {Num: 0, Op: 1, Flg: unix.IPC_NOWAIT}}
	}
	if err := Semop(id, sops); err != nil {
		return fmt.Errorf("semop (to set sem_otime): %w", err)
	}
	return nil
}

// initPoll is how often WaitInitialised looks at sem_otime.
const initPoll = 10 * time.Millisecond

// WaitInitialised waits until the set id, found at key, has been initialised (sem_otime != 0),
// or until ctx is done; it says on the log that it waits, if it must. It first refuses a set that is not ours (CheckOwner) or that does not
// have nsems semaphores. A set removed meanwhile is an error that wraps EINVAL or EIDRM.
func WaitInitialised(ctx context.Context, key uint32, id, nsems int) error {
	var ds SemidDs
	if err := SemctlDs(id, unix.IPC_STAT, &ds); errors.Is(err, unix.EACCES) {
		return fmt.Errorf("semctl IPC_STAT key 0x%08x (semid %d): %w: the set is another user's, and not ours to use (see ipcs -s; pass another -key or -path/-proj)", key, id, err)
	} else if err != nil {
		return fmt.Errorf("semctl IPC_STAT key 0x%08x (semid %d): %w", key, id, err)
	}
	if err := CheckOwner(key, id, &ds, os.Geteuid()); err != nil {
		return err
	}
	if ds.Nsems != uint64(nsems) {
		return fmt.Errorf("semaphore set key 0x%08x (semid %d) has %d semaphores, not %d: it is not one of ours (remove it: ipcrm -s %d, or pass another -key or -path/-proj)", key, id, ds.Nsems, nsems, id)
	}
	if ds.Otime == 0 {
		log.Printf("waiting for semaphore set key 0x%08x (semid %d) to be initialised by its creator...", key, id)
	}
	t := time.NewTicker(initPoll)
	defer t.Stop()
	for ds.Otime == 0 {
		select {
		case <-ctx.Done():
			if ctx.Err() != context.DeadlineExceeded { // Ctrl-C or SIGTERM: the creator may only be slow
				return fmt.Errorf("interrupted while waiting for semaphore set key 0x%08x (semid %d) to be initialised: %w", key, id, context.Cause(ctx))
			}
			return fmt.Errorf("semaphore set key 0x%08x (semid %d) is still not initialised (its creator may have died before it set the values; remove it: ipcrm -s %d): %w", key, id, id, context.Cause(ctx))
		case <-t.C:
		}
		if err := SemctlDs(id, unix.IPC_STAT, &ds); err != nil {
			return fmt.Errorf("semctl IPC_STAT key 0x%08x (semid %d): %w", key, id, err)
		}
	}
	return nil
}
