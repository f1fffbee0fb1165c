package fifo_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/sys/unix"
)

// The programs the scripts run, built once by TestMain.
var programs = []string{"writer", "reader"}

// buildFlags are added to go build (race_test.go adds -race).
var buildFlags []string

// TestMain builds the programs with go build into a temporary directory and puts it first on
// PATH, so that scripts exec the real binaries (a signal to `go run` would not reach them).
func TestMain(m *testing.M) {
	benchPeerMain() // a benchmark's peer runs instead of the tests (benchkit_test.go)
	if args, ok := os.LookupEnv(parseFlagsArgs); ok {
		parseFlagsMain(args) // this process is a program for TestParseFlags (exit_test.go)
	}
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	if benchOnly() {
		return m.Run()
	}
	// The scripts check that Ctrl-C ends each program with status 130, so the programs must
	// start with SIGINT not ignored. A test run as a background job of a shell script
	// (go test ./... &) starts with SIGINT ignored, and a program inherits that. Catching it
	// here, where it was ignored anyway, lets the programs start with the default action: exec
	// resets a caught signal to its default, but keeps an ignored one ignored.
	if signal.Ignored(os.Interrupt) {
		signal.Notify(make(chan os.Signal, 1), os.Interrupt)
	}
	bin, err := os.MkdirTemp("", "fifo-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(bin)
	// Let an unprivileged user run them too (the permission checks run one as nobody).
	if err := os.Chmod(bin, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
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
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Deadline:            deadline(t, 3*time.Minute),
		Setup:               setup,
		Condition: func(cond string) (bool, error) {
			if cond == "root" {
				return os.Geteuid() == 0, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"waitfor": waitFor,
		},
	})
}

// deadline bounds every command of the scripts, ten seconds before go test's own -timeout, so
// that a pair that hangs fails its script, whose leak check then runs, instead of making go test
// panic, which skips the leak checks.
func deadline(t *testing.T, d time.Duration) time.Time {
	end := time.Now().Add(d)
	if td, ok := t.Deadline(); ok && td.Add(-10*time.Second).Before(end) {
		return td.Add(-10 * time.Second)
	}
	return end
}

// setup runs before each script. Its FIFOs live in $WORK, so scripts running in parallel
// never share one; the programs' default path is in $TMPDIR, which testscript sets to
// $WORK/.tmp. It also registers the leak check: every FIFO a script made, by a program or by
// mkfifo(1), must be gone at its end.
func setup(env *testscript.Env) error {
	// Programs built with -race sleep a second on exit unless told not to.
	env.Setenv("GORACE", "atexit_sleep_ms=0")
	if os.Geteuid() == 0 {
		// The permission checks run a program as nobody, who must be able to reach $WORK
		// (but not list it): testscript makes it and its parent 0700.
		for _, dir := range []string{env.WorkDir, filepath.Dir(env.WorkDir)} {
			if err := os.Chmod(dir, 0o711); err != nil {
				return err
			}
		}
	}
	work := env.WorkDir
	env.Defer(func() {
		var msg []string
		if left := killLeftovers(work); len(left) > 0 {
			msg = append(msg, "still running at the end of the script, now killed:")
			msg = append(msg, left...)
		}
		if left := fifosUnder(work); len(left) > 0 {
			msg = append(msg, "FIFOs left behind at the end of the script:")
			msg = append(msg, left...)
		}
		if len(msg) > 0 {
			env.T().Fatal(strings.Join(msg, "\n"))
		}
	})
	return nil
}

// killLeftovers kills, with SIGKILL, every process that runs in dir or below it: whatever a
// script started and did not see end, such as a program whose shell was killed when the script
// failed (the scripts signal a program by its pid, through a shell that records its status).
// It runs before testscript waits for the script's background commands, which would otherwise
// wait for as long as such a grandchild holds their output pipe open: for ever, for a writer
// that waits for a reader.
func killLeftovers(dir string) []string {
	var left []string
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cwd, err := os.Readlink(filepath.Join("/proc", p.Name(), "cwd"))
		if err != nil || (cwd != dir && !strings.HasPrefix(cwd, dir+"/")) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		unix.Kill(pid, unix.SIGKILL)
		left = append(left, fmt.Sprintf("%d %s", pid, bytes.ReplaceAll(bytes.TrimSuffix(cmdline, []byte{0}), []byte{0}, []byte{' '})))
	}
	return left
}

// fifosUnder returns the paths of the FIFOs under dir.
func fifosUnder(dir string) []string {
	var found []string
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type()&fs.ModeNamedPipe != 0 {
			found = append(found, path)
		}
		return nil
	})
	return found
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
