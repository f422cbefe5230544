package deploytest

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// selector is one metric name in a PromQL expression, with the text of its label
// matchers ("" when it has none).
type selector struct {
	Metric string
	Labels string
}

// promqlFunctions are PromQL's functions: a name followed by "(" must be one of these.
var promqlFunctions = setOf(
	"abs", "absent", "absent_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh",
	"avg_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min", "cos", "cosh",
	"count_over_time", "day_of_month", "day_of_week", "day_of_year", "days_in_month", "deg",
	"delta", "deriv", "double_exponential_smoothing", "exp", "floor", "histogram_avg",
	"histogram_count", "histogram_fraction", "histogram_quantile", "histogram_stddev",
	"histogram_stdvar", "histogram_sum", "holt_winters", "hour", "idelta", "increase",
	"irate", "label_join", "label_replace", "last_over_time", "ln", "log10", "log2",
	"mad_over_time", "max_over_time", "min_over_time", "minute", "month", "pi",
	"predict_linear", "present_over_time", "quantile_over_time", "rad", "rate", "resets",
	"round", "scalar", "sgn", "sin", "sinh", "sort", "sort_by_label", "sort_by_label_desc",
	"sort_desc", "sqrt", "stddev_over_time", "stdvar_over_time", "sum_over_time", "tan",
	"tanh", "time", "timestamp", "vector", "year",
)

// promqlAggregations may be followed by "by (...)" or "without (...)" before "(".
var promqlAggregations = setOf(
	"avg", "bottomk", "count", "count_values", "group", "limit_ratio", "limitk", "max",
	"min", "quantile", "stddev", "stdvar", "sum", "topk",
)

// promqlLabelLists are keywords followed by a parenthesised list of label names.
var promqlLabelLists = setOf("by", "without", "on", "ignoring", "group_left", "group_right")

// promqlKeywords are the other words that are not metric names.
var promqlKeywords = setOf("and", "or", "unless", "bool", "offset", "atan2", "inf", "nan")

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// promqlSelectors returns the metric names an expression reads, in order. It is a
// scanner, not a parser: it skips strings, comments, label matchers, range brackets,
// numbers, durations and Grafana variables ($x, ${x}), and knows PromQL's functions,
// aggregations and keywords. It fails on a function it does not know and on a selector
// without a metric name ({job="x"}), whose metric it could not check.
func promqlSelectors(expr string) ([]selector, error) {
	var out []selector
	s := expr
	i := 0
	skipSpace := func(j int) int {
		for j < len(s) && strings.ContainsRune(" \t\r\n", rune(s[j])) {
			j++
		}
		return j
	}
	for i < len(s) {
		c := s[i]
		switch {
		case strings.ContainsRune(" \t\r\n", rune(c)):
			i++
		case c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '"' || c == '\'' || c == '`':
			j, err := skipString(s, i)
			if err != nil {
				return nil, err
			}
			i = j
		case c == '{':
			return nil, fmt.Errorf("selector without a metric name at %q", s[i:])
		case c == '[':
			j, err := skipBalanced(s, i, '[', ']')
			if err != nil {
				return nil, err
			}
			i = j
		case c == '$':
			i++
			if i < len(s) && s[i] == '{' {
				j, err := skipBalanced(s, i, '{', '}')
				if err != nil {
					return nil, err
				}
				i = j
				break
			}
			for i < len(s) && isIdentChar(s[i]) {
				i++
			}
		case isDigit(c) || c == '.' && i+1 < len(s) && isDigit(s[i+1]):
			for i < len(s) && (isIdentChar(s[i]) || s[i] == '.') {
				i++
			}
		case isIdentStart(c):
			j := i
			for j < len(s) && isIdentChar(s[j]) {
				j++
			}
			word := s[i:j]
			next := skipSpace(j)
			lower := strings.ToLower(word)
			switch {
			case promqlLabelLists[word]:
				i = j
				if next < len(s) && s[next] == '(' {
					k, err := skipBalanced(s, next, '(', ')')
					if err != nil {
						return nil, err
					}
					i = k
				}
			case promqlKeywords[lower] || promqlAggregations[word]:
				i = j
			case next < len(s) && s[next] == '(':
				if !promqlFunctions[word] {
					return nil, fmt.Errorf("unknown PromQL function %s", word)
				}
				i = j
			default:
				sel := selector{Metric: word}
				i = j
				if next < len(s) && s[next] == '{' {
					k, err := skipBalanced(s, next, '{', '}')
					if err != nil {
						return nil, err
					}
					sel.Labels = s[next+1 : k-1]
					i = k
				}
				out = append(out, sel)
			}
		default:
			i++
		}
	}
	return out, nil
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool { return c == '_' || c == ':' || c|0x20 >= 'a' && c|0x20 <= 'z' }
func isIdentChar(c byte) bool  { return isIdentStart(c) || isDigit(c) }

// skipString returns the index after the string literal starting at s[i].
func skipString(s string, i int) (int, error) {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch {
		case s[j] == '\\' && q != '`':
			j++
		case s[j] == q:
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("unterminated string at %q", s[i:])
}

// skipBalanced returns the index after the bracket that closes s[i] == open, skipping
// strings.
func skipBalanced(s string, i int, open, close byte) (int, error) {
	depth := 0
	for j := i; j < len(s); j++ {
		switch s[j] {
		case '"', '\'', '`':
			k, err := skipString(s, j)
			if err != nil {
				return 0, err
			}
			j = k - 1
		case open:
			depth++
		case close:
			depth--
			if depth == 0 {
				return j + 1, nil
			}
		}
	}
	return 0, fmt.Errorf("unbalanced %c at %q", open, s[i:])
}

func TestPromQLSelectors(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []selector
	}{
		{`up == 0`, []selector{{"up", ""}}},
		{`up{job=~".*segmentd.*"} == 0`, []selector{{"up", `job=~".*segmentd.*"`}}},
		{
			`histogram_quantile(0.99, sum by (job, le) (rate(a_bucket{x="}{"}[5m]))) > 1e-3`,
			[]selector{{"a_bucket", `x="}{"`}},
		},
		{
			"sum by (job, instance) (rate(t_total{result=\"aborted\"}[10m]))\n  / sum without (result) (rate(t_total[10m])) > 0.05\nand on (job, instance) # why\n increase(t_total[10m] offset 5m) >= 3",
			[]selector{{"t_total", `result="aborted"`}, {"t_total", ""}, {"t_total", ""}},
		},
		{`sum(rate(x_total{job=~"$job", instance=~"$instance"}[$__rate_interval])) / ${scale}`,
			[]selector{{"x_total", `job=~"$job", instance=~"$instance"`}}},
		{`job:x:p99_5m * on (job) group_left (team) info`, []selector{{"job:x:p99_5m", ""}, {"info", ""}}},
		{`topk(3, max_over_time(y[1h:5m])) or vector(0) unless Inf`, []selector{{"y", ""}}},
	} {
		got, err := promqlSelectors(tc.expr)
		if err != nil {
			t.Errorf("promqlSelectors(%q): %v", tc.expr, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("promqlSelectors(%q)\n got %q\nwant %q", tc.expr, got, tc.want)
		}
	}
	for _, expr := range []string{
		`histogram_quantil(0.9, x)`,
		`{__name__="x"}`,
		`x{a="b"`,
		`x{a="b}`,
	} {
		if got, err := promqlSelectors(expr); err == nil {
			t.Errorf("promqlSelectors(%q) = %q, want an error", expr, got)
		}
	}
}
