// Sender sends messages to a System V message queue, each with a type, for the receiver to take
// in FIFO order or by type.
//
// It demonstrates msgget(2) with IPC_CREAT|IPC_EXCL, msgctl(2) IPC_STAT, and msgsnd(2), first
// with IPC_NOWAIT and then, on a full queue, in a wait that ends on Ctrl-C.
//
// Usage:
//
//	sender [-key K | -path FILE -proj N] [-type T] [-nowait] [message ...]
//
// Each argument is one message of type T (-type, default 1); an argument written T:text, with T
// a positive decimal number, is the message text with its own type T, so that one call sends
// several types; any other argument is sent whole. With no arguments, each line of standard
// input is one message (without its newline, and sent whole). A message may have any bytes (NUL
// included, from standard input) and at most msgmax bytes (/proc/sys/kernel/msgmax): a longer one
// is refused before anything is created or sent.
//
// Run the pair in two terminals; the sender first, since it creates the queue (a receiver with no
// queue to read ends with one line):
//
//	terminal 1: go run ./sender 1:msg1 1:msg2 2:msg3 2:msg4 3:msg5 3:msg6
//	terminal 2: go run ./receiver -type 3 -n 1      # msg5
//	            go run ./receiver -type -2          # msg1 msg2 msg3 msg4 (types <= 2, lowest first)
//	            go run ./receiver -rm               # msg6, and the queue is removed
//
// Objects: the sender creates the queue (mode 0600, at ftok of -path and -proj by default) if
// there is none, and uses a queue found at the key only if it is ours alone (msgqueue.CheckOwner).
// It never removes the queue: a System V queue outlives its processes, and the messages wait in
// it for a receiver, which removes it with -rm (or ipcrm -q ID).
//
// A queue holds at most msg_qbytes bytes of text (msgmnb, 16384 by default). On a full queue the
// sender says so and waits for a receiver to make room; with -nowait it fails at once (EAGAIN).
// Ctrl-C or SIGTERM ends the wait at once, with nothing more sent, and the sender dies of the
// signal (130 or 143). The wait polls with IPC_NOWAIT (msgqueue.MsgsndContext says why).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"strconv"
	"strings"

	msgqueue "example.com/ipc/07-msgqueue"
	"golang.org/x/sys/unix"
)

// message is one message to send: its type and its text.
type message struct {
	mtype int64
	text  []byte
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("sender: ")
	keyFlag := flag.String("key", "", "the `key` of the queue, decimal or 0x hex (default: ftok of -path and -proj)")
	path := flag.String("path", msgqueue.DefaultPath, "an existing `file` that ftok turns into the key, with -proj")
	proj := flag.Int("proj", msgqueue.DefaultProj, "the ftok project `id`, 1 to 255")
	mtype := flag.Int64("type", 1, "the `type` of each message, 1 or more (an argument T:text has its own)")
	nowait := flag.Bool("nowait", false, "fail at once if the queue is full, instead of waiting for room (IPC_NOWAIT)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `Usage: sender [-key K | -path FILE -proj N] [-type T] [-nowait] [message ...]

Sender sends each argument, or else each line of standard input, as one message of type T to a
System V message queue, which it creates (mode 0600) if there is none. An argument T:text, with T
a positive number, has its own type. A message has at most msgmax bytes (%s).

Examples, with the receiver in another terminal:
  sender 1:msg1 1:msg2 2:msg3 2:msg4 3:msg5 3:msg6
  sender -type 7 hello world
  ls | sender

Default key: %s

Flags:
`, msgmaxText(), msgqueue.DefaultKeyText())
		flag.PrintDefaults()
	}
	msgqueue.ParseFlags("sender")
	key := msgqueue.KeyFromFlags(*keyFlag, *path, *proj)
	if *mtype < 1 {
		log.Printf("-type %d: a message's type must be 1 or more (msgsnd refuses 0 and less; the receiver's -type 0 and -T are ways to ask, not types)", *mtype)
		os.Exit(2)
	}
	ctx := msgqueue.CatchSignals()

	// The messages, all known and checked before anything is created or sent.
	var msgs []message
	if flag.NArg() > 0 {
		for _, a := range flag.Args() {
			msgs = append(msgs, parseArg(a, *mtype))
		}
	} else {
		lines, err := readLines(ctx)
		if err != nil {
			msgqueue.Exit(ctx, err)
		}
		for _, l := range lines {
			msgs = append(msgs, message{*mtype, l})
		}
	}
	max, err := msgqueue.Msgmax()
	if err != nil {
		log.Printf("msgmax: %v", err)
		os.Exit(1)
	}
	for i, m := range msgs {
		if len(m.text) > max {
			log.Printf("message %d is %d bytes, more than msgmax (%d bytes, /proc/sys/kernel/msgmax); nothing was sent", i+1, len(m.text), max)
			os.Exit(1)
		}
	}
	err = run(ctx, key, msgs, *nowait)
	msgqueue.Exit(ctx, err)
}

// parseArg makes a message of an argument: T:text with T a positive decimal number (a C long)
// has type T; anything else is sent whole, with type def.
func parseArg(a string, def int64) message {
	digits, text, ok := strings.Cut(a, ":")
	if ok && digits != "" && strings.Trim(digits, "0123456789") == "" {
		if t, err := strconv.ParseInt(digits, 10, 64); err == nil && t > 0 {
			return message{t, []byte(text)}
		}
	}
	return message{def, []byte(a)}
}

func run(ctx context.Context, key uint32, msgs []message, nowait bool) error {
	// 1. The queue: created if there is none (IPC_CREAT|IPC_EXCL, so that of several senders
	// started at once exactly one creates it), else checked: used only if it is ours alone.
	id, created, err := msgqueue.OpenMsq(key)
	if err != nil {
		return err
	}
	q := fmt.Sprintf("queue key 0x%08x (msqid %d)", key, id)
	if created {
		log.Printf("created %s", q)
	}

	// 2. Its size, msg_qbytes: a message longer than that would wait for room forever.
	var ds msgqueue.MsqidDs
	if err := msgqueue.Msgctl(id, unix.IPC_STAT, &ds); err != nil {
		return fmt.Errorf("msgctl IPC_STAT %s: %w", q, err)
	}
	for i, m := range msgs {
		if uint64(len(m.text)) > ds.Qbytes {
			return fmt.Errorf("message %d is %d bytes, more than %s can ever hold (msg_qbytes %d); nothing was sent", i+1, len(m.text), q, ds.Qbytes)
		}
	}

	// 3. Send each message. IPC_NOWAIT first: on a full queue it fails with EAGAIN instead of
	// blocking, so that we can say that we wait (or, with -nowait, stop); then wait for room in a
	// way that Ctrl-C ends.
	narrated := false
	interrupted := func(sent int) error {
		return fmt.Errorf("interrupted while waiting for room in %s; sent %d of %d messages", q, sent, len(msgs))
	}
	for i, m := range msgs {
		if ctx.Err() != nil {
			return interrupted(i)
		}
		err := msgqueue.Msgsnd(id, m.mtype, m.text, unix.IPC_NOWAIT)
		if err == unix.EAGAIN {
			if nowait {
				return fmt.Errorf("msgsnd %s: %w: the queue is full (%s) and -nowait was given; sent %d of %d messages", q, err, fill(id), i, len(msgs))
			}
			if !narrated {
				log.Printf("%s is full (%s); waiting for a receiver to make room...", q, fill(id))
				narrated = true
			}
			err = msgqueue.MsgsndContext(ctx, id, m.mtype, m.text)
		}
		if err != nil && ctx.Err() != nil { // not sent (if sent, Ctrl-C came just after: counted)
			return interrupted(i)
		}
		if errors.Is(err, unix.EIDRM) || errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("msgsnd %s: %w: the queue was removed (by a receiver -rm, or ipcrm?); sent %d of %d messages", q, err, i, len(msgs))
		}
		if err != nil {
			return fmt.Errorf("msgsnd %s: %w; sent %d of %d messages", q, err, i, len(msgs))
		}
	}
	log.Printf("sent %s to %s", plural(len(msgs), "message"), q)
	return nil
}

// plural is "1 message", "2 messages".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// fill says how full the queue is, as IPC_STAT tells: "16384 of 16384 bytes, 2 messages".
func fill(id int) string {
	var ds msgqueue.MsqidDs
	if err := msgqueue.Msgctl(id, unix.IPC_STAT, &ds); err != nil {
		return fmt.Sprintf("msgctl IPC_STAT: %v", err)
	}
	return fmt.Sprintf("%d of %d bytes, %s", ds.Cbytes, ds.Qbytes, plural(int(ds.Qnum), "message"))
}

// msgmaxText is msgmax for -h.
func msgmaxText() string {
	max, err := msgqueue.Msgmax()
	if err != nil {
		return fmt.Sprintf("msgmax: %v", err)
	}
	return fmt.Sprintf("%d here, /proc/sys/kernel/msgmax", max)
}

// readLines reads the lines of standard input, without their newlines; a last line without one
// counts too. The read runs in a goroutine, so that Ctrl-C ends the wait for it (read(2) is
// restarted after a signal).
func readLines(ctx context.Context) ([][]byte, error) {
	type result struct {
		lines [][]byte
		err   error
	}
	done := make(chan result, 1)
	go func() {
		var lines [][]byte
		r := bufio.NewReader(os.Stdin)
		for {
			line, err := r.ReadBytes('\n')
			if len(line) > 0 && line[len(line)-1] == '\n' {
				lines = append(lines, line[:len(line)-1])
			} else if len(line) > 0 {
				lines = append(lines, line)
			}
			if err == io.EOF {
				done <- result{lines, nil}
				return
			}
			if err != nil {
				done <- result{nil, err}
				return
			}
		}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, fmt.Errorf("read standard input: %w", r.err)
		}
		return r.lines, nil
	case <-ctx.Done():
		return nil, errors.New("interrupted while reading standard input; nothing was sent")
	}
}
