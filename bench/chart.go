package main

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"slices"
	"strconv"

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
// and C's of a mechanism side by side when withC): the median round trip, on a log scale if the
// slowest is more than ten times the fastest, and the throughput. Where a bar is missing,
// the band says why: "failed", or "n/a" (a semaphore's throughput).
func writeChart(w io.Writer, rows []*row, withC bool, pin string) error {
	plot.DefaultFont = font.Font{Typeface: "Liberation", Variant: "Sans"}
	labels, goRows, cRows := bands(rows)
	if withC {
		// A band with no bars at the top, for the legend.
		labels = append([]string{""}, labels...)
		goRows = append([]*row{nil}, goRows...)
		cRows = append([]*row{nil}, cRows...)
	}
	rtt, err := barPlot("Round trip of 64 bytes, median (lower is better); pin: "+pin, "µs",
		labels, goRows, cRows, func(r *row) *cell { return &r.p50 }, 1e-3, true, withC)
	if err != nil {
		return err
	}
	tput, err := barPlot("Throughput, one way (higher is better)", "MB/s (10⁶ bytes/s)",
		labels, goRows, cRows, func(r *row) *cell { return &r.mbs }, 1, false, withC)
	if err != nil {
		return err
	}
	height := 2 * (frame + band*vg.Length(len(labels)))
	c := vgsvg.New(chartWidth, height)
	// plot.Align lines up the two panels' axes, whatever their labels' widths.
	plots := [][]*plot.Plot{{rtt}, {tput}}
	canvases := plot.Align(plots, draw.Tiles{Rows: 2, Cols: 1, PadY: vg.Points(12), PadLeft: vg.Points(4), PadRight: vg.Points(4), PadTop: vg.Points(4), PadBottom: vg.Points(4)}, draw.New(c))
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
// C's), times scale, its value written at its end; on a log scale if logScale and the values
// need it.
func barPlot(title, unit string, labels []string, goRows, cRows []*row, get func(*row) *cell,
	scale float64, logScale, withC bool) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = unit
	p.Y.Padding = 0
	// A plot's Y axis goes up, and the table goes down: band i is at y = n-1-i.
	n := len(labels)
	ys := slices.Clone(labels)
	slices.Reverse(ys)
	p.NominalY(ys...)

	// The values' range. On a log scale the bars start at the power of ten below the
	// smallest value, not at 0.
	smallest, biggest := math.Inf(1), 0.0
	for _, rs := range [][]*row{goRows, cRows} {
		for _, r := range rs {
			if r == nil {
				continue
			}
			if v, ok := get(r).value(); ok && v > 0 {
				smallest, biggest = min(smallest, v*scale), max(biggest, v*scale)
			}
		}
	}
	start := 0.0
	if biggest == 0 {
		biggest = 1 // nothing measured: an empty panel
	}
	// A log scale only where the values span more than a power of ten: its ticks are labelled
	// at the powers of ten only.
	logScale = logScale && biggest > 10*smallest
	if logScale {
		p.X.Label.Text = unit + ", log scale"
		start = math.Pow(10, math.Floor(math.Log10(smallest)))
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
		p.X.Max = biggest * 2 // room for the longest bar's value
	} else {
		p.X.Max = biggest * 1.15
		p.X.Tick.Marker = plainTicks{}
	}
	p.X.Min = start
	base := make(plotter.Values, n) // where the bars start
	for i := range base {
		base[i] = start
	}
	baseBars, err := plotter.NewBarChart(base, 1)
	if err != nil {
		return nil, err
	}

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
	for _, s := range all {
		lengths := make(plotter.Values, n) // from start
		var at plotter.XYs
		var texts []string
		for i, r := range s.rows {
			if r == nil {
				continue
			}
			y := n - 1 - i
			c := get(r)
			v, ok := c.value()
			text := short(v * scale)
			switch {
			case c.failed:
				text = "failed"
			case !ok:
				text = "n/a"
			default:
				lengths[y] = v*scale - start
			}
			at = append(at, plotter.XY{X: start + lengths[y], Y: float64(y)})
			texts = append(texts, text)
		}
		bars, err := plotter.NewBarChart(lengths, bar)
		if err != nil {
			return nil, err
		}
		bars.StackOn(baseBars)
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
	p.Legend.Top = true
	return p, nil
}

// plainTicks are plot's default ticks, their labels without trailing zeros: 2500, not 2500.00.
type plainTicks struct{}

func (plainTicks) Ticks(min, max float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(min, max)
	for i, t := range ticks {
		if t.Label != "" {
			ticks[i].Label = strconv.FormatFloat(t.Value, 'f', -1, 64)
		}
	}
	return ticks
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
