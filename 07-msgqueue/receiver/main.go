// Receiver takes messages out of a System V message queue that the sender fills, by msgrcv's
// type rules, and prints each message's text on a line of standard output, byte for byte.
//
// It demonstrates msgget(2) without IPC_CREAT, msgrcv(2) and its msgtyp, first with IPC_NOWAIT
// and then, with -wait, in a wait that ends on Ctrl-C; and msgctl(2) IPC_STAT and IPC_RMID.
//
// Usage:
//
//	receiver [-key K | -path FILE -proj N] [-type T] [-n N] [-wait] [-rm]
//
// -type T picks the messages, as msgrcv's msgtyp does:
//
//	0     the first message in the queue, of any type: FIFO order (the default)
//	T > 0 the first message of type T
//	T < 0 the first message of the lowest type <= |T|: the lowest types first, FIFO within one
//
// Without -wait the receiver takes the messages of the asked type that are there (at most N
// with -n) and exits 0 when none is left (msgrcv with IPC_NOWAIT: ENOMSG). With -wait it waits
// for more until it has N, or until Ctrl-C or SIGTERM, and then dies of the signal (130 or 143).
// -rm removes the queue when it exits, after it has printed what it took: also after Ctrl-C,
// and with any messages still in the queue. A message taken but not printed (Ctrl-C while
// standard output is stalled, or standard output closed) is sent back to the queue first.
//
// Run the pair in two terminals; the sender first, since it creates the queue:
//
//	terminal 1: go run ./sender 1:msg1 1:msg2 2:msg3 2:msg4 3:msg5 3:msg6
//	terminal 2: go run ./receiver -type 3 -n 1      # msg5
//	            go run ./receiver -wait -rm         # the rest, then waits; Ctrl-C removes the queue
//
// Objects: the receiver never creates the queue: with none at the key it ends with one line,
// status 1; it uses a queue found at the key only if it is ours alone (msgqueue.CheckOwner). It
// removes the queue with -rm only. A queue removed while the receiver waits (another receiver's
// -rm, ipcrm) ends it with one line, status 1.
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
	log.SetPrefix("receiver: ")
	keyFlag := flag.String("key", "", "the `key` of the queue, decimal or 0x hex (default: ftok of -path and -proj)")
	path := flag.String("path", msgqueue.DefaultPath, "an existing `file` that ftok turns into the key, with -proj")
	proj := flag.Int("proj", msgqueue.DefaultProj, "the ftok project `id`, 1 to 255")
	msgtyp := flag.Int64("type", 0, "which messages: 0 any, `T` > 0 of type T, T < 0 the lowest type <= |T| first")
	n := flag.Int("n", 0, "take at most `N` messages, then exit (0: no limit)")
	wait := flag.Bool("wait", false, "wait for more messages until Ctrl-C or SIGTERM (or until N with -n)")
	rm := flag.Bool("rm", false, "remove the queue when the receiver exits, also after Ctrl-C")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `Usage: receiver [-key K | -path FILE -proj N] [-type T] [-n N] [-wait] [-rm]

Receiver takes the messages of a System V message queue that the sender fills, by type (-type 0:
any, in FIFO order; T: of type T; -T: the lowest type <= T first), prints each on a line, and
exits when none is left, or with -wait waits for more until Ctrl-C.

Examples, after the sender in another terminal:
  receiver
  for t in 3 1 2 1 3 2; do receiver -type $t -n 1; done
  receiver -type -2
  receiver -wait -rm

Default key: %s

Flags:
`, msgqueue.DefaultKeyText())
		flag.PrintDefaults()
	}
	msgqueue.ParseFlags("receiver")
	if flag.NArg() > 0 {
		log.Printf("unexpected argument %q (see receiver -h)", flag.Arg(0))
		os.Exit(2)
	}
	if *n < 0 {
		log.Printf("-n %d: want 0 (no limit) or more", *n)
		os.Exit(2)
	}
	key := msgqueue.KeyFromFlags(*keyFlag, *path, *proj)
	ctx := msgqueue.CatchSignals()
	err := run(ctx, key, *msgtyp, *n, *wait, *rm)
	msgqueue.Exit(ctx, err)
}

func run(ctx context.Context, key uint32, msgtyp int64, n int, wait, rm bool) error {
	// 1. The queue, which the sender creates: never created here (a receiver that made an empty
	// queue at a mistyped key would wait on it forever), and used only if it is ours alone.
	id, err := msgqueue.FindMsq(key)
	if errors.Is(err, msgqueue.ErrNoMsq) {
		return fmt.Errorf("no queue at key 0x%08x (msgget: %w); start the sender first: it creates the queue", key, unix.ENOENT)
	}
	if err != nil {
		return err
	}
	q := fmt.Sprintf("queue key 0x%08x (msqid %d)", key, id)

	// 5. With -rm, remove the queue at the end, whatever happened: after the last message was
	// printed, or after a signal or an error.
	if rm {
		defer remove(id, q)
	}

	// 2. A buffer for the longest text a message may have: msgmax. (E2BIG below if root raised
	// msgmax since a message was sent: then the message stays, and we try with a larger one.)
	max, err := msgqueue.Msgmax()
	if err != nil {
		return fmt.Errorf("msgmax: %w", err)
	}
	buf := make([]byte, max)

	// 3. Take messages by msgtyp. IPC_NOWAIT first: with none of the asked type, it fails with
	// ENOMSG instead of blocking, which ends a receiver without -wait; with -wait, say that we
	// wait, and wait in a way that Ctrl-C ends.
	took, narrated := 0, false
	interrupted := fmt.Errorf("interrupted while waiting for %s in %s", which(msgtyp, "a message"), q)
	for n == 0 || took < n {
		if ctx.Err() != nil {
			return interrupted
		}
		size, mtype, err := msgqueue.Msgrcv(id, buf, msgtyp, unix.IPC_NOWAIT)
		if err == unix.ENOMSG && wait {
			if !narrated {
				log.Printf("waiting for %s in %s...", which(msgtyp, "a message"), q)
				narrated = true
			}
			size, mtype, err = msgqueue.MsgrcvContext(ctx, id, buf, msgtyp, 0)
		}
		switch {
		case err == nil: // taken, even if Ctrl-C came just after: printed (or put back) below
		case ctx.Err() != nil:
			return interrupted
		case err == unix.ENOMSG:
			if took == 0 {
				log.Printf("%s in %s", which(msgtyp, "no message"), q)
			}
			return nil
		case err == unix.E2BIG:
			buf = make([]byte, 2*len(buf))
			continue
		case errors.Is(err, unix.EIDRM) || errors.Is(err, unix.EINVAL):
			return fmt.Errorf("msgrcv %s: %w: the queue was removed (by another receiver -rm, or ipcrm?)", q, err)
		case err != nil:
			return fmt.Errorf("msgrcv %s: %w", q, err)
		}
		// 4. Print the text and a newline: the data, before anything is removed. A message that
		// cannot be printed (Ctrl-C while standard output is stalled, or closed) is sent back.
		if err := printMessage(ctx, append(buf[:size:size], '\n')); err != nil {
			putBack(id, q, mtype, buf[:size])
			return err
		}
		took++
	}
	return nil
}

// which names the messages that msgtyp asks for: "a message of type 3", "no message of type
// <= 2".
func which(msgtyp int64, what string) string {
	switch {
	case msgtyp > 0:
		return fmt.Sprintf("%s of type %d", what, msgtyp)
	case msgtyp < 0:
		return fmt.Sprintf("%s of type <= %d", what, -uint64(msgtyp)) // -uint64: |T| of the most negative long too
	}
	return what
}

// putBack sends a message that was taken but not printed back to the queue, with its type, so
// that it is not lost. msgsnd appends: it goes to the end of the queue, behind the messages sent
// since it was taken, of its own type too. IPC_NOWAIT: we are on our way out, and a queue that
// a waiting sender filled meanwhile has no room for it: then it is lost, and we say so.
func putBack(id int, q string, mtype int64, text []byte) {
	if err := msgqueue.Msgsnd(id, mtype, text, unix.IPC_NOWAIT); err != nil {
		log.Printf("could not put a message (%d bytes, type %d) back in %s: msgsnd: %v; it is lost", len(text), mtype, q, err)
		return
	}
	log.Printf("put the message back in %s (type %d, at the end of the queue)", q, mtype)
}

// remove removes the queue (IPC_RMID), and says so, with how many messages went with it.
func remove(id int, q string) {
	var ds msgqueue.MsqidDs
	if err := msgqueue.Msgctl(id, unix.IPC_STAT, &ds); err != nil {
		return // gone already (removed under us: we said so)
	}
	if err := msgqueue.Msgctl(id, unix.IPC_RMID, nil); err != nil {
		log.Printf("msgctl IPC_RMID %s: %v", q, err)
		return
	}
	switch ds.Qnum {
	case 0:
		log.Printf("removed %s", q)
	case 1:
		log.Printf("removed %s, and the message still in it", q)
	default:
		log.Printf("removed %s, and the %d messages still in it", q, ds.Qnum)
	}
}

// printMessage writes a message's text and its newline to standard output with one write(2).
// That write blocks while whoever reads our standard output does not read (receiver | less),
// and a signal does not end it: the kernel restarts it after Ctrl-C (SA_RESTART). So it runs in
// a goroutine, and when ctx is done we stop waiting for it: the program cleans up and exits, and
// the write dies with it (and the message goes back to the queue: putBack).
func printMessage(ctx context.Context, line []byte) error {
	done := make(chan error, 1)
	go func() {
		_, err := os.Stdout.Write(line)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	select {
	case err := <-done: // it went out after all
		return err
	default:
		return errors.New("interrupted while printing a message")
	}
}
