package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// playMsgQueue tours 07-msgqueue: messages of several types on a System V queue, taken out of
// FIFO order by asking for a type; a receiver that waits for more and removes the queue; and
// the same with priorities on a POSIX queue.
func playMsgQueue(t *tour) error {
	// ftok of this example's own folder, and a POSIX name of the tour's own: the tour never
	// meets a queue of yours.
	key := []string{"-path", "."}
	name := fmt.Sprintf("/ipc-msgqueue-tour-%d", os.Getpid())
	// Should the tour stop half way, remove what the receivers would have removed.
	var made string
	t.cleanup(func() {
		if made != "" {
			exec.Command("ipcrm", "-Q", made).Run()
		}
		exec.Command("rm", "-f", "/dev/mqueue"+name).Run()
	})

	t.say("The sender creates a System V queue and sends six messages, two of each type: T:text gives a message its type.")
	s, err := t.runProc("sender", append(key, "1:msg1", "1:msg2", "2:msg3", "2:msg4", "3:msg5", "3:msg6")...)
	if err != nil {
		return err
	}
	m := s.said(`^sender: created queue key (0x[0-9a-f]{8}) `)
	if m == nil {
		return fmt.Errorf("the sender did not say which queue it created")
	}
	made = m[1]

	t.say("Receivers ask for types 3, 1, 2, 1, 3, 2, one message each (-n 1): msgrcv takes the first message of the type asked, out of FIFO order.")
	var got []string
	for _, typ := range []string{"3", "1", "2", "1", "3", "2"} {
		out, err := t.run("receiver", append(key, "-type", typ, "-n", "1")...)
		if err != nil {
			return err
		}
		got = append(got, strings.TrimSuffix(out, "\n"))
	}
	if err := expect("receivers", strings.Join(got, " ")+"\n", "msg5 msg1 msg3 msg2 msg6 msg4\n"); err != nil {
		return err
	}

	t.say("The queue is empty now. A receiver with -wait waits for a message (msgrcv with IPC_NOWAIT, tried again every few milliseconds, so that Ctrl-C can end the wait); with -n 1 it ends after one, and -rm removes the queue.")
	r, err := t.start(nil, "receiver", append(key, "-wait", "-n", "1", "-rm")...)
	if err != nil {
		return err
	}
	if err := r.waitFor(`^receiver: waiting for a message in queue key `); err != nil {
		return err
	}
	if _, err := t.run("sender", append(key, "late")...); err != nil {
		return err
	}
	out, err := r.wait()
	if err != nil {
		return err
	}
	if err := expect("receiver", out, "late\n"); err != nil {
		return err
	}
	if ipcs, err := exec.Command("ipcs", "-q").Output(); err != nil {
		return fmt.Errorf("ipcs -q: %v", err)
	} else if strings.Contains(string(ipcs), "\n"+made+" ") {
		return fmt.Errorf("ipcs -q still lists key %s after receiver -rm", made)
	}

	t.say("A POSIX queue has priorities instead of types: preceiver takes the highest first, in FIFO order within a priority, and -rm unlinks the queue.")
	if _, err := t.run("psender", "-name", name, "1:low", "5:high", "3:mid", "5:high2"); err != nil {
		return err
	}
	out, err = t.run("preceiver", "-name", name, "-rm")
	if err != nil {
		return err
	}
	return expect("preceiver", out, "high\nhigh2\nmid\nlow\n")
}
