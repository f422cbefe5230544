package harness

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Plot draws the run's figures into a PNG of 1200×1180 pixels with gonum/plot: maximum
// throughput of each system (bars, with the target), throughput over time of the live
// runs, and latency over time of the open-loop run.
func Plot(res *Results) ([]byte, error) {
	const w, h = 1200, 1180
	const header = 40
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(72), vgimg.UseBackgroundColor(color.White))
	dc := draw.New(img)

	title := draw.TextStyle{Color: colText, Font: font.From(plot.DefaultFont, 16), Handler: plot.DefaultTextHandler}
	dc.FillText(title, vg.Point{X: 24, Y: h - 28}, fmt.Sprintf("segmentd benchmark %q, %s, %d CPUs, Kafka %s, load avg max %.1f",
		res.Profile, res.Started.UTC().Format("2006-01-02 15:04 MST"), res.Machine.CPUs, res.Machine.KafkaVersion, res.LoadAvg.Max1))

	// Three panels under the header, top to bottom.
	panels := []struct {
		height vg.Length
		plot   func() (*plot.Plot, error)
	}{
		{340, func() (*plot.Plot, error) { return barPlot(res) }},
		{360, func() (*plot.Plot, error) { return throughputPlot(res) }},
		{h - header - 340 - 360, func() (*plot.Plot, error) { return latencyPlot(res) }},
	}
	top := vg.Length(h - header)
	for _, pn := range panels {
		p, err := pn.plot()
		if err != nil {
			return nil, err
		}
		p.Draw(draw.Crop(dc, 10, -20, top-pn.height, top-h-12)) // 12 pt between panels
		top -= pn.height
	}

	var buf bytes.Buffer
	png := vgimg.PngCanvas{Canvas: img}
	if _, err := png.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("plot: encode png: %w", err)
	}
	return buf.Bytes(), nil
}

// newPlot returns a plot with the harness's title, fonts and axis label formatting.
func newPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = 15
	p.X.Label.Text, p.Y.Label.Text = xlabel, ylabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font.Size = 13
		a.Tick.Label.Font.Size = 12
	}
	p.Y.Tick.Marker = humanTicks{}
	p.Add(plotter.NewGrid())
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.TextStyle.Font.Size = 13
	return p
}

// humanTicks are gonum's default ticks labelled compactly ("20k").
type humanTicks struct{}

func (humanTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = human(ts[i].Value)
		}
	}
	return ts
}

func barPlot(res *Results) (*plot.Plot, error) {
	type bar struct {
		label string
		t     *Throughput
		col   color.RGBA
	}
	var bars []bar
	for _, b := range []bar{
		{"segmentd", res.Live, colSegmentd},
		{"naive", res.LiveNaive, colNaive},
		{"pass-through", res.Passthrough, colPass},
		{"segmentd import", res.Seed, colSegmentdLight},
		{"naive import", res.SeedNaive, colNaiveLight},
		{"segmentd (subset)", peerThroughput(res, false), colSegmentd},
		{"Kafka Streams (subset)", peerThroughput(res, true), colKStreams},
	} {
		if b.t != nil {
			bars = append(bars, b)
		}
	}
	p := newPlot("Maximum throughput, exactly-once, preloaded (events/s)", "", "")
	maxV := float64(targetEventsPerSecond)
	var names []string
	var labels plotter.XYLabels
	for i, b := range bars {
		v := b.t.EventsPerSecond
		maxV = math.Max(maxV, v)
		bc, err := plotter.NewBarChart(plotter.Values{v}, 80)
		if err != nil {
			return nil, fmt.Errorf("plot: bar %s: %w", b.label, err)
		}
		bc.XMin = float64(i)
		bc.Color = b.col
		bc.LineStyle.Width = 0
		p.Add(bc)
		names = append(names, b.label)
		labels.XYs = append(labels.XYs, plotter.XY{X: float64(i), Y: v})
		labels.Labels = append(labels.Labels, human(v))
	}
	p.Y.Min, p.Y.Max = 0, niceCeil(maxV*1.1)
	p.X.Min, p.X.Max = -0.5, math.Max(0.5, float64(len(bars))-0.5)
	if len(names) > 0 {
		p.NominalX(names...)
		p.X.Tick.Label.Font.Size = 13
		l, err := plotter.NewLabels(labels)
		if err != nil {
			return nil, fmt.Errorf("plot: bar labels: %w", err)
		}
		for i := range l.TextStyle {
			l.TextStyle[i].Font.Size = 13
			l.TextStyle[i].XAlign = draw.XCenter
		}
		l.Offset = vg.Point{Y: 4}
		p.Add(l)
	} else {
		p.Title.Text += ": no run"
		p.X.Tick.Marker = plot.ConstantTicks{}
	}
	if err := addHLine(p, hline{targetEventsPerSecond, "target 50k", colTarget}); err != nil {
		return nil, err
	}
	return p, nil
}

func throughputPlot(res *Results) (*plot.Plot, error) {
	var ss []series
	for _, s := range []struct {
		name string
		t    *Throughput
		col  color.RGBA
	}{{"segmentd", res.Live, colSegmentd}, {"naive", res.LiveNaive, colNaive}, {"pass-through", res.Passthrough, colPass},
		{"segmentd (subset)", peerThroughput(res, false), colSegmentdLight}, {"Kafka Streams (subset)", peerThroughput(res, true), colKStreams}} {
		if s.t != nil && len(s.t.Series) > 0 {
			ss = append(ss, series{s.name, s.col, coarsen(s.t.Series, 80)})
		}
	}
	return lineChart("Live runs: events/s over time (from the group's committed offsets)", "seconds since the process started", ss, nil)
}

func latencyPlot(res *Results) (*plot.Plot, error) {
	l := res.Latency
	if l == nil {
		return lineChart("Open-loop latency: no run", "seconds of schedule", nil, nil)
	}
	title := fmt.Sprintf("Latency (ms) per second, open loop at %.0f events/s: p50 %.0f, p99 %.0f, p99.9 %.0f ms",
		l.Rate, l.P50, l.P99, l.P999)
	return lineChart(title, "seconds of schedule",
		[]series{{"p50", colSegmentd, l.SeriesP50}, {"p99", colNaive, l.SeriesP99}},
		[]hline{{targetP99Ms, "target p99 250 ms", colTarget}})
}

var (
	colText          = color.RGBA{30, 30, 30, 255}
	colTarget        = color.RGBA{200, 30, 30, 255}
	colSegmentd      = color.RGBA{31, 119, 180, 255}
	colSegmentdLight = color.RGBA{140, 190, 225, 255}
	colNaive         = color.RGBA{255, 127, 14, 255}
	colNaiveLight    = color.RGBA{255, 195, 140, 255}
	colPass          = color.RGBA{44, 160, 44, 255}
	colKStreams      = color.RGBA{148, 103, 189, 255}
)

type series struct {
	name string
	col  color.RGBA
	pts  []Point
}

type hline struct {
	v     float64
	label string
	col   color.RGBA
}

// lineChart plots each series as a line, and each horizontal line (a target) dashed
// unless it is far above the data (more than 2.5 times its maximum): its legend entry
// then says "(above)".
func lineChart(title, xlabel string, ss []series, hl []hline) (*plot.Plot, error) {
	p := newPlot(title, xlabel, "")
	x1, y1 := 1.0, 1.0
	for _, s := range ss {
		for _, pt := range s.pts {
			x1, y1 = math.Max(x1, pt.T), math.Max(y1, pt.V)
		}
	}
	dataMax := y1
	for _, h := range hl {
		if h.v <= 2.5*dataMax {
			y1 = math.Max(y1, h.v)
		}
	}
	p.X.Min, p.X.Max = 0, niceCeil(x1)
	p.Y.Min, p.Y.Max = 0, niceCeil(y1*1.08)
	for _, s := range ss {
		xys := make(plotter.XYs, len(s.pts))
		for i, pt := range s.pts {
			xys[i] = plotter.XY{X: pt.T, Y: pt.V}
		}
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, fmt.Errorf("plot: series %s: %w", s.name, err)
		}
		line.Color, line.Width = s.col, vg.Points(2.5)
		points.Color, points.Shape, points.Radius = s.col, draw.CircleGlyph{}, vg.Points(1.5)
		p.Add(line, points)
		p.Legend.Add(s.name, line)
	}
	for _, h := range hl {
		if h.v > p.Y.Max {
			p.Legend.Add(h.label + " (above)")
			continue
		}
		if err := addHLine(p, h); err != nil {
			return nil, err
		}
	}
	if len(ss) == 0 && !strings.HasSuffix(title, "no run") {
		p.Title.Text += ": no data"
	}
	return p, nil
}

// addHLine draws h dashed across the plot's x range, with a legend entry.
func addHLine(p *plot.Plot, h hline) error {
	line, err := plotter.NewLine(plotter.XYs{{X: p.X.Min, Y: h.v}, {X: p.X.Max, Y: h.v}})
	if err != nil {
		return fmt.Errorf("plot: %s: %w", h.label, err)
	}
	line.Color, line.Width = h.col, vg.Points(1.5)
	line.Dashes = []vg.Length{vg.Points(6), vg.Points(4)}
	p.Add(line)
	p.Legend.Add(h.label, line)
	return nil
}

// niceCeil rounds x up to 1, 2 or 5 times a power of ten, or a half step of those.
func niceCeil(x float64) float64 {
	if x <= 0 {
		return 1
	}
	e := math.Pow(10, math.Floor(math.Log10(x)))
	for _, f := range []float64{1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10} {
		if f*e >= x {
			return f * e
		}
	}
	return 10 * e
}

// human formats a number compactly: 1500 → "1.5k", 2000000 → "2M".
func human(v float64) string {
	a := math.Abs(v)
	var s string
	switch {
	case a >= 1e6:
		s = fmt.Sprintf("%.1fM", v/1e6)
	case a >= 1e3:
		s = fmt.Sprintf("%.1fk", v/1e3)
	case a >= 10 || v == math.Trunc(v):
		s = fmt.Sprintf("%.0f", v)
	default:
		s = fmt.Sprintf("%.1f", v)
	}
	return strings.Replace(strings.Replace(s, ".0k", "k", 1), ".0M", "M", 1)
}

// coarsen averages consecutive points of a rate series down to at most n points.
func coarsen(pts []Point, n int) []Point {
	if len(pts) <= n {
		return pts
	}
	k := (len(pts) + n - 1) / n
	var out []Point
	for i := 0; i < len(pts); i += k {
		j := min(len(pts), i+k)
		var sum float64
		for _, p := range pts[i:j] {
			sum += p.V
		}
		out = append(out, Point{T: pts[j-1].T, V: sum / float64(j-i)})
	}
	return out
}

// peerThroughput is the kstreams phase's run of segmentd or of the peer, if any.
func peerThroughput(res *Results, peer bool) *Throughput {
	if res.KStreams == nil {
		return nil
	}
	if peer {
		return res.KStreams.KStreams
	}
	return res.KStreams.Segmentd
}
