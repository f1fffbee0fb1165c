package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteChart(t *testing.T) {
	for _, withC := range []bool{false, true} {
		var b bytes.Buffer
		require.NoError(t, writeChart(&b, sampleRows(), withC, "same (both processes on CPU 0)"))
		svg := b.String()
		assert.Contains(t, svg, "<svg")
		assert.Contains(t, svg, "Round trip of 64 bytes, median (lower is better); pin: same (both processes on CPU 0)")
		assert.Contains(t, svg, ">pipe, *os.File</text>")
		assert.Contains(t, svg, ">14.0</text>", "the Go pipe's p50 at its bar's end")
		assert.Contains(t, svg, ">n/a</text>", "a semaphore has no throughput")
		assert.Contains(t, svg, ">µs</text>", "12 to 20 µs: a linear scale")
		if withC {
			assert.Contains(t, svg, ">failed</text>", "C's pipe throughput")
			assert.Contains(t, svg, ">12.5</text>", "C's pipe p50")
		}
		d := xml.NewDecoder(&b)
		for {
			_, err := d.Token()
			if err == io.EOF {
				break
			}
			require.NoError(t, err, "the SVG is well-formed XML")
		}
	}
}

func TestWriteChartEmpty(t *testing.T) {
	// Everything failed: the chart still draws, with "failed" in every band.
	var rs results
	rs.row(mechanisms[4], "go", "").fail("rtt")
	rs.row(mechanisms[4], "go", "").fail("throughput")
	var b bytes.Buffer
	require.NoError(t, writeChart(&b, rs.sorted(), false, "off"))
	assert.Contains(t, b.String(), ">failed</text>")
}

func TestWriteChartLogScale(t *testing.T) {
	// 10 µs to 3 ms: the round trip on a log scale, and the axis says so.
	var rs results
	rs.row(mechanisms[6], "go", "").add("rtt", result{p50: 10e3, p99: 50e3})
	rs.row(mechanisms[6], "go", "example").add("rtt", result{p50: 3e6, p99: 4e6})
	var b bytes.Buffer
	require.NoError(t, writeChart(&b, rs.sorted(), false, "same"))
	assert.Contains(t, b.String(), ">µs, log scale</text>")
	assert.Contains(t, b.String(), ">1000</text>", "a tick at each power of ten")
}
