// Bench measures what each IPC mechanism of the cookbook costs, and prints one table: the
// round trip of a 64-byte message (median and 99th percentile) and the throughput of a
// one-way stream (64 KiB messages; 8 KiB for the message queues), for a file and flock,
// System V and POSIX shared memory, System V semaphores, a pipe, a FIFO, System V and POSIX
// message queues, a Unix stream socket and TCP on loopback. Each row is also compared with the
// fastest of its column.
//
// The measurements are the modules' own Go benchmarks (BenchmarkPipe and the like, in each
// module's bench_test.go): bench builds each module's test binary with go test -c and runs
// its benchmarks, two processes each, the test binary being its own peer. With -c it also
// builds the C reference, testdata/ipcbench.c, with cc -O2, runs it between the Go runs, and
// adds Go/C columns: what Go costs over C for the same loop.
//
// Usage, from the root of the workspace (the folder of go.work):
//
//	go run ./bench [-c] [-quick] [-count N] [-pin same|split|off] [-run REGEXP] [-csv FILE] [-svg FILE]
//
// For example, the table with C, quickly, and its chart:
//
//	go run ./bench -c -quick -svg bench.svg
//
// The table goes to stdout, progress to stderr. By default each benchmark measures for about
// 200ms, and the whole run takes well under a minute; -quick measures for 30ms (a few seconds
// in all, and noisier); -count N runs everything N times and shows the median of each number.
// The builds come first: go test -c for each module, a few at a time.
//
// -pin places the two processes of each run: same (the default) puts both on the first CPU
// this process may use, which measures the kernel's path and varies least from machine to
// machine; split puts them on the first two CPUs, so that each message wakes the other CPU
// (on a virtual machine that can cost more than the message); off lets the scheduler choose.
//
// Bench exits 0 if every run succeeded, 1 if any failed (its cells say "failed", the reason
// is on stderr), and 2 on a usage error, -c without a C compiler among them.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	o, err := parseFlags(os.Args[1:])
	if err == flag.ErrHelp {
		os.Exit(0)
	}
	if err != nil {
		// A bad flag gets one line and a pointer to -h, not the whole usage.
		fmt.Fprintf(os.Stderr, "bench: %v (see -h)\n", err)
		os.Exit(2)
	}

	// Ctrl-C or SIGTERM: let the run in progress end (a run killed halfway would leave its
	// System V objects behind), skip the others, remove what bench made, then die of the
	// signal, as the shell expects (130 or 143). A second signal kills the run in progress.
	// The runs have a process group of their own, so that Ctrl-C reaches bench only.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM)
	if !signal.Ignored(os.Interrupt) { // a background job's Ctrl-C is not for it
		signal.Notify(sigs, os.Interrupt)
	}
	stop, stopNow := context.WithCancel(context.Background())
	kill, killNow := context.WithCancel(context.Background())
	var got os.Signal
	done := make(chan struct{})
	go func() {
		defer close(done)
		for s := range sigs {
			if got == nil {
				got = s
				fmt.Fprintln(os.Stderr, "bench: interrupted: waiting for the run in progress to end (again: kill it)...")
				stopNow()
			} else {
				killNow()
			}
		}
	}()
	code := run(stop, kill, o)
	signal.Stop(sigs)
	close(sigs)
	<-done
	if got != nil {
		signal.Reset(got)
		syscall.Kill(os.Getpid(), got.(syscall.Signal))
		time.Sleep(time.Second) // the signal ends the process before this does
	}
	os.Exit(code)
}

// parseFlags parses the command line. On -h it prints the usage and returns flag.ErrHelp.
func parseFlags(args []string) (options, error) {
	o := options{args: args}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // Parse's own messages: main prints one line instead
	fs.BoolVar(&o.withC, "c", false, "also build and run the C reference (testdata/ipcbench.c), and compare")
	fs.BoolVar(&o.quick, "quick", false, "measure for a few seconds in all (noisier)")
	fs.IntVar(&o.count, "count", 1, "run everything `N` times; the table shows the medians")
	fs.StringVar(&o.pin, "pin", "same", "CPU placement of the two processes: `same|split|off`")
	fs.StringVar(&o.run, "run", "", "only the mechanisms whose key matches `REGEXP`:\n"+strings.Join(keys(), ", "))
	fs.StringVar(&o.csv, "csv", "", "also write the results as CSV to `FILE`")
	fs.StringVar(&o.svg, "svg", "", "also draw a chart of the results, as SVG, to `FILE`")
	err := fs.Parse(args)
	if err == flag.ErrHelp {
		fs.SetOutput(os.Stderr)
		usage(fs)
		return o, err
	}
	if err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	o.mechs, err = o.check()
	return o, err
}

func usage(fs *flag.FlagSet) {
	w := fs.Output()
	fmt.Fprintln(w, "usage: go run ./bench [flags]   (in the workspace's root, the folder of go.work)")
	fmt.Fprintln(w, "\nRuns every IPC mechanism's benchmarks and prints one table: the round trip (p50, p99)")
	fmt.Fprintln(w, "and the throughput, each compared with the fastest; with -c, the C reference too, and Go/C.")
	fmt.Fprintln(w, "\nFlags:")
	fs.PrintDefaults()
	fmt.Fprintln(w, "\nExamples: the table with C, quickly, and its chart; then pipes only, five times, on two CPUs:")
	fmt.Fprintln(w, "  go run ./bench -c -quick -svg bench.svg")
	fmt.Fprintln(w, "  go run ./bench -run '^pipe$' -count 5 -pin split -csv pipe.csv")
}

// options are the flags.
type options struct {
	withC, quick bool
	count        int
	pin          string
	run          string
	csv, svg     string
	args         []string     // as given, for the table's "command:" line
	mechs        []*mechanism // those that -run selects
}

// check validates the options, and returns the mechanisms that -run selects.
func (o options) check() ([]*mechanism, error) {
	if o.count < 1 {
		return nil, fmt.Errorf("-count %d: want 1 or more", o.count)
	}
	switch o.pin {
	case "same", "split", "off":
	default:
		return nil, fmt.Errorf("-pin %s: want same, split or off", o.pin)
	}
	re, err := regexp.Compile(o.run)
	if err != nil {
		return nil, fmt.Errorf("-run: %v", err)
	}
	var ms []*mechanism
	for _, m := range mechanisms {
		if re.MatchString(m.key) {
			ms = append(ms, m)
		}
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("-run %s matches no mechanism: the keys are %s", o.run, strings.Join(keys(), ", "))
	}
	return ms, nil
}

// benchtime is how long each benchmark measures (go test's -benchtime).
func (o options) benchtime() time.Duration {
	if o.quick {
		return 30 * time.Millisecond
	}
	return 200 * time.Millisecond
}

// run measures, prints the table, writes the files, and returns the exit code. It starts no
// new run once stop is done, and kills the one in progress when kill is.
func run(stop, kill context.Context, o options) int {
	ctx := kill
	r := &runner{benchtime: o.benchtime(), pin: o.pin, bins: map[string]string{}, res: &results{}}
	var err error
	if o.withC {
		if r.cc, err = findCC(); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 2
		}
	}
	if r.cpus, err = pinCPUs(o.pin); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	if r.root, err = workspace(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	if r.tmp, err = os.MkdirTemp("", "bench-"); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	defer os.RemoveAll(r.tmp)

	// Every mechanism gets its rows now, so that one that fails to build still has its line.
	impls := []string{"go"}
	if o.withC {
		impls = append(impls, "c")
	}
	for _, m := range o.mechs {
		for _, impl := range impls {
			r.res.row(m, impl, "")
		}
		r.steps += o.count * len(m.kinds()) * len(impls)
	}
	var modules []string
	for _, m := range o.mechs {
		if !slices.Contains(modules, m.module) {
			modules = append(modules, m.module)
		}
	}
	r.build(ctx, modules, o.withC)
	if stop.Err() != nil {
		return 1
	}
	// Round after round, each mechanism's Go run next to its C run, so that whatever else
	// the machine does at the time weighs on both alike.
	for range o.count {
		for _, m := range o.mechs {
			for _, kind := range m.kinds() {
				r.runGo(ctx, m, kind)
				if o.withC {
					r.runC(ctx, m, kind)
				}
				if stop.Err() != nil {
					return 1
				}
			}
		}
	}

	rows := r.res.sorted()
	for _, line := range r.about(ctx, o) {
		fmt.Println(line)
	}
	fmt.Println()
	writeTable(os.Stdout, rows, o.withC)
	fmt.Println()
	fmt.Println(legend(o.withC))
	code := 0
	if o.csv != "" {
		if err := writeFile(o.csv, func(w io.Writer) error { return writeCSV(w, rows) }); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			code = 1
		}
	}
	if o.svg != "" {
		if err := writeFile(o.svg, func(w io.Writer) error { return writeChart(w, rows, o.withC, r.pinText()) }); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			code = 1
		}
	}
	if r.failures > 0 {
		fmt.Fprintf(os.Stderr, "bench: %d measurements failed: see above\n", r.failures)
		code = 1
	}
	return code
}

// legend says what the table's columns are.
func legend(withC bool) string {
	text := "RTT: the round trip of 64 bytes; p50: the median, p99: the 99th percentile.\n" +
		"Throughput: one way, in 64 KiB messages (8 KiB for the message queues); MB: 10^6 bytes.\n" +
		"vs best: over the table's lowest p50, and over its highest throughput."
	if withC {
		text += "\nGo/C: the Go row over the C row of its mechanism."
	}
	return text
}

// writeFile creates name and writes it with write.
func writeFile(name string, write func(io.Writer) error) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", name, err)
	}
	return f.Close()
}

// about describes the run, for the lines above the table: where the processes ran, the
// machine, the compilers, the command.
func (r *runner) about(ctx context.Context, o options) []string {
	var uts unix.Utsname
	unix.Uname(&uts)
	lines := []string{
		"pin: " + r.pinText(),
		fmt.Sprintf("machine: %s, %d CPUs, %s %s %s", cpuModel(), runtime.NumCPU(),
			unix.ByteSliceToString(uts.Sysname[:]), unix.ByteSliceToString(uts.Release[:]), unix.ByteSliceToString(uts.Machine[:])),
		"go: " + goVersion(ctx),
	}
	if o.withC {
		lines = append(lines, "c: "+filepath.Base(r.cc)+" -O2 ("+ccVersion(ctx, r.cc)+")")
	}
	rounds := "1 round"
	if o.count > 1 {
		rounds = fmt.Sprintf("%d rounds, the median of each", o.count)
	}
	command := append([]string{"go", "run", "./bench"}, o.args...)
	for _, v := range []string{"IPC_BENCH_YIELD"} { // what the benchmarks read besides the pin
		if val, ok := os.LookupEnv(v); ok {
			command = append([]string{v + "=" + val}, command...)
		}
	}
	lines = append(lines,
		fmt.Sprintf("time: about %v a benchmark, %s", r.benchtime, rounds),
		"command: "+shellLine(command))
	return lines
}

// pinText says where the two processes of each run were.
func (r *runner) pinText() string {
	switch r.pin {
	case "same":
		return fmt.Sprintf("same (both processes on CPU %d)", r.cpus[0])
	case "split":
		return fmt.Sprintf("split (the benchmark on CPU %d, its peer on CPU %d)", r.cpus[0], r.cpus[1])
	}
	return "off (both processes where the scheduler puts them)"
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	data, _ := os.ReadFile("/proc/cpuinfo")
	for line := range strings.Lines(string(data)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return "unknown CPU"
}

// ccVersion is the first line of cc --version.
func ccVersion(ctx context.Context, cc string) string {
	out, err := exec.CommandContext(ctx, cc, "--version").Output()
	if err != nil {
		return "version unknown"
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line)
}

// shellLine quotes args as a shell would need them.
func shellLine(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == "" {
			quoted[i] = a
		} else {
			quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(quoted, " ")
}
