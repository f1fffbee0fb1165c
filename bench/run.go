package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A mechanism is what the table compares: a module's Go benchmark and its C reference.
type mechanism struct {
	key     string // what -run matches
	label   string // the table's name for it
	module  string // the module's folder in the workspace
	bench   string // the Go benchmark: bench/rtt[/path] and bench/throughput[/path]
	c       string // the C reference's MECH argument
	rttOnly bool   // no throughput: a semaphore carries no data
}

// The mechanisms in the table's order, slowest idea first.
var mechanisms = []*mechanism{
	{key: "flock", label: "file + flock", module: "01-file-lock", bench: "BenchmarkFlock", c: "flock"},
	{key: "sysv-shm", label: "System V shm + semaphores", module: "02-shm-sysv", bench: "BenchmarkShmSem", c: "shmsem"},
	{key: "posix-shm", label: "POSIX shm + futex", module: "03-shm-posix", bench: "BenchmarkShmFutex", c: "shmfutex"},
	{key: "sem", label: "System V semaphores", module: "04-semaphore-mutex", bench: "BenchmarkSem", c: "sem", rttOnly: true},
	{key: "pipe", label: "pipe", module: "05-pipes", bench: "BenchmarkPipe", c: "pipe"},
	{key: "fifo", label: "FIFO", module: "06-fifo", bench: "BenchmarkFIFO", c: "fifo"},
	{key: "sysv-msg", label: "System V message queue", module: "07-msgqueue", bench: "BenchmarkSysVMsg", c: "msg"},
	{key: "posix-mq", label: "POSIX message queue", module: "07-msgqueue", bench: "BenchmarkPosixMQ", c: "mq"},
	{key: "unix", label: "Unix stream socket", module: "08-unix-socket", bench: "BenchmarkUnix", c: "unix"},
	{key: "tcp", label: "TCP loopback", module: "09-tcp-socket", bench: "BenchmarkTCP", c: "tcp"},
}

func keys() []string {
	var ks []string
	for _, m := range mechanisms {
		ks = append(ks, m.key)
	}
	return ks
}

func (m *mechanism) kinds() []string {
	if m.rttOnly {
		return []string{"rtt"}
	}
	return []string{"rtt", "throughput"}
}

// A runner builds the test binaries and the C reference, and runs them.
type runner struct {
	root      string // the workspace's root
	tmp       string // where the binaries go
	benchtime time.Duration
	pin       string
	cpus      [2]int            // the C reference's CPUs: its own and its peer's (-1: any)
	bins      map[string]string // module -> its test binary; "" if it did not build
	cc        string            // the C compiler, with -c
	ipcbench  string            // the C reference's binary; "" if it did not build
	step      int               // the runs so far, for the progress lines
	steps     int               // the runs in all
	res       *results
	failures  int
}

// timeout bounds one run of a test binary or of the C reference: it should never be reached.
const timeout = 3 * time.Minute

// progress tells stderr which run comes.
func (r *runner) progress(m *mechanism, impl, kind string) {
	r.step++
	fmt.Fprintf(os.Stderr, "bench: [%d/%d] %s %s %s...\n", r.step, r.steps, m.key, impl, kind)
}

// failed records a failed cell, and tells stderr why.
func (r *runner) failed(m *mechanism, impl, path, kind, why string) {
	r.failures++
	what := m.key + " " + impl + " " + kind
	if path != "" {
		what += " (" + path + ")"
	}
	fmt.Fprintf(os.Stderr, "bench: %s failed: %s\n", what, why)
	r.res.row(m, impl, path).fail(kind)
}

// build builds the test binaries of the modules, and the C reference if withC, a few at a
// time (as many as there are CPUs: mostly, go test -c links).
func (r *runner) build(ctx context.Context, modules []string, withC bool) {
	var wg sync.WaitGroup
	slots := make(chan struct{}, runtime.NumCPU())
	bins := make([]string, len(modules))
	for i, module := range modules {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			bins[i] = r.buildGo(ctx, module)
		})
	}
	if withC {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			r.ipcbench = r.buildC(ctx)
		})
	}
	wg.Wait()
	for i, module := range modules {
		r.bins[module] = bins[i]
	}
}

// buildGo builds the test binary of module with go test -c, in the module's folder, and
// returns its path, or "" if it did not build.
func (r *runner) buildGo(ctx context.Context, module string) string {
	fmt.Fprintf(os.Stderr, "bench: building %s's test binary (go test -c)...\n", module)
	dir := filepath.Join(r.root, module)
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %s: no such module in the workspace\n", module)
		return ""
	}
	bin := filepath.Join(r.tmp, module[:2]+".test")
	cmd := exec.CommandContext(ctx, "go", "test", "-c", "-o", bin, ".")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "bench: go test -c in %s: %v\n%s", module, err, out)
		return ""
	}
	return bin
}

// buildC builds testdata/ipcbench.c with the C compiler, and returns the binary's path, or ""
// if it did not build.
func (r *runner) buildC(ctx context.Context) string {
	src := filepath.Join(r.root, "testdata", "ipcbench.c")
	bin := filepath.Join(r.tmp, "ipcbench")
	args := []string{"-O2", "-Wall", "-o", bin, src, "-lrt"}
	fmt.Fprintf(os.Stderr, "bench: building the C reference (%s %s)...\n", filepath.Base(r.cc), strings.Join(args, " "))
	out, err := exec.CommandContext(ctx, r.cc, args...).CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %s: %v\n%s", r.cc, err, out)
		return ""
	}
	os.Stderr.Write(out) // its warnings
	return bin
}

// runGo runs m's Go benchmarks of kind (every path) and records their results.
func (r *runner) runGo(ctx context.Context, m *mechanism, kind string) {
	r.progress(m, "go", kind)
	bin := r.bins[m.module]
	if bin == "" {
		r.failed(m, "go", "", kind, "the test binary of "+m.module+" did not build")
		return
	}
	prefix := m.bench + "/" + kind
	stdout, stderr, err := command(ctx, bin, filepath.Join(r.root, m.module), []string{"IPC_BENCH_PIN=" + r.pin},
		"-test.run=^$", // the benchmarks only (benchkit_test.go's benchOnly looks for this argument)
		"-test.bench=^"+m.bench+"$/^"+kind+"$",
		"-test.benchtime="+r.benchtime.String(),
		"-test.count=1",
		"-test.v") // -test.v: a skipped benchmark says why
	before := r.failures
	defer func() {
		// What the test binary and its peers said, for a run that failed.
		if r.failures > before && strings.TrimSpace(stderr) != "" {
			fmt.Fprintf(os.Stderr, "bench: %s go %s: its stderr:\n%s", m.key, kind, indent(stderr))
		}
	}()
	var leaves []result
	for _, res := range parseGoBench(stdout) {
		if res.name == prefix || strings.HasPrefix(res.name, prefix+"/") {
			leaves = append(leaves, res)
		}
	}
	if len(leaves) == 0 {
		why := "no result line for " + prefix + " in " + m.module
		if err != nil {
			why = exitReason(err, stderr)
		}
		r.failed(m, "go", "", kind, why)
		return
	}
	// A test binary that exits non-zero with no failed benchmark to say why (a leak check
	// after the benchmarks, a crash) fails them all.
	explained := false
	for _, res := range leaves {
		explained = explained || res.failed != ""
	}
	for _, res := range leaves {
		path := strings.TrimPrefix(strings.TrimPrefix(res.name, prefix), "/")
		if path == "raw" {
			path = "" // the row compared with C
		}
		switch {
		case res.failed != "":
			r.failed(m, "go", path, kind, res.failed)
		case err != nil && !explained:
			r.failed(m, "go", path, kind, exitReason(err, stderr))
		default:
			if why := r.res.row(m, "go", path).add(kind, res); why != "" {
				r.failed(m, "go", path, kind, res.name+": "+why)
			}
		}
	}
}

// runC runs the C reference of m for kind: a short run to see how long an operation takes,
// then a run of about benchtime, as go test does.
func (r *runner) runC(ctx context.Context, m *mechanism, kind string) {
	r.progress(m, "c", kind)
	if r.ipcbench == "" {
		r.failed(m, "c", "", kind, "the C reference did not build")
		return
	}
	n := 100
	if kind == "throughput" {
		n = 20
	}
	first, err := r.ipcbenchRun(ctx, m, kind, n)
	if err == nil {
		n = cN(r.benchtime, first.nsOp, n)
		first, err = r.ipcbenchRun(ctx, m, kind, n)
	}
	if err != nil {
		r.failed(m, "c", "", kind, err.Error())
		return
	}
	if why := r.res.row(m, "c", "").add(kind, first); why != "" {
		r.failed(m, "c", "", kind, why)
	}
}

// cN is how many operations of nsOp each make a run of about benchtime: at least least, at
// most ten million.
func cN(benchtime time.Duration, nsOp float64, least int) int {
	if nsOp <= 0 {
		return least
	}
	n := float64(benchtime.Nanoseconds()) / nsOp
	return int(max(float64(least), min(n, 1e7)))
}

func (r *runner) ipcbenchRun(ctx context.Context, m *mechanism, kind string, n int) (result, error) {
	stdout, stderr, err := command(ctx, r.ipcbench, r.tmp, nil,
		m.c, kind, strconv.Itoa(n), strconv.Itoa(r.cpus[0]), strconv.Itoa(r.cpus[1]))
	if err != nil {
		return result{}, errors.New(exitReason(err, stderr))
	}
	return parseC(stdout, kind)
}

// command runs name args in dir with env added, and returns its stdout and stderr.
func command(ctx context.Context, name, dir string, env []string, args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	// A process group of its own: Ctrl-C at the terminal reaches bench, not the run, which
	// bench lets end (main). Killed, by a second Ctrl-C or the timeout: the whole group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		err = fmt.Errorf("still running after %v: stopped", timeout)
	}
	return out.String(), errOut.String(), err
}

// exitReason says why a command failed: its panic or its last line on stderr, and how it
// ended.
func exitReason(err error, stderr string) string {
	why := ""
	s := bufio.NewScanner(strings.NewReader(stderr))
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if strings.HasPrefix(line, "panic: ") {
			why = line
			break
		}
		if line != "" {
			why = line
		}
	}
	if why == "" {
		return err.Error()
	}
	return why + " (" + err.Error() + ")"
}

// indent puts four spaces before each line of text.
func indent(text string) string {
	var b strings.Builder
	for line := range strings.Lines(text) {
		b.WriteString("    " + line)
	}
	if !strings.HasSuffix(text, "\n") {
		b.WriteString("\n")
	}
	return b.String()
}

// findCC returns the C compiler: cc, else gcc.
func findCC() (string, error) {
	for _, name := range []string{"cc", "gcc"} {
		if path, err := exec.LookPath(name); err == nil {
			return path, nil
		}
	}
	return "", errors.New("-c needs a C compiler (cc or gcc on PATH); install gcc")
}

// pinCPUs returns the CPUs of the two processes for -pin, as the Go benchmarks choose them
// (benchkit_test.go's benchCPUs): the first CPU this process may use for both (same), the
// first two (split), or -1, any (off).
func pinCPUs(pin string) ([2]int, error) {
	if pin == "off" {
		return [2]int{-1, -1}, nil
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return [2]int{}, fmt.Errorf("sched_getaffinity: %w", err)
	}
	var cpus []int
	for cpu := 0; cpu < len(set)*64 && len(cpus) < 2; cpu++ {
		if set.IsSet(cpu) {
			cpus = append(cpus, cpu)
		}
	}
	if pin == "same" {
		return [2]int{cpus[0], cpus[0]}, nil
	}
	if len(cpus) < 2 {
		return [2]int{}, errors.New("-pin split needs two CPUs; this process may use one (try -pin same)")
	}
	return [2]int{cpus[0], cpus[1]}, nil
}

// workspace returns the root of the Go workspace: the folder of go.work.
func workspace(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOWORK").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOWORK: %v", err)
	}
	gowork := strings.TrimSpace(string(out))
	if gowork == "" || gowork == "off" {
		return "", errors.New("no go.work: run bench in the cookbook's workspace (go run ./bench at its root)")
	}
	return filepath.Dir(gowork), nil
}

// goVersion is the go command's version, which builds the test binaries.
func goVersion(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, "go", "env", "GOVERSION").Output()
	if err != nil {
		return runtime.Version()
	}
	return strings.TrimSpace(string(out))
}
