package shmsysv_test

import (
	"bufio"
	"fmt"
	"hash/fnv"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	shmsysv "example.com/ipc/02-shm-sysv"
	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/sys/unix"
)

// The programs the scripts run, built once by TestMain.
var programs = []string{"writer", "reader"}

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
	bin, err := os.MkdirTemp("", "shmsysv-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(bin)
	// Let an unprivileged user run them too (the permission cases run them as nobody).
	if err := os.Chmod(bin, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	args := []string{"build", "-o", bin}
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
	readme = filepath.Join(must(os.Getwd()), "README.md")
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
		Deadline:            deadline(t, 3*time.Minute),
		Setup:               setup,
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "root":
				return os.Geteuid() == 0, nil
			case "overcommit":
				// The kernel's default overcommit heuristic (mode 0), which refuses a single
				// allocation larger than memory and swap; mode 1 would grant anything.
				mode, err := os.ReadFile("/proc/sys/vm/overcommit_memory")
				return strings.TrimSpace(string(mode)) == "0", err
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"waitfor":     waitFor,
			"waitblocked": waitBlocked,
			"ftok":        ftokCmd,
			"inreadme":    inReadme,
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

// setup runs before each script and gives it keys of its own, so that scripts running in
// parallel (and in other test processes) never share a segment:
//
//	$KEY    the programs' default key: ftok($TMPDIR, 'M'), and testscript sets TMPDIR to
//	        $WORK/.tmp, a directory no other script has
//	$KEY1   ftok($TMPDIR, 1), for -path $TMPDIR -proj 1
//	$HKEY, $HKEY2  two keys hashed from $WORK, for -key (in hex; $HKEYDEC is $HKEY in decimal)
//
// A script creates segments only with these keys. Setup refuses to start if one of them is
// already taken (another process picked the same number), and registers the leak check: at the
// end of the script, a segment that still has one of these keys fails the script, and is
// removed so that the machine stays clean.
func setup(env *testscript.Env) error {
	if os.Geteuid() == 0 {
		// The permission cases run a program as nobody, whose working directory is $WORK:
		// let nobody reach it (but not list it). testscript makes it and its parent 0700.
		for _, dir := range []string{env.WorkDir, filepath.Dir(env.WorkDir)} {
			if err := os.Chmod(dir, 0o711); err != nil {
				return err
			}
		}
	}
	tmp := filepath.Join(env.WorkDir, ".tmp")
	key, err := shmsysv.Ftok(tmp, shmsysv.DefaultProj)
	if err != nil {
		return err
	}
	key1, err := shmsysv.Ftok(tmp, 1)
	if err != nil {
		return err
	}
	hkey, hkey2 := hashKey(env.WorkDir), hashKey(env.WorkDir+"#2")
	keys := []uint32{key, key1, hkey, hkey2}
	for name, k := range map[string]uint32{"KEY": key, "KEY1": key1, "HKEY": hkey, "HKEY2": hkey2} {
		env.Setenv(name, fmt.Sprintf("0x%08x", k))
	}
	env.Setenv("HKEYDEC", strconv.FormatUint(uint64(hkey), 10))

	if taken, err := segmentsWith(keys); err != nil {
		return err
	} else if len(taken) > 0 {
		return fmt.Errorf("a key of this script is already taken by a segment that another process made (a key collision; run the test again):\n%s", taken[0].row)
	}
	env.Defer(func() {
		left, err := segmentsWith(keys)
		if err != nil {
			env.T().Fatal(err)
		}
		if len(left) == 0 {
			return
		}
		var rows []string
		for _, seg := range left {
			rows = append(rows, seg.row)
			if _, err := unix.SysvShmCtl(seg.id, unix.IPC_RMID, nil); err != nil {
				rows = append(rows, fmt.Sprintf("  (shmctl IPC_RMID shmid %d: %v)", seg.id, err))
			}
		}
		env.T().Fatal("a segment with a key of this script is still there at its end (now removed):\n" + strings.Join(rows, "\n"))
	})
	// Registered last, so run first: a script that fails while a program it started is blocked
	// (a reader writing to a pipe that nobody reads) would otherwise wait for it until the
	// deadline, and leave it running after. Every program a script starts runs in $WORK.
	env.Defer(func() {
		if killed := killProcessesIn(env.WorkDir); len(killed) > 0 {
			env.T().Fatal("a process of this script was still running at its end (now killed):\n" + strings.Join(killed, "\n"))
		}
	})
	return nil
}

// killProcessesIn kills (SIGKILL) every process whose working directory is dir, and returns
// their command lines.
func killProcessesIn(dir string) []string {
	var killed []string
	for pass := 0; pass < 3; pass++ { // a shell may start another command as it dies
		cwds, _ := filepath.Glob("/proc/[0-9]*/cwd")
		n := len(killed)
		for _, cwd := range cwds {
			if d, err := os.Readlink(cwd); err != nil || d != dir {
				continue
			}
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(cwd)))
			cmdline, _ := os.ReadFile(filepath.Join(filepath.Dir(cwd), "cmdline"))
			if unix.Kill(pid, unix.SIGKILL) == nil {
				killed = append(killed, fmt.Sprintf("pid %d: %s", pid, strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))))
			}
		}
		if len(killed) == n {
			break
		}
	}
	return killed
}

// hashKey makes a key from s: FNV-1a, never 0 (IPC_PRIVATE).
func hashKey(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	if k := h.Sum32(); k != 0 {
		return k
	}
	return 1
}

// A segment listed in /proc/sysvipc/shm: its id, and its row with the key in hex.
type segment struct {
	id  int
	row string
}

// segmentsWith returns the segments of /proc/sysvipc/shm (which lists every segment, like
// ipcs -m) whose key is one of keys. The file prints a key as a signed decimal.
func segmentsWith(keys []uint32) ([]segment, error) {
	f, err := os.Open("/proc/sysvipc/shm")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var segs []segment
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		k, err1 := strconv.ParseInt(fields[0], 10, 32)
		id, err2 := strconv.Atoi(fields[1])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("/proc/sysvipc/shm: cannot parse %q", sc.Text())
		}
		for _, key := range keys {
			if uint32(k) == key {
				segs = append(segs, segment{id, fmt.Sprintf("key 0x%08x: %s", key, strings.Join(fields[1:], " "))})
			}
		}
	}
	return segs, sc.Err()
}

// ftokCmd prints shmsysv.Ftok of a path and a project id as 0x%08x, like ipcs: `ftok $WORK 77`.
// It takes any project id, to compare with C's ftok(3), which keeps only the low 8 bits.
// `ftok -compare FILE` reads lines "path proj key" (what C's ftok said) and fails unless Ftok
// gives the same key for every line; it prints how many agree.
func ftokCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: ftok path proj | ftok -compare file")
	}
	ftok := func(path, proj string) string {
		n, err := strconv.Atoi(proj)
		ts.Check(err)
		key, err := shmsysv.Ftok(ts.MkAbs(path), n)
		ts.Check(err)
		return fmt.Sprintf("0x%08x", key)
	}
	if args[0] != "-compare" {
		fmt.Fprintln(ts.Stdout(), ftok(args[0], args[1]))
		return
	}
	var bad []string
	lines := strings.Split(strings.TrimSpace(ts.ReadFile(args[1])), "\n")
	for _, line := range lines {
		f := strings.Fields(line)
		if len(f) != 3 {
			ts.Fatalf("%s: want \"path proj key\", found %q", args[1], line)
		}
		if got := ftok(f[0], f[1]); got != f[2] {
			bad = append(bad, fmt.Sprintf("ftok(%s, %s): C says %s, Go says %s", f[0], f[1], f[2], got))
		}
	}
	if len(bad) > 0 {
		ts.Fatalf("%s", strings.Join(bad, "\n"))
	}
	fmt.Fprintf(ts.Stdout(), "%d keys agree\n", len(lines))
}

// waitFor waits until a file exists and, given a regexp, until its content matches it:
// `waitfor peer.out '^attached$'`. It polls for at most ten seconds, then fails with what the
// file held, so that a broken pair fails the script instead of hanging it.
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

// waitBlocked waits until the process whose pid a file holds is blocked in a kernel function
// whose name contains the one given (a thread's /proc/PID/task/TID/wchan): `waitblocked r.pid
// pipe_write` waits until it is blocked writing to a full pipe (pipe_write, or anon_pipe_write
// in Linux 6.16 and later). It polls for at most ten seconds, like waitfor.
func waitBlocked(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waitblocked pidfile kernel-function")
	}
	const limit = 10 * time.Second
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		data, _ := os.ReadFile(ts.MkAbs(args[0]))
		if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil {
			wchans, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/wchan", pid))
			for _, w := range wchans {
				if fn, _ := os.ReadFile(w); strings.Contains(string(fn), args[1]) {
					return
				}
			}
		}
		if time.Since(start) > limit {
			ts.Fatalf("waited %v for the process in %s (%q) to block in %s", limit, args[0], data, args[1])
		}
	}
}

// The module's README.md, for inreadme.
var readme string

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// inReadme fails unless the content of a file of the script is a code block of README.md, word
// for word: `inreadme session.txt`. It ties a README session to the script that runs it.
func inReadme(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: inreadme file")
	}
	text, err := os.ReadFile(readme)
	ts.Check(err)
	block := "```\n" + ts.ReadFile(args[0]) + "```\n"
	if !strings.Contains(string(text), block) {
		ts.Fatalf("README.md has no code block that is exactly %s:\n%s", args[0], block)
	}
}
