package harness

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// metrics is one scrape of a Prometheus text exposition: every sample with its
// labels. It is small enough to parse by hand, which keeps the harness free of a
// direct dependency on prometheus/common.
type metrics []sample

type sample struct {
	name   string
	labels map[string]string
	value  float64
}

func parseMetrics(r io.Reader) (metrics, error) {
	var out metrics
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		s, err := parseSample(line)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

func parseSample(line string) (sample, error) {
	s := sample{labels: map[string]string{}}
	rest := line
	if i := strings.IndexAny(line, "{ "); i < 0 {
		return s, fmt.Errorf("metrics: bad line %q", line)
	} else if line[i] == '{' {
		s.name = line[:i]
		j := strings.LastIndexByte(line, '}')
		if j < i {
			return s, fmt.Errorf("metrics: bad labels in %q", line)
		}
		for _, kv := range splitLabels(line[i+1 : j]) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				continue
			}
			uq, err := strconv.Unquote(v)
			if err != nil {
				uq = strings.Trim(v, `"`)
			}
			s.labels[k] = uq
		}
		rest = line[j+1:]
	} else {
		s.name = line[:i]
		rest = line[i:]
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return s, fmt.Errorf("metrics: no value in %q", line)
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return s, fmt.Errorf("metrics: value of %q: %w", line, err)
	}
	s.value = v
	return s, nil
}

// splitLabels splits `a="x",b="y,z"` at the commas outside quotes.
func splitLabels(s string) []string {
	var out []string
	inQ, esc, start := false, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case esc:
			esc = false
		case c == '\\':
			esc = true
		case c == '"':
			inQ = !inQ
		case c == ',' && !inQ:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
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
