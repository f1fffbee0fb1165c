package msgqueue

// The POSIX message queue calls, which golang.org/x/sys/unix does not wrap (it has only their
// numbers, unix.SYS_MQ_OPEN and the others): mq_open(3), mq_unlink(3), mq_timedsend(3),
// mq_timedreceive(3) and mq_getsetattr(2), called through unix.Syscall as glibc calls them, and
// struct mq_attr. psender and preceiver use them; mq_open and its friends in C use the same
// queues.
//
// Signals. A blocked mq_timedsend or mq_timedreceive that a signal handler interrupts is
// restarted by the kernel when the handler was installed with SA_RESTART, and fails with EINTR
// otherwise (signal(7), "Interruption of system calls and library functions by signal
// handlers"). Go installs every handler with SA_RESTART, and signals reach a Go program's
// threads with no Ctrl-C at all (SIGURG, which the runtime sends to preempt a goroutine), so:
//   - a signal never ends the wait: the call goes on, in the kernel, with the same absolute
//     timeout (the timeout is a date, so a restart neither shortens nor lengthens it). Go's
//     handler may run on any thread anyway, not the one blocked in the call;
//   - MqTimedsend and MqTimedreceive still retry on EINTR, which a handler without SA_RESTART
//     (one installed by C code in the same process) would cause, so that no caller sees it.
//
// A wait that must end on Ctrl-C is therefore a timed call in slices of MqPollInterval, in a loop
// that checks a context between them (MqSendContext, MqReceiveContext), as 04-semaphore-mutex's
// SemopContext does with semtimedop. (Unlinking the queue would not do it, as IPC_RMID does for
// a System V queue: an unlinked POSIX queue lives on, unnamed, for as long as a descriptor of
// it is open, and a waiter never learns that it has gone.)

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// MqAttr is struct mq_attr of <mqueue.h> and <linux/mqueue.h> on 64-bit Linux (amd64, arm64):
// four longs and four reserved ones, 64 bytes.
//
//	struct mq_attr {
//		long mq_flags;     /* 0 or O_NONBLOCK: only the descriptor's flag, not the queue's */
//		long mq_maxmsg;    /* the most messages the queue holds */
//		long mq_msgsize;   /* the largest message it takes, in bytes */
//		long mq_curmsgs;   /* how many messages it holds now */
//		long __reserved[4];
//	};
//
// mq_open reads only Maxmsg and Msgsize, and only when it creates the queue; mq_getsetattr
// fills in all four, and sets only Flags.
type MqAttr struct {
	Flags   int64
	Maxmsg  int64
	Msgsize int64
	Curmsgs int64
	_       [4]int64
}

// MQ_PRIO_MAX is one more than the highest priority a message may have on Linux (glibc's
// MQ_PRIO_MAX, sysconf(_SC_MQ_PRIO_MAX)): priorities go from 0 to 32767; more is EINVAL.
const MQ_PRIO_MAX = 32768

// NameMax is NAME_MAX: a queue's name holds at most this many bytes after its leading slash.
const NameMax = 255

// MqName checks the name of a POSIX queue, given with or without its leading slash, and
// returns it in the two forms that matter: the name users see, with one leading slash
// ("/ipc-msgqueue", as mq_open(3) in C takes it, and as /dev/mqueue lists it without the
// slash), and the name the mq_open and mq_unlink system calls take, without it (glibc's
// mq_open checks that the name starts with a slash and passes the kernel what follows). The
// kernel refuses a name with another '/' in it, and an empty one; MqName does too, with a
// reason, and refuses "." and "..", and a name longer than NAME_MAX.
func MqName(name string) (shown, kernel string, err error) {
	base := strings.TrimPrefix(name, "/")
	switch {
	case base == "":
		return "", "", errors.New("empty name (want a name like /my-queue)")
	case strings.Contains(base, "/"):
		return "", "", errors.New("a name may hold a '/' only at its start (want a name like /my-queue)")
	case base == "." || base == "..":
		return "", "", errors.New("not the name of a queue but of a directory (want a name like /my-queue)")
	case len(base) > NameMax:
		return "", "", fmt.Errorf("%d bytes long; a name holds at most %d bytes (NAME_MAX) after its leading slash", len(base), NameMax)
	}
	return "/" + base, base, nil
}

// MqOpen is mq_open(3): it opens the queue name (with or without its leading slash: see
// MqName) and returns its descriptor, a file descriptor that close(2) closes. flag is
// O_RDONLY, O_WRONLY or O_RDWR, with O_CREAT (create the queue if it does not exist), O_EXCL
// (with O_CREAT: fail with EEXIST if it does) and O_NONBLOCK (sends to a full queue and receives
// from an empty one fail with EAGAIN instead of waiting). mode and attr are used only when the
// call creates the queue: mode less the umask is its permission; attr (nil for the system's
// defaults, /proc/sys/fs/mqueue/msg_default and msgsize_default) sets its mq_maxmsg and
// mq_msgsize. MqOpen adds O_CLOEXEC, so that the descriptor does not leak into a program this
// one starts.
func MqOpen(name string, flag int, mode uint32, attr *MqAttr) (int, error) {
	_, kernel, err := MqName(name)
	if err != nil {
		return -1, unix.EINVAL
	}
	p, err := unix.BytePtrFromString(kernel)
	if err != nil {
		return -1, unix.EINVAL
	}
	fd, _, e := unix.Syscall6(unix.SYS_MQ_OPEN, uintptr(unsafe.Pointer(p)), uintptr(flag|unix.O_CLOEXEC), uintptr(mode), uintptr(unsafe.Pointer(attr)), 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(fd), nil
}

// MqUnlink is mq_unlink(3): it removes the name of the queue (with or without its leading
// slash). The queue itself goes when the last descriptor of it is closed; a process that has
// it open goes on using it, and never learns that its name is gone.
func MqUnlink(name string) error {
	_, kernel, err := MqName(name)
	if err != nil {
		return unix.EINVAL
	}
	p, err := unix.BytePtrFromString(kernel)
	if err != nil {
		return unix.EINVAL
	}
	if _, _, e := unix.Syscall(unix.SYS_MQ_UNLINK, uintptr(unsafe.Pointer(p)), 0, 0); e != 0 {
		return e
	}
	return nil
}

// MqTimedsend is mq_timedsend(3): it puts msg, with priority prio (0 to MQ_PRIO_MAX-1), in the
// queue mqd. On a full queue it waits for room until abstime, a date on CLOCK_REALTIME (nil:
// for ever), then fails with ETIMEDOUT; with O_NONBLOCK it fails at once with EAGAIN. A message
// longer than the queue's mq_msgsize is EMSGSIZE. It retries on EINTR (see the top of this
// file): the wait ends on room, on abstime, or never.
func MqTimedsend(mqd int, msg []byte, prio uint, abstime *unix.Timespec) error {
	var p unsafe.Pointer
	if len(msg) > 0 {
		p = unsafe.Pointer(&msg[0])
	}
	for {
		_, _, e := unix.Syscall6(unix.SYS_MQ_TIMEDSEND, uintptr(mqd), uintptr(p), uintptr(len(msg)), uintptr(prio), uintptr(unsafe.Pointer(abstime)), 0)
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

// MqTimedreceive is mq_timedreceive(3): it takes the oldest message of the highest priority
// out of the queue mqd, copies it into buf, and returns its length and priority. buf must hold
// at least the queue's mq_msgsize bytes, or the call fails with EMSGSIZE (and takes nothing).
// On an empty queue it waits until abstime (nil: for ever), then fails with ETIMEDOUT; with
// O_NONBLOCK it fails at once with EAGAIN. It retries on EINTR, as MqTimedsend does.
func MqTimedreceive(mqd int, buf []byte, abstime *unix.Timespec) (n int, prio uint, err error) {
	var p unsafe.Pointer
	if len(buf) > 0 {
		p = unsafe.Pointer(&buf[0])
	}
	var pr uint32 // unsigned int *msg_prio
	for {
		r, _, e := unix.Syscall6(unix.SYS_MQ_TIMEDRECEIVE, uintptr(mqd), uintptr(p), uintptr(len(buf)), uintptr(unsafe.Pointer(&pr)), uintptr(unsafe.Pointer(abstime)), 0)
		switch e {
		case 0:
			return int(r), uint(pr), nil
		case unix.EINTR:
			continue
		default:
			return 0, 0, e
		}
	}
}

// MqGetsetattr is mq_getsetattr(2), which mq_getattr(3) and mq_setattr(3) call: it fills
// oldattr (if not nil) with the queue's attributes and how many messages it holds, then sets
// the descriptor's O_NONBLOCK from newattr.Flags (if newattr is not nil). Nothing else can be
// changed after creation.
func MqGetsetattr(mqd int, newattr, oldattr *MqAttr) error {
	_, _, e := unix.Syscall(unix.SYS_MQ_GETSETATTR, uintptr(mqd), uintptr(unsafe.Pointer(newattr)), uintptr(unsafe.Pointer(oldattr)))
	if e != 0 {
		return e
	}
	return nil
}

// MqPollInterval is how long MqSendContext and MqReceiveContext wait in one timed call before
// they look at their context again: how long a Ctrl-C may take to end a wait.
const MqPollInterval = 100 * time.Millisecond

// mqDeadline is the date MqPollInterval from now, as mq_timedsend and mq_timedreceive take it.
func mqDeadline(d time.Duration) *unix.Timespec {
	ts := unix.NsecToTimespec(time.Now().Add(d).UnixNano())
	return &ts
}

// MqPast is a date already gone (the epoch): a send or receive with it as abstime does not wait
// at all, and fails with ETIMEDOUT where it would have waited. That tells "the queue is full"
// (or empty) apart, before a program says that it waits.
var MqPast = &unix.Timespec{}

// MqSendContext is MqTimedsend that waits until there is room, or until ctx is done, and then
// returns context.Cause(ctx) (nothing is sent). It waits in mq_timedsend MqPollInterval at a
// time and checks ctx in between: a signal does not end the wait in Go (see the top of this
// file). On a descriptor with O_NONBLOCK it returns EAGAIN at once, as mq_timedsend does.
func MqSendContext(ctx context.Context, mqd int, msg []byte, prio uint) error {
	for {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if err := MqTimedsend(mqd, msg, prio, mqDeadline(MqPollInterval)); err != unix.ETIMEDOUT {
			return err
		}
	}
}

// MqReceiveContext is MqTimedreceive that waits until there is a message, or until ctx is
// done, and then returns context.Cause(ctx), in the same slices as MqSendContext.
func MqReceiveContext(ctx context.Context, mqd int, buf []byte) (n int, prio uint, err error) {
	for {
		if ctx.Err() != nil {
			return 0, 0, context.Cause(ctx)
		}
		n, prio, err := MqTimedreceive(mqd, buf, mqDeadline(MqPollInterval))
		if err != unix.ETIMEDOUT {
			return n, prio, err
		}
	}
}

// OpenMq opens the queue name (MqName's shown form) for flag (O_RDONLY or O_WRONLY,
// perhaps with O_NONBLOCK) and returns its descriptor and attributes, and whether this call
// created it. With create, a queue that does not exist is created with O_CREAT|O_EXCL, mode
// Mode and the system's default attributes (exactly one of several processes that try at once
// creates it; the others open it). A queue that was already there is used only if it is ours
// alone (CheckMq); the errors say which call failed, and what to do.
func OpenMq(name string, flag int, create bool) (mqd int, attr MqAttr, created bool, err error) {
	for {
		if create {
			mqd, err = MqOpen(name, flag|unix.O_CREAT|unix.O_EXCL, Mode, nil)
			if err == nil {
				created = true
				break
			}
			if err != unix.EEXIST {
				return -1, attr, false, mqOpenError(name, err)
			}
		}
		mqd, err = MqOpen(name, flag, 0, nil)
		if err == unix.ENOENT && create {
			continue // unlinked between the two calls: try to create it again
		}
		if err != nil {
			return -1, attr, false, mqOpenError(name, err)
		}
		if err := CheckMq(mqd, name); err != nil {
			unix.Close(mqd)
			return -1, attr, false, err
		}
		break
	}
	if err := MqGetsetattr(mqd, nil, &attr); err != nil {
		unix.Close(mqd)
		return -1, attr, false, fmt.Errorf("mq_getattr %s: %w", name, err)
	}
	return mqd, attr, created, nil
}

// mqOpenError explains a failed mq_open.
func mqOpenError(name string, err error) error {
	switch err {
	case unix.ENOENT:
		return fmt.Errorf("mq_open %s: %w (no queue by that name: start psender first, or pass -name)", name, err)
	case unix.EACCES:
		return fmt.Errorf("mq_open %s: %w (the queue is another user's, and not ours to use; pass -name with another name)", name, err)
	case unix.EMFILE, unix.ENOSPC:
		return fmt.Errorf("mq_open %s: %w (too many queues: see /proc/sys/fs/mqueue/queues_max and ulimit -q)", name, err)
	}
	return fmt.Errorf("mq_open %s: %w", name, err)
}

// CheckMq refuses a queue that another process created, open at mqd, unless it is ours
// alone: owned by us (fstat on a queue descriptor gives the owner and the mode of the queue, as
// ls -l /dev/mqueue does), with nothing for group or others. Anyone may create a queue at a name
// before us, and a queue that another user owns, or that others may write to, is not a channel
// between our programs: they could read our messages, or slip theirs in.
func CheckMq(mqd int, name string) error {
	var st unix.Stat_t
	if err := unix.Fstat(mqd, &st); err != nil {
		return fmt.Errorf("fstat %s: %w", name, err)
	}
	switch uid := os.Geteuid(); {
	case int(st.Uid) != uid:
		return fmt.Errorf("queue %s belongs to uid %d, not to you (uid %d); refusing to use it (pass -name with another name)", name, st.Uid, uid)
	case st.Mode&0o077 != 0:
		return fmt.Errorf("queue %s has mode %04o, which lets group or others use it; refusing to use it (remove it: rm /dev/mqueue%s, or pass -name with another name)", name, st.Mode&0o777, name)
	}
	return nil
}

// CheckMqMsgsize refuses messages that the queue, whose attributes are attr, does not take: a
// message longer than its mq_msgsize would fail with EMSGSIZE, after the ones before it had
// been sent. It returns an error for the first such message, naming it by its place (from 1).
func CheckMqMsgsize(name string, attr *MqAttr, msgs [][]byte) error {
	for i, m := range msgs {
		if int64(len(m)) > attr.Msgsize {
			return fmt.Errorf("message %d is %d bytes, more than queue %s takes (mq_msgsize %d); nothing was sent", i+1, len(m), name, attr.Msgsize)
		}
	}
	return nil
}
