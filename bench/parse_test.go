package main

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The samples in testdata are real output of the modules' test binaries, run as bench runs
// them (-test.run=^$ -test.bench=... -test.v), except where a test says otherwise.
func sample(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return string(data)
}

func TestParseGoBenchPaths(t *testing.T) {
	// -test.v, GOMAXPROCS 2: the names carry -2, and each is printed alone first.
	got := parseGoBench(sample(t, "pipe-rtt-v.txt"))
	assert.Equal(t, []result{
		{name: "BenchmarkPipe/rtt/raw", nsOp: 160300, p50: 16151, p99: 2710402},
		{name: "BenchmarkPipe/rtt/osfile", nsOp: 240884, p50: 65003, p99: 1654324},
	}, got)
}

func TestParseGoBenchNoSuffix(t *testing.T) {
	// Without -test.v, GOMAXPROCS 1: no -N suffix, and MB/s.
	got := parseGoBench(sample(t, "pipe-throughput-gomaxprocs1.txt"))
	assert.Equal(t, []result{
		{name: "BenchmarkPipe/throughput/raw", nsOp: 175104, mbs: 374.27},
		{name: "BenchmarkPipe/throughput/osfile", nsOp: 277639, mbs: 236.05},
	}, got)
}

func TestParseGoBenchOnePath(t *testing.T) {
	// A mechanism with one path: BenchmarkShmSem/throughput is the leaf.
	got := parseGoBench(sample(t, "shmsem-throughput-v.txt"))
	assert.Equal(t, []result{{name: "BenchmarkShmSem/throughput", nsOp: 156599, mbs: 418.50}}, got)
}

func TestParseGoBenchFail(t *testing.T) {
	// The log comes before "--- FAIL" with -test.v, after it without; BenchmarkPipe, the
	// parent, fails too, but only the leaves count.
	want := []result{
		{name: "BenchmarkPipe/rtt/raw", failed: "benchkit_test.go:105: IPC_BENCH_PIN=bogus: want same, split or off"},
		{name: "BenchmarkPipe/rtt/osfile", failed: "benchkit_test.go:105: IPC_BENCH_PIN=bogus: want same, split or off"},
	}
	assert.Equal(t, want, parseGoBench(sample(t, "pipe-rtt-fail-v.txt")))
	assert.Equal(t, want, parseGoBench(sample(t, "pipe-rtt-fail.txt")))
}

func TestParseGoBenchSkip(t *testing.T) {
	got := parseGoBench(sample(t, "pipe-rtt-skip-v.txt"))
	require.Len(t, got, 2)
	assert.Equal(t, "skipped: benchkit_test.go:99: IPC_BENCH_PIN=split needs two CPUs; this process may use one", got[0].failed)
	assert.Zero(t, got[0].p50)
}

func TestParseGoBenchSplitLine(t *testing.T) {
	// Made up after testing's format (a real one needs a benchmark that writes to stdout while
	// it runs): without -test.v the name is printed before the run, so whatever the run writes
	// comes between the name and its numbers; and a run that fails after a first good one
	// prints its name, then its failure.
	out := "BenchmarkTCP/rtt/raw-2         \tpeer says hello\n" +
		"a line of its own\n" +
		"     1000\t     21000 ns/op\t     19000 p50-ns\t     90000 p99-ns\n" +
		"BenchmarkTCP/rtt/net-2         \t--- FAIL: BenchmarkTCP/rtt/net-2\n" +
		"    bench_test.go:40: read tcp: connection reset by peer\n" +
		"--- FAIL: BenchmarkTCP\n" +
		"FAIL\n"
	assert.Equal(t, []result{
		{name: "BenchmarkTCP/rtt/raw", nsOp: 21000, p50: 19000, p99: 90000},
		{name: "BenchmarkTCP/rtt/net", failed: "bench_test.go:40: read tcp: connection reset by peer"},
	}, parseGoBench(out))
}

func TestParseGoBenchNothing(t *testing.T) {
	// A -test.bench that matches nothing.
	assert.Empty(t, parseGoBench("PASS\n"))
	assert.Empty(t, parseGoBench("testing: warning: no tests to run\nPASS\n"))
}

func TestParseC(t *testing.T) {
	r, err := parseC("rtt n=1000 ns_op=16892 p50_ns=13416 p99_ns=58341\n", "rtt")
	require.NoError(t, err)
	assert.Equal(t, result{nsOp: 16892, p50: 13416, p99: 58341}, r)

	r, err = parseC("throughput n=100 ns_op=30362 mb_s=2158.43\n", "throughput")
	require.NoError(t, err)
	assert.Equal(t, result{nsOp: 30362, mbs: 2158.43}, r)

	_, err = parseC("throughput n=100 ns_op=30362 mb_s=2158.43\n", "rtt")
	assert.EqualError(t, err, `ipcbench printed "throughput n=100 ns_op=30362 mb_s=2158.43", not a line of rtt`)
	_, err = parseC("rtt n=1000 ns_op=16892 p50_ns=13416\n", "rtt")
	assert.EqualError(t, err, `ipcbench printed "rtt n=1000 ns_op=16892 p50_ns=13416": no p99_ns`)
	_, err = parseC("rtt n=1000 ns_op=x p50_ns=1 p99_ns=2", "rtt")
	assert.EqualError(t, err, `ipcbench printed "rtt n=1000 ns_op=x p50_ns=1 p99_ns=2": ns_op is not a number`)
	_, err = parseC("", "rtt")
	assert.Error(t, err)
}

func TestCN(t *testing.T) {
	// 30 ms of 15 µs round trips: 2000; never fewer than the calibration's, nor above 10^7.
	assert.Equal(t, 2000, cN(30e6, 15000, 100))
	assert.Equal(t, 100, cN(30e6, 1e6, 100))
	assert.Equal(t, 10_000_000, cN(30e9, 1, 100))
	assert.Equal(t, 20, cN(30e6, 0, 20))
}

func TestExitReason(t *testing.T) {
	err := errors.New("exit status 1")
	assert.Equal(t, "exit status 1", exitReason(err, ""))
	assert.Equal(t, "ipcbench: semget: no space left on device (exit status 1)",
		exitReason(err, "warming up\nipcbench: semget: no space left on device\n\n"))
	assert.Equal(t, "panic: runtime error: index out of range [3] with length 3 (exit status 2)",
		exitReason(errors.New("exit status 2"), "panic: runtime error: index out of range [3] with length 3\n\ngoroutine 1 [running]:\nmain.main()\n"))
}
