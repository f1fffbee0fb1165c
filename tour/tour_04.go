package main

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

// playSemMutex tours 04-semaphore-mutex: a producer and a consumer pass numbers through a ring
// of 8 slots in a System V segment, guarded by a set of three System V semaphores (a mutex,
// and counting semaphores for the empty and the full slots), in both start orders; then the
// counter, with each of its three locks.
func playSemMutex(t *tour) error {
	// The key is ftok of this example's own folder (the programs' working directory), so
	// that the tour never meets a set or a segment of yours.
	key := []string{"-path", "."}
	// Should the tour stop half way (Ctrl-C, a failure), remove what the consumer would have
	// removed: a set and a segment outlive the programs.
	var made string
	t.cleanup(func() {
		if made != "" {
			exec.Command("ipcrm", "-S", made).Run()
			exec.Command("ipcrm", "-M", made).Run()
		}
	})
	created := `^%s: created semaphore set key (0x[0-9a-f]{8}) \(semid ([0-9]+)\)$`

	t.say("The consumer first: it creates the semaphore set (mutex 1, empty 8, full 0) and the segment, finds no full slot, and waits in semop on full.")
	c, err := t.start(nil, "consumer", key...)
	if err != nil {
		return err
	}
	if err := c.waitFor(`^consumer: waiting for the producer\.\.\.$`); err != nil {
		return err
	}
	m := c.said(fmt.Sprintf(created, "consumer"))
	if m == nil {
		return fmt.Errorf("the consumer did not say which semaphore set it created")
	}
	made = m[1]

	t.say("A producer puts the numbers 1 to 20 through the 8 slots. Each item: take an empty slot, lock the mutex, write, unlock, add a full slot; the consumer does the reverse. At the end marker the consumer removes the set and the segment.")
	if _, err := t.run("producer", append(key, "-n", "20")...); err != nil {
		return err
	}
	out, err := c.wait()
	if err != nil {
		return err
	}
	if err := expect("consumer", out, numbers(20)); err != nil {
		return err
	}
	if err := t.leftNothing(made, "the consumer"); err != nil {
		return err
	}

	t.say("The producer first: it creates the set and the segment, puts 8 of its 12 items, and then waits in semop on empty: the ring is full.")
	p, err := t.start(nil, "producer", append(key, "-n", "12")...)
	if err != nil {
		return err
	}
	if err := p.waitFor(`^producer: created segment key `); err != nil {
		return err
	}
	if m = p.said(fmt.Sprintf(created, "producer")); m == nil {
		return fmt.Errorf("the producer did not say which semaphore set it created")
	}
	made = m[1]
	rows, err := p.waitRingFull(m[2])
	if err != nil {
		return err
	}
	t.say("ipcs -s -i shows the three semaphores: 0 the mutex (free: 1), 1 empty (0, and the producer waits on it: ncount 1), 2 full (8).")
	for _, row := range rows {
		t.print(fmt.Sprintf("   ipcs -s -i %s | %s", m[2], row))
	}

	t.say("The consumer takes the 8 items waiting; each slot it frees lets the producer put one more, up to the end marker (the consumer, faster, may wait for the producer on the way). Both exit 0, and the consumer removes the set and the segment.")
	if out, err = t.run("consumer", key...); err != nil {
		return err
	}
	if err := expect("consumer", out, numbers(12)); err != nil {
		return err
	}
	if _, err := p.wait(); err != nil {
		return err
	}
	if err := t.leftNothing(made, "the consumer"); err != nil {
		return err
	}
	return playCounter(t, key)
}

// playCounter tours the counter of 04-semaphore-mutex: four worker processes add one to a
// counter in a segment, with each of its three locks.
func playCounter(t *tour, key []string) error {
	const procs = 4
	for _, lock := range []string{"sem", "futex", "none"} {
		n := 20000 // a semop per lock and unlock: a second or more with four workers
		switch lock {
		case "sem":
			t.say("A counter starts %d worker processes (itself, run again: Go has no fork) that each add one to a counter in a segment %d times, inside a mutex. -lock sem: a System V semaphore of value 1, taken and released with semop and SEM_UNDO.", procs, n)
		case "futex":
			t.say("-lock futex: a mutex word in the segment, taken with an atomic compare-and-swap, and futex(2) only when a worker must sleep, as glibc builds pthread mutexes.")
		case "none":
			// With as few, the workers, fast without a lock, often run one after another and
			// lose nothing (with 50000 each, one run in two on a 2-core machine).
			n = 200000
			t.say("-lock none: each worker reads the counter, adds one and writes it back, with nobody taking turns; %d times each, so that the workers, much faster without a lock, run long enough to overlap.", n)
		}
		want := procs * n
		c, err := t.runProc("counter", append(key, "-procs", fmt.Sprint(procs), "-n", fmt.Sprint(n), "-lock", lock)...)
		if err != nil {
			return err
		}
		if m := c.said(`^counter: created semaphore set key (0x[0-9a-f]{8}) `); m != nil {
			if err := t.leftNothing(m[1], ""); err != nil {
				return err
			}
		}
		out := c.stdout.String()
		var got int
		if _, err := fmt.Sscanf(out, "%d\n", &got); err != nil || out != fmt.Sprintf("%d\n", got) {
			return fmt.Errorf("counter printed %q, want one number", out)
		}
		switch {
		case lock != "none" && got != want:
			return fmt.Errorf("counter -lock %s printed %d, want %d: the mutex let updates be lost", lock, got, want)
		case lock == "sem":
			t.print(fmt.Sprintf("   (%d = %d × %d: no addition lost; but every lock and unlock is a semop system call, even when nobody waits)", got, procs, n))
		case lock == "futex":
			t.print(fmt.Sprintf("   (%d again, exact, and much faster: a turn that finds the mutex free makes no system call)", got))
		case got > want:
			return fmt.Errorf("counter -lock none printed %d, more than the %d additions", got, want)
		case got == want:
			t.print(fmt.Sprintf("   (%d: this time the workers did not overlap; run it again to see updates lost)", got))
		default:
			t.print(fmt.Sprintf("   (%d, not %d: without a mutex, additions are lost, and how many changes from run to run)", got, want))
		}
	}
	return nil
}

// numbers is what a consumer prints for producer -n n: 1 to n, one a line.
func numbers(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "%d\n", i)
	}
	return b.String()
}

// said returns the submatches of the first line the program said on stderr that matches re,
// or nil.
func (p *proc) said(re string) []string {
	rx := regexp.MustCompile(re)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, line := range p.stderr {
		if m := rx.FindStringSubmatch(line); m != nil {
			return m
		}
	}
	return nil
}

// waitRingFull waits until the producer has filled the ring and waits for an empty slot:
// semaphore 1 (empty) of set semid is 0 and a process waits for it to grow (ncount 1). It
// returns the table of ipcs -s -i that showed it. The producer gives no sign on stderr, so
// this asks ipcs, every 10 ms, for at most lineTimeout.
func (p *proc) waitRingFull(semid string) ([]string, error) {
	empty := regexp.MustCompile(`^1\s+0\s+1\s`)
	timeout := time.After(lineTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		cmd := exec.Command("ipcs", "-s", "-i", semid)
		cmd.Env = append(os.Environ(), "LC_ALL=C")
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("ipcs -s -i %s: %v", semid, err)
		}
		var rows []string
		full := false
		for _, line := range strings.Split(string(out), "\n") {
			line = strings.TrimSpace(line)
			if strings.HasPrefix(line, "semnum") || regexp.MustCompile(`^[0-9]+\s`).MatchString(line) {
				rows = append(rows, line)
			}
			full = full || empty.MatchString(line)
		}
		if full {
			return rows, nil
		}
		select {
		case <-tick.C:
		case <-p.eof:
			return nil, fmt.Errorf("%s ended before it filled the ring", p.name)
		case <-timeout:
			return nil, fmt.Errorf("%s did not fill the ring and wait for an empty slot within %v (ipcs -s -i %s: %q)", p.name, lineTimeout, semid, rows)
		case <-p.t.ctx.Done():
			return nil, p.t.ctx.Err()
		}
	}
}

// leftNothing checks that no semaphore set and no segment is left at key, and, if who is
// given, says that who removed them.
func (t *tour) leftNothing(key, who string) error {
	for _, kind := range []string{"-s", "-m"} {
		out, err := exec.Command("ipcs", kind).Output()
		if err != nil {
			return fmt.Errorf("ipcs %s: %v", kind, err)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(line, key+" ") {
				return fmt.Errorf("ipcs %s still lists key %s: %s", kind, key, line)
			}
		}
	}
	if who != "" {
		t.print(fmt.Sprintf("   (ipcs -s and ipcs -m list nothing at key %s: %s removed both)", key, who))
	}
	return nil
}
