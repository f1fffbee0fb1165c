package tcpsock_test

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	tcpsock "example.com/ipc/09-tcp-socket"
	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/sys/unix"
)

// The programs the scripts run, built once by TestMain.
var programs = []string{"server", "client"}

// TestMain builds the programs with go build into a temporary directory and puts it first on
// PATH, so that scripts exec the real binaries (a signal to `go run` would not reach them). It
// also gives the scripts rawclient, a client that is not ours (this test binary, run under that
// name: testscript.Main), for what our client never does: send half a line, send nothing, hang
// up in the middle.
func TestMain(m *testing.M) {
	benchPeerMain() // a benchmark's peer runs instead of the tests (benchkit_test.go)
	testscript.Main(buildM{m}, map[string]func(){"rawclient": rawClient})
}

type buildM struct{ m *testing.M }

func (b buildM) Run() int { return buildAndRun(b.m) }

func buildAndRun(m *testing.M) int {
	if benchOnly() {
		return m.Run()
	}
	// The scripts check what SIGINT does to the server, so the programs must start with SIGINT
	// not ignored. A test run as a background job of a shell script (go test ./... &) starts
	// with SIGINT ignored, and a program inherits that. Catching it here, where it was ignored
	// anyway, lets the programs start with the default action: exec resets a caught signal to its
	// default, but keeps an ignored one ignored.
	if signal.Ignored(os.Interrupt) {
		signal.Notify(make(chan os.Signal, 1), os.Interrupt)
	}
	bin, err := os.MkdirTemp("", "tcpsock-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(bin)
	// Let the programs run in another network namespace too (ip netns exec), as root.
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
			case "root": // [root]: may make network namespaces (ip netns)
				return os.Geteuid() == 0, nil
			case "ipv6": // [ipv6]: this machine has IPv6 loopback, ::1
				l, err := net.Listen("tcp6", "[::1]:0")
				if err != nil {
					return false, nil
				}
				l.Close()
				return true, nil
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

// setup runs before each script. The scripts need no names of their own: every server listens
// on 127.0.0.1:0 (or [::1]:0), a port that the kernel picks free, and a script reads it from the
// server's first line (waitfor ... with a group in the regexp sets $PORT). It registers the leak
// check: at the end of the script, a process still running in $WORK fails the script (and is
// killed).
//
// It also sets $NS, a prefix for the names of network namespaces of the script's own
// (ipc09-<hash of $WORK>), and fails the script if one is left at the end (and deletes it).
func setup(env *testscript.Env) error {
	work := env.WorkDir
	h := fnv.New32a()
	h.Write([]byte(work))
	ns := fmt.Sprintf("ipc09-%08x", h.Sum32())
	env.Setenv("NS", ns)
	env.Defer(func() {
		left, _ := filepath.Glob("/run/netns/" + ns + "*")
		for _, path := range left {
			exec.Command("ip", "netns", "del", filepath.Base(path)).Run()
		}
		if len(left) > 0 {
			env.T().Fatal("network namespaces left at the end of the script, now deleted:\n" + strings.Join(left, "\n"))
		}
	})
	env.Defer(func() {
		if left := killLeftovers(work); len(left) > 0 {
			env.T().Fatal("still running at the end of the script, now killed:\n" + strings.Join(left, "\n"))
		}
	})
	return nil
}

// killLeftovers kills, with SIGKILL, every process that runs in dir or below it (every program a
// script starts runs in $WORK), and returns their pids and command lines. A shell may start
// another command as it dies, hence the passes.
func killLeftovers(dir string) []string {
	var left []string
	killed := map[int]bool{}
	for pass := 0; pass < 3; pass++ {
		n := len(left)
		procs, _ := os.ReadDir("/proc")
		for _, p := range procs {
			pid, err := strconv.Atoi(p.Name())
			if err != nil || pid == os.Getpid() || killed[pid] {
				continue
			}
			cwd, err := os.Readlink(filepath.Join("/proc", p.Name(), "cwd"))
			if err != nil || (cwd != dir && !strings.HasPrefix(cwd, dir+"/")) {
				continue
			}
			cmdline, _ := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
			if unix.Kill(pid, unix.SIGKILL) == nil {
				killed[pid] = true
				left = append(left, fmt.Sprintf("%d %s", pid, bytes.ReplaceAll(bytes.TrimSuffix(cmdline, []byte{0}), []byte{0}, []byte{' '})))
			}
		}
		if len(left) == n {
			break
		}
	}
	return left
}

// waitFor waits until a file exists and, given a regexp, until its content matches it:
// `waitfor server.err '^server: listening'`. It polls for at most ten seconds, then fails with
// what the file held, so that a broken pair fails the script instead of hanging it. If the
// regexp has a group, what the group matched becomes $PORT (or the variable named by a third
// argument): `waitfor srv.err '^server: listening on 127\.0\.0\.1:(\d+),' PORT`.
func waitFor(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 3 {
		ts.Fatalf("usage: waitfor file [regexp [var]]")
	}
	name := "PORT"
	if len(args) == 3 {
		name = args[2]
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
			if re != nil && re.NumSubexp() > 0 {
				ts.Setenv(name, string(re.FindSubmatch(data)[1]))
			}
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

// rawClient is the rawclient command of the scripts: a client that is not ours, which connects
// to HOST:PORT and then does what its arguments say, in order:
//
//	send:TEXT     write TEXT, with Go's escapes (send:half, send:' done\n')
//	sendfile:F    write the content of file F
//	touch:F       create file F: tells the script how far it got
//	waitfor:F     wait until file F exists (at most ten seconds)
//	shut          shutdown(SHUT_WR): nothing more comes; the server sees end of file
//	read          copy what the server sends to standard output, until end of file
//
// then closes the connection (a hang-up, wherever it is), and exits 0. The server hanging up
// first (EPIPE on a write, ECONNRESET on a read, which of the two depends on timing) ends it
// there, with a line on stderr, and status 0 too; anything else that goes wrong is a line on
// stderr, prefixed "rawclient: ", and status 1.
func rawClient() {
	fail := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "rawclient: "+format+"\n", args...)
		os.Exit(1)
	}
	if len(os.Args) < 2 {
		fail("usage: rawclient HOST:PORT step...")
	}
	conn, err := net.Dial("tcp", os.Args[1])
	if err != nil {
		fail("%v", err)
	}
	c := conn.(*net.TCPConn)
	defer c.Close()
	// The server hanging up shows as EPIPE on a write or ECONNRESET on a read, by timing: say so,
	// and end as after end of file.
	hungUp := func(err error) {
		if errors.Is(err, unix.EPIPE) || errors.Is(err, unix.ECONNRESET) {
			fmt.Fprintf(os.Stderr, "rawclient: the server closed the connection (%v)\n", err)
			c.Close()
			os.Exit(0)
		}
	}
	for _, step := range os.Args[2:] {
		verb, arg, _ := strings.Cut(step, ":")
		switch verb {
		case "send":
			text, err := strconv.Unquote(`"` + arg + `"`)
			if err != nil {
				fail("send:%s: %v", arg, err)
			}
			if _, err := c.Write([]byte(text)); err != nil {
				hungUp(err)
				fail("write: %v", err)
			}
		case "sendfile":
			data, err := os.ReadFile(arg)
			if err != nil {
				fail("%v", err)
			}
			if _, err := c.Write(data); err != nil {
				hungUp(err)
				fail("write: %v", err)
			}
		case "touch":
			if err := os.WriteFile(arg, nil, 0o644); err != nil {
				fail("%v", err)
			}
		case "waitfor":
			for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
				if _, err := os.Stat(arg); err == nil {
					break
				}
				if time.Since(start) > 10*time.Second {
					fail("waited 10s for %s", arg)
				}
			}
		case "shut":
			if err := c.CloseWrite(); err != nil {
				fail("shutdown: %v", err)
			}
		case "read":
			if _, err := io.Copy(os.Stdout, c); err != nil {
				hungUp(err)
				fail("read: %v", err)
			}
		default:
			fail("unknown step %q", step)
		}
	}
}

// The address checks of the package, without a program.
func TestCheckAddr(t *testing.T) {
	for _, ok := range []string{tcpsock.DefaultAddr, "127.0.0.1:0", "[::1]:0", "localhost:7777", ":7777", "[::]:65535"} {
		if err := tcpsock.CheckAddr(ok); err != nil {
			t.Errorf("CheckAddr(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "7777", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "::1:7777", "127.0.0.1:http", "a b:1"} {
		if err := tcpsock.CheckAddr(bad); err == nil {
			t.Errorf("CheckAddr(%q): no error", bad)
		}
	}
}
