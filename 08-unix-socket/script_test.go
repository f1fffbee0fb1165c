package unixsock_test

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
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

	unixsock "example.com/ipc/08-unix-socket"
	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/sys/unix"
)

// The programs the scripts run, built once by TestMain.
var programs = []string{"server", "client"}

// TestMain builds the programs with go build into a temporary directory and puts it first on
// PATH, so that scripts exec the real binaries (a signal to `go run` would not reach them). It
// also gives the scripts rawclient, a client that is not ours (this test binary, run under that
// name: testscript.Main), for what our client never does: send half a line, send nothing, hang
// up in the middle, pass many descriptors.
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
	bin, err := os.MkdirTemp("", "unixsock-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(bin)
	// Let an unprivileged user run them too (some cases run one as nobody).
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
			if cond == "root" { // [root]: may act as another user (setpriv)
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

// setup runs before each script and gives it socket names of its own, so that scripts running
// in parallel (and in other test processes) never share one:
//
//	$SOCKDIR  a short directory of its own for socket files, /tmp/ipc-sock-<hash of $WORK>:
//	          $WORK itself may be too long for sun_path (108 bytes), and so may $TMPDIR,
//	          which testscript sets to $WORK/.tmp (a script that runs the programs with their
//	          default path sets TMPDIR=$SOCKDIR)
//	$ABS, $ABS2  two names in the abstract namespace, @ipc-test-<hash of $WORK>...
//	$UID, $GID   the user and group the test runs as; $OTHERUID another user id
//
// It also registers the leak checks: at the end of the script, a process still running in
// $WORK fails the script (and is killed), and so does a socket file left in $SOCKDIR or $WORK.
func setup(env *testscript.Env) error {
	if os.Geteuid() == 0 {
		// Some cases run a program as nobody, whose working directory is $WORK: let nobody reach
		// it (but not list it). testscript makes it and its parent 0700.
		for _, dir := range []string{env.WorkDir, filepath.Dir(env.WorkDir)} {
			if err := os.Chmod(dir, 0o711); err != nil {
				return err
			}
		}
	}
	h := fnv.New32a()
	h.Write([]byte(env.WorkDir))
	sum := h.Sum32()
	sockdir := fmt.Sprintf("/tmp/ipc-sock-%08x", sum)
	if err := os.Mkdir(sockdir, 0o700); err != nil {
		return fmt.Errorf("the short directory for this script's sockets: %v (left by an earlier run? remove it)", err)
	}
	if os.Geteuid() == 0 {
		os.Chmod(sockdir, 0o711) // nobody may reach a socket in it, to be refused by its mode
	}
	env.Setenv("SOCKDIR", sockdir)
	env.Setenv("ABS", fmt.Sprintf("@ipc-test-%08x", sum))
	env.Setenv("ABS2", fmt.Sprintf("@ipc-test-%08x-2", sum))
	env.Setenv("UID", strconv.Itoa(os.Getuid()))
	env.Setenv("GID", strconv.Itoa(os.Getgid()))
	env.Setenv("OTHERUID", strconv.Itoa(os.Getuid()+1))
	work := env.WorkDir
	env.Defer(func() {
		var msg []string
		if left := socketsUnder(sockdir, work); len(left) > 0 {
			msg = append(msg, "socket files left behind at the end of the script:")
			msg = append(msg, left...)
		}
		os.RemoveAll(sockdir)
		if len(msg) > 0 {
			env.T().Fatal(strings.Join(msg, "\n"))
		}
	})
	// Registered last, so run first: a server that a failed script left running would otherwise
	// hold its background commands' output open, and testscript would wait for them until the
	// deadline.
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

// socketsUnder returns the paths of the socket files under the dirs.
func socketsUnder(dirs ...string) []string {
	var found []string
	for _, dir := range dirs {
		filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.Type()&fs.ModeSocket != 0 {
				found = append(found, path)
			}
			return nil
		})
	}
	return found
}

// waitFor waits until a file exists and, given a regexp, until its content matches it:
// `waitfor server.err '^server: listening'`. It polls for at most ten seconds, then fails with
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

// rawClient is the rawclient command of the scripts: a client that is not ours, which connects
// to a socket and then does what its arguments say, in order:
//
//	send:TEXT     write TEXT, with Go's escapes (send:half, send:' done\n')
//	sendfile:F    write the content of file F
//	fds:N:F       open F and send its descriptor N times in one sendmsg, with one byte, a newline
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
		fail("usage: rawclient PATH step...")
	}
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: os.Args[1], Net: "unix"})
	if err != nil {
		fail("%v", err)
	}
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
		case "fds":
			ns, name, _ := strings.Cut(arg, ":")
			n, err := strconv.Atoi(ns)
			if err != nil {
				fail("fds:%s: want fds:N:FILE", arg)
			}
			f, err := os.Open(name)
			if err != nil {
				fail("%v", err)
			}
			fds := make([]int, n)
			for i := range fds {
				fds[i] = int(f.Fd())
			}
			if _, _, err := c.WriteMsgUnix([]byte("\n"), unix.UnixRights(fds...), nil); err != nil {
				fail("sendmsg: %v", err)
			}
			f.Close()
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

// The socket path checks of the package, without a program: the limit of sun_path.
func TestCheckPath(t *testing.T) {
	long := "/" + strings.Repeat("x", unixsock.SunPathLen-2) // 107 bytes: the longest path
	if err := unixsock.CheckPath(long); err != nil {
		t.Errorf("CheckPath(107 bytes): %v", err)
	}
	if err := unixsock.CheckPath(long + "x"); err == nil {
		t.Errorf("CheckPath(108 bytes): no error")
	}
	abs := "@" + strings.Repeat("x", unixsock.SunPathLen-1) // 108 bytes: no NUL needed
	if err := unixsock.CheckPath(abs); err != nil {
		t.Errorf("CheckPath(@ and 107 bytes): %v", err)
	}
	if err := unixsock.CheckPath(abs + "x"); err == nil {
		t.Errorf("CheckPath(@ and 108 bytes): no error")
	}
	// What CheckPath allows, the kernel takes: bind the longest abstract name.
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: abs[:len(abs)-8] + fmt.Sprintf("%08x", os.Getpid()), Net: "unix"})
	if err != nil {
		t.Fatalf("bind the longest abstract name: %v", err)
	}
	l.Close()
}
