package main

import (
	"fmt"
	"image/color"
	"io"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

var (
	goColor = color.RGBA{R: 0x00, G: 0x7d, B: 0x9c, A: 0xff} // Go's blue
	cColor  = color.RGBA{R: 0xa0, G: 0xa0, B: 0xa0, A: 0xff}
)

// The chart's sizes: as wide as a README's column, and a band of this height per mechanism.
const (
	chartWidth = 7.5 * vg.Inch
	band       = 0.3 * vg.Inch
	frame      = 0.8 * vg.Inch // a panel's title and axis
)

// writeChart draws two panels of horizontal bars as SVG, one band per row of the table (Go's
// and C's of a mechanism side by side when withC): the median round trip, and the throughput.
// Where a bar is missing, the band says why: "failed", or "n/a" (a semaphore's throughput).
func writeChart(w io.Writer, rows []*row, withC bool, pin string) error {
	plot.DefaultFont = font.Font{Typeface: "Liberation", Variant: "Sans"}
	labels, goRows, cRows := bands(rows)
	rtt, err := barPlot("Round trip of 64 bytes, median (lower is better); pin: "+pin, "µs",
		labels, goRows, cRows, func(r *row) *cell { return &r.p50 }, 1e-3, withC)
	if err != nil {
		return err
	}
	tput, err := barPlot("Throughput, one way (higher is better)", "MB/s (10⁶ bytes/s)",
		labels, goRows, cRows, func(r *row) *cell { return &r.mbs }, 1, withC)
	if err != nil {
		return err
	}
	height := 2 * (frame + band*vg.Length(len(labels)))
	c := vgsvg.New(chartWidth, height)
	// plot.Align lines up the two panels' axes, whatever their labels' widths.
	plots := [][]*plot.Plot{{rtt}, {tput}}
	canvases := plot.Align(plots, draw.Tiles{Rows: 2, Cols: 1, PadY: vg.Points(12)}, draw.New(c))
	rtt.Draw(canvases[0][0])
	tput.Draw(canvases[1][0])
	_, err = c.WriteTo(w)
	return err
}

// bands returns the chart's bands, top down: the labels of the Go rows (C's row has the label
// of Go's raw path), and each band's Go row and C row (nil if none).
func bands(rows []*row) (labels []string, goRows, cRows []*row) {
	index := map[string]int{}
	for _, r := range rows {
		i, ok := index[r.label()]
		if !ok {
			i = len(labels)
			index[r.label()] = i
			labels = append(labels, r.label())
			goRows = append(goRows, nil)
			cRows = append(cRows, nil)
		}
		if r.impl == "c" {
			cRows[i] = r
		} else {
			goRows[i] = r
		}
	}
	return labels, goRows, cRows
}

// barPlot makes a panel: for each band, a bar of the metric that get picks from Go's row (and
// C's), times scale, its value written at its end.
func barPlot(title, unit string, labels []string, goRows, cRows []*row, get func(*row) *cell,
	scale float64, withC bool) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = unit
	p.X.Min = 0
	p.Y.Padding = 0
	// A plot's Y axis goes up, and the table goes down: band i is at y = n-1-i.
	n := len(labels)
	ys := slices.Clone(labels)
	slices.Reverse(ys)
	p.NominalY(ys...)

	bar := band * 0.8
	type series struct {
		name   string
		rows   []*row
		color  color.Color
		offset vg.Length
	}
	all := []series{{"Go", goRows, goColor, 0}}
	if withC {
		bar = band * 0.4
		all = []series{{"Go", goRows, goColor, bar / 2}, {"C", cRows, cColor, -bar / 2}}
	}
	biggest := 0.0
	for _, s := range all {
		vals := make(plotter.Values, n)
		var at plotter.XYs
		var texts []string
		for i, r := range s.rows {
			if r == nil {
				continue
			}
			y := float64(n - 1 - i)
			c := get(r)
			v, ok := c.value()
			text := short(v * scale)
			switch {
			case c.failed:
				text = "failed"
			case !ok:
				text = "n/a"
			default:
				vals[int(y)] = v * scale
				biggest = max(biggest, v*scale)
			}
			at = append(at, plotter.XY{X: vals[int(y)], Y: y})
			texts = append(texts, text)
		}
		bars, err := plotter.NewBarChart(vals, bar)
		if err != nil {
			return nil, err
		}
		bars.Horizontal = true
		bars.Color = s.color
		bars.LineStyle.Width = 0
		bars.Offset = s.offset
		p.Add(bars)
		if withC {
			p.Legend.Add(s.name, bars)
		}
		if len(at) == 0 {
			continue
		}
		// The values, just past the bars' ends.
		l, err := plotter.NewLabels(plotter.XYLabels{XYs: at, Labels: texts})
		if err != nil {
			return nil, err
		}
		for i := range l.TextStyle {
			l.TextStyle[i].Font = font.From(plot.DefaultFont, vg.Points(8))
			l.TextStyle[i].YAlign = draw.YCenter
		}
		l.Offset = vg.Point{X: vg.Points(3), Y: s.offset}
		p.Add(l)
	}
	p.X.Max = max(biggest*1.15, 1) // room for the longest bar's value
	p.Legend.Top = true
	return p, nil
}

// short formats a value for a bar's end: 3 significant digits or so.
func short(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}
