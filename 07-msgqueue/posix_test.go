package msgqueue_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	msgqueue "example.com/ipc/07-msgqueue"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

var mqSeq atomic.Int32

// newMq creates a queue of its own for the test (a name no other test or run has), with
// mode, maxmsg messages of msgsize bytes, opened O_RDWR plus flag, and removes it when the
// test ends. The umask is cleared while it is created, so that mode is the queue's mode.
func newMq(t *testing.T, mode uint32, maxmsg, msgsize int64, flag int) (string, int) {
	t.Helper()
	name := fmt.Sprintf("/ipc-mq-unit-%d-%d", os.Getpid(), mqSeq.Add(1))
	old := unix.Umask(0)
	mqd, err := msgqueue.MqOpen(name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|flag, mode, &msgqueue.MqAttr{Maxmsg: maxmsg, Msgsize: msgsize})
	unix.Umask(old)
	require.NoError(t, err, "mq_open %s", name)
	t.Cleanup(func() {
		unix.Close(mqd)
		msgqueue.MqUnlink(name)
	})
	return name, mqd
}

// mqReceiveAll takes every message out of a queue opened with O_NONBLOCK, until EAGAIN.
func mqReceiveAll(t *testing.T, mqd int, msgsize int) []string {
	t.Helper()
	var got []string
	buf := make([]byte, msgsize)
	for {
		n, prio, err := msgqueue.MqTimedreceive(mqd, buf, nil)
		if err == unix.EAGAIN {
			return got
		}
		require.NoError(t, err)
		got = append(got, fmt.Sprintf("%d:%s", prio, buf[:n]))
	}
}

// The layout of struct mq_attr that the kernel reads and writes (include/uapi/linux/mqueue.h):
// four longs, then four reserved ones.
func TestMqAttrLayout(t *testing.T) {
	var a msgqueue.MqAttr
	assert.EqualValues(t, 64, unsafe.Sizeof(a))
	assert.EqualValues(t, 0, unsafe.Offsetof(a.Flags))
	assert.EqualValues(t, 8, unsafe.Offsetof(a.Maxmsg))
	assert.EqualValues(t, 16, unsafe.Offsetof(a.Msgsize))
	assert.EqualValues(t, 24, unsafe.Offsetof(a.Curmsgs))
}

// The same numbers as the C compiler sees them, in glibc's <mqueue.h> (the struct a C program
// passes to mq_open, which glibc hands to the kernel as it is) and in the kernel's
// <linux/mqueue.h> (the two cannot be included together), and the constants.
func TestMqAttrLayoutAgainstC(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("no gcc")
	}
	var a msgqueue.MqAttr
	want := fmt.Sprintf("%d %d %d %d %d\n%d %d\n", unsafe.Sizeof(a), unsafe.Offsetof(a.Flags),
		unsafe.Offsetof(a.Maxmsg), unsafe.Offsetof(a.Msgsize), unsafe.Offsetof(a.Curmsgs),
		msgqueue.MQ_PRIO_MAX, msgqueue.NameMax)
	for _, header := range []string{"mqueue.h", "linux/mqueue.h"} {
		dir := t.TempDir()
		src := filepath.Join(dir, "layout.c")
		require.NoError(t, os.WriteFile(src, []byte(`#include <stdio.h>
#include <stddef.h>
#include <limits.h>
#include <`+header+`>
#ifndef MQ_PRIO_MAX
#define MQ_PRIO_MAX 32768 /* glibc's, in <limits.h> with <mqueue.h>; the kernel's is in ipc/mqueue.c */
#endif
int main(void) {
	printf("%zu %zu %zu %zu %zu\n", sizeof(struct mq_attr), offsetof(struct mq_attr, mq_flags),
		offsetof(struct mq_attr, mq_maxmsg), offsetof(struct mq_attr, mq_msgsize),
		offsetof(struct mq_attr, mq_curmsgs));
	printf("%d %d\n", MQ_PRIO_MAX, NAME_MAX);
	return 0;
}
`), 0o600))
		bin := filepath.Join(dir, "layout")
		out, err := exec.Command("gcc", "-o", bin, src).CombinedOutput()
		require.NoError(t, err, "%s", out)
		out, err = exec.Command(bin).Output()
		require.NoError(t, err)
		assert.Equal(t, want, string(out), header)
	}
}

// Names with or without the leading slash are the same queue; what the kernel would refuse, or
// read as something else, is refused with a reason.
func TestMqQueueName(t *testing.T) {
	for _, name := range []string{"/q", "q"} {
		shown, kernel, err := msgqueue.MqName(name)
		require.NoError(t, err, name)
		assert.Equal(t, "/q", shown)
		assert.Equal(t, "q", kernel)
	}
	long := strings.Repeat("x", msgqueue.NameMax)
	_, kernel, err := msgqueue.MqName("/" + long)
	require.NoError(t, err)
	assert.Equal(t, long, kernel)
	for name, why := range map[string]string{
		"":               "empty name",
		"/":              "empty name",
		"/a/b":           "a '/' only at its start",
		"a/":             "a '/' only at its start",
		"//a":            "a '/' only at its start",
		"/..":            "directory",
		".":              "directory",
		"/" + long + "x": "at most 255 bytes",
	} {
		_, _, err := msgqueue.MqName(name)
		if assert.Error(t, err, "%q", name) {
			assert.Contains(t, err.Error(), why, "%q", name)
		}
	}
	_, err = msgqueue.MqOpen("/a/b", unix.O_RDONLY, 0, nil)
	assert.ErrorIs(t, err, unix.EINVAL)
	assert.ErrorIs(t, msgqueue.MqUnlink(""), unix.EINVAL)

	// The name given without its slash opens the queue made with it, and unlinks it.
	name, _ := newMq(t, 0o600, 2, 16, 0)
	mqd, err := msgqueue.MqOpen(strings.TrimPrefix(name, "/"), unix.O_RDONLY, 0, nil)
	require.NoError(t, err)
	unix.Close(mqd)
	require.NoError(t, msgqueue.MqUnlink(strings.TrimPrefix(name, "/")))
	_, err = msgqueue.MqOpen(name, unix.O_RDONLY, 0, nil)
	assert.ErrorIs(t, err, unix.ENOENT)
}

// A queue from creation to removal: its attributes and mode as mq_getsetattr and fstat show
// them, a message there and back, O_NONBLOCK set and cleared on the descriptor.
func TestMqRoundTrip(t *testing.T) {
	name, mqd := newMq(t, 0o600, 3, 32, 0)
	var attr msgqueue.MqAttr
	require.NoError(t, msgqueue.MqGetsetattr(mqd, nil, &attr))
	assert.Equal(t, msgqueue.MqAttr{Maxmsg: 3, Msgsize: 32}, attr)
	var st unix.Stat_t
	require.NoError(t, unix.Fstat(mqd, &st))
	assert.EqualValues(t, 0o600, st.Mode&0o777)
	assert.EqualValues(t, os.Geteuid(), st.Uid)
	require.NoError(t, msgqueue.CheckMq(mqd, name))

	require.NoError(t, msgqueue.MqTimedsend(mqd, []byte("hello"), 7, nil))
	require.NoError(t, msgqueue.MqTimedsend(mqd, nil, 0, nil), "an empty message is a message")
	require.NoError(t, msgqueue.MqGetsetattr(mqd, nil, &attr))
	assert.EqualValues(t, 2, attr.Curmsgs)
	buf := make([]byte, 32)
	n, prio, err := msgqueue.MqTimedreceive(mqd, buf, nil)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(buf[:n]))
	assert.EqualValues(t, 7, prio)
	n, prio, err = msgqueue.MqTimedreceive(mqd, buf, nil)
	require.NoError(t, err)
	assert.Equal(t, 0, n)
	assert.EqualValues(t, 0, prio)

	// O_NONBLOCK is the descriptor's, and the one flag mq_setattr changes.
	var old msgqueue.MqAttr
	require.NoError(t, msgqueue.MqGetsetattr(mqd, &msgqueue.MqAttr{Flags: unix.O_NONBLOCK, Maxmsg: 99}, &old))
	assert.Zero(t, old.Flags)
	require.NoError(t, msgqueue.MqGetsetattr(mqd, nil, &attr))
	assert.Equal(t, msgqueue.MqAttr{Flags: unix.O_NONBLOCK, Maxmsg: 3, Msgsize: 32}, attr)
	_, _, err = msgqueue.MqTimedreceive(mqd, buf, nil)
	assert.ErrorIs(t, err, unix.EAGAIN, "empty, O_NONBLOCK")

	// Priorities go from 0 to MQ_PRIO_MAX-1.
	assert.NoError(t, msgqueue.MqTimedsend(mqd, []byte("top"), msgqueue.MQ_PRIO_MAX-1, nil))
	assert.ErrorIs(t, msgqueue.MqTimedsend(mqd, []byte("x"), msgqueue.MQ_PRIO_MAX, nil), unix.EINVAL)
	assert.Equal(t, []string{"32767:top"}, mqReceiveAll(t, mqd, 32))
}

// The highest priority first, and FIFO within a priority.
func TestMqPriorityOrder(t *testing.T) {
	_, mqd := newMq(t, 0o600, 10, 16, unix.O_NONBLOCK)
	for _, m := range []struct {
		prio uint
		text string
	}{{1, "low"}, {5, "high"}, {3, "mid"}, {5, "high2"}, {0, "zero"}, {3, "mid2"}, {5, "high3"}} {
		require.NoError(t, msgqueue.MqTimedsend(mqd, []byte(m.text), m.prio, nil))
	}
	assert.Equal(t, []string{"5:high", "5:high2", "5:high3", "3:mid", "3:mid2", "1:low", "0:zero"}, mqReceiveAll(t, mqd, 16))
}

// A payload is bytes, NUL included, and comes back byte for byte.
func TestMqNULBytes(t *testing.T) {
	_, mqd := newMq(t, 0o600, 2, 16, unix.O_NONBLOCK)
	msg := []byte("a\x00b\x00\x00\xff")
	require.NoError(t, msgqueue.MqTimedsend(mqd, msg, 1, nil))
	buf := make([]byte, 16)
	n, _, err := msgqueue.MqTimedreceive(mqd, buf, nil)
	require.NoError(t, err)
	assert.Equal(t, msg, buf[:n])
}

// A message of exactly mq_msgsize bytes goes through; one byte more is EMSGSIZE, and so is a
// receive buffer one byte shorter than mq_msgsize, which takes nothing. CheckMqMsgsize refuses
// the long one before any send.
func TestMqMsgsize(t *testing.T) {
	name, mqd := newMq(t, 0o600, 2, 64, unix.O_NONBLOCK)
	exact := []byte(strings.Repeat("e", 64))
	require.NoError(t, msgqueue.MqTimedsend(mqd, exact, 0, nil))
	assert.ErrorIs(t, msgqueue.MqTimedsend(mqd, append(exact, 'x'), 0, nil), unix.EMSGSIZE)
	_, _, err := msgqueue.MqTimedreceive(mqd, make([]byte, 63), nil)
	assert.ErrorIs(t, err, unix.EMSGSIZE)
	assert.Equal(t, []string{"0:" + string(exact)}, mqReceiveAll(t, mqd, 64))

	attr := msgqueue.MqAttr{Maxmsg: 2, Msgsize: 64}
	assert.NoError(t, msgqueue.CheckMqMsgsize(name, &attr, [][]byte{exact, nil}))
	err = msgqueue.CheckMqMsgsize(name, &attr, [][]byte{exact, append(exact, 'x')})
	assert.EqualError(t, err, "message 2 is 65 bytes, more than queue "+name+" takes (mq_msgsize 64); nothing was sent")
}

// A full queue: EAGAIN at once with O_NONBLOCK, ETIMEDOUT at the date given without it, at
// once with MqPast; an empty one the same for a receive.
func TestMqFullAndEmpty(t *testing.T) {
	name, mqd := newMq(t, 0o600, 2, 8, 0)
	buf := make([]byte, 8)
	_, _, err := msgqueue.MqTimedreceive(mqd, buf, msgqueue.MqPast)
	assert.ErrorIs(t, err, unix.ETIMEDOUT, "empty, a date already gone")
	start := time.Now()
	ts := unix.NsecToTimespec(start.Add(50 * time.Millisecond).UnixNano())
	_, _, err = msgqueue.MqTimedreceive(mqd, buf, &ts)
	assert.ErrorIs(t, err, unix.ETIMEDOUT)
	assert.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)

	require.NoError(t, msgqueue.MqTimedsend(mqd, []byte("1"), 0, nil))
	require.NoError(t, msgqueue.MqTimedsend(mqd, []byte("2"), 0, nil))
	assert.ErrorIs(t, msgqueue.MqTimedsend(mqd, []byte("3"), 0, msgqueue.MqPast), unix.ETIMEDOUT)
	ts = unix.NsecToTimespec(time.Now().Add(20 * time.Millisecond).UnixNano())
	assert.ErrorIs(t, msgqueue.MqTimedsend(mqd, []byte("3"), 0, &ts), unix.ETIMEDOUT)

	nb, err := msgqueue.MqOpen(name, unix.O_WRONLY|unix.O_NONBLOCK, 0, nil)
	require.NoError(t, err)
	defer unix.Close(nb)
	assert.ErrorIs(t, msgqueue.MqTimedsend(nb, []byte("3"), 0, nil), unix.EAGAIN)
	assert.ErrorIs(t, msgqueue.MqSendContext(context.Background(), nb, []byte("3"), 0), unix.EAGAIN)
	var attr msgqueue.MqAttr
	require.NoError(t, msgqueue.MqGetsetattr(mqd, nil, &attr))
	assert.EqualValues(t, 2, attr.Curmsgs, "nothing more was sent")
}

// The context waits end on cancel within about MqPollInterval, with the cause, having sent or
// taken nothing; and they end on room or a message as soon as there is one.
func TestMqContextWaits(t *testing.T) {
	_, mqd := newMq(t, 0o600, 1, 8, 0)
	buf := make([]byte, 8)
	stop := fmt.Errorf("stop")

	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(50*time.Millisecond, func() { cancel(stop) })
	start := time.Now()
	_, _, err := msgqueue.MqReceiveContext(ctx, mqd, buf)
	assert.ErrorIs(t, err, stop)
	assert.Less(t, time.Since(start), time.Second)

	require.NoError(t, msgqueue.MqTimedsend(mqd, []byte("full"), 0, nil))
	ctx, cancel = context.WithCancelCause(context.Background())
	time.AfterFunc(50*time.Millisecond, func() { cancel(stop) })
	start = time.Now()
	assert.ErrorIs(t, msgqueue.MqSendContext(ctx, mqd, []byte("more"), 0), stop)
	assert.Less(t, time.Since(start), time.Second)

	// Room made while a sender waits: the send completes.
	done := make(chan error, 1)
	go func() { done <- msgqueue.MqSendContext(context.Background(), mqd, []byte("more"), 0) }()
	n, _, err := msgqueue.MqTimedreceive(mqd, buf, nil)
	require.NoError(t, err)
	assert.Equal(t, "full", string(buf[:n]))
	require.NoError(t, <-done)
	n, _, err = msgqueue.MqReceiveContext(context.Background(), mqd, buf)
	require.NoError(t, err)
	assert.Equal(t, "more", string(buf[:n]))
}

// A signal does not end a blocked mq_timedreceive in Go: the handler has SA_RESTART, and the
// kernel restarts the call; it ends at its date, with ETIMEDOUT, not with EINTR. (Why the
// programs wait in slices that check a context: see the top of posix.go.)
func TestMqSignalDoesNotEndWait(t *testing.T) {
	_, mqd := newMq(t, 0o600, 1, 8, 0)
	c := make(chan os.Signal, 16)
	signal.Notify(c, unix.SIGUSR1)
	defer signal.Stop(c)

	tid := make(chan int, 1)
	done := make(chan error, 1)
	const wait = 500 * time.Millisecond
	go func() {
		runtime.LockOSThread() // so that tid is the thread blocked in the call
		defer runtime.UnlockOSThread()
		tid <- unix.Gettid()
		ts := unix.NsecToTimespec(time.Now().Add(wait).UnixNano())
		_, _, err := unix.Syscall6(unix.SYS_MQ_TIMEDRECEIVE, uintptr(mqd), uintptr(unsafe.Pointer(&make([]byte, 8)[0])), 8, 0, uintptr(unsafe.Pointer(&ts)), 0)
		done <- err // the raw errno: no EINTR retry here
	}()
	id := <-tid
	start := time.Now()
	for i := 0; ; i++ {
		select {
		case err := <-done:
			assert.Equal(t, unix.ETIMEDOUT, err)
			assert.GreaterOrEqual(t, time.Since(start)+50*time.Millisecond, wait)
			assert.NotEmpty(t, c, "the signals were caught")
			return
		case <-time.After(20 * time.Millisecond):
			unix.Tgkill(os.Getpid(), id, unix.SIGUSR1)
		}
	}
}

// OpenMq creates a queue that is not there, mode Mode, the system's defaults; opens one that
// is ours; refuses one whose mode gives anything to group or others, untouched.
func TestMqOpenQueue(t *testing.T) {
	name := fmt.Sprintf("/ipc-mq-unit-%d-open", os.Getpid())
	t.Cleanup(func() { msgqueue.MqUnlink(name) })
	mqd, attr, created, err := msgqueue.OpenMq(name, unix.O_WRONLY, true)
	require.NoError(t, err)
	assert.True(t, created)
	assert.NotZero(t, attr.Maxmsg)
	assert.NotZero(t, attr.Msgsize)
	var st unix.Stat_t
	require.NoError(t, unix.Fstat(mqd, &st))
	assert.EqualValues(t, msgqueue.Mode, st.Mode&0o777)
	unix.Close(mqd)

	mqd, attr2, created, err := msgqueue.OpenMq(name, unix.O_RDONLY, true)
	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, attr, attr2)
	unix.Close(mqd)
	require.NoError(t, msgqueue.MqUnlink(name))

	_, _, _, err = msgqueue.OpenMq(name, unix.O_RDONLY, false)
	assert.EqualError(t, err, "mq_open "+name+": no such file or directory (no queue by that name: start psender first, or pass -name)")

	other, _ := newMq(t, 0o644, 2, 8, 0)
	_, _, _, err = msgqueue.OpenMq(other, unix.O_RDONLY, true)
	assert.EqualError(t, err, "queue "+other+" has mode 0644, which lets group or others use it; refusing to use it (remove it: rm /dev/mqueue"+other+", or pass -name with another name)")
}
