package main

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMedian(t *testing.T) {
	assert.Equal(t, 5.0, median([]float64{5}))
	assert.Equal(t, 2.0, median([]float64{3, 1, 2}))
	assert.Equal(t, 2.5, median([]float64{4, 1, 3, 2}))
	vals := []float64{3, 1, 2}
	median(vals)
	assert.Equal(t, []float64{3, 1, 2}, vals, "median sorts a copy")
}

func TestCell(t *testing.T) {
	var c cell
	_, ok := c.value()
	assert.False(t, ok, "never measured")
	c.vals = []float64{10, 30, 20}
	v, ok := c.value()
	assert.True(t, ok)
	assert.Equal(t, 20.0, v, "the median of the rounds")
	c.failed = true
	_, ok = c.value()
	assert.False(t, ok, "a round failed: the cell failed")
}

// sampleRows are pipe (Go raw, Go osfile, C) and semaphores (Go, C; no throughput), with the
// C pipe's throughput failed.
func sampleRows() []*row {
	var rs results
	pipe, sem := mechanisms[4], mechanisms[3]
	rs.row(pipe, "go", "osfile").add("rtt", result{p50: 20000, p99: 90000})
	rs.row(pipe, "go", "osfile").add("throughput", result{mbs: 800})
	rs.row(pipe, "c", "").add("rtt", result{p50: 12500, p99: 40000})
	rs.row(pipe, "c", "").fail("throughput")
	rs.row(pipe, "go", "").add("rtt", result{p50: 14000, p99: 60000})
	rs.row(pipe, "go", "").add("rtt", result{p50: 13000, p99: 50000})
	rs.row(pipe, "go", "").add("rtt", result{p50: 15000, p99: 70000})
	rs.row(pipe, "go", "").add("throughput", result{mbs: 2000})
	rs.row(sem, "go", "").add("rtt", result{p50: 12800, p99: 80000})
	rs.row(sem, "c", "").add("rtt", result{p50: 12000, p99: 30000})
	return rs.sorted()
}

func TestSorted(t *testing.T) {
	var labels []string
	for _, r := range sampleRows() {
		labels = append(labels, r.label()+"/"+r.impl)
	}
	// The table's order of mechanisms; in each, Go's raw path, C, then Go's other paths.
	assert.Equal(t, []string{
		"System V semaphores/go", "System V semaphores/c",
		"pipe/go", "pipe/c", "pipe, *os.File/go",
	}, labels)
}

func TestRowAdd(t *testing.T) {
	var r row
	assert.Equal(t, "no p50 or p99 in the result", r.add("rtt", result{nsOp: 100}))
	assert.Equal(t, "no MB/s in the result", r.add("throughput", result{nsOp: 100}))
	assert.Empty(t, r.add("throughput", result{nsOp: 100, mbs: 5}))
	assert.Equal(t, []float64{5}, r.mbs.vals)
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	writeTable(&b, sampleRows(), true)
	// p50 vs best: over the fastest p50 (12.0, C's semaphores); MB/s vs best: over the
	// highest (2000, Go's raw pipe). Go/C on the Go rows only.
	want := `
| mechanism           | impl | p50 RTT µs | p99 RTT µs | throughput MB/s | p50 vs best | MB/s vs best | Go/C p50 | Go/C p99 | Go/C MB/s |
| ------------------- | ---- | ---------: | ---------: | --------------: | ----------: | -----------: | -------: | -------: | --------: |
| System V semaphores | go   |       12.8 |       80.0 |               - |       1.07x |            - |    1.07x |    2.67x |         - |
| System V semaphores | c    |       12.0 |       30.0 |               - |       1.00x |            - |          |          |           |
| pipe                | go   |       14.0 |       60.0 |            2000 |       1.17x |        1.00x |    1.12x |    1.50x |         - |
| pipe                | c    |       12.5 |       40.0 |          failed |       1.04x |            - |          |          |           |
| pipe, *os.File      | go   |       20.0 |       90.0 |             800 |       1.67x |        0.40x |    1.60x |    2.25x |         - |
`
	assert.Equal(t, strings.TrimPrefix(want, "\n"), b.String())

	b.Reset()
	writeTable(&b, sampleRows()[2:3], false)
	assert.Equal(t, `| mechanism | impl | p50 RTT µs | p99 RTT µs | throughput MB/s | p50 vs best | MB/s vs best |
| --------- | ---- | ---------: | ---------: | --------------: | ----------: | -----------: |
| pipe      | go   |       14.0 |       60.0 |            2000 |       1.00x |        1.00x |
`, b.String())
}

func TestWriteCSV(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, writeCSV(&b, sampleRows()))
	// The label with a comma is quoted; an empty cell where nothing was measured or it failed.
	assert.Equal(t, `mechanism,impl,rtt_p50_ns,rtt_p99_ns,throughput_mb_s
System V semaphores,go,12800,80000,
System V semaphores,c,12000,30000,
pipe,go,14000,60000,2000
pipe,c,12500,40000,
"pipe, *os.File",go,20000,90000,800
`, b.String())
	records, err := csv.NewReader(&b).ReadAll()
	require.NoError(t, err)
	assert.Equal(t, []string{"pipe, *os.File", "go", "20000", "90000", "800"}, records[5])
}

func TestShellLine(t *testing.T) {
	assert.Equal(t, `go run ./bench -run '^pipe$' -csv out.csv '' 'it'\''s'`,
		shellLine([]string{"go", "run", "./bench", "-run", "^pipe$", "-csv", "out.csv", "", "it's"}))
}

func TestFlags(t *testing.T) {
	o, err := parseFlags([]string{"-c", "-quick", "-count", "3", "-pin", "split", "-run", "^(pipe|fifo)$"})
	require.NoError(t, err)
	assert.True(t, o.withC)
	assert.Equal(t, 3, o.count)
	assert.Equal(t, "split", o.pin)
	require.Len(t, o.mechs, 2)
	assert.Equal(t, "pipe", o.mechs[0].key)
	assert.Equal(t, "fifo", o.mechs[1].key)

	o, err = parseFlags(nil)
	require.NoError(t, err)
	assert.Len(t, o.mechs, len(mechanisms))
	assert.Equal(t, "same", o.pin)

	for args, want := range map[string]string{
		"-pin both":  "-pin both: want same, split or off",
		"-count 0":   "-count 0: want 1 or more",
		"-run (":     "-run: error parsing regexp: missing closing ): `(`",
		"-run nope":  "-run nope matches no mechanism: the keys are flock, sysv-shm, posix-shm, sem, pipe, fifo, sysv-msg, posix-mq, unix, tcp",
		"-bogus":     "flag provided but not defined: -bogus",
		"-c extra":   `unexpected argument "extra"`,
		"-count two": `invalid value "two" for flag -count: parse error`,
	} {
		_, err := parseFlags(strings.Fields(args))
		assert.EqualError(t, err, want, args)
	}
}
