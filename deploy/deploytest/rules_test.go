package deploytest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/segmentd/segmentd/internal/testenv"
	"go.yaml.in/yaml/v3"
)

// requiredAlerts are the alerts issue 6 asks for; each must exist.
var requiredAlerts = []string{
	"SegmentdConsumerLagGrowing",
	"SegmentdDeadLetters",
	"SegmentdTimerLatenessHigh",
	"SegmentdNotReady",
	"SegmentdTargetDown",
	"SegmentdTransactionAborts",
	"SegmentdRestoreStuck",
	"SegmentdEventToOutputLatencyHigh",
	"SegmentdAbsent", // fires when there is no target at all (issue 18)
}

// rule is one rule of the rule file. The file's schema is closed: a key that is no
// field here (or of ruleGroup) fails loadRules, as it fails Prometheus.
type rule struct {
	Group         string            `yaml:"-"`
	Alert         string            `yaml:"alert"`
	Record        string            `yaml:"record"`
	Expr          string            `yaml:"expr"`
	For           string            `yaml:"for"`
	KeepFiringFor string            `yaml:"keep_firing_for"`
	Labels        map[string]string `yaml:"labels"`
	Annotations   map[string]string `yaml:"annotations"`
}

func (r rule) name() string { return r.Alert + r.Record }

// ruleGroup is a group of the rule file. Interval, QueryOffset, Limit and Labels are
// there so that keys Prometheus accepts are not unknown; promtool checks their values.
type ruleGroup struct {
	Name        string            `yaml:"name"`
	Interval    string            `yaml:"interval"`
	QueryOffset string            `yaml:"query_offset"`
	Limit       int               `yaml:"limit"`
	Labels      map[string]string `yaml:"labels"`
	Rules       []rule            `yaml:"rules"`
}

// readYAML decodes the repository file rel, which must hold one YAML document, into
// out. With knownFields, a key that is no field of out is an error.
func readYAML(t *testing.T, rel string, out any, knownFields bool) {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(readRepoFile(t, rel)))
	dec.KnownFields(knownFields)
	if err := dec.Decode(out); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		t.Fatalf("%s: a second YAML document at line %d; want one", rel, next.Line)
	case !errors.Is(err, io.EOF):
		t.Fatalf("%s: after the first document: %v", rel, err)
	}
}

// loadRules reads the rule file into its rules.
func loadRules(t *testing.T) []rule {
	t.Helper()
	var file struct {
		Groups []ruleGroup `yaml:"groups"`
	}
	readYAML(t, rulesPath, &file, true)
	var rules []rule
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			r.Group = g.Name
			rules = append(rules, r)
		}
	}
	return rules
}

func TestPromtoolCheckRules(t *testing.T) {
	runPromtool(t, testenv.RepoRoot(t), "check", "rules", rulesPath)
}

func TestPromtoolTestRules(t *testing.T) {
	runPromtool(t, testenv.RepoRoot(t), "test", "rules", ruleTestsPath)
}

var (
	promDurationRE = regexp.MustCompile(`^([0-9]+(ms|s|m|h|d|w|y))+$`)
	recordNameRE   = regexp.MustCompile(`^[a-zA-Z_]+:[a-zA-Z0-9_]+:[a-zA-Z0-9_]+$`)
	templateRE     = regexp.MustCompile(`\{\{\s*(\$labels\.[a-z_]+|\$value)\b`)
	severities     = map[string]bool{"critical": true, "warning": true, "info": true}
)

// TestAlertRules checks what promtool does not: every alert waits (for:), has a
// severity, says what fired with templates, and links to its runbook section
// (runbook_url); every
// recording rule follows level:metric:operations; every metric named exists.
func TestAlertRules(t *testing.T) {
	rules := loadRules(t)
	anchors := markdownAnchors(string(readRepoFile(t, runbookPath)))
	records := recordNames(rules)
	seen := map[string]bool{}
	for _, r := range rules {
		name := r.name()
		switch {
		case (r.Alert == "") == (r.Record == ""):
			t.Errorf("group %s: a rule needs exactly one of alert and record (have %q, %q)", r.Group, r.Alert, r.Record)
			continue
		case seen[name]:
			t.Errorf("%s: defined twice", name)
		case strings.TrimSpace(r.Expr) == "":
			t.Errorf("%s: empty expr", name)
		}
		seen[name] = true
		checkExprMetrics(t, name, r.Expr, records)
		if r.Record != "" {
			if !recordNameRE.MatchString(r.Record) {
				t.Errorf("recording rule %s: want a level:metric:operations name", r.Record)
			}
			continue
		}
		if !promDurationRE.MatchString(r.For) || strings.Trim(r.For, "0smhdwy") == "" {
			t.Errorf("%s: for: %q, want a positive duration so that a blip does not page", name, r.For)
		}
		if !severities[r.Labels["severity"]] {
			t.Errorf("%s: severity label %q, want critical, warning or info", name, r.Labels["severity"])
		}
		for _, a := range []string{"summary", "description", "runbook_url"} {
			if strings.TrimSpace(r.Annotations[a]) == "" {
				t.Errorf("%s: no %s annotation", name, a)
			}
		}
		if _, ok := r.Annotations["runbook"]; ok {
			t.Errorf("%s: a runbook annotation: name it runbook_url, which Alertmanager integrations and Grafana link", name)
		}
		// An absent() alert has no labels to name, and its value is always 1.
		absent := strings.HasPrefix(strings.TrimSpace(r.Expr), "absent(")
		if !absent && !templateRE.MatchString(r.Annotations["summary"]+r.Annotations["description"]) {
			t.Errorf("%s: summary and description name neither {{ $labels.x }} nor {{ $value }}", name)
		}
		anchor := strings.ToLower(r.Alert)
		if want := runbookURLBase + "#" + anchor; r.Annotations["runbook_url"] != want {
			t.Errorf("%s: runbook_url %q, want %q", name, r.Annotations["runbook_url"], want)
		}
		if !anchors[anchor] {
			t.Errorf("%s: %s has no section %q (a heading \"### %s\")", name, runbookPath, anchor, r.Alert)
		}
	}
	for _, a := range requiredAlerts {
		if !seen[a] {
			t.Errorf("alert %s is missing", a)
		}
	}
}

func recordNames(rules []rule) map[string]bool {
	records := map[string]bool{}
	for _, r := range rules {
		if r.Record != "" {
			records[r.Record] = true
		}
	}
	return records
}

// checkExprMetrics fails the test for each metric in expr that is neither known nor one
// of records, and returns the known metrics it reads.
func checkExprMetrics(t *testing.T, where, expr string, records map[string]bool) []selector {
	t.Helper()
	sels, err := promqlSelectors(expr)
	if err != nil {
		t.Errorf("%s: %v", where, err)
		return nil
	}
	var known []selector
	for _, s := range sels {
		if records[s.Metric] {
			continue
		}
		base, err := resolveSeries(s.Metric)
		if err != nil {
			t.Errorf("%s: %v", where, err)
			continue
		}
		known = append(known, selector{Metric: base, Labels: s.Labels})
	}
	return known
}

// markdownAnchors returns the GitHub anchors of the headings of a Markdown document.
func markdownAnchors(md string) map[string]bool {
	anchors := map[string]bool{}
	for _, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		title := strings.TrimSpace(strings.TrimLeft(line, "#"))
		var b strings.Builder
		for _, r := range strings.ToLower(title) {
			switch {
			case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
				b.WriteRune(r)
			case r == ' ':
				b.WriteByte('-')
			}
		}
		anchors[b.String()] = true
	}
	return anchors
}

// TestAlertRuleTests checks the promtool unit tests themselves: each alert has a case
// where it fires and one where it does not, each recording rule is evaluated, and the
// input series are metrics that exist.
func TestAlertRuleTests(t *testing.T) {
	rules := loadRules(t)
	records := recordNames(rules)
	// The part of promtool's test file format these checks read; promtool reads the rest.
	var file struct {
		RuleFiles []string `yaml:"rule_files"`
		Tests     []struct {
			Name        string `yaml:"name"`
			InputSeries []struct {
				Series string `yaml:"series"`
			} `yaml:"input_series"`
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
				// nil when the key is missing or null, empty for [].
				ExpAlerts []map[string]any `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
			PromQLExprTest []struct {
				Expr string `yaml:"expr"`
			} `yaml:"promql_expr_test"`
		} `yaml:"tests"`
	}
	readYAML(t, ruleTestsPath, &file, false)
	if len(file.RuleFiles) != 1 || file.RuleFiles[0] != "segmentd-alerts.yaml" {
		t.Fatalf("%s: rule_files: %q, want [segmentd-alerts.yaml]", ruleTestsPath, file.RuleFiles)
	}
	firing, quiet := map[string]int{}, map[string]int{}
	var exprs []string
	for _, tc := range file.Tests {
		where := fmt.Sprintf("test %q", tc.Name)
		if tc.InputSeries == nil {
			t.Errorf("%s: no input_series", where)
		}
		for _, s := range tc.InputSeries {
			metric, _, _ := strings.Cut(s.Series, "{")
			if _, err := resolveSeries(metric); err != nil && !records[metric] {
				t.Errorf("%s: input series %s: %v", where, s.Series, err)
			}
		}
		for _, c := range tc.AlertRuleTest {
			switch {
			case c.ExpAlerts == nil:
				t.Errorf("%s: %s: no exp_alerts (write [] for none)", where, c.Alertname)
			case len(c.ExpAlerts) == 0:
				quiet[c.Alertname]++
			default:
				firing[c.Alertname]++
			}
		}
		for _, c := range tc.PromQLExprTest {
			exprs = append(exprs, c.Expr)
			checkExprMetrics(t, where, c.Expr, records)
		}
	}
	for _, r := range rules {
		switch {
		case r.Alert != "" && (firing[r.Alert] == 0 || quiet[r.Alert] == 0):
			t.Errorf("alert %s: %d firing and %d not-firing test cases; want at least one of each", r.Alert, firing[r.Alert], quiet[r.Alert])
		case r.Record != "" && !containsWord(exprs, r.Record):
			t.Errorf("recording rule %s: no promql_expr_test evaluates it", r.Record)
		}
	}
	for a := range firing {
		if !slicesContainsAlert(rules, a) {
			t.Errorf("alert_rule_test for %s, which is not an alert", a)
		}
	}
}

func containsWord(exprs []string, name string) bool {
	for _, e := range exprs {
		sels, err := promqlSelectors(e)
		if err != nil {
			continue
		}
		for _, s := range sels {
			if s.Metric == name {
				return true
			}
		}
	}
	return false
}

func slicesContainsAlert(rules []rule, alert string) bool {
	for _, r := range rules {
		if r.Alert == alert {
			return true
		}
	}
	return false
}
