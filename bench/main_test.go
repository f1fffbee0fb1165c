package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// benchBin is the bench program, built once by TestMain.
var benchBin string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	if slices.Contains(os.Args[1:], "-test.run=^$") {
		return m.Run() // no tests (go test -bench . -run '^$' work): nothing to build
	}
	dir, err := os.MkdirTemp("", "bench-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	benchBin = filepath.Join(dir, "bench")
	if out, err := exec.Command("go", "build", "-o", benchBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// runBench runs bench with args in dir, PATH set to path unless empty, and returns its stdout,
// its stderr and its exit code.
func runBench(t *testing.T, dir, path string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(benchBin, args...)
	cmd.Dir = dir
	if path != "" {
		cmd.Env = append(os.Environ(), "PATH="+path)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return out.String(), errOut.String(), exit.ExitCode()
	}
	require.NoError(t, err)
	return out.String(), errOut.String(), 0
}

// TestEndToEnd runs bench on the pipe, quickly: with -c when there is a C compiler. It needs the
// workspace (go.work), since bench builds the test binary of 05-pipes, a module of its own:
// under GOWORK=off, as when this module is tested alone, it is skipped.
func TestEndToEnd(t *testing.T) {
	out, err := exec.Command("go", "env", "GOWORK").Output()
	require.NoError(t, err)
	gowork := strings.TrimSpace(string(out))
	if gowork == "" || gowork == "off" {
		t.Skip("no go.work: bench measures the workspace's modules, which only the workspace builds")
	}
	root := filepath.Dir(gowork)
	// go test keeps a passing result until a file the test opened or stat'ed changes: these
	// are the files bench reads through go test -c and cc, which the test does not open.
	filepath.WalkDir(filepath.Join(root, "05-pipes"), func(string, fs.DirEntry, error) error { return nil })
	_, srcErr := os.Stat(filepath.Join(root, "testdata", "ipcbench.c"))
	_, ccErr := findCC()
	withC := ccErr == nil && srcErr == nil
	dir := t.TempDir()
	csvFile, svgFile := filepath.Join(dir, "out.csv"), filepath.Join(dir, "out.svg")
	args := []string{"-quick", "-run", "^pipe$", "-csv", csvFile, "-svg", svgFile}
	if withC {
		args = append(args, "-c")
	} else {
		t.Log("no C compiler, or no testdata/ipcbench.c: without -c")
	}

	stdout, stderr, code := runBench(t, root, "", args...)
	require.Equal(t, 0, code, "stderr:\n%s", stderr)

	// stderr: what it builds, then one line a run: Go's and C's, round trip and throughput.
	assert.Contains(t, stderr, "bench: building 05-pipes's test binary (go test -c)...\n")
	assert.Contains(t, stderr, "bench: [1/")
	assert.Contains(t, stderr, " pipe go throughput...\n")
	if withC {
		assert.Contains(t, stderr, "bench: building the C reference (")
		assert.Contains(t, stderr, "bench: [4/4] pipe c throughput...\n")
	} else {
		assert.Contains(t, stderr, "bench: [2/2] pipe go throughput...\n")
	}

	// stdout: the run described, then the table.
	assert.Regexp(t, `(?m)^pin: same \(both processes on CPU \d+\)$`, stdout)
	assert.Regexp(t, `(?m)^machine: .+, \d+ CPUs, Linux `, stdout)
	assert.Regexp(t, `(?m)^go: go1\.`, stdout)
	assert.Regexp(t, `(?m)^command: go run ./bench -quick -run '\^pipe\$' -csv `, stdout)
	num, ratio := ` +\d+\.\d \| +\d+\.\d \| +\d+ \| +\d+\.\d\dx \| +\d+\.\d\dx \|`, ` +\d+\.\d\dx \|`
	if withC {
		assert.Regexp(t, `(?m)^c: (cc|gcc) -O2 `, stdout)
		assert.Regexp(t, `(?m)^\| mechanism +\| impl \| p50 RTT µs \| p99 RTT µs \| throughput MB/s \| p50 vs best \| MB/s vs best \| Go/C p50 \| Go/C p99 \| Go/C MB/s \|$`, stdout)
		assert.Regexp(t, `(?m)^\| pipe +\| go   \|`+num+ratio+ratio+ratio+`$`, stdout)
		assert.Regexp(t, `(?m)^\| pipe +\| c    \|`+num+` +\| +\| +\|$`, stdout)
		assert.Regexp(t, `(?m)^\| pipe, \*os\.File +\| go   \|`+num+ratio+ratio+ratio+`$`, stdout)
	} else {
		assert.Regexp(t, `(?m)^\| pipe +\| go   \|`+num+`$`, stdout)
		assert.Regexp(t, `(?m)^\| pipe, \*os\.File +\| go   \|`+num+`$`, stdout)
	}
	assert.NotContains(t, stdout, "failed")

	// The CSV: the header, then a row per mechanism and implementation, all numbers there.
	f, err := os.Open(csvFile)
	require.NoError(t, err)
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.NotEmpty(t, records)
	assert.Equal(t, []string{"mechanism", "impl", "rtt_p50_ns", "rtt_p99_ns", "throughput_mb_s"}, records[0])
	var rows []string
	for _, rec := range records[1:] {
		rows = append(rows, rec[0]+"/"+rec[1])
		for _, v := range rec[2:] {
			assert.Regexp(t, `^\d+(\.\d+)?$`, v, rec)
		}
	}
	if withC {
		assert.Equal(t, []string{"pipe/go", "pipe/c", "pipe, *os.File/go"}, rows)
	} else {
		assert.Equal(t, []string{"pipe/go", "pipe, *os.File/go"}, rows)
	}

	// The SVG: well-formed XML whose root is <svg>, and the chart's words in it.
	svg, err := os.ReadFile(svgFile)
	require.NoError(t, err)
	assert.Contains(t, string(svg), "<svg")
	assert.Contains(t, string(svg), "Round trip of 64 bytes")
	assert.Contains(t, string(svg), "pipe, *os.File")
	d := xml.NewDecoder(bytes.NewReader(svg))
	root1 := ""
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err, "the SVG is not well-formed XML")
		if el, ok := tok.(xml.StartElement); ok && root1 == "" {
			root1 = el.Name.Local
		}
	}
	assert.Equal(t, "svg", root1)
}

// TestInterrupt sends SIGINT to bench while it measures file + flock (whose file is in a
// temporary directory, as bench's own directory is): bench lets the run end, removes what it
// made, and dies of SIGINT, and nothing is left in its TMPDIR.
func TestInterrupt(t *testing.T) {
	out, err := exec.Command("go", "env", "GOWORK").Output()
	require.NoError(t, err)
	gowork := strings.TrimSpace(string(out))
	if gowork == "" || gowork == "off" {
		t.Skip("no go.work: bench measures the workspace's modules, which only the workspace builds")
	}
	tmp := t.TempDir()
	cmd := exec.Command(benchBin, "-run", "^flock$")
	cmd.Dir = filepath.Dir(gowork)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	measuring, eof := make(chan struct{}), make(chan struct{})
	var lines []string
	go func() {
		defer close(eof)
		s := bufio.NewScanner(stderr)
		for s.Scan() {
			lines = append(lines, s.Text())
			if strings.HasPrefix(s.Text(), "bench: [1/") {
				close(measuring)
			}
		}
	}()
	select {
	case <-measuring:
	case <-time.After(2 * time.Minute): // the builds come first
		cmd.Process.Kill()
		t.Fatal("bench did not start measuring in 2 minutes")
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	select { // stderr closes when bench exits (Wait must come after the last read)
	case <-eof:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		t.Fatal("bench still running a minute after SIGINT")
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	status := exit.Sys().(syscall.WaitStatus)
	assert.True(t, status.Signaled() && status.Signal() == syscall.SIGINT, "bench ended with %v, not by SIGINT", err)
	assert.Contains(t, lines, "bench: interrupted: waiting for the run in progress to end (again: kill it)...")
	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, left, "bench left these in its TMPDIR")
}

func TestNoCCompiler(t *testing.T) {
	// A PATH with neither cc nor gcc: -c says so, and exits 2 before it builds anything.
	stdout, stderr, code := runBench(t, t.TempDir(), t.TempDir(), "-c", "-quick")
	assert.Equal(t, 2, code)
	assert.Empty(t, stdout)
	assert.Equal(t, "bench: -c needs a C compiler (cc or gcc on PATH); install gcc\n", stderr)
}

func TestUsage(t *testing.T) {
	stdout, stderr, code := runBench(t, t.TempDir(), "", "-h")
	assert.Equal(t, 0, code)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, "usage: go run ./bench [flags]")
	assert.Contains(t, stderr, "  go run ./bench -c -quick -svg bench.svg\n")
	assert.Contains(t, stderr, "-pin same|split|off")

	// A bad flag: one line, and exit 2.
	for _, args := range [][]string{{"-bogus"}, {"-pin", "both"}, {"-run", "nothing"}, {"-count", "0"}} {
		stdout, stderr, code := runBench(t, t.TempDir(), "", args...)
		assert.Equal(t, 2, code, args)
		assert.Empty(t, stdout, args)
		assert.Regexp(t, regexp.MustCompile(`^bench: [^\n]+ \(see -h\)\n$`), stderr, args)
	}
}

func TestSplitOneCPU(t *testing.T) {
	taskset, err := exec.LookPath("taskset")
	if err != nil {
		t.Skip("no taskset to run bench on one CPU")
	}
	cmd := exec.Command(taskset, "-c", "0", benchBin, "-pin", "split", "-run", "^pipe$")
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, 2, exit.ExitCode())
	assert.Equal(t, "bench: -pin split needs two CPUs; this process may use one (try -pin same)\n", string(out))
}

// TestFailures runs bench in a workspace of its own making, where things go wrong: 04 is not
// there, one of the pipe's benchmarks fails, and the C reference (a stand-in) fails its
// throughput. Bench still prints the whole table, says what failed and why, and exits 1.
func TestFailures(t *testing.T) {
	_, ccErr := findCC()
	if ccErr != nil {
		t.Skip("no C compiler for the stand-in C reference")
	}
	root := t.TempDir()
	write := func(name, text string) {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(root, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, name), []byte(text), 0o644))
	}
	write("go.work", "go 1.26.0\n\nuse ./05-pipes\n")
	write("05-pipes/go.mod", "module example.com/ipc/05-pipes\n\ngo 1.26.0\n")
	write("05-pipes/bench_test.go", `package pipes_test

import (
	"os"
	"testing"
)

func BenchmarkPipe(b *testing.B) {
	b.Run("rtt/raw", func(b *testing.B) {
		for range b.N {
		}
		b.ReportMetric(1000, "p50-ns")
		b.ReportMetric(5000, "p99-ns")
	})
	b.Run("rtt/osfile", func(b *testing.B) {
		os.Stderr.WriteString("benchpeer echo: read: connection reset by peer\n")
		b.Fatal("the peer said no")
	})
	b.Run("throughput/raw", func(b *testing.B) {
		b.SetBytes(1 << 16)
		for range b.N {
		}
	})
}
`)
	write("testdata/ipcbench.c", `#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
	if (argc == 6 && strcmp(argv[2], "rtt") == 0) {
		printf("rtt n=%s ns_op=2500 p50_ns=2000 p99_ns=8000\n", argv[3]);
		return 0;
	}
	fprintf(stderr, "ipcbench: %s: not today\n", argv[1]);
	return 1;
}
`)
	cmd := exec.Command(benchBin, "-quick", "-c", "-run", "^(sem|pipe)$")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOWORK=") // this go.work, even under GOWORK=off
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "stderr:\n%s", errOut.String())
	assert.Equal(t, 1, exit.ExitCode())

	stderr := errOut.String()
	assert.Contains(t, stderr, "bench: 04-semaphore-mutex: no such module in the workspace\n")
	assert.Contains(t, stderr, "bench: sem go rtt failed: the test binary of 04-semaphore-mutex did not build\n")
	assert.Regexp(t, `(?m)^bench: pipe go rtt \(osfile\) failed: bench_test.go:\d+: the peer said no$`, stderr)
	assert.Contains(t, stderr, "bench: pipe go rtt: its stderr:\n    benchpeer echo: read: connection reset by peer\n")
	assert.Contains(t, stderr, "bench: pipe c throughput failed: ipcbench: pipe: not today (exit status 1)\n")
	assert.Contains(t, stderr, "bench: 3 measurements failed: see above\n")

	stdout := out.String()
	assert.Regexp(t, `(?m)^\| System V semaphores +\| go   \| +failed \| +failed \| +- \| +- \| +- \| +- \| +- \| +- \|$`, stdout)
	assert.Regexp(t, `(?m)^\| System V semaphores +\| c    \| +2\.0 \| +8\.0 \| +- \| +2\.00x \| +- \| +\| +\| +\|$`, stdout)
	assert.Regexp(t, `(?m)^\| pipe +\| go   \| +1\.0 \| +5\.0 \| +\d+ \| +1\.00x \| +1\.00x \| +0\.50x \| +0\.62x \| +- \|$`, stdout)
	assert.Regexp(t, `(?m)^\| pipe +\| c    \| +2\.0 \| +8\.0 \| +failed \| +2\.00x \| +- \| +\| +\| +\|$`, stdout)
	assert.Regexp(t, `(?m)^\| pipe, \*os\.File +\| go   \| +failed \| +failed \| +- \| +- \| +- \| +- \| +- \| +- \|$`, stdout)
}
