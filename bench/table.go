package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A cell is one number of the table, measured once a round.
type cell struct {
	vals   []float64
	failed bool // in some round
}

// value is the median over the rounds; ok is false if the cell failed or was never measured.
func (c *cell) value() (v float64, ok bool) {
	if c.failed || len(c.vals) == 0 {
		return 0, false
	}
	return median(c.vals), true
}

// median returns the middle value of vals, or the mean of the two middle ones.
func median(vals []float64) float64 {
	s := slices.Clone(vals)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// A row is one line of the table: a mechanism in Go (by one of its paths) or in C.
type row struct {
	mech          *mechanism
	impl          string // go or c
	path          string // the Go path: "" for the raw (or only) one, and for C
	p50, p99, mbs cell
}

// pathNames name the Go paths other than the raw one, in the table's order.
var pathNames = []struct{ path, name string }{
	{"osfile", "*os.File"},
	{"net", "net.Conn"},
	{"example", "as the example waits"},
}

// label is the row's mechanism, with the path when it is not the raw one.
func (r *row) label() string {
	if r.path == "" {
		return r.mech.label
	}
	for _, p := range pathNames {
		if p.path == r.path {
			return r.mech.label + ", " + p.name
		}
	}
	return r.mech.label + ", " + r.path
}

// order sorts the rows of one mechanism: Go's raw path, C, then Go's other paths.
func (r *row) order() int {
	switch {
	case r.impl == "c":
		return 1
	case r.path == "":
		return 0
	}
	for i, p := range pathNames {
		if p.path == r.path {
			return 2 + i
		}
	}
	return 2 + len(pathNames)
}

// fail marks the cells of kind failed.
func (r *row) fail(kind string) {
	if kind == "rtt" {
		r.p50.failed, r.p99.failed = true, true
	} else {
		r.mbs.failed = true
	}
}

// add records a result of kind, or says what it lacks.
func (r *row) add(kind string, res result) (missing string) {
	if kind == "rtt" {
		if res.p50 <= 0 || res.p99 <= 0 {
			return "no p50 or p99 in the result"
		}
		r.p50.vals = append(r.p50.vals, res.p50)
		r.p99.vals = append(r.p99.vals, res.p99)
		return ""
	}
	if res.mbs <= 0 {
		return "no MB/s in the result"
	}
	r.mbs.vals = append(r.mbs.vals, res.mbs)
	return ""
}

// results are the rows, in the order they were made.
type results struct{ rows []*row }

// row returns the row of m, impl and path, made if it is new.
func (rs *results) row(m *mechanism, impl, path string) *row {
	for _, r := range rs.rows {
		if r.mech == m && r.impl == impl && r.path == path {
			return r
		}
	}
	r := &row{mech: m, impl: impl, path: path}
	rs.rows = append(rs.rows, r)
	return r
}

// sorted returns the rows in the table's order: by mechanism, then by row.order.
func (rs *results) sorted() []*row {
	index := map[*mechanism]int{}
	for i, m := range mechanisms {
		index[m] = i
	}
	rows := slices.Clone(rs.rows)
	slices.SortStableFunc(rows, func(a, b *row) int {
		if a.mech != b.mech {
			return index[a.mech] - index[b.mech]
		}
		if a.order() != b.order() {
			return a.order() - b.order()
		}
		return strings.Compare(a.path, b.path)
	})
	return rows
}

// cRow returns the C row of r's mechanism, or nil.
func cRow(rows []*row, r *row) *row {
	for _, o := range rows {
		if o.mech == r.mech && o.impl == "c" {
			return o
		}
	}
	return nil
}

// writeTable writes rows as a table, aligned, that is also a Markdown table: latency in µs,
// throughput in MB/s (10^6 bytes a second), and ratios: to the fastest of the column (best:
// the lowest p50, the highest MB/s), and with withC, Go's to C's.
func writeTable(w io.Writer, rows []*row, withC bool) {
	bestP50, bestMBs := 0.0, 0.0
	for _, r := range rows {
		if v, ok := r.p50.value(); ok && (bestP50 == 0 || v < bestP50) {
			bestP50 = v
		}
		if v, ok := r.mbs.value(); ok && v > bestMBs {
			bestMBs = v
		}
	}
	header := []string{"mechanism", "impl", "p50 RTT µs", "p99 RTT µs", "throughput MB/s", "p50 vs best", "MB/s vs best"}
	if withC {
		header = append(header, "Go/C p50", "Go/C p99", "Go/C MB/s")
	}
	lines := [][]string{header}
	for _, r := range rows {
		line := []string{
			r.label(), r.impl,
			number(&r.p50, "%.1f", 1e-3), number(&r.p99, "%.1f", 1e-3), number(&r.mbs, "%.0f", 1),
			ratio(&r.p50, bestP50), ratio(&r.mbs, bestMBs),
		}
		if withC {
			c := cRow(rows, r)
			if r.impl != "go" || c == nil {
				line = append(line, "", "", "")
			} else {
				for _, pair := range [][2]*cell{{&r.p50, &c.p50}, {&r.p99, &c.p99}, {&r.mbs, &c.mbs}} {
					ref, _ := pair[1].value() // 0 if C's failed: no ratio
					line = append(line, ratio(pair[0], ref))
				}
			}
		}
		lines = append(lines, line)
	}

	width := make([]int, len(header))
	for _, line := range lines {
		for i, s := range line {
			width[i] = max(width[i], utf8.RuneCountInString(s), 3)
		}
	}
	// The first two columns are text, aligned left; the others numbers, aligned right.
	pad := func(i int, s string) string {
		gap := strings.Repeat(" ", width[i]-utf8.RuneCountInString(s))
		if i < 2 {
			return s + gap
		}
		return gap + s
	}
	for n, line := range lines {
		cells := make([]string, len(line))
		for i, s := range line {
			cells[i] = pad(i, s)
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
		if n == 0 {
			for i := range cells {
				cells[i] = strings.Repeat("-", width[i])
				if i >= 2 {
					cells[i] = cells[i][1:] + ":"
				}
			}
			fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
		}
	}
}

// number formats a cell's value times scale: "failed", or "-" where nothing was measured
// (a semaphore's throughput).
func number(c *cell, format string, scale float64) string {
	if c.failed {
		return "failed"
	}
	v, ok := c.value()
	if !ok {
		return "-"
	}
	return fmt.Sprintf(format, v*scale)
}

// ratio is the cell's value over ref, as "1.25x"; "-" if either is missing.
func ratio(c *cell, ref float64) string {
	v, ok := c.value()
	if !ok || ref <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", v/ref)
}

// writeCSV writes rows as CSV: mechanism,impl,rtt_p50_ns,rtt_p99_ns,throughput_mb_s, a cell
// empty where nothing was measured or the run failed.
func writeCSV(w io.Writer, rows []*row) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"mechanism", "impl", "rtt_p50_ns", "rtt_p99_ns", "throughput_mb_s"})
	for _, r := range rows {
		cw.Write([]string{r.label(), r.impl, csvNumber(&r.p50), csvNumber(&r.p99), csvNumber(&r.mbs)})
	}
	cw.Flush()
	return cw.Error()
}

func csvNumber(c *cell) string {
	v, ok := c.value()
	if !ok {
		return ""
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
