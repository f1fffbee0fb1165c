// Preceiver takes the messages out of a POSIX message queue, highest priority first (and, within
// a priority, oldest first), and prints each on a line: the payload byte for byte, NUL bytes
// included, then a newline. It is the POSIX half of this example, next to receiver's System V
// queue.
//
// It demonstrates mq_open(3) of an existing queue (and the checks it must pass),
// mq_getattr(3) (mq_getsetattr(2)), mq_timedreceive(3) and mq_unlink(3), called through
// unix.Syscall (msgqueue.MqOpen and the others): x/sys/unix does not wrap them.
//
// Usage:
//
//	preceiver [-name NAME] [-wait] [-rm]
//
// Without -wait, preceiver takes what is in the queue and exits 0 once it is empty (the
// descriptor has O_NONBLOCK: an empty queue is EAGAIN). With -wait it then waits for more, until
// Ctrl-C or SIGTERM. Run the pair in two terminals, psender first (it creates the queue; a
// missing queue is an error here):
//
//	terminal 1: go run ./psender 1:low 5:high 3:mid 5:high2
//	terminal 2: go run ./preceiver -rm
//
// Objects: preceiver creates nothing. It uses the queue only if it is ours alone (owner us,
// nothing for group or others). With -rm it removes the queue (mq_unlink) when it ends, after
// it has printed every message it took, also after Ctrl-C or SIGTERM; without it the queue
// stays, with whatever psender sends next.
//
// Ctrl-C or SIGTERM ends the wait within msgqueue.MqPollInterval (the wait is mq_timedreceive in
// slices that check for the signal, since a signal does not end it in Go), and a wait to print a
// message to a standard output that nobody reads too; preceiver then dies of the signal (130 or
// 143). A message taken but not printed (interrupted, or standard output closed) is put back in
// the queue, with its priority: it is then the last of its priority.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"

	msgqueue "example.com/ipc/07-msgqueue"
	"golang.org/x/sys/unix"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("preceiver: ")
	name := flag.String("name", msgqueue.DefaultName, "the POSIX queue's `name`, with or without its leading slash")
	wait := flag.Bool("wait", false, "when the queue is empty, wait for more messages (until Ctrl-C or SIGTERM) instead of exiting")
	rm := flag.Bool("rm", false, "remove the queue (mq_unlink) when preceiver ends, also after Ctrl-C")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `Usage: preceiver [-name NAME] [-wait] [-rm]

Preceiver takes the messages out of a POSIX message queue, highest priority first, oldest first
within a priority, and prints each on a line, byte for byte. Without -wait it exits once the queue
is empty; with -wait it waits for more until Ctrl-C.

Examples, after psender 1:low 5:high 3:mid 5:high2 in another terminal:
  preceiver          (prints high, high2, mid, low; the queue stays)
  preceiver -wait -rm

Default name: %s

Flags:
`, msgqueue.DefaultName)
		flag.PrintDefaults()
	}
	msgqueue.ParseFlags("preceiver")
	if flag.NArg() > 0 {
		log.Printf("unexpected argument %q (see preceiver -h)", flag.Arg(0))
		os.Exit(2)
	}
	shown, _, err := msgqueue.MqName(*name)
	if err != nil {
		log.Printf("-name %q: %v", *name, err)
		os.Exit(2)
	}
	ctx := msgqueue.CatchSignals()
	err = run(ctx, shown, *wait, *rm)
	msgqueue.Exit(ctx, err)
}

func run(ctx context.Context, name string, wait, rm bool) (err error) {
	// 1. Open the existing queue, which must be ours alone. O_RDWR, not O_RDONLY: a message
	// that cannot be printed is sent back. Without -wait, O_NONBLOCK: an empty queue is then
	// EAGAIN at once, the end.
	flags := unix.O_RDWR
	if !wait {
		flags |= unix.O_NONBLOCK
	}
	mqd, attr, _, err := msgqueue.OpenMq(name, flags, false)
	if err != nil {
		return err
	}
	defer unix.Close(mqd)

	// 4. With -rm, remove the queue's name at the end, whatever happened, after every message
	// taken has been printed (or put back). Processes that have it open keep it until they
	// close it; no new one finds it.
	if rm {
		defer func() {
			if uerr := msgqueue.MqUnlink(name); uerr != nil {
				err = errors.Join(err, fmt.Errorf("mq_unlink %s: %w", name, uerr))
			} else {
				log.Printf("removed queue %s", name)
			}
		}()
	}

	// 2. Take messages, highest priority first. The buffer must hold mq_msgsize bytes, or
	// mq_timedreceive fails with EMSGSIZE even for a short message.
	buf := make([]byte, attr.Msgsize+1) // +1: room for the newline, so that one write prints it
	received := 0
	for {
		n, prio, err := msgqueue.MqTimedreceive(mqd, buf[:attr.Msgsize], msgqueue.MqPast)
		if !wait && errors.Is(err, unix.EAGAIN) {
			log.Printf("received %s; queue %s is empty", plural(received), name)
			return nil
		}
		if wait && errors.Is(err, unix.ETIMEDOUT) {
			// Empty: wait, in slices that check for Ctrl-C (MqReceiveContext). The date
			// already gone above made the call return at once, so that this can be said.
			log.Printf("waiting for messages in queue %s...", name)
			n, prio, err = msgqueue.MqReceiveContext(ctx, mqd, buf[:attr.Msgsize])
			if ctx.Err() != nil {
				return fmt.Errorf("interrupted while waiting for a message in queue %s", name)
			}
		}
		if err != nil {
			return fmt.Errorf("mq_timedreceive %s: %w", name, err)
		}

		// 3. Print it before anything else happens to it: the payload and its newline in
		// one write.
		buf[n] = '\n'
		if err := printMessage(ctx, buf[:n+1]); err != nil {
			putBack(mqd, name, buf[:n], prio)
			return err
		}
		received++
	}
}

// printMessage writes a message and its newline to standard output with one write(2). That
// write waits while standard output is a full pipe that nobody reads, and is restarted after a
// signal, so it runs in a goroutine, and Ctrl-C ends the wait for it.
func printMessage(ctx context.Context, line []byte) error {
	done := make(chan error, 1)
	go func() {
		_, err := os.Stdout.Write(line)
		done <- err
	}()
	select {
	case err := <-done:
		return err // EPIPE: msgqueue.Exit dies of SIGPIPE, quietly, as cat does
	case <-ctx.Done():
		return errors.New("interrupted while printing a message")
	}
}

// putBack sends a message that was taken but not printed back to the queue, with its priority,
// so that it is not lost: it is then the last of its priority. It does not wait: the queue had
// room for it a moment ago, unless a sender has filled it since, and then it says so.
func putBack(mqd int, name string, msg []byte, prio uint) {
	if err := msgqueue.MqTimedsend(mqd, msg, prio, msgqueue.MqPast); err != nil {
		log.Printf("could not put a message (%d bytes, priority %d) back in queue %s: mq_timedsend: %v; it is lost", len(msg), prio, name, err)
		return
	}
	log.Printf("put the message back in queue %s (priority %d)", name, prio)
}

// plural says how many messages n is: "1 message", "2 messages".
func plural(n int) string {
	if n == 1 {
		return "1 message"
	}
	return fmt.Sprintf("%d messages", n)
}
