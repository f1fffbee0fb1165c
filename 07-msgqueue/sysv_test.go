package msgqueue_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	msgqueue "example.com/ipc/07-msgqueue"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// newMsq makes a private queue (IPC_PRIVATE: no other process can find it) with the given mode,
// and removes it when the test ends, even if the test removed it already.
func newMsq(t *testing.T, mode int) int {
	t.Helper()
	id, err := msgqueue.Msgget(unix.IPC_PRIVATE, unix.IPC_CREAT|unix.IPC_EXCL|mode)
	require.NoError(t, err)
	t.Cleanup(func() { msgqueue.Msgctl(id, unix.IPC_RMID, nil) })
	return id
}

// newMsqKey derives a key from a new temporary directory with ftok, as the programs do from
// $TMPDIR, so that no other test or run meets it; it removes whatever queue is at the key when
// the test ends. A key that already has a queue (ftok keeps only 24 bits of the file) is skipped.
func newMsqKey(t *testing.T) uint32 {
	t.Helper()
	for range 10 {
		key, err := msgqueue.Ftok(t.TempDir(), msgqueue.DefaultProj)
		require.NoError(t, err)
		if _, err := msgqueue.Msgget(msgqueue.QueueKey(key), 0); err == unix.ENOENT {
			t.Cleanup(func() {
				if id, err := msgqueue.Msgget(msgqueue.QueueKey(key), 0); err == nil {
					msgqueue.Msgctl(id, unix.IPC_RMID, nil)
				}
			})
			return key
		}
	}
	t.Fatal("no free key in 10 temporary directories")
	return 0
}

// send sends each text with its type, failing the test on an error.
func send(t *testing.T, id int, msgs ...string) {
	t.Helper()
	for _, m := range msgs {
		typ, text, _ := strings.Cut(m, ":")
		n, err := strconv.ParseInt(typ, 10, 64)
		require.NoError(t, err)
		require.NoError(t, msgqueue.Msgsnd(id, n, []byte(text), unix.IPC_NOWAIT))
	}
}

// recv takes one message asking for msgtyp, with IPC_NOWAIT, and returns it as "type:text".
func recv(t *testing.T, id int, msgtyp int64) string {
	t.Helper()
	buf := make([]byte, 8192)
	n, typ, err := msgqueue.Msgrcv(id, buf, msgtyp, unix.IPC_NOWAIT)
	require.NoError(t, err, "msgtyp %d", msgtyp)
	return fmt.Sprintf("%d:%s", typ, buf[:n])
}

// stat is IPC_STAT.
func stat(t *testing.T, id int) msgqueue.MsqidDs {
	t.Helper()
	var ds msgqueue.MsqidDs
	require.NoError(t, msgqueue.Msgctl(id, unix.IPC_STAT, &ds))
	return ds
}

// blockedIn waits until a thread of this process is blocked in a kernel function whose name
// contains fn (/proc/self/task/*/wchan), for at most 10 s: readiness is an event, not a sleep.
func blockedIn(t *testing.T, fn string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		wchans, _ := filepath.Glob("/proc/self/task/*/wchan")
		for _, w := range wchans {
			if b, _ := os.ReadFile(w); strings.Contains(string(b), fn) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no thread blocked in %s after 10 s", fn)
		}
	}
}

// The layouts the kernel reads and writes. TestMsqLayoutsAgainstC checks the same numbers with
// the C compiler.
func TestMsqLayouts(t *testing.T) {
	var ds msgqueue.MsqidDs
	assert.EqualValues(t, 48, unsafe.Sizeof(ds.Perm), "struct ipc64_perm")
	assert.EqualValues(t, 48, unsafe.Offsetof(ds.Stime))
	assert.EqualValues(t, 56, unsafe.Offsetof(ds.Rtime))
	assert.EqualValues(t, 64, unsafe.Offsetof(ds.Ctime))
	assert.EqualValues(t, 72, unsafe.Offsetof(ds.Cbytes))
	assert.EqualValues(t, 80, unsafe.Offsetof(ds.Qnum))
	assert.EqualValues(t, 88, unsafe.Offsetof(ds.Qbytes))
	assert.EqualValues(t, 96, unsafe.Offsetof(ds.Lspid))
	assert.EqualValues(t, 100, unsafe.Offsetof(ds.Lrpid))
	assert.EqualValues(t, 120, unsafe.Sizeof(ds))
	assert.Contains(t, []string{"amd64", "arm64"}, runtime.GOARCH)
}

// The same sizes, offsets and constants as the C compiler sees them in the kernel's headers on
// this machine (when gcc is there); and a struct msgbuf's text starts 8 bytes in, after a long.
func TestMsqLayoutsAgainstC(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("no gcc")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "layout.c")
	require.NoError(t, os.WriteFile(src, []byte(`#include <stdio.h>
#include <stddef.h>
#include <linux/msg.h>
struct message { long mtype; char mtext[1]; };
int main(void) {
	printf("%zu %zu %zu %zu %zu %zu %zu %zu %zu %zu %zu\n", sizeof(struct msqid64_ds),
		sizeof(struct ipc64_perm), offsetof(struct msqid64_ds, msg_stime),
		offsetof(struct msqid64_ds, msg_rtime), offsetof(struct msqid64_ds, msg_ctime),
		offsetof(struct msqid64_ds, msg_cbytes), offsetof(struct msqid64_ds, msg_qnum),
		offsetof(struct msqid64_ds, msg_qbytes), offsetof(struct msqid64_ds, msg_lspid),
		offsetof(struct msqid64_ds, msg_lrpid), offsetof(struct message, mtext));
	printf("%d %d\n", MSG_NOERROR, MSG_EXCEPT);
	return 0;
}
`), 0o600))
	bin := filepath.Join(dir, "layout")
	out, err := exec.Command("gcc", "-o", bin, src).CombinedOutput()
	require.NoError(t, err, "%s", out)
	out, err = exec.Command(bin).Output()
	require.NoError(t, err)

	var ds msgqueue.MsqidDs
	want := fmt.Sprintln(unsafe.Sizeof(ds), unsafe.Sizeof(ds.Perm), unsafe.Offsetof(ds.Stime),
		unsafe.Offsetof(ds.Rtime), unsafe.Offsetof(ds.Ctime), unsafe.Offsetof(ds.Cbytes),
		unsafe.Offsetof(ds.Qnum), unsafe.Offsetof(ds.Qbytes), unsafe.Offsetof(ds.Lspid),
		unsafe.Offsetof(ds.Lrpid), 8) +
		fmt.Sprintln(msgqueue.MSG_NOERROR, msgqueue.MSG_EXCEPT)
	assert.Equal(t, want, string(out))
}

// A queue, from creation to removal: created with Mode whatever the umask, empty, limited by
// msgmnb; messages in and out, as IPC_STAT counts them.
func TestMsqRoundTrip(t *testing.T) {
	old := unix.Umask(0o077)
	defer unix.Umask(old)
	id := newMsq(t, msgqueue.Mode)

	ds := stat(t, id)
	assert.EqualValues(t, 0o600, ds.Perm.Mode&0o777)
	assert.EqualValues(t, os.Geteuid(), ds.Perm.Uid)
	assert.EqualValues(t, os.Geteuid(), ds.Perm.Cuid)
	assert.Zero(t, ds.Qnum)
	assert.Zero(t, ds.Cbytes)
	assert.Zero(t, ds.Stime, "no msgsnd yet")
	assert.NotZero(t, ds.Ctime)
	mnb, err := msgqueue.Msgmnb()
	require.NoError(t, err)
	assert.EqualValues(t, mnb, ds.Qbytes, "a new queue holds msgmnb bytes")
	require.NoError(t, msgqueue.CheckOwner(0, id, &ds, os.Geteuid()))

	send(t, id, "7:hello", "2:wörld", "7:")
	ds = stat(t, id)
	assert.EqualValues(t, 3, ds.Qnum)
	assert.EqualValues(t, 5+6+0, ds.Cbytes, "the text only, not mtype")
	assert.EqualValues(t, os.Getpid(), ds.Lspid)
	assert.NotZero(t, ds.Stime)
	assert.Zero(t, ds.Rtime)

	assert.Equal(t, "7:hello", recv(t, id, 0))
	assert.Equal(t, "2:wörld", recv(t, id, 0))
	assert.Equal(t, "7:", recv(t, id, 0), "an empty message is a message")
	ds = stat(t, id)
	assert.Zero(t, ds.Qnum)
	assert.EqualValues(t, os.Getpid(), ds.Lrpid)
	assert.NotZero(t, ds.Rtime)

	// The wrappers refuse what would make the kernel read or write the wrong memory, and the
	// kernel refuses a type of 0 or less.
	assert.ErrorIs(t, msgqueue.Msgctl(id, unix.IPC_STAT, nil), unix.EINVAL)
	assert.ErrorIs(t, msgqueue.Msgctl(id, 3, &ds), unix.EINVAL, "IPC_INFO")
	assert.ErrorIs(t, msgqueue.Msgsnd(id, 0, []byte("x"), unix.IPC_NOWAIT), unix.EINVAL)
	assert.ErrorIs(t, msgqueue.Msgsnd(id, -1, []byte("x"), unix.IPC_NOWAIT), unix.EINVAL)

	// Removed: gone at once, with its messages.
	send(t, id, "1:left")
	require.NoError(t, msgqueue.Msgctl(id, unix.IPC_RMID, nil))
	assert.ErrorIs(t, msgqueue.Msgctl(id, unix.IPC_STAT, &ds), unix.EINVAL)
	assert.ErrorIs(t, msgqueue.Msgsnd(id, 1, nil, unix.IPC_NOWAIT), unix.EINVAL)
}

// msgrcv's type rules: 0 takes the first message, T > 0 the first of type T, T < 0 the first of
// the lowest type <= |T|; and the demo, in that order.
func TestMsqTypeRules(t *testing.T) {
	six := []string{"1:msg1", "1:msg2", "2:msg3", "2:msg4", "3:msg5", "3:msg6"}

	id := newMsq(t, msgqueue.Mode)
	send(t, id, six...)
	var got []string
	for _, typ := range []int64{3, 1, 2, 1, 3, 2} {
		got = append(got, recv(t, id, typ))
	}
	assert.Equal(t, []string{"3:msg5", "1:msg1", "2:msg3", "1:msg2", "3:msg6", "2:msg4"}, got)

	// 0: FIFO order, whatever the types.
	send(t, id, "3:c", "1:a", "2:b")
	assert.Equal(t, "3:c", recv(t, id, 0))
	assert.Equal(t, "1:a", recv(t, id, 0))
	assert.Equal(t, "2:b", recv(t, id, 0))

	// -T: the lowest type first, FIFO within a type, and only types <= |T|.
	send(t, id, "3:msg5", "2:msg3", "1:msg1", "2:msg4", "1:msg2", "3:msg6")
	got = nil
	for range 4 {
		got = append(got, recv(t, id, -2))
	}
	assert.Equal(t, []string{"1:msg1", "1:msg2", "2:msg3", "2:msg4"}, got)
	_, _, err := msgqueue.Msgrcv(id, make([]byte, 10), -2, unix.IPC_NOWAIT)
	assert.ErrorIs(t, err, unix.ENOMSG, "only types 3 are left")

	// T with MSG_EXCEPT: the first message not of type T.
	assert.Equal(t, "3:msg5", recv(t, id, -3))
	send(t, id, "5:five")
	_, typ, err := msgqueue.Msgrcv(id, make([]byte, 10), 3, unix.IPC_NOWAIT|msgqueue.MSG_EXCEPT)
	require.NoError(t, err)
	assert.EqualValues(t, 5, typ)
	assert.Equal(t, "3:msg6", recv(t, id, 3))

	// Types are C longs: the largest one goes through, and -T with T the most negative long
	// takes any type.
	require.NoError(t, msgqueue.Msgsnd(id, 1<<63-1, []byte("max"), unix.IPC_NOWAIT))
	assert.Equal(t, "9223372036854775807:max", recv(t, id, -1<<63))
}

// A payload is bytes, NUL and all, and a text is exactly as long as it was sent.
func TestMsqNULBytes(t *testing.T) {
	id := newMsq(t, msgqueue.Mode)
	payload := []byte("a\x00b\x00\x00\xff\n")
	require.NoError(t, msgqueue.Msgsnd(id, 1, payload, 0))
	buf := make([]byte, 100)
	n, typ, err := msgqueue.Msgrcv(id, buf, 0, 0)
	require.NoError(t, err)
	assert.EqualValues(t, 1, typ)
	assert.Equal(t, payload, buf[:n])
}

// A Msgbuf is struct msgbuf: MsgsndBuf sends its type and the first n bytes of its text, and
// MsgrcvBuf fills one in, with no allocation, unlike Msgsnd and Msgrcv, which make one a call.
func TestMsgbuf(t *testing.T) {
	id := newMsq(t, msgqueue.Mode)
	out, in := msgqueue.NewMsgbuf(16), msgqueue.NewMsgbuf(16)
	out.SetType(7)
	n := copy(out.Text(), "hello, queue")
	require.NoError(t, msgqueue.MsgsndBuf(id, out, n, 0))
	got, err := msgqueue.MsgrcvBuf(id, in, 0, 0)
	require.NoError(t, err)
	assert.EqualValues(t, 7, in.Type())
	assert.Equal(t, "hello, queue", string(in.Text()[:got]))
	// What MsgsndBuf sent is what msgsnd of a C struct msgbuf sends: Msgrcv reads it alike.
	require.NoError(t, msgqueue.MsgsndBuf(id, out, 5, 0))
	assert.Equal(t, "7:hello", recv(t, id, 0))
	assert.ErrorIs(t, msgqueue.MsgsndBuf(id, out, 17, 0), unix.EINVAL, "n beyond the text")

	allocs := testing.AllocsPerRun(100, func() {
		require.NoError(t, msgqueue.MsgsndBuf(id, out, n, 0))
		_, err := msgqueue.MsgrcvBuf(id, in, 0, 0)
		require.NoError(t, err)
	})
	assert.Zero(t, allocs, "MsgsndBuf and MsgrcvBuf allocate")
	big := make([]byte, 4096) // (Go keeps a Msgbuf of a few bytes on the stack)
	allocs = testing.AllocsPerRun(100, func() {
		require.NoError(t, msgqueue.Msgsnd(id, 7, big, 0))
		_, _, err := msgqueue.Msgrcv(id, big, 0, 0)
		require.NoError(t, err)
	})
	assert.Equal(t, 2.0, allocs, "Msgsnd and Msgrcv each make a Msgbuf")
}

// A text of exactly msgmax bytes is sent and comes back whole; one byte more is EINVAL, and
// nothing is sent. A message longer than the receiver's buffer is E2BIG and stays in the queue,
// unless MSG_NOERROR cuts it.
func TestMsqMsgmax(t *testing.T) {
	max, err := msgqueue.Msgmax()
	require.NoError(t, err)
	b, err := os.ReadFile("/proc/sys/kernel/msgmax")
	require.NoError(t, err)
	assert.Equal(t, strings.TrimSpace(string(b)), strconv.Itoa(max))

	id := newMsq(t, msgqueue.Mode)
	mnb, err := msgqueue.Msgmnb()
	require.NoError(t, err)
	if mnb < max {
		t.Skipf("msgmnb (%d) < msgmax (%d): a message of msgmax bytes never fits", mnb, max)
	}
	text := []byte(strings.Repeat("m", max-1) + "\x00")
	require.NoError(t, msgqueue.Msgsnd(id, 1, text, unix.IPC_NOWAIT))
	assert.ErrorIs(t, msgqueue.Msgsnd(id, 1, append(text, 'x'), unix.IPC_NOWAIT), unix.EINVAL)
	assert.EqualValues(t, 1, stat(t, id).Qnum)

	small := make([]byte, 10)
	_, _, err = msgqueue.Msgrcv(id, small, 0, unix.IPC_NOWAIT)
	assert.ErrorIs(t, err, unix.E2BIG)
	assert.EqualValues(t, 1, stat(t, id).Qnum, "still there")

	buf := make([]byte, max)
	n, _, err := msgqueue.Msgrcv(id, buf, 0, unix.IPC_NOWAIT)
	require.NoError(t, err)
	assert.Equal(t, text, buf[:n])

	send(t, id, "1:0123456789abc")
	n, _, err = msgqueue.Msgrcv(id, small, 0, unix.IPC_NOWAIT|msgqueue.MSG_NOERROR)
	require.NoError(t, err)
	assert.Equal(t, "0123456789", string(small[:n]))
	assert.Zero(t, stat(t, id).Qnum, "taken, cut")
}

// A full queue: with IPC_NOWAIT msgsnd fails with EAGAIN; MsgsndContext waits, ends when its
// context does having sent nothing, and sends once a receiver makes room. msg_qbytes is lowered
// with IPC_SET (no privilege needed) to make the queue small.
func TestMsqFull(t *testing.T) {
	id := newMsq(t, msgqueue.Mode)
	ds := stat(t, id)
	ds.Qbytes = 100
	require.NoError(t, msgqueue.Msgctl(id, unix.IPC_SET, &ds))
	assert.EqualValues(t, 100, stat(t, id).Qbytes)

	forty := []byte(strings.Repeat("x", 40))
	require.NoError(t, msgqueue.Msgsnd(id, 1, forty, unix.IPC_NOWAIT))
	require.NoError(t, msgqueue.Msgsnd(id, 2, forty, unix.IPC_NOWAIT))
	assert.ErrorIs(t, msgqueue.Msgsnd(id, 3, forty, unix.IPC_NOWAIT), unix.EAGAIN)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, msgqueue.MsgsndContext(ctx, id, 3, forty), context.DeadlineExceeded)
	ds = stat(t, id)
	assert.EqualValues(t, 2, ds.Qnum, "nothing more sent")
	assert.EqualValues(t, 80, ds.Cbytes)

	done := make(chan error, 1)
	go func() { done <- msgqueue.MsgsndContext(context.Background(), id, 3, forty) }()
	assert.Equal(t, "1:"+string(forty), recv(t, id, 0))
	require.NoError(t, <-done)
	assert.Equal(t, "2:"+string(forty), recv(t, id, 0))
	assert.Equal(t, "3:"+string(forty), recv(t, id, 0))

	// A queue of msg_qbytes bytes also holds at most msg_qbytes messages, empty ones included.
	ds.Qbytes = 3
	require.NoError(t, msgqueue.Msgctl(id, unix.IPC_SET, &ds))
	send(t, id, "1:", "1:", "1:")
	assert.ErrorIs(t, msgqueue.Msgsnd(id, 1, nil, unix.IPC_NOWAIT), unix.EAGAIN)
}

// An empty queue: with IPC_NOWAIT msgrcv fails with ENOMSG; MsgrcvContext waits, ends when its
// context does having taken nothing, and takes a message that arrives.
func TestMsqEmpty(t *testing.T) {
	id := newMsq(t, msgqueue.Mode)
	buf := make([]byte, 100)
	_, _, err := msgqueue.Msgrcv(id, buf, 0, unix.IPC_NOWAIT)
	assert.ErrorIs(t, err, unix.ENOMSG)
	send(t, id, "2:two")
	_, _, err = msgqueue.Msgrcv(id, buf, 1, unix.IPC_NOWAIT)
	assert.ErrorIs(t, err, unix.ENOMSG, "none of type 1")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, _, err := msgqueue.MsgrcvContext(ctx, id, buf, 1, 0)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("MsgrcvContext returned %v with no message of its type", err)
	case <-time.After(20 * time.Millisecond):
	}
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
	assert.EqualValues(t, 1, stat(t, id).Qnum, "the message of type 2 is still there")

	type result struct {
		text string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		b := make([]byte, 100)
		n, _, err := msgqueue.MsgrcvContext(context.Background(), id, b, 1, 0)
		got <- result{string(b[:n]), err}
	}()
	send(t, id, "1:one")
	assert.Equal(t, result{"one", nil}, <-got)
}

// A process blocked in msgrcv or msgsnd wakes with EIDRM when the queue is removed; one that
// polls gets EINVAL or EIDRM at its next try.
func TestMsqRemovedUnderAWaiter(t *testing.T) {
	id := newMsq(t, msgqueue.Mode)
	done := make(chan error, 1)
	go func() {
		_, _, err := msgqueue.Msgrcv(id, make([]byte, 10), 0, 0)
		done <- err
	}()
	blockedIn(t, "msgrcv")
	require.NoError(t, msgqueue.Msgctl(id, unix.IPC_RMID, nil))
	assert.ErrorIs(t, <-done, unix.EIDRM)

	id = newMsq(t, msgqueue.Mode)
	ds := stat(t, id)
	ds.Qbytes = 1
	require.NoError(t, msgqueue.Msgctl(id, unix.IPC_SET, &ds))
	send(t, id, "1:x")
	go func() { done <- msgqueue.Msgsnd(id, 1, []byte("y"), 0) }()
	blockedIn(t, "msgsnd")
	require.NoError(t, msgqueue.Msgctl(id, unix.IPC_RMID, nil))
	assert.ErrorIs(t, <-done, unix.EIDRM)

	id = newMsq(t, msgqueue.Mode)
	go func() {
		_, _, err := msgqueue.MsgrcvContext(context.Background(), id, make([]byte, 10), 0, 0)
		done <- err
	}()
	require.NoError(t, msgqueue.Msgctl(id, unix.IPC_RMID, nil))
	err := <-done
	assert.True(t, err == unix.EINVAL || err == unix.EIDRM, "%v", err)
}

// signal(7): msgrcv is never restarted after a signal handler, and Go installs its handlers
// with SA_RESTART. The raw system call returns EINTR; Msgrcv retries, and goes on waiting.
func TestMsqEINTR(t *testing.T) {
	id := newMsq(t, msgqueue.Mode)
	caught := make(chan os.Signal, 1)
	signal.Notify(caught, syscall.SIGUSR1)
	defer signal.Stop(caught)

	// signalBlocked runs op on a thread of its own, waits until it is blocked in msgrcv, sends
	// that thread SIGUSR1 (tgkill), and waits until Go's handler has caught it.
	signalBlocked := func(op func() error) <-chan error {
		tids := make(chan int)
		done := make(chan error, 1)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
			tids <- unix.Gettid()
			done <- op()
		}()
		tid := <-tids
		blockedIn(t, "msgrcv")
		require.NoError(t, unix.Tgkill(os.Getpid(), tid, syscall.SIGUSR1))
		select {
		case <-caught:
		case <-time.After(10 * time.Second):
			t.Fatal("SIGUSR1 not caught after 10 s")
		}
		return done
	}

	buf := make([]byte, 8+10)
	done := signalBlocked(func() error {
		_, _, e := unix.Syscall6(unix.SYS_MSGRCV, uintptr(id), uintptr(unsafe.Pointer(&buf[0])), 10, 0, 0, 0)
		return e
	})
	assert.Equal(t, unix.EINTR, <-done)

	done = signalBlocked(func() error {
		_, _, err := msgqueue.Msgrcv(id, make([]byte, 10), 0, 0)
		return err
	})
	blockedIn(t, "msgrcv") // blocked again after the signal
	select {
	case err := <-done:
		t.Fatalf("Msgrcv returned %v after a signal, with nothing to take", err)
	default:
	}
	send(t, id, "1:x")
	assert.NoError(t, <-done)
}

// OpenMsq creates the queue at a free key, and finds it the second time; FindMsq never creates.
func TestOpenMsq(t *testing.T) {
	key := newMsqKey(t)
	_, err := msgqueue.FindMsq(key)
	assert.ErrorIs(t, err, msgqueue.ErrNoMsq)
	assert.ErrorIs(t, err, unix.ENOENT)

	id, created, err := msgqueue.OpenMsq(key)
	require.NoError(t, err)
	assert.True(t, created)
	ds := stat(t, id)
	assert.EqualValues(t, msgqueue.Mode, ds.Perm.Mode&0o777)
	assert.EqualValues(t, key, uint32(ds.Perm.Key))

	again, created, err := msgqueue.OpenMsq(key)
	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, id, again)
	found, err := msgqueue.FindMsq(key)
	require.NoError(t, err)
	assert.Equal(t, id, found)

	// Ours, but with a mode that lets others in: refused by both, and left as it was.
	ds.Perm.Mode = 0o640
	require.NoError(t, msgqueue.Msgctl(id, unix.IPC_SET, &ds))
	_, _, err = msgqueue.OpenMsq(key)
	assert.ErrorContains(t, err, "has mode 0640, which lets group or others use it")
	_, err = msgqueue.FindMsq(key)
	assert.ErrorContains(t, err, fmt.Sprintf("queue key 0x%08x (msqid %d) has mode 0640", key, id))
	assert.EqualValues(t, 0o640, stat(t, id).Perm.Mode&0o777)
}

// A queue is ours alone if its owner and its creator are us and its mode gives nothing to group
// or others.
func TestMsqCheckOwner(t *testing.T) {
	desc := func(uid, cuid, mode uint32) *msgqueue.MsqidDs {
		return &msgqueue.MsqidDs{Perm: unix.SysvIpcPerm{Uid: uid, Cuid: cuid, Mode: mode}}
	}
	for _, ds := range []*msgqueue.MsqidDs{desc(1000, 1000, 0o600), desc(1000, 1000, 0o400), desc(1000, 1000, 0)} {
		assert.NoError(t, msgqueue.CheckOwner(0x1234, 7, ds, 1000), "mode %o", ds.Perm.Mode)
	}
	err := msgqueue.CheckOwner(0x1234, 7, desc(65534, 65534, 0o600), 1000)
	assert.EqualError(t, err, "queue key 0x00001234 (msqid 7) belongs to uid 65534, not to you (uid 1000); refusing to use it (pass another -key or -path/-proj)")
	// Handed over with IPC_SET: the owner is us, the creator is not.
	err = msgqueue.CheckOwner(0x1234, 7, desc(1000, 65534, 0o600), 1000)
	assert.EqualError(t, err, "queue key 0x00001234 (msqid 7) was created by uid 65534, not by you (uid 1000), and its creator may change its owner and mode at any time; refusing to use it (pass another -key or -path/-proj)")
	for _, mode := range []uint32{0o640, 0o604, 0o620, 0o602, 0o666} {
		err = msgqueue.CheckOwner(0x1234, 7, desc(1000, 1000, mode), 1000)
		assert.EqualError(t, err, "queue key 0x00001234 (msqid 7) has mode 0"+strconv.FormatUint(uint64(mode), 8)+", which lets group or others use it; refusing to use it (remove it: ipcrm -q 7, or pass another -key or -path/-proj)")
	}
	// Root is no exception.
	err = msgqueue.CheckOwner(0x1234, 7, desc(0, 65534, 0o600), 0)
	assert.ErrorContains(t, err, "was created by uid 65534, not by you (uid 0)")
}
