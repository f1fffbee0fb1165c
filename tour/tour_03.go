package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// playShmPOSIX tours 03-shm-posix: a reader asleep on a futex in the mapping until a writer
// publishes, then the other order.
func playShmPOSIX(t *tour) error {
	// A name of this tour's own (its temporary folder's), so that it never meets yours.
	name := filepath.Base(filepath.Dir(t.dir))
	// Should the tour stop half way, remove the object the reader would have removed.
	t.cleanup(func() { os.Remove("/dev/shm/" + name) })

	t.say("The reader first: it creates /dev/shm/%s, maps it, and sleeps in FUTEX_WAIT on the state word.", name)
	r, err := t.start(nil, "reader", "-name", name)
	if err != nil {
		return err
	}
	if err := r.waitFor(`^reader: waiting for a writer to publish a message in `); err != nil {
		return err
	}
	if st, err := os.Stat("/dev/shm/" + name); err == nil {
		t.print("   ls -l /dev/shm | " + fmt.Sprintf("%v %d %s", st.Mode(), st.Size(), name))
	}
	t.say("A writer copies the message in, publishes it with an atomic store, and wakes the reader with FUTEX_WAKE.")
	if _, err := t.run("writer", "-name", name, "hello, reader"); err != nil {
		return err
	}
	out, err := r.wait()
	if err != nil {
		return err
	}
	if err := expect("reader", out, "hello, reader\n"); err != nil {
		return err
	}

	t.say("The writer first: the object and its message outlive the writer; the reader takes it at once and removes it.")
	if _, err := t.run("writer", "-name", name, "hello again"); err != nil {
		return err
	}
	if out, err = t.run("reader", "-name", name); err != nil {
		return err
	}
	if err := expect("reader", out, "hello again\n"); err != nil {
		return err
	}
	if _, err := os.Stat("/dev/shm/" + name); err == nil {
		return fmt.Errorf("the reader left /dev/shm/%s", name)
	}
	return nil
}
