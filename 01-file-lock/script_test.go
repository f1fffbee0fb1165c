package filelock_test

import (
	"bufio"
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
var programs = []string{"writer", "reader", "counter"}

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
	// The scripts check that Ctrl-C ends each program with status 130, so the programs must
	// start with SIGINT not ignored. A test binary run as a background job of a shell script
	// (go test -c, then ./x.test &) starts with SIGINT ignored, and the programs would inherit
	// that. Catching it here, where it was ignored anyway, lets them start with the default
	// action: exec resets a caught signal to its default, but keeps an ignored one ignored.
	// (go test itself catches SIGINT, so the binary it starts has the default already.)
	if signal.Ignored(os.Interrupt) {
		signal.Notify(make(chan os.Signal, 1), os.Interrupt)
	}
	bin, err := os.MkdirTemp("", "filelock-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(bin)
	// Let an unprivileged user run them too (the permission script runs one as nobody).
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
	// go test caches a passing result until the test binary, or a file that a test opened or
	// stat'ed, changes. The programs' sources are read by go build, not by the test, so stat
	// them (here: TestMain is not watched), or an edited program would get a stale "(cached)".
	for _, p := range programs {
		files, _ := os.ReadDir(p)
		for _, f := range files {
			os.Stat(filepath.Join(p, f.Name()))
		}
	}
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Deadline:            deadline(t, 5*time.Minute),
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

// deadline bounds every command of the scripts, so that a pair that hangs fails its script
// (and its leak check runs) instead of hanging the test until go test's own -timeout panics.
func deadline(t *testing.T, d time.Duration) time.Time {
	end := time.Now().Add(d)
	if td, ok := t.Deadline(); ok && td.Add(-10*time.Second).Before(end) {
		return td.Add(-10 * time.Second)
	}
	return end
}

// setup runs before each script. Its files live in $WORK, so scripts running in parallel
// never share one; the defaults of the programs point into $TMPDIR, which testscript sets to
// $WORK/.tmp. It also registers the leak check.
func setup(env *testscript.Env) error {
	// Programs built with -race sleep a second on exit unless told not to.
	env.Setenv("GORACE", "atexit_sleep_ms=0")
	if os.Geteuid() == 0 {
		// The permission script runs a program as nobody, who must be able to reach $WORK
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
		if held := locksUnder(work); len(held) > 0 {
			msg = append(msg, "a lock is still held on a file of this script (a program or a child of it is still running):")
			msg = append(msg, held...)
		}
		if left := killLeftovers(work); len(left) > 0 {
			msg = append(msg, "still running at the end of the script, now killed:")
			msg = append(msg, left...)
		}
		if len(msg) > 0 {
			env.T().Fatal(strings.Join(msg, "\n"))
		}
	})
	return nil
}

// killLeftovers kills, with SIGKILL, every process that runs in dir or below it: whatever a
// script started and did not see end, such as a program that a shell it killed left running.
// It runs before testscript waits for the script's background commands, which would otherwise
// wait as long as such a grandchild holds their output pipe open (a writer told to -hold 1h).
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

// locksUnder returns the lines of /proc/locks that name a file under dir. /proc/locks names
// a file by device (major:minor, in hex) and inode.
func locksUnder(dir string) []string {
	files := map[string]string{}
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		var st unix.Stat_t
		if err == nil && unix.Lstat(path, &st) == nil {
			files[fmt.Sprintf("%02x:%02x:%d", unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)] = path
		}
		return nil
	})
	f, err := os.Open("/proc/locks")
	if err != nil {
		return []string{err.Error()}
	}
	defer f.Close()
	var held []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		for _, field := range strings.Fields(sc.Text()) {
			if path, ok := files[field]; ok {
				held = append(held, sc.Text()+"  "+path)
			}
		}
	}
	return held
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
