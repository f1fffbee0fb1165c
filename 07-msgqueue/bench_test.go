package msgqueue_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	msgqueue "example.com/ipc/07-msgqueue"
	"golang.org/x/sys/unix"
)

// benchMsgqSize is the message of a message queue's throughput benchmark: 8192 bytes, the
// largest that the default limits allow, System V's msgmax (/proc/sys/kernel/msgmax) and
// POSIX's msgsize_max (/proc/sys/fs/mqueue/msgsize_max). A round trip sends benchMsgSize bytes.
const benchMsgqSize = 8192

// benchMqMaxmsg is the mq_maxmsg of a POSIX queue of the benchmarks: 10, the default
// msg_max (/proc/sys/fs/mqueue/msg_max), the most that an unprivileged process may ask for.
const benchMqMaxmsg = 10

// BenchmarkSysVMsg measures one System V message queue (msgget(IPC_PRIVATE), mode 0600)
// between this process and its peer: this process sends messages of type 1 and receives type
// 2; the peer receives type 1 and sends type 2. rtt sends 64 bytes and receives them back;
// throughput sends 8192-byte messages (the default msgmax; the default msgmnb, 16384 bytes,
// lets the queue hold two of them), then waits for the peer's 1-byte message saying it has
// taken them all.
//
//   - raw: msgsnd(2) and msgrcv(2) that block, as a C program calls them: MsgsndBuf and
//     MsgrcvBuf with no flag, on a Msgbuf kept from call to call.
//   - example: the wait of 07's programs, MsgsndContext and MsgrcvContext, on both sides: a
//     try with IPC_NOWAIT, then sleeps of 1 ms doubling up to 50 ms between tries, so that
//     Ctrl-C can end the wait (sysv.go says why not a blocking call). A message that finds
//     its receiver asleep waits out the sleep: that is what this row shows.
func BenchmarkSysVMsg(b *testing.B) {
	for _, kind := range []string{"rtt", "throughput"} {
		for _, path := range []string{"raw", "example"} {
			b.Run(kind+"/"+path, func(b *testing.B) { benchSysVMsg(b, kind, path) })
		}
	}
}

func benchSysVMsg(b *testing.B, kind, path string) {
	size := msgqSize(kind)
	if kind == "throughput" {
		for _, l := range []struct {
			name string
			get  func() (int, error)
		}{{"msgmax", msgqueue.Msgmax}, {"msgmnb", msgqueue.Msgmnb}} {
			limit, err := l.get()
			if err != nil {
				b.Fatal(err)
			}
			if limit < size {
				b.Skipf("/proc/sys/kernel/%s is %d, less than the %d bytes of a message of this benchmark (8192 is the default)", l.name, limit, size)
			}
		}
	}
	self, cpu := benchCPUs(b)
	pinSelf(b, self)
	id, err := msgqueue.Msgget(unix.IPC_PRIVATE, 0o600)
	if err != nil {
		b.Fatal("msgget:", err)
	}
	b.Cleanup(func() {
		// EINVAL: watchPeer has removed it already.
		if err := msgqueue.Msgctl(id, unix.IPC_RMID, nil); err != nil && err != unix.EINVAL {
			b.Errorf("msgctl IPC_RMID msqid %d: %v", id, err)
		}
	})
	p := startPeer(b, cpu, nil, "sysv-"+msgRole(kind), path, strconv.Itoa(id), strconv.Itoa(b.N))
	// If the peer dies, removing the queue ends the wait of msgrcv or msgsnd, with EIDRM.
	watchPeer(b, p, func(<-chan struct{}) { msgqueue.Msgctl(id, unix.IPC_RMID, nil) })
	msgBench(b, kind, size, sysvEnd(path, id, 1, 2))
	p.wait(b)
}

// BenchmarkPosixMQ measures two POSIX message queues between this process and its peer, made
// by mq_open(3) with O_CREAT|O_EXCL, mode 0600, mq_maxmsg 10 and mq_msgsize the message's size:
// "to" (this process sends, the peer receives) and "from" (the other way). This process
// unlinks their names once the peer has opened them. rtt sends 64 bytes and receives them
// back; throughput sends 8192-byte messages (the default msgsize_max), then waits for the
// peer's 1-byte message saying it has taken them all.
//
//   - raw: mq_timedsend(3) and mq_timedreceive(3) with no timeout (NULL), which block as
//     mq_send and mq_receive do, as a C program calls them.
//   - example: the wait of 07's programs, MqSendContext and MqReceiveContext, on both sides:
//     the same calls, each with a timeout 100 ms ahead, in a loop that checks for Ctrl-C
//     between them (posix.go says why). A message ends the wait at once, as in raw: what this
//     row adds is the date, computed on every call, and the timer the kernel arms with it.
func BenchmarkPosixMQ(b *testing.B) {
	for _, kind := range []string{"rtt", "throughput"} {
		for _, path := range []string{"raw", "example"} {
			b.Run(kind+"/"+path, func(b *testing.B) { benchPosixMQ(b, kind, path) })
		}
	}
}

// benchMqSeq makes each benchmark's queue names unique in this process.
var benchMqSeq atomic.Int64

func benchPosixMQ(b *testing.B, kind, path string) {
	size := msgqSize(kind)
	for _, l := range []struct {
		name string
		want int
	}{{"msgsize_max", size}, {"msg_max", benchMqMaxmsg}} {
		limit, err := readLimit("/proc/sys/fs/mqueue/" + l.name)
		if err != nil {
			b.Fatal(err)
		}
		if limit < l.want {
			b.Skipf("/proc/sys/fs/mqueue/%s is %d, less than the %d this benchmark needs (the default is %d)", l.name, limit, l.want, l.want)
		}
	}
	self, cpu := benchCPUs(b)
	pinSelf(b, self)
	base := fmt.Sprintf("/ipcbench-%d-%d", os.Getpid(), benchMqSeq.Add(1))
	to, from := base+"-to", base+"-from"
	attr := msgqueue.MqAttr{Maxmsg: benchMqMaxmsg, Msgsize: int64(size)}
	var mqds []int
	var made []string // the names this process created, and so removes
	b.Cleanup(func() {
		for _, mqd := range mqds {
			unix.Close(mqd)
		}
		for _, name := range made { // ENOENT: unlinked once the peer was ready
			if err := msgqueue.MqUnlink(name); err != nil && err != unix.ENOENT {
				b.Errorf("mq_unlink %s: %v", name, err)
			}
		}
	})
	// This process's ends, then two more for watchPeer: one to send on "from", one to receive
	// on "to", as the peer does.
	for _, q := range []struct {
		name string
		flag int
	}{
		{to, unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL},
		{from, unix.O_RDONLY | unix.O_CREAT | unix.O_EXCL},
		{from, unix.O_WRONLY | unix.O_NONBLOCK},
		{to, unix.O_RDONLY},
	} {
		mqd, err := msgqueue.MqOpen(q.name, q.flag, 0o600, &attr)
		if err != nil {
			b.Fatalf("mq_open %s: %v", q.name, err)
		}
		mqds = append(mqds, mqd)
		if q.flag&unix.O_CREAT != 0 {
			made = append(made, q.name)
		}
	}
	p := startPeer(b, cpu, nil, "mq-"+msgRole(kind), path, to, from, strconv.Itoa(b.N))
	for _, name := range []string{to, from} { // the peer has them open: the names can go
		if err := msgqueue.MqUnlink(name); err != nil {
			b.Fatalf("mq_unlink %s: %v", name, err)
		}
	}
	// If the peer dies, nothing ends a wait in mq_timedreceive or mq_timedsend with no
	// timeout, and a queue cannot be removed while it is open. So a message of 0 bytes (the
	// peer sends none such) ends a wait to receive, and taking what this process sends ends a
	// wait to send, until the benchmark, which then fails, ends.
	watchPeer(b, p, func(stop <-chan struct{}) {
		msgqueue.MqTimedsend(mqds[2], nil, 0, nil)
		buf := make([]byte, size)
		for {
			select {
			case <-stop:
				return
			default:
			}
			deadline := unix.NsecToTimespec(time.Now().Add(10 * time.Millisecond).UnixNano())
			msgqueue.MqTimedreceive(mqds[3], buf, &deadline)
		}
	})
	msgBench(b, kind, size, mqEnd(path, mqds[0], mqds[1]))
	p.wait(b)
}

// msgqSize is the size of the messages of a benchmark of kind.
func msgqSize(kind string) int {
	if kind == "rtt" {
		return benchMsgSize
	}
	return benchMsgqSize
}

// msgRole is the peer's role in a benchmark of kind.
func msgRole(kind string) string {
	return map[string]string{"rtt": "echo", "throughput": "sink"}[kind]
}

// readLimit reads a number from a file of /proc/sys.
func readLimit(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(data)))
}

// A msgEnd is one side's end of the queues: send a message to the other side, receive one from
// it (into buf, which holds the largest message the queue takes).
type msgEnd struct {
	send func(msg []byte) error
	recv func(buf []byte) (int, error)
}

// sysvEnd sends messages of type out and receives messages of type in on the queue id, the way
// path says.
func sysvEnd(path string, id int, out, in int64) msgEnd {
	if path == "example" {
		ctx := context.Background()
		return msgEnd{
			send: func(msg []byte) error { return msgqueue.MsgsndContext(ctx, id, out, msg) },
			recv: func(buf []byte) (int, error) {
				n, _, err := msgqueue.MsgrcvContext(ctx, id, buf, in, 0)
				return n, err
			},
		}
	}
	// raw: one struct msgbuf each way, kept from message to message, as a C program keeps its
	// own (Msgsnd and Msgrcv would make one a call: see Msgbuf).
	sbuf, rbuf := msgqueue.NewMsgbuf(benchMsgqSize), msgqueue.NewMsgbuf(benchMsgqSize)
	sbuf.SetType(out)
	return msgEnd{
		send: func(msg []byte) error { return msgqueue.MsgsndBuf(id, sbuf, copy(sbuf.Text(), msg), 0) },
		recv: func(buf []byte) (int, error) {
			n, err := msgqueue.MsgrcvBuf(id, rbuf[:8+len(buf)], in, 0)
			return copy(buf, rbuf.Text()[:n]), err
		},
	}
}

// mqEnd sends on the queue out and receives on the queue in, the way path says.
func mqEnd(path string, out, in int) msgEnd {
	if path == "example" {
		ctx := context.Background()
		return msgEnd{
			send: func(msg []byte) error { return msgqueue.MqSendContext(ctx, out, msg, 0) },
			recv: func(buf []byte) (int, error) {
				n, _, err := msgqueue.MqReceiveContext(ctx, in, buf)
				return n, err
			},
		}
	}
	return msgEnd{
		send: func(msg []byte) error { return msgqueue.MqTimedsend(out, msg, 0, nil) },
		recv: func(buf []byte) (int, error) {
			n, _, err := msgqueue.MqTimedreceive(in, buf, nil)
			return n, err
		},
	}
}

// The loops of the message queues, the same in Go and in the C reference:
//   - round trip: send a message of benchMsgSize bytes, receive one back; the peer echoes.
//   - throughput: send b.N messages of benchMsgqSize bytes; the peer receives them all, then
//     sends a message of one byte back, which ends the timing.

// msgBench is this process's side of a benchmark of kind, with messages of size bytes.
func msgBench(b *testing.B, kind string, size int, end msgEnd) {
	msg := make([]byte, size)
	if kind == "rtt" {
		roundTrips(b, func() error {
			if err := end.send(msg); err != nil {
				return fmt.Errorf("send: %w", err)
			}
			n, err := end.recv(msg)
			if err == nil && n != size {
				err = fmt.Errorf("%d bytes, not %d", n, size)
			}
			if err != nil {
				return fmt.Errorf("receive: %w", err)
			}
			return nil
		})
		return
	}
	throughput(b, size,
		func() error {
			if err := end.send(msg); err != nil {
				return fmt.Errorf("send: %w", err)
			}
			return nil
		},
		func() error {
			n, err := end.recv(msg)
			if err == nil && n != 1 {
				err = fmt.Errorf("%d bytes, not the 1 of the peer's last message", n)
			}
			if err != nil {
				return fmt.Errorf("receive: %w", err)
			}
			return nil
		})
}

// msgPeer is the peer's side: n times, receive a message and send it back (echo), or receive
// n messages, then send one of one byte (sink).
func msgPeer(role string, end msgEnd, size, n int) error {
	buf := make([]byte, size)
	peerReady()
	for i := range n {
		got, err := end.recv(buf)
		if err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		if got != size {
			return fmt.Errorf("received %d bytes, not %d", got, size)
		}
		if role == "echo" {
			if err := end.send(buf[:got]); err != nil {
				return fmt.Errorf("send: %w", err)
			}
		}
		benchYield(i)
	}
	if role == "sink" {
		if err := end.send(buf[:1]); err != nil {
			return fmt.Errorf("send: %w", err)
		}
	}
	return nil
}

// The peers: `sysv-echo|sysv-sink raw|example MSQID N` and `mq-echo|mq-sink raw|example TO
// FROM N`. They remove nothing: the benchmark does.
var benchPeers = map[string]func(args []string) error{
	"sysv-echo": func(args []string) error { return sysvPeer("echo", args) },
	"sysv-sink": func(args []string) error { return sysvPeer("sink", args) },
	"mq-echo":   func(args []string) error { return mqPeer("echo", args) },
	"mq-sink":   func(args []string) error { return mqPeer("sink", args) },
}

// peerPath checks a peer's path argument.
func peerPath(arg string) (string, error) {
	if arg != "raw" && arg != "example" {
		return "", fmt.Errorf("path %q: want raw or example", arg)
	}
	return arg, nil
}

func sysvPeer(role string, args []string) error {
	if len(args) != 3 {
		return errors.New("want raw|example MSQID N")
	}
	path, err := peerPath(args[0])
	if err != nil {
		return err
	}
	id, err := strconv.Atoi(args[1])
	if err != nil {
		return fmt.Errorf("msqid %q: want a number", args[1])
	}
	n, err := peerCount(args[2])
	if err != nil {
		return err
	}
	size := map[string]int{"echo": benchMsgSize, "sink": benchMsgqSize}[role]
	return msgPeer(role, sysvEnd(path, id, 2, 1), size, n)
}

func mqPeer(role string, args []string) error {
	if len(args) != 4 {
		return errors.New("want raw|example TO FROM N")
	}
	path, err := peerPath(args[0])
	if err != nil {
		return err
	}
	n, err := peerCount(args[3])
	if err != nil {
		return err
	}
	in, err := msgqueue.MqOpen(args[1], unix.O_RDONLY, 0, nil)
	if err != nil {
		return fmt.Errorf("mq_open %s: %w", args[1], err)
	}
	defer unix.Close(in)
	out, err := msgqueue.MqOpen(args[2], unix.O_WRONLY, 0, nil)
	if err != nil {
		return fmt.Errorf("mq_open %s: %w", args[2], err)
	}
	defer unix.Close(out)
	size := map[string]int{"echo": benchMsgSize, "sink": benchMsgqSize}[role]
	return msgPeer(role, mqEnd(path, out, in), size, n)
}
