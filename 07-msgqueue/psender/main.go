// Psender sends messages, each with a priority, to a POSIX message queue, for preceiver to take,
// highest priority first. It is the POSIX half of this example, next to sender's System V queue.
//
// It demonstrates mq_open(3) with O_CREAT|O_EXCL (and the checks of a queue that was already
// there), mq_getattr(3) (mq_getsetattr(2)) for the queue's message size, and mq_timedsend(3),
// called through unix.Syscall (msgqueue.MqOpen and the others): x/sys/unix does not wrap them.
//
// Usage:
//
//	psender [-name NAME] [-prio P] [-nowait] [message ...]
//
// Each argument is one message, of priority -prio (default 0), or, with no arguments, each line
// of standard input. A message written P:text, P a decimal number from 0 to 32767, is text with
// priority P, so that one call sends several priorities: psender 1:low 5:high 3:mid. Every
// message is checked against the queue's mq_msgsize before the first is sent: a longer one is
// refused, and nothing is sent.
//
// Run the pair in two terminals, psender first (preceiver needs the queue to exist):
//
//	terminal 1: go run ./psender 1:low 5:high 3:mid 5:high2
//	terminal 2: go run ./preceiver -rm
//
// Objects: psender creates the queue if it does not exist (mode 0600, the system's default
// mq_maxmsg and mq_msgsize, from /proc/sys/fs/mqueue/msg_default and msgsize_default); a queue
// that is already there is used only if it is ours alone (owner us, nothing for group or
// others) and takes messages as long as ours. psender never removes the queue: the messages wait
// in it, after psender has exited, for a preceiver; preceiver -rm removes it (or rm
// /dev/mqueue/NAME, or mq_unlink in C).
//
// On a full queue psender waits for room, and says so; Ctrl-C or SIGTERM ends that wait within
// msgqueue.MqPollInterval, having sent nothing more, and psender dies of the signal (130 or
// 143). With -nowait it fails at once instead.
package main

import (
	"bytes"
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

// message is one message to send: its text and its priority.
type message struct {
	text []byte
	prio uint
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("psender: ")
	name := flag.String("name", msgqueue.DefaultName, "the POSIX queue's `name`, with or without its leading slash")
	prio := flag.Uint("prio", 0, "the `priority` of a message that has no P: of its own, 0 to 32767")
	nowait := flag.Bool("nowait", false, "fail at once on a full queue (O_NONBLOCK) instead of waiting for room")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `Usage: psender [-name NAME] [-prio P] [-nowait] [message ...]

Psender sends each argument, or else each line of standard input, as one message to a POSIX
message queue, for preceiver to take, highest priority first. A message written P:text, with P a
number from 0 to 32767, is text with priority P; any other is sent whole, with priority -prio.

Examples, with preceiver in another terminal:
  psender 1:low 5:high 3:mid 5:high2
  psender -prio 7 hello world
  ls | psender

Default name: %s
A queue that psender creates has mode 0600 and the system's defaults (/proc/sys/fs/mqueue):
%s.

Flags:
`, msgqueue.DefaultName, defaultsText())
		flag.PrintDefaults()
	}
	msgqueue.ParseFlags("psender")
	shown, _, err := msgqueue.MqName(*name)
	if err != nil {
		log.Printf("-name %q: %v", *name, err)
		os.Exit(2)
	}
	if *prio >= msgqueue.MQ_PRIO_MAX {
		log.Printf("-prio %d: want 0 to %d", *prio, msgqueue.MQ_PRIO_MAX-1)
		os.Exit(2)
	}
	ctx := msgqueue.CatchSignals()

	// The messages, all known before the queue is opened, so that each can be checked against
	// its mq_msgsize before the first is sent.
	var msgs []message
	if flag.NArg() > 0 {
		for _, a := range flag.Args() {
			m, err := parse(a, *prio)
			if err != nil {
				log.Printf("argument %q: %v", a, err)
				os.Exit(2)
			}
			msgs = append(msgs, m)
		}
	} else {
		lines, err := readLines(ctx)
		if err != nil {
			msgqueue.Exit(ctx, err)
		}
		for i, l := range lines {
			m, err := parse(string(l), *prio)
			if err != nil {
				msgqueue.Exit(ctx, fmt.Errorf("line %d of standard input: %v; nothing was sent", i+1, err))
			}
			msgs = append(msgs, m)
		}
	}
	err = run(ctx, shown, msgs, *nowait)
	msgqueue.Exit(ctx, err)
}

func run(ctx context.Context, name string, msgs []message, nowait bool) error {
	// 1. Open the queue for writing, creating it (O_CREAT|O_EXCL, mode 0600) if it is not
	// there; one that was there must be ours alone. -nowait opens it with O_NONBLOCK, so that a
	// send to a full queue fails with EAGAIN instead of waiting.
	flags := unix.O_WRONLY
	if nowait {
		flags |= unix.O_NONBLOCK
	}
	mqd, attr, created, err := msgqueue.OpenMq(name, flags, true)
	if err != nil {
		return err
	}
	defer unix.Close(mqd)

	// 2. Refuse a message longer than the queue's mq_msgsize before sending any: mq_timedsend
	// would fail with EMSGSIZE at that message, after the ones before it had gone. A queue made
	// just now for messages it cannot take is removed again.
	texts := make([][]byte, len(msgs))
	for i, m := range msgs {
		texts[i] = m.text
	}
	if err := msgqueue.CheckMqMsgsize(name, &attr, texts); err != nil {
		if created {
			msgqueue.MqUnlink(name)
			return fmt.Errorf("%w (psender made the queue just now, with the system's default mq_msgsize, and removed it again)", err)
		}
		return fmt.Errorf("%w (the queue was made for shorter messages: remove it with rm /dev/mqueue%s, or pass -name with another name)", err, name)
	}
	if created {
		log.Printf("created queue %s (mode 0600, mq_maxmsg %d, mq_msgsize %d)", name, attr.Maxmsg, attr.Msgsize)
	}

	// 3. Send each message with its priority. On a full queue mq_timedsend waits for room; it
	// waits in slices that check for Ctrl-C (MqSendContext), since a signal does not end it.
	waiting := false
	for i, m := range msgs {
		if nowait {
			if err := msgqueue.MqTimedsend(mqd, m.text, m.prio, nil); errors.Is(err, unix.EAGAIN) {
				return fmt.Errorf("mq_timedsend %s: %w: the queue is full (%d messages); sent %d of %d (take some with preceiver, or leave out -nowait to wait for room)", name, err, attr.Maxmsg, i, len(msgs))
			} else if err != nil {
				return fmt.Errorf("mq_timedsend %s: %w; sent %d of %d", name, err, i, len(msgs))
			}
			continue
		}
		// A date already gone: the call sends if there is room, and fails with ETIMEDOUT at
		// once if there is none, so that psender can say that it waits before it does.
		err := msgqueue.MqTimedsend(mqd, m.text, m.prio, msgqueue.MqPast)
		if errors.Is(err, unix.ETIMEDOUT) {
			if !waiting {
				log.Printf("queue %s is full (%d messages); waiting for room...", name, attr.Maxmsg)
				waiting = true
			}
			err = msgqueue.MqSendContext(ctx, mqd, m.text, m.prio)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted while waiting for room in queue %s; sent %d of %d", name, i, len(msgs))
		}
		if err != nil {
			return fmt.Errorf("mq_timedsend %s: %w; sent %d of %d", name, err, i, len(msgs))
		}
	}
	log.Printf("sent %s to queue %s", plural(len(msgs)), name)
	return nil
}

// parse makes a message of s: P:text is text with priority P, P a decimal number of 0 to
// MQ_PRIO_MAX-1; anything else is s with priority prio.
func parse(s string, prio uint) (message, error) {
	p, text, ok := strings.Cut(s, ":")
	if !ok || p == "" || strings.Trim(p, "0123456789") != "" {
		return message{[]byte(s), prio}, nil
	}
	n, err := strconv.ParseUint(p, 10, 64)
	if err != nil || n >= msgqueue.MQ_PRIO_MAX {
		return message{}, fmt.Errorf("priority %s: want 0 to %d", p, msgqueue.MQ_PRIO_MAX-1)
	}
	return message{[]byte(text), uint(n)}, nil
}

// readLines reads the lines of standard input, without their newlines, bytes as they are (NUL
// included); a last line with no newline counts. The read runs in a goroutine, so that Ctrl-C
// ends the wait for it (read(2) is restarted after a signal).
func readLines(ctx context.Context) ([][]byte, error) {
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		data, err := io.ReadAll(os.Stdin)
		done <- result{data, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, fmt.Errorf("read standard input: %w", r.err)
		}
		if len(r.data) == 0 {
			return nil, nil
		}
		return bytes.Split(bytes.TrimSuffix(r.data, []byte("\n")), []byte("\n")), nil
	case <-ctx.Done():
		return nil, errors.New("interrupted while reading standard input; nothing was sent")
	}
}

// defaultsText describes the attributes of a queue that psender creates, for -h.
func defaultsText() string {
	read := func(f string) string {
		b, err := os.ReadFile("/proc/sys/fs/mqueue/" + f)
		if err != nil {
			return "?"
		}
		return strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("at most %s messages (msg_default) of at most %s bytes each (msgsize_default)", read("msg_default"), read("msgsize_default"))
}

// plural says how many messages n is: "1 message", "2 messages".
func plural(n int) string {
	if n == 1 {
		return "1 message"
	}
	return fmt.Sprintf("%d messages", n)
}
