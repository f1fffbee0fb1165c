package pipes_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/sys/unix"
)

// The programs the scripts run, built once by TestMain.
var programs = []string{"writer", "reader", "parent"}

// buildFlags are added to go build (race_test.go adds -race).
var buildFlags []string

// TestMain builds the programs with go build into a temporary directory and puts it first on
// PATH, so that scripts exec the real binaries (a signal to `go run` would not reach them).
func TestMain(m *testing.M) {
	benchPeerMain() // a benchmark's peer runs instead of the tests (benchkit_test.go)
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	if benchOnly() {
		return m.Run()
	}
	bin, err := os.MkdirTemp("", "pipes-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(bin)
	args := append([]string{"build", "-o", bin}, buildFlags...)
	for _, p := range programs {
		args = append(args, "./"+p)
	}
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		return 1
	}
	os.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	return m.Run()
}

func TestScripts(t *testing.T) {
	// go test caches a passing result until the test binary, or a file that a test opened or
	// stat'ed, changes. The programs' sources are read by go build, not by the test, so stat
	// them (here: TestMain is not watched), or an edited program would get a stale "(cached)".
	for _, p := range programs {
		files, _ := os.ReadDir(p)
		for _, f := range files {
			os.Stat(filepath.Join(p, f.Name()))
		}
	}
	testscript.Run(t, params("testdata/script", deadline(t, 3*time.Minute)))
}

// params runs the scripts in dir, each of which must end by the deadline end.
func params(dir string, end time.Time) testscript.Params {
	return testscript.Params{
		Dir:                 dir,
		RequireExplicitExec: true,
		Deadline:            end,
		Setup:               func(env *testscript.Env) error { return setup(env, end) },
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"waitfor":  waitFor,
			"waitproc": waitProc,
		},
	}
}

// deadline bounds every command of the scripts, so that a program that hangs fails its script
// (whose leak check then kills what is left) instead of hanging the test until go test's own
// -timeout panics, which would skip the leak checks and leave the processes running.
func deadline(t *testing.T, d time.Duration) time.Time {
	end := time.Now().Add(d)
	if td, ok := t.Deadline(); ok && td.Add(-10*time.Second).Before(end) {
		return td.Add(-10 * time.Second)
	}
	return end
}

// setup runs before each script. A pipe has no name to leak, but a process can: a reader left
// waiting for an EOF that never comes, a child that outlived its parent. So each script gets a
// watchdog and a check, both for every process the script started, however deep (see
// scriptProcesses):
//   - at the deadline, the watchdog kills them all. testscript's own timeout kills only the
//     command it started (a sh), and then waits for ever for that command's stdout to close,
//     which a grandchild holds; go test's -timeout would then kill the test binary without
//     running any check, and leave the grandchildren running.
//   - at the end, the check fails the script if any of them is still running, and kills it.
func setup(env *testscript.Env, end time.Time) error {
	// Programs built with -race sleep a second on exit unless told not to.
	env.Setenv("GORACE", "atexit_sleep_ms=0")
	work := env.WorkDir

	var killed []string
	fired := make(chan struct{})
	watchdog := time.AfterFunc(time.Until(end), func() {
		defer close(fired)
		killed = killAll(work)
	})
	env.Defer(func() {
		if !watchdog.Stop() {
			<-fired
		}
		if len(killed) > 0 {
			env.T().Fatal("the script ran past its deadline; killed the processes it had started:\n" + strings.Join(killed, "\n"))
		}
		// A process that has just been told to go (say, a reader that got its EOF as the
		// script ended) may take a moment to exit: give it a bounded grace. (See killAll for
		// why none found must be seen twice.)
		for start, none := time.Now(), 0; none < 2 && time.Since(start) < 5*time.Second; time.Sleep(20 * time.Millisecond) {
			none++
			scriptProcesses(work, func(int, string) { none = 0 })
		}
		if left := killAll(work); len(left) > 0 {
			env.T().Fatal("a process started by this script is still running (killed now):\n" + strings.Join(left, "\n"))
		}
	})
	return nil
}

// scriptProcesses calls f for each process that the script with the work directory work
// started, directly or not: a process whose environment holds WORK=work (testscript sets it for
// every command it runs, and children inherit their parent's environment), or whose working
// directory is in work. f gets a pidfd of the process, which names it and no later process
// with the same pid, and "pid command line". A zombie matches neither test: it has exited,
// and only waits to be reaped.
func scriptProcesses(work string, f func(pidfd int, desc string)) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			continue // gone already
		}
		dir := filepath.Join("/proc", e.Name())
		environ, _ := os.ReadFile(filepath.Join(dir, "environ"))
		cwd, _ := os.Readlink(filepath.Join(dir, "cwd"))
		if slices.Contains(strings.Split(string(environ), "\x00"), "WORK="+work) || cwd == work || strings.HasPrefix(cwd, work+"/") {
			cmdline, _ := os.ReadFile(filepath.Join(dir, "cmdline"))
			f(fd, fmt.Sprintf("%d %s", pid, strings.ReplaceAll(strings.TrimRight(string(cmdline), "\x00"), "\x00", " ")))
		}
		unix.Close(fd)
	}
}

// killAll kills with SIGKILL every process that the script with the work directory work
// started, and returns them. It goes on until it has found none twice in a row, 20 ms apart:
// a shell may start another process between the moment it is found and the moment it is
// killed, and a process caught in the middle of execve(2) may show an empty environment (one
// that had also left $WORK went unseen so, once in seven runs of
// TestLeftoverProcessFailsItsScript).
func killAll(work string) []string {
	var killed []string
	for i, none := 0, 0; none < 2 && i < 100; i++ {
		none++
		scriptProcesses(work, func(pidfd int, desc string) {
			none = 0
			if unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0) == nil && !slices.Contains(killed, desc) {
				killed = append(killed, desc)
			}
		})
		time.Sleep(20 * time.Millisecond) // for the killed to become zombies, or the next to show
	}
	return killed
}

// waitFor waits until a file exists and, given a regexp, until its content matches it:
// `waitfor reader.err '^reader: waiting'`. It polls for at most ten seconds, then fails with
// what the file held, so that a broken pair fails the script instead of hanging it.
func waitFor(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: waitfor file [regexp]")
	}
	var re *regexp.Regexp
	if len(args) == 2 {
		re = regexp.MustCompile("(?m)" + args[1])
	}
	const limit = 10 * time.Second
	path := ts.MkAbs(args[0])
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		data, err := os.ReadFile(path)
		if err == nil && (re == nil || re.Match(data)) {
			return
		}
		if time.Since(start) > limit {
			if err != nil {
				ts.Fatalf("waited %v for %s: %v", limit, args[0], err)
			}
			ts.Fatalf("waited %v for %s to match %q; it holds:\n%s", limit, args[0], args[1], data)
		}
	}
}

// waitProc waits until the process whose pid is in a file is gone (`waitproc r.pid gone`) or
// is asleep in a kernel function whose name contains the given one (`waitproc w.pid
// pipe_write`): some thread of it, since a Go program's blocking call may run on any of its
// threads. /proc/PID/task/TID/wchan names the function a sleeping thread waits in (the pipe
// functions are pipe_read and pipe_write, anon_pipe_read and anon_pipe_write since Linux 6.x).
// It polls for at most ten seconds, then fails with what it saw.
func waitProc(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waitproc pidfile gone|kernel-function")
	}
	data := ts.ReadFile(args[0])
	pid, err := strconv.Atoi(strings.TrimSpace(data))
	if err != nil {
		ts.Fatalf("%s: want a pid, found %q", args[0], data)
	}
	const limit = 10 * time.Second
	var saw []string
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		saw = saw[:0]
		alive := false
		if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			// The state follows the command name in parentheses; Z is a zombie: exited.
			s := string(st)
			alive = !strings.HasPrefix(s[strings.LastIndexByte(s, ')')+1:], " Z")
		}
		if args[1] == "gone" {
			if !alive {
				return
			}
			saw = append(saw, "still running")
		} else {
			tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/wchan", pid))
			for _, t := range tasks {
				w, _ := os.ReadFile(t)
				if strings.Contains(string(w), args[1]) {
					return
				}
				saw = append(saw, fmt.Sprintf("%s: %q", t, w))
			}
			if !alive {
				saw = append(saw, "not running")
			}
		}
		if time.Since(start) > limit {
			ts.Fatalf("waited %v for pid %d to be %s; saw:\n%s", limit, pid, args[1], strings.Join(saw, "\n"))
		}
	}
}
