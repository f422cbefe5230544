package harness

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"strings"
)

// Plot draws the run's figures into a PNG with the standard library only: maximum
// throughput of each system (bars, with the target), throughput over time of the
// live runs, and latency over time of the open-loop run.
func Plot(res *Results) ([]byte, error) {
	const w, h = 1200, 1180
	c := newCanvas(w, h)
	c.text(24, 16, fmt.Sprintf("segmentd benchmark %q, %s, %d CPUs, Kafka %s, load avg max %.1f",
		res.Profile, res.Started.UTC().Format("2006-01-02 15:04 MST"), res.Machine.CPUs, res.Machine.KafkaVersion, res.LoadAvg.Max1), colText, 2)

	// 1. Bars: maximum throughput.
	type bar struct {
		label string
		v     float64
		col   color.RGBA
	}
	var bars []bar
	add := func(label string, t *Throughput, col color.RGBA) {
		if t != nil {
			bars = append(bars, bar{label, t.EventsPerSecond, col})
		}
	}
	add("segmentd", res.Live, colSegmentd)
	add("naive", res.LiveNaive, colNaive)
	add("pass-through", res.Passthrough, colPass)
	add("segmentd import", res.Seed, colSegmentdLight)
	add("naive import", res.SeedNaive, colNaiveLight)
	panel := image.Rect(90, 60, w-30, 340)
	maxV := float64(targetEventsPerSecond)
	for _, b := range bars {
		maxV = math.Max(maxV, b.v)
	}
	top := niceCeil(maxV * 1.05)
	c.axes(panel, 0, 1, 0, top, "", false)
	c.text(panel.Min.X, panel.Min.Y-18, "Maximum throughput, exactly-once, preloaded (events/s)", colText, 2)
	if n := len(bars); n > 0 {
		slot := panel.Dx() / n
		for i, b := range bars {
			x0 := panel.Min.X + i*slot + slot/5
			x1 := panel.Min.X + (i+1)*slot - slot/5
			y := c.ymap(panel, b.v, 0, top)
			c.fill(image.Rect(x0, y, x1, panel.Max.Y), b.col)
			value := human(b.v)
			c.text((x0+x1)/2-textWidth(value, 2)/2, y-18, value, colText, 2)
			c.text((x0+x1)/2-textWidth(b.label, 2)/2, panel.Max.Y+8, b.label, colText, 2)
		}
	}
	ty := c.ymap(panel, targetEventsPerSecond, 0, top)
	c.dashed(panel.Min.X, ty, panel.Max.X, ty, colTarget)
	c.text(panel.Max.X-textWidth("target 50k", 2)-4, ty-18, "target 50k", colTarget, 2)

	// 2. Throughput over time.
	var ss []series
	addS := func(name string, t *Throughput, col color.RGBA) {
		if t != nil && len(t.Series) > 0 {
			ss = append(ss, series{name, col, coarsen(t.Series, 80)})
		}
	}
	addS("segmentd", res.Live, colSegmentd)
	addS("naive", res.LiveNaive, colNaive)
	addS("pass-through", res.Passthrough, colPass)
	c.lineChart(image.Rect(90, 410, w-30, 700), "Live runs: events/s over time (from the group's committed offsets)", "seconds since the process started", ss, nil)

	// 3. Latency over time.
	var ls []series
	var hl []hline
	title := "Open-loop latency: no run"
	if l := res.Latency; l != nil {
		ls = []series{{"p50", colSegmentd, l.SeriesP50}, {"p99", colNaive, l.SeriesP99}}
		hl = []hline{{targetP99Ms, "target p99 250 ms", colTarget}}
		title = fmt.Sprintf("Latency (ms) per second, open loop at %.0f events/s: p50 %.0f, p99 %.0f, p99.9 %.0f ms",
			l.Rate, l.P50, l.P99, l.P999)
	}
	c.lineChart(image.Rect(90, 770, w-30, 1120), title, "seconds of schedule", ls, hl)

	var buf bytes.Buffer
	if err := png.Encode(&buf, c.img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

var (
	colBG            = color.RGBA{255, 255, 255, 255}
	colText          = color.RGBA{30, 30, 30, 255}
	colAxis          = color.RGBA{90, 90, 90, 255}
	colGrid          = color.RGBA{225, 225, 225, 255}
	colTarget        = color.RGBA{200, 30, 30, 255}
	colSegmentd      = color.RGBA{31, 119, 180, 255}
	colSegmentdLight = color.RGBA{140, 190, 225, 255}
	colNaive         = color.RGBA{255, 127, 14, 255}
	colNaiveLight    = color.RGBA{255, 195, 140, 255}
	colPass          = color.RGBA{44, 160, 44, 255}
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

type canvas struct{ img *image.RGBA }

func newCanvas(w, h int) *canvas {
	c := &canvas{img: image.NewRGBA(image.Rect(0, 0, w, h))}
	c.fill(c.img.Bounds(), colBG)
	return c
}

func (c *canvas) fill(r image.Rectangle, col color.RGBA) {
	r = r.Intersect(c.img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c.img.SetRGBA(x, y, col)
		}
	}
}

func (c *canvas) dot(x, y, size int, col color.RGBA) {
	c.fill(image.Rect(x-size/2, y-size/2, x-size/2+size, y-size/2+size), col)
}

// line draws a line of the given thickness (Bresenham).
func (c *canvas) line(x0, y0, x1, y1, thick int, col color.RGBA) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		c.dot(x0, y0, thick, col)
		if x0 == x1 && y0 == y1 {
			return
		}
		if e2 := 2 * e; e2 >= dy {
			e += dy
			x0 += sx
		} else {
			e += dx
			y0 += sy
		}
	}
}

func (c *canvas) dashed(x0, y0, x1, y1 int, col color.RGBA) {
	n := max(abs(x1-x0), abs(y1-y0))
	for i := 0; i < n; i += 12 {
		j := min(i+7, n)
		c.line(x0+(x1-x0)*i/n, y0+(y1-y0)*i/n, x0+(x1-x0)*j/n, y0+(y1-y0)*j/n, 2, col)
	}
}

// text draws s with its top-left corner at (x, y), each font pixel scale×scale.
func (c *canvas) text(x, y int, s string, col color.RGBA, scale int) {
	for _, r := range s {
		g, ok := font5x7[r]
		if !ok {
			g = font5x7['?']
		}
		for row := range 7 {
			for bit := range 5 {
				if g[row]&(0x10>>bit) != 0 {
					c.fill(image.Rect(x+bit*scale, y+row*scale, x+(bit+1)*scale, y+(row+1)*scale), col)
				}
			}
		}
		x += 6 * scale
	}
}

func textWidth(s string, scale int) int { return len([]rune(s)) * 6 * scale }

func (c *canvas) ymap(r image.Rectangle, v, lo, hi float64) int {
	if hi <= lo {
		return r.Max.Y
	}
	v = math.Max(lo, math.Min(hi, v))
	return r.Max.Y - int(math.Round((v-lo)/(hi-lo)*float64(r.Dy())))
}

func (c *canvas) xmap(r image.Rectangle, v, lo, hi float64) int {
	if hi <= lo {
		return r.Min.X
	}
	return r.Min.X + int(math.Round((v-lo)/(hi-lo)*float64(r.Dx())))
}

// axes draws the frame, the horizontal grid with y labels and, withX, the x ticks
// with labels.
func (c *canvas) axes(r image.Rectangle, x0, x1, y0, y1 float64, xlabel string, withX bool) {
	for _, t := range ticks(y0, y1) {
		y := c.ymap(r, t, y0, y1)
		c.line(r.Min.X, y, r.Max.X, y, 1, colGrid)
		l := human(t)
		c.text(r.Min.X-textWidth(l, 2)-8, y-7, l, colAxis, 2)
	}
	if withX {
		for _, t := range ticks(x0, x1) {
			x := c.xmap(r, t, x0, x1)
			c.line(x, r.Max.Y, x, r.Max.Y+5, 1, colAxis)
			l := human(t)
			c.text(x-textWidth(l, 2)/2, r.Max.Y+9, l, colAxis, 2)
		}
		c.text(r.Max.X-textWidth(xlabel, 2), r.Max.Y+28, xlabel, colAxis, 2)
	}
	c.line(r.Min.X, r.Min.Y, r.Min.X, r.Max.Y, 1, colAxis)
	c.line(r.Min.X, r.Max.Y, r.Max.X, r.Max.Y, 1, colAxis)
}

func (c *canvas) lineChart(r image.Rectangle, title, xlabel string, ss []series, hl []hline) {
	c.text(r.Min.X, r.Min.Y-22, title, colText, 2)
	x1, y1 := 1.0, 1.0
	for _, s := range ss {
		for _, p := range s.pts {
			x1, y1 = math.Max(x1, p.T), math.Max(y1, p.V)
		}
	}
	dataMax := y1
	for _, h := range hl {
		if h.v <= 2.5*dataMax {
			y1 = math.Max(y1, h.v)
		}
	}
	y1 = niceCeil(y1 * 1.08)
	x1 = niceCeil(x1)
	c.axes(r, 0, x1, 0, y1, xlabel, true)
	for _, h := range hl {
		if h.v > y1 {
			c.text(r.Max.X-textWidth(h.label+" (above)", 2)-4, r.Min.Y+4, h.label+" (above)", h.col, 2)
			continue
		}
		y := c.ymap(r, h.v, 0, y1)
		c.dashed(r.Min.X, y, r.Max.X, y, h.col)
		c.text(r.Max.X-textWidth(h.label, 2)-4, y-18, h.label, h.col, 2)
	}
	for _, s := range ss {
		for i := 1; i < len(s.pts); i++ {
			a, b := s.pts[i-1], s.pts[i]
			c.line(c.xmap(r, a.T, 0, x1), c.ymap(r, a.V, 0, y1), c.xmap(r, b.T, 0, x1), c.ymap(r, b.V, 0, y1), 3, s.col)
		}
		if len(s.pts) == 1 {
			c.dot(c.xmap(r, s.pts[0].T, 0, x1), c.ymap(r, s.pts[0].V, 0, y1), 6, s.col)
		}
	}
	// Legend.
	x := r.Min.X + 12
	for _, s := range ss {
		c.fill(image.Rect(x, r.Min.Y+8, x+24, r.Min.Y+14), s.col)
		c.text(x+30, r.Min.Y+4, s.name, colText, 2)
		x += 30 + textWidth(s.name, 2) + 24
	}
	if len(ss) == 0 {
		c.text(r.Min.X+20, r.Min.Y+20, "no data", colAxis, 2)
	}
}

// ticks returns about five round values in [lo, hi].
func ticks(lo, hi float64) []float64 {
	if hi <= lo {
		return []float64{lo}
	}
	step := niceStep((hi - lo) / 5)
	var out []float64
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		out = append(out, v)
	}
	return out
}

func niceStep(x float64) float64 {
	e := math.Pow(10, math.Floor(math.Log10(x)))
	switch f := x / e; {
	case f <= 1:
		return e
	case f <= 2:
		return 2 * e
	case f <= 5:
		return 5 * e
	}
	return 10 * e
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

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func sign(x int) int {
	switch {
	case x < 0:
		return -1
	case x > 0:
		return 1
	}
	return 0
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
