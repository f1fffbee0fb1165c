package msgqueue_test

import (
	"fmt"
	"os"

	msgqueue "example.com/ipc/07-msgqueue"
	"golang.org/x/sys/unix"
)

// must panics on an error (a panic, unlike log.Fatal, runs the deferred removals), or returns v.
func must[T any](v T, err error) T {
	check(err)
	return v
}

func check(err error) {
	if err != nil {
		panic(err)
	}
}

// A System V queue keeps its messages in the order they were sent, each with a type; a
// receiver that asks for a type takes the first message of that type, out of FIFO order.
func Example_systemV() {
	// A new queue that no key finds (IPC_PRIVATE), mode 0600; removed at the end.
	id := must(msgqueue.Msgget(unix.IPC_PRIVATE, unix.IPC_CREAT|0o600))
	defer msgqueue.Msgctl(id, unix.IPC_RMID, nil)

	// Send six messages, two of each type: msgsnd(2) copies them into the kernel.
	for i, mtype := range []int64{1, 1, 2, 2, 3, 3} {
		check(msgqueue.Msgsnd(id, mtype, fmt.Appendf(nil, "msg%d", i+1), 0))
	}
	// Take them by type: msgrcv(2) with msgtyp T > 0 takes the first message of type T.
	text := make([]byte, 64)
	for _, want := range []int64{3, 1, 2, 1, 3, 2} {
		n, _ := must2(msgqueue.Msgrcv(id, text, want, unix.IPC_NOWAIT))
		fmt.Printf("%s ", text[:n])
	}
	fmt.Println()
	// Output: msg5 msg1 msg3 msg2 msg6 msg4
}

// A POSIX queue has priorities instead of types: mq_receive always takes the oldest message
// of the highest priority.
func Example_posix() {
	// A name of our own, created (O_EXCL) with mode 0600 for 10 messages of at most 64 bytes.
	name := fmt.Sprintf("/ipc-msgqueue-example-%d", os.Getpid())
	attr := msgqueue.MqAttr{Maxmsg: 10, Msgsize: 64}
	mqd := must(msgqueue.MqOpen(name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL, 0o600, &attr))
	defer msgqueue.MqUnlink(name) // the name goes now; the queue when its last descriptor closes
	defer unix.Close(mqd)

	// Send with priorities; nil: no timeout (the queue has room).
	for _, m := range []struct {
		text string
		prio uint
	}{{"low", 1}, {"high", 5}, {"mid", 3}, {"high2", 5}} {
		check(msgqueue.MqTimedsend(mqd, []byte(m.text), m.prio, nil))
	}
	// Receive: the buffer must hold mq_msgsize bytes, or mq_receive fails with EMSGSIZE.
	buf := make([]byte, attr.Msgsize)
	for range 4 {
		n, prio, err := msgqueue.MqTimedreceive(mqd, buf, nil)
		check(err)
		fmt.Printf("%s(%d) ", buf[:n], prio)
	}
	fmt.Println()
	// Output: high(5) high2(5) mid(3) low(1)
}

// must2 is must for a call that returns two values and an error.
func must2[A, B any](a A, b B, err error) (A, B) {
	check(err)
	return a, b
}
