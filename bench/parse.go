package main

import (
	"bufio"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// A result is one benchmark's line of go test -bench output, or one line of the C reference.
// A metric the line does not carry is 0.
type result struct {
	name   string  // BenchmarkPipe/rtt/raw: no -N suffix (GOMAXPROCS) (Go only)
	nsOp   float64 // ns/op: the mean
	p50    float64 // p50-ns: the median round trip
	p99    float64 // p99-ns
	mbs    float64 // MB/s
	failed string  // why the benchmark failed or was skipped; "" if it did not
}

var (
	// BenchmarkPipe/rtt/raw-2   	    1330	     26828 ns/op	     14187 p50-ns	...
	benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*\bns/op\b.*)$`)
	// --- FAIL: BenchmarkPipe/rtt/raw (indented by depth in -test.v output)
	benchVerdict = regexp.MustCompile(`--- (FAIL|SKIP): (Benchmark\S+?)(?:-\d+)?\s*$`)
	// a benchmark's name printed alone (-test.v), or before its result, which a benchmark
	// that logs splits off: `BenchmarkPipe/rtt/raw-2  <TAB>` then its log, then `  1330 ...`
	benchName   = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?(?:\s*$|\s*\t)`)
	resultAlone = regexp.MustCompile(`^\s*\d+\s+(.*\bns/op\b.*)$`)
)

// parseGoBench reads the output of a test binary run with -test.bench (with -test.v or
// without) and returns each benchmark's result or failure, in the order they came. A
// benchmark that has sub-benchmarks (BenchmarkPipe, BenchmarkPipe/rtt) is left out: only the
// leaves measure something.
//
// A failure's reason is the first line of its log, which -test.v prints before the
// "--- FAIL: name" line and go test without -v after it.
func parseGoBench(out string) []result {
	var res []result
	index := map[string]int{} // name -> its index in res
	// put records a result line or a failure of r.name; a failure stays a failure.
	put := func(r result) int {
		i, ok := index[r.name]
		switch {
		case !ok:
			i = len(res)
			index[r.name] = i
			res = append(res, r)
		case r.failed != "":
			res[i].failed = r.failed
		default:
			r.failed = res[i].failed
			res[i] = r
		}
		return i
	}
	pending := ""    // the name printed last, whose result or failure may come later
	var log []string // the indented lines since then
	waiting := -1    // the index of a failure whose reason comes on the next indented line
	s := bufio.NewScanner(strings.NewReader(out))
	s.Buffer(nil, 1<<20)
	for s.Scan() {
		line := s.Text()
		indented := strings.HasPrefix(line, " ") && strings.TrimSpace(line) != ""
		if m := benchVerdict.FindStringSubmatch(line); m != nil {
			why := map[string]string{"FAIL": "failed", "SKIP": "skipped"}[m[1]]
			logged := m[2] == pending && len(log) > 0 // -test.v: the log came first
			if logged {
				why = because(why, log[0])
			}
			i := put(result{name: m[2], failed: why})
			waiting = -1
			if !logged {
				waiting = i
			}
			log = nil
			continue
		}
		if m := resultAlone.FindStringSubmatch(line); m != nil && pending != "" {
			put(metrics(pending, m[1]))
			pending, log, waiting = "", nil, -1
			continue
		}
		if indented {
			text := strings.TrimSpace(line)
			if waiting >= 0 && !strings.HasPrefix(text, "---") {
				res[waiting].failed = because(res[waiting].failed, text)
				waiting = -1
			} else {
				log = append(log, text)
			}
			continue
		}
		waiting = -1
		if m := benchLine.FindStringSubmatch(line); m != nil {
			put(metrics(m[1], m[2]))
			pending, log = "", nil
			continue
		}
		if m := benchName.FindStringSubmatch(line); m != nil {
			pending, log = m[1], nil
		}
	}
	// Leave out the parents: a name that another name extends.
	var leaves []result
	for _, r := range res {
		parent := false
		for _, o := range res {
			if strings.HasPrefix(o.name, r.name+"/") {
				parent = true
				break
			}
		}
		if !parent {
			leaves = append(leaves, r)
		}
	}
	return leaves
}

// because gives the reason of a failure: the line of its log, as is ("bench_test.go:40: read:
// connection reset by peer"), or after "skipped: ".
func because(verdict, line string) string {
	if verdict == "skipped" {
		return verdict + ": " + line
	}
	return line
}

// metrics reads the pairs "value unit" of a result line: 26828 ns/op  14187 p50-ns ...
func metrics(name, fields string) result {
	r := result{name: name}
	f := strings.Fields(fields)
	for i := 0; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			continue
		}
		switch f[i+1] {
		case "ns/op":
			r.nsOp = v
		case "p50-ns":
			r.p50 = v
		case "p99-ns":
			r.p99 = v
		case "MB/s":
			r.mbs = v
		}
	}
	return r
}

// parseC reads the line of the C reference:
//
//	rtt n=N ns_op=X p50_ns=Y p99_ns=Z
//	throughput n=N ns_op=X mb_s=F
func parseC(out, kind string) (result, error) {
	var r result
	line := strings.TrimSpace(out)
	f := strings.Fields(line)
	if len(f) < 3 || f[0] != kind {
		return r, fmt.Errorf("ipcbench printed %q, not a line of %s", line, kind)
	}
	want := map[string]*float64{"ns_op": &r.nsOp}
	if kind == "rtt" {
		want["p50_ns"], want["p99_ns"] = &r.p50, &r.p99
	} else {
		want["mb_s"] = &r.mbs
	}
	for _, kv := range f[1:] {
		k, v, _ := strings.Cut(kv, "=")
		if p := want[k]; p != nil {
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return r, fmt.Errorf("ipcbench printed %q: %s is not a number", line, k)
			}
			*p = x
			delete(want, k)
		}
	}
	for k := range want {
		return r, fmt.Errorf("ipcbench printed %q: no %s", line, k)
	}
	return r, nil
}
