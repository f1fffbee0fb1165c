package shmposix_test

import (
	"fmt"
	"hash/fnv"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	shmposix "example.com/ipc/03-shm-posix"
	"github.com/rogpeppe/go-internal/testscript"
)

// The programs the scripts run, built once by TestMain.
var programs = []string{"writer", "reader"}

// buildFlags are the flags of that go build (race_test.go adds -race).
var buildFlags []string

// TestMain builds the programs with go build into a temporary directory and puts it first on
// PATH, so that scripts exec the real binaries (a signal to `go run` would not reach them).
// testscript.Main adds the test helpers, which the test binary itself runs: spinpeer
// (spinpeer_test.go).
func TestMain(m *testing.M) {
	benchPeerMain() // a benchmark's peer runs instead of the tests (benchkit_test.go)
	testscript.Main(buildFirst{m}, map[string]func(){"spinpeer": spinPeer})
}

// buildFirst runs the tests after building the programs. (When the test binary runs as
// spinpeer, testscript.Main runs that instead, and builds nothing.)
type buildFirst struct{ m *testing.M }

func (b buildFirst) Run() int { return buildAndRun(b.m) }

func buildAndRun(m *testing.M) int {
	if benchOnly() {
		return m.Run()
	}
	bin, err := os.MkdirTemp("", "shmposix-bin")
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
	// go test caches a passing result until the test binary, or a file that a test opened or
	// stat'ed, changes. The programs' sources are read by go build, not by the test, so stat
	// them (here: TestMain is not watched), or an edited program would get a stale "(cached)".
	for _, p := range programs {
		files, _ := os.ReadDir(p)
		for _, f := range files {
			os.Stat(filepath.Join(p, f.Name()))
		}
	}
	readme = filepath.Join(must(os.Getwd()), "README.md")
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
			"waitfor":  waitFor,
			"inreadme": inReadme,
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

// setup runs before each script. /dev/shm is one namespace for the whole machine, so each
// script gets object names of its own, derived from its work directory: $SHM, and names that
// start with it (${SHM}-big). The programs' default name is derived from $TMPDIR, which
// testscript sets to $WORK/.tmp, so it is the script's own too. Setup also registers the leak
// check: the script fails if any of these objects is still in /dev/shm at its end.
func setup(env *testscript.Env) error {
	h := fnv.New32a()
	h.Write([]byte(env.WorkDir))
	prefix := fmt.Sprintf("ipctest-%s-%08x", strings.TrimPrefix(filepath.Base(env.WorkDir), "script-"), h.Sum32())
	env.Setenv("SHM", prefix)
	def := strings.TrimPrefix(shmposix.DefaultNameFor(env.Getenv("TMPDIR")), "/")
	env.Setenv("DEFAULT_SHM", def)
	env.Defer(func() {
		var left []string
		entries, err := os.ReadDir(shmposix.Dir)
		if err != nil {
			env.T().Fatal(err)
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), prefix) || e.Name() == def {
				path := filepath.Join(shmposix.Dir, e.Name())
				left = append(left, path)
				os.Remove(path)
			}
		}
		if len(left) > 0 {
			env.T().Fatal("left behind in /dev/shm (now removed): " + strings.Join(left, " "))
		}
	})
	return nil
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
