package main

import (
	"fmt"
	"os"
	"strings"
)

// playFileLock tours 01-file-lock: a write and a read, a reader waiting for a writer's
// exclusive lock, and counters with and without the lock.
func playFileLock(t *tour) error {
	t.say("A writer replaces the file's content under an exclusive lock; a reader prints it under a shared lock.")
	if _, err := t.run("writer", "-file", "shared.txt", "hello from the writer"); err != nil {
		return err
	}
	out, err := t.run("reader", "-file", "shared.txt")
	if err != nil {
		return err
	}
	if err := expect("reader", out, "hello from the writer\n"); err != nil {
		return err
	}

	t.say("While a writer holds the exclusive lock, a reader waits; it reads the new message once the writer lets go.")
	w, err := t.start(nil, "writer", "-file", "shared.txt", "-hold", "1h", "second message")
	if err != nil {
		return err
	}
	if err := w.waitFor(`^writer: holding the exclusive lock`); err != nil {
		return err
	}
	r, err := t.start(nil, "reader", "-file", "shared.txt")
	if err != nil {
		return err
	}
	if err := r.waitFor(`^reader: waiting for a shared lock`); err != nil {
		return err
	}
	if _, err := w.interrupt(); err != nil {
		return err
	}
	if out, err = r.wait(); err != nil {
		return err
	}
	if err := expect("reader", out, "second message\n"); err != nil {
		return err
	}

	const counters, n = 4, 2000
	for _, kind := range []string{"flock", "none"} {
		file := "count-" + kind + ".txt"
		t.say("Four counters at once, each adding 1 to %s %d times, with -lock %s.", file, n, kind)
		var ps []*proc
		for i := 0; i < counters; i++ {
			p, err := t.start(nil, "counter", "-lock", kind, "-file", file, "-n", fmt.Sprint(n))
			if err != nil {
				return err
			}
			ps = append(ps, p)
		}
		for _, p := range ps {
			if _, err := p.wait(); err != nil {
				return err
			}
		}
		data, err := os.ReadFile(t.dir + "/" + file)
		if err != nil {
			return err
		}
		total, _, _ := strings.Cut(string(data), "\n")
		want := fmt.Sprint(counters * n)
		switch {
		case kind != "none" && total != want:
			return fmt.Errorf("%s holds %s, want %s: the lock lost updates", file, total, want)
		case kind != "none":
			t.print(fmt.Sprintf("   %s holds %s: no increment lost", file, total))
		case total == want:
			t.print(fmt.Sprintf("   %s holds %s: this time the counters did not overlap; run again to see the race", file, total))
		default:
			t.print(fmt.Sprintf("   %s holds %s, not %s: without the lock, increments were lost", file, total, want))
		}
	}
	return nil
}
