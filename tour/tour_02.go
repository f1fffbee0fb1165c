package main

import (
	"fmt"
	"os/exec"
	"regexp"
	"strings"
)

// playShmSysV tours 02-shm-sysv: a writer leaves a message in a segment and exits; the segment
// outlives it; readers print the message, and the last one removes the segment.
func playShmSysV(t *tour) error {
	// The key is ftok of this example's own folder (the programs' working directory), so
	// that the tour never meets a segment of yours.
	key := []string{"-path", "."}

	t.say("A writer stores a message and a NUL in a new segment, detaches and exits.")
	w, err := t.runProc("writer", append(key, "hello, shared memory")...)
	if err != nil {
		return err
	}
	m := regexp.MustCompile(`^writer: created segment key (0x[0-9a-f]{8})`).FindStringSubmatch(strings.Join(w.stderr, "\n"))
	if m == nil {
		return fmt.Errorf("the writer did not say which segment it created")
	}
	// Should the tour stop half way (Ctrl-C, a failure), remove the segment the last reader
	// would have removed: it would outlive the tour.
	t.cleanup(func() { exec.Command("ipcrm", "-M", m[1]).Run() })

	t.say("The segment outlives the writer: ipcs -m lists it, with no process attached (nattch 0).")
	if ipcs, err := exec.Command("ipcs", "-m").Output(); err == nil {
		for _, line := range strings.Split(string(ipcs), "\n") {
			if strings.HasPrefix(line, m[1]+" ") {
				t.print("   ipcs -m | " + line)
			}
		}
	}

	t.say("A reader with -keep prints the message and leaves the segment; the next one removes it (IPC_RMID).")
	for _, args := range [][]string{append(key, "-keep"), key} {
		out, err := t.run("reader", args...)
		if err != nil {
			return err
		}
		if err := expect("reader", out, "hello, shared memory\n"); err != nil {
			return err
		}
	}

	t.say("Now there is nothing to read.")
	r, err := t.runProc("reader", key...)
	if err == nil {
		return fmt.Errorf("a reader found a segment after the last reader removed it")
	}
	if r == nil {
		return err
	}
	return r.waitFor(`run the writer first`)
}
