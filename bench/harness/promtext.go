package harness

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// metrics is one scrape of a Prometheus text exposition, as the flat samples the
// exposition lists: a histogram is its _bucket (with an le label), _sum and _count
// samples, a summary its quantiles, _sum and _count. prometheus/common's expfmt parses
// it.
type metrics []sample

type sample struct {
	name   string
	labels map[string]string
	value  float64
}

func parseMetrics(r io.Reader) (metrics, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	var out metrics
	for name, mf := range families {
		for _, m := range mf.GetMetric() {
			out = appendSamples(out, name, m)
		}
	}
	return out, nil
}

// appendSamples appends the samples of m, a metric of the family name.
func appendSamples(out metrics, name string, m *dto.Metric) metrics {
	labels := func(extra ...string) map[string]string {
		l := make(map[string]string, len(m.GetLabel())+1)
		for _, lp := range m.GetLabel() {
			l[lp.GetName()] = lp.GetValue()
		}
		for i := 0; i+1 < len(extra); i += 2 {
			l[extra[i]] = extra[i+1]
		}
		return l
	}
	add := func(name string, v float64, extra ...string) {
		out = append(out, sample{name: name, labels: labels(extra...), value: v})
	}
	switch {
	case m.Counter != nil:
		add(name, m.GetCounter().GetValue())
	case m.Gauge != nil:
		add(name, m.GetGauge().GetValue())
	case m.Untyped != nil:
		add(name, m.GetUntyped().GetValue())
	case m.Histogram != nil:
		h := m.GetHistogram()
		for _, b := range h.GetBucket() {
			c := float64(b.GetCumulativeCount()) + b.GetCumulativeCountFloat()
			add(name+"_bucket", c, "le", strconv.FormatFloat(b.GetUpperBound(), 'g', -1, 64))
		}
		add(name+"_sum", h.GetSampleSum())
		add(name+"_count", float64(h.GetSampleCount())+h.GetSampleCountFloat())
	case m.Summary != nil:
		s := m.GetSummary()
		for _, q := range s.GetQuantile() {
			add(name, q.GetValue(), "quantile", strconv.FormatFloat(q.GetQuantile(), 'g', -1, 64))
		}
		add(name+"_sum", s.GetSampleSum())
		add(name+"_count", float64(s.GetSampleCount()))
	}
	return out
}

// sum returns the sum of the samples named name whose labels include match
// (pairs of name, value).
func (m metrics) sum(name string, match ...string) float64 {
	var t float64
	for _, s := range m {
		if s.name == name && s.matches(match) {
			t += s.value
		}
	}
	return t
}

// has reports whether any sample is named name.
func (m metrics) has(name string) bool {
	for _, s := range m {
		if s.name == name {
			return true
		}
	}
	return false
}

func (s *sample) matches(match []string) bool {
	for i := 0; i+1 < len(match); i += 2 {
		if s.labels[match[i]] != match[i+1] {
			return false
		}
	}
	return true
}

// histogram is the cumulative buckets of one histogram (upper bound → count), its
// sum and count.
type histogram struct {
	bounds []float64
	counts []float64 // cumulative
	sum    float64
	count  float64
}

func (m metrics) histogram(name string) histogram {
	byLE := map[float64]float64{}
	var h histogram
	for _, s := range m {
		switch s.name {
		case name + "_bucket":
			le, err := strconv.ParseFloat(s.labels["le"], 64)
			if err != nil {
				continue
			}
			byLE[le] += s.value
		case name + "_sum":
			h.sum += s.value
		case name + "_count":
			h.count += s.value
		}
	}
	for le := range byLE {
		h.bounds = append(h.bounds, le)
	}
	sort.Float64s(h.bounds)
	for _, le := range h.bounds {
		h.counts = append(h.counts, byLE[le])
	}
	return h
}

// sub returns h − o bucket by bucket (o an earlier scrape of the same histogram).
func (h histogram) sub(o histogram) histogram {
	d := histogram{sum: h.sum - o.sum, count: h.count - o.count}
	for i, le := range h.bounds {
		c := h.counts[i]
		for j, ole := range o.bounds {
			if ole == le {
				c -= o.counts[j]
			}
		}
		d.bounds = append(d.bounds, le)
		d.counts = append(d.counts, c)
	}
	return d
}

// quantile estimates quantile q as Prometheus's histogram_quantile does: linear
// interpolation within the bucket, the lowest bucket starting at 0. It returns NaN
// without observations and the highest finite bound when q falls in +Inf.
func (h histogram) quantile(q float64) float64 {
	if h.count <= 0 || len(h.bounds) == 0 {
		return math.NaN()
	}
	rank := q * h.count
	prevBound, prevCount := 0.0, 0.0
	for i, le := range h.bounds {
		c := h.counts[i]
		if c >= rank {
			if math.IsInf(le, 1) {
				return prevBound
			}
			if c == prevCount {
				return le
			}
			return prevBound + (le-prevBound)*(rank-prevCount)/(c-prevCount)
		}
		prevBound, prevCount = le, c
	}
	return prevBound
}

// mean returns sum/count, or NaN without observations.
func (h histogram) mean() float64 {
	if h.count <= 0 {
		return math.NaN()
	}
	return h.sum / h.count
}

// overflows reports whether quantile q falls in the +Inf bucket: quantile then
// returns the highest finite bound, a lower bound of the true value.
func (h histogram) overflows(q float64) bool {
	if h.count <= 0 || len(h.bounds) < 2 || !math.IsInf(h.bounds[len(h.bounds)-1], 1) {
		return false
	}
	return h.counts[len(h.counts)-2] < q*h.count
}
