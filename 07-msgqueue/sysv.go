package msgqueue

// The System V message queue calls, which golang.org/x/sys/unix does not wrap: msgget(2),
// msgsnd(2), msgrcv(2) and msgctl(2), called through unix.Syscall with the unix.SYS_ numbers,
// the layout of a message, and what the two programs check before they use a queue.
//
// A message. msgsnd and msgrcv take a pointer to a buffer laid out as C's
//
//	struct msgbuf {
//		long mtype;     /* the message's type, > 0 */
//		char mtext[];   /* its text: any bytes, NUL included */
//	};
//
// and a size, msgsz, that counts the text only, not the 8 bytes of mtype. A C program with the
// same key sends and receives the same messages: the kernel stores the type and the text
// apart, and hands them back in that layout.
//
// EINTR. msgsnd and msgrcv are never restarted after a signal handler, whatever SA_RESTART says
// (signal(7), "Interruption of system calls and library functions by signal handlers"): a
// blocked call returns EINTR. A Go program has handlers for many signals, and signals reach its
// threads with no Ctrl-C at all (SIGURG, which the runtime sends to preempt a goroutine), so a
// blocked msgsnd or msgrcv can return EINTR at any time. Msgsnd and Msgrcv retry on EINTR, so
// that a caller never sees it. The other side of that: a signal never ends a wait in them.
//
// How a wait ends on Ctrl-C, then. semop has semtimedop; msgsnd and msgrcv have no timed
// variant. Three ways were possible:
//
//   - a blocking msgrcv in a goroutine that we stop waiting for on Ctrl-C. Wrong: the goroutine
//     is still in msgrcv, and takes the next message that arrives while the program cleans up;
//     that message is then lost with the process. (The same goroutine in msgsnd would send a
//     message after the program said it sent nothing more.)
//   - a signal sent to the blocked thread (tgkill) to make the call return EINTR. Racy: a signal
//     that arrives just before the thread enters msgrcv interrupts nothing, and it blocks anyway.
//   - IPC_NOWAIT, which never blocks: try, and if the queue is full (EAGAIN) or holds no message
//     of the type asked (ENOMSG), sleep a little, checking the context, and try again. Nothing
//     is ever in flight when the program decides to stop, so nothing is lost or sent late.
//
// MsgsndContext and MsgrcvContext do the third. The sleep starts at PollMin and doubles up to
// PollMax: a queue that is busy is seen at once, and an idle wait costs PollMax's few system
// calls a second; Ctrl-C ends the sleep at once. What it costs: a process that polls is not in
// the kernel's queue of waiters, so a blocked C sender, woken by the kernel when room is made,
// may get there first. Removing the queue ends every wait too: a process blocked in msgrcv or
// msgsnd wakes with EIDRM, and one that polls gets EINVAL (the id no longer names a queue) or
// EIDRM at its next try.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The msgrcv flags of <linux/msg.h> that x/sys does not define. IPC_NOWAIT is unix.IPC_NOWAIT.
const (
	MSG_NOERROR = 0o10000 // truncate a message longer than msgsz instead of failing with E2BIG
	MSG_EXCEPT  = 0o20000 // with msgtyp > 0: the first message whose type is not msgtyp
)

// Msgget is msgget(2): the id of the queue at key, which it creates if flag has IPC_CREAT and
// there is none. With IPC_CREAT|IPC_EXCL it fails with EEXIST if there is one. The low 9 bits of
// flag are the mode of a new queue; the umask does not apply. key is a key_t: see QueueKey.
func Msgget(key, flag int) (int, error) {
	r, _, e := unix.Syscall(unix.SYS_MSGGET, uintptr(key), uintptr(flag), 0)
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

// A Msgbuf is a message as msgsnd(2) and msgrcv(2) take it, C's struct msgbuf
// {long mtype; char mtext[];}, in one slice: the type in its first 8 bytes (a C long, in the
// machine's byte order), then room for the text. Msgsnd and Msgrcv make one at each call, which
// costs an allocation and a copy of the text: nothing for a line, but for a stream of large
// messages about half the throughput (see the README's costs). A program that sends or
// receives many keeps one Msgbuf and calls MsgsndBuf and MsgrcvBuf, as a C program reuses its
// struct.
type Msgbuf []byte

// NewMsgbuf returns a Msgbuf with room for size bytes of text.
func NewMsgbuf(size int) Msgbuf { return make(Msgbuf, 8+size) }

// Type is the message's type, mtype.
func (m Msgbuf) Type() int64 { return int64(binary.NativeEndian.Uint64(m)) }

// SetType sets mtype.
func (m Msgbuf) SetType(mtype int64) { binary.NativeEndian.PutUint64(m, uint64(mtype)) }

// Text is the room for the text, mtext.
func (m Msgbuf) Text() []byte { return m[8:] }

// Msgsnd is msgsnd(2): it appends text to the queue id as one message of type mtype (> 0, or
// EINVAL). If the queue has no room for it (its msg_qbytes), it waits until it has, or with
// IPC_NOWAIT in flag fails with EAGAIN. A text longer than msgmax (Msgmax) fails with EINVAL.
// It retries on EINTR (see the top of this file): it ends when the message is sent, or the
// queue is removed (EIDRM, or EINVAL if it was gone before the call).
func Msgsnd(id int, mtype int64, text []byte, flag int) error {
	m := NewMsgbuf(len(text))
	m.SetType(mtype)
	copy(m.Text(), text)
	return MsgsndBuf(id, m, len(text), flag)
}

// MsgsndBuf is Msgsnd of the message in m: its type, and the first n bytes of its text.
func MsgsndBuf(id int, m Msgbuf, n int, flag int) error {
	if n < 0 || 8+n > len(m) {
		return unix.EINVAL
	}
	for {
		// msgsz is n: the text only, not mtype.
		_, _, e := unix.Syscall6(unix.SYS_MSGSND, uintptr(id), uintptr(unsafe.Pointer(&m[0])), uintptr(n), uintptr(flag), 0, 0)
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

// Msgrcv is msgrcv(2): it takes a message out of the queue id, copies its text into text and
// returns the text's length and the message's type. msgtyp picks the message:
//
//	0     the first message in the queue, of any type
//	T > 0 the first message of type T (with MSG_EXCEPT in flag: the first not of type T)
//	T < 0 the first message of the lowest type, if that type is <= |T|
//
// A message whose text is longer than len(text) fails with E2BIG and stays in the queue (with
// MSG_NOERROR in flag it is taken, cut to len(text)). With no such message it waits for one, or
// with IPC_NOWAIT fails with ENOMSG. It retries on EINTR, as Msgsnd does.
func Msgrcv(id int, text []byte, msgtyp int64, flag int) (n int, mtype int64, err error) {
	m := NewMsgbuf(len(text))
	n, err = MsgrcvBuf(id, m, msgtyp, flag)
	if err != nil {
		return 0, 0, err
	}
	return copy(text, m.Text()[:n]), m.Type(), nil
}

// MsgrcvBuf is Msgrcv into m: the message's type and text go into m, with room for
// len(m.Text()) bytes of text; it returns the text's length.
func MsgrcvBuf(id int, m Msgbuf, msgtyp int64, flag int) (n int, err error) {
	if len(m) < 8 {
		return 0, unix.EINVAL
	}
	for {
		// msgsz is the room for the text, after the 8 bytes of mtype.
		r, _, e := unix.Syscall6(unix.SYS_MSGRCV, uintptr(id), uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)-8), uintptr(msgtyp), uintptr(flag), 0)
		switch e {
		case 0:
			return int(r), nil
		case unix.EINTR:
			continue
		default:
			return 0, e
		}
	}
}

// Msgctl is msgctl(2) with IPC_STAT (the queue's struct msqid64_ds goes into ds), IPC_SET (its
// owner, group, mode and msg_qbytes are set from ds: lowering msg_qbytes needs no privilege,
// raising it above msgmnb does) or IPC_RMID (ds is not used and may be nil: the queue goes at
// once, its messages with it, and its waiters wake with EIDRM). On 64-bit Linux the kernel
// always uses the 64-bit layout, MsqidDs, and IPC_64 (0x100), which glibc or's into cmd on
// 32-bit systems, must not be passed: x86-64 answers IPC_STAT|IPC_64 with EINVAL. Other
// commands are refused with EINVAL.
func Msgctl(id, cmd int, ds *MsqidDs) error {
	switch cmd {
	case unix.IPC_STAT, unix.IPC_SET:
		if ds == nil {
			return unix.EINVAL
		}
	case unix.IPC_RMID:
		ds = nil
	default:
		return unix.EINVAL
	}
	_, _, e := unix.Syscall(unix.SYS_MSGCTL, uintptr(id), uintptr(cmd), uintptr(unsafe.Pointer(ds)))
	if e != 0 {
		return e
	}
	return nil
}

// PollMin and PollMax bound the sleep between two tries of MsgsndContext and MsgrcvContext.
const (
	PollMin = time.Millisecond
	PollMax = 50 * time.Millisecond
)

// MsgsndContext is Msgsnd that waits for room in the queue until ctx is done, then returns
// context.Cause(ctx) having sent nothing. It tries msgsnd with IPC_NOWAIT, and sleeps between
// tries (see the top of this file for why not a blocking msgsnd).
func MsgsndContext(ctx context.Context, id int, mtype int64, text []byte) error {
	return msgPoll(ctx, unix.EAGAIN, func() error { return Msgsnd(id, mtype, text, unix.IPC_NOWAIT) })
}

// MsgrcvContext is Msgrcv that waits for a message until ctx is done, then returns
// context.Cause(ctx) having taken nothing. It tries msgrcv with IPC_NOWAIT (or'ed into flag),
// and sleeps between tries (see the top of this file for why not a blocking msgrcv).
func MsgrcvContext(ctx context.Context, id int, text []byte, msgtyp int64, flag int) (n int, mtype int64, err error) {
	err = msgPoll(ctx, unix.ENOMSG, func() error {
		var err error
		n, mtype, err = Msgrcv(id, text, msgtyp, flag|unix.IPC_NOWAIT)
		return err
	})
	return n, mtype, err
}

// msgPoll calls try until it returns something other than again, sleeping PollMin, then twice as
// long each time up to PollMax, in between; or until ctx is done.
func msgPoll(ctx context.Context, again error, try func() error) error {
	t := time.NewTimer(0)
	defer t.Stop()
	<-t.C
	for d := PollMin; ; d = min(2*d, PollMax) {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if err := try(); err != again {
			return err
		}
		t.Reset(d)
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-t.C:
		}
	}
}

// Msgmax is the largest text a message may have (msgsz), /proc/sys/kernel/msgmax: 8192 unless
// root changed it. A longer one fails with EINVAL.
func Msgmax() (int, error) {
	return readProcLimit("/proc/sys/kernel/msgmax")
}

// Msgmnb is the msg_qbytes of a new queue, /proc/sys/kernel/msgmnb: how many bytes of text it
// holds at most (16384 unless root changed it). A sender waits while a message would take the
// queue past its msg_qbytes, or its count of messages past msg_qbytes too.
func Msgmnb() (int, error) {
	return readProcLimit("/proc/sys/kernel/msgmnb")
}

func readProcLimit(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a number", path, b)
	}
	return n, nil
}

// CheckOwner refuses a queue that is not ours alone, given what msgctl(IPC_STAT) says of it (ds)
// and our effective uid; key and id name the queue in the error. A key is only a number, which
// anyone may pick, so a queue found at our key may be anyone's. It is ours alone if:
//
//   - its owner (msg_perm.uid) is us. Not enough by itself: the owner is whoever its creator or
//     its last owner set with msgctl(IPC_SET);
//   - its creator (msg_perm.cuid) is us. The creator is set by msgget and never changes, and it
//     keeps its rights for the queue's whole life, whoever owns it: the kernel grants the
//     owner's bits of the mode to the creator too, and lets it IPC_SET the owner and the mode.
//     Another user can make a queue at our key, hand it over to us (IPC_SET uid=us), and go on
//     reading what we send or sending us messages of its own;
//   - its mode gives nothing to group or others (mode & 0o077 == 0). A wider mode lets other
//     users send and receive on it, with the same effect.
//
// A queue that passes was made by a process running as us, and no other user (but root) may
// use it or change it.
func CheckOwner(key uint32, id int, ds *MsqidDs, euid int) error {
	perm := &ds.Perm
	switch {
	case int(perm.Uid) != euid:
		return fmt.Errorf("queue key 0x%08x (msqid %d) belongs to uid %d, not to you (uid %d); refusing to use it (pass another -key or -path/-proj)", key, id, perm.Uid, euid)
	case int(perm.Cuid) != euid:
		return fmt.Errorf("queue key 0x%08x (msqid %d) was created by uid %d, not by you (uid %d), and its creator may change its owner and mode at any time; refusing to use it (pass another -key or -path/-proj)", key, id, perm.Cuid, euid)
	case perm.Mode&0o077 != 0:
		return fmt.Errorf("queue key 0x%08x (msqid %d) has mode %04o, which lets group or others use it; refusing to use it (remove it: ipcrm -q %d, or pass another -key or -path/-proj)", key, id, perm.Mode&0o777, id)
	}
	return nil
}

// ErrNoMsq is the error of FindMsq when there is no queue at the key.
var ErrNoMsq = errors.New("no queue")

// OpenMsq returns the id of the queue at key, and whether it created it: it creates it (mode
// Mode) if there is none, and otherwise uses the queue there only if it is ours alone
// (CheckOwner). IPC_CREAT|IPC_EXCL first, so that, of several senders starting at once, exactly
// one creates the queue and knows it; the others find it and check it as any queue found.
func OpenMsq(key uint32) (id int, created bool, err error) {
	for {
		id, err := Msgget(QueueKey(key), unix.IPC_CREAT|unix.IPC_EXCL|Mode)
		if err == nil {
			return id, true, nil
		}
		if err != unix.EEXIST {
			return -1, false, fmt.Errorf("msgget key 0x%08x: %w", key, err)
		}
		id, err = FindMsq(key)
		if errors.Is(err, ErrNoMsq) {
			continue // removed between the two msggets: create it again
		}
		return id, false, err
	}
}

// FindMsq returns the id of the queue at key, if it is ours alone (CheckOwner), without
// creating one: with no queue at key, the error wraps ErrNoMsq.
func FindMsq(key uint32) (int, error) {
	id, err := Msgget(QueueKey(key), 0)
	if err == unix.ENOENT {
		return -1, fmt.Errorf("msgget key 0x%08x: %w (%w)", key, ErrNoMsq, err)
	}
	if err != nil {
		return -1, fmt.Errorf("msgget key 0x%08x: %w", key, err)
	}
	var ds MsqidDs
	if err := Msgctl(id, unix.IPC_STAT, &ds); errors.Is(err, unix.EACCES) {
		return -1, fmt.Errorf("msgctl IPC_STAT key 0x%08x (msqid %d): %w: the queue is another user's, and not ours to use (see ipcs -q; pass another -key or -path/-proj)", key, id, err)
	} else if err != nil {
		return -1, fmt.Errorf("msgctl IPC_STAT key 0x%08x (msqid %d): %w", key, id, err)
	}
	if err := CheckOwner(key, id, &ds, os.Geteuid()); err != nil {
		return -1, err
	}
	return id, nil
}
