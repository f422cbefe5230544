package deploytest

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
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

type rule struct {
	group       string
	alert       string
	record      string
	expr        string
	forDuration string
	labels      map[string]string
	annotations map[string]string
}

func (r rule) name() string { return r.alert + r.record }

// loadRules reads the rule file into its rules.
func loadRules(t *testing.T) []rule {
	t.Helper()
	doc, err := parseYAML(string(readRepoFile(t, rulesPath)))
	if err != nil {
		t.Fatalf("%s: %v", rulesPath, err)
	}
	var rules []rule
	err = func() error {
		top, err := asMap(doc, "top level")
		if err != nil {
			return err
		}
		groups, err := asList(top["groups"], "groups")
		if err != nil {
			return err
		}
		for gi, g := range groups {
			gm, err := asMap(g, fmt.Sprintf("groups[%d]", gi))
			if err != nil {
				return err
			}
			gname, _ := gm["name"].(string)
			rs, err := asList(gm["rules"], fmt.Sprintf("group %s: rules", gname))
			if err != nil {
				return err
			}
			for ri, r := range rs {
				where := fmt.Sprintf("group %s: rules[%d]", gname, ri)
				rm, err := asMap(r, where)
				if err != nil {
					return err
				}
				for k := range rm {
					if !strings.Contains(" alert record expr for keep_firing_for labels annotations ", " "+k+" ") {
						return fmt.Errorf("%s: unknown key %q", where, k)
					}
				}
				x := rule{group: gname}
				x.alert, _ = rm["alert"].(string)
				x.record, _ = rm["record"].(string)
				x.expr, _ = rm["expr"].(string)
				x.forDuration, _ = rm["for"].(string)
				if x.labels, err = asStringMap(rm["labels"], where+": labels"); err != nil {
					return err
				}
				if x.annotations, err = asStringMap(rm["annotations"], where+": annotations"); err != nil {
					return err
				}
				rules = append(rules, x)
			}
		}
		return nil
	}()
	if err != nil {
		t.Fatalf("%s: %v", rulesPath, err)
	}
	return rules
}

func asMap(v any, what string) (map[string]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: want a mapping, have %T", what, v)
	}
	return m, nil
}

func asList(v any, what string) ([]any, error) {
	l, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: want a sequence, have %T", what, v)
	}
	return l, nil
}

func asStringMap(v any, what string) (map[string]string, error) {
	if v == nil {
		return nil, nil
	}
	m, err := asMap(v, what)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(m))
	for k, x := range m {
		s, ok := x.(string)
		if !ok {
			return nil, fmt.Errorf("%s: %s: want a string, have %T", what, k, x)
		}
		out[k] = s
	}
	return out, nil
}

func TestPromtoolCheckRules(t *testing.T) {
	runPromtool(t, repoRoot(t), "check", "rules", rulesPath)
}

func TestPromtoolTestRules(t *testing.T) {
	runPromtool(t, repoRoot(t), "test", "rules", ruleTestsPath)
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
		case (r.alert == "") == (r.record == ""):
			t.Errorf("group %s: a rule needs exactly one of alert and record (have %q, %q)", r.group, r.alert, r.record)
			continue
		case seen[name]:
			t.Errorf("%s: defined twice", name)
		case strings.TrimSpace(r.expr) == "":
			t.Errorf("%s: empty expr", name)
		}
		seen[name] = true
		checkExprMetrics(t, name, r.expr, records)
		if r.record != "" {
			if !recordNameRE.MatchString(r.record) {
				t.Errorf("recording rule %s: want a level:metric:operations name", r.record)
			}
			continue
		}
		if !promDurationRE.MatchString(r.forDuration) || strings.Trim(r.forDuration, "0smhdwy") == "" {
			t.Errorf("%s: for: %q, want a positive duration so that a blip does not page", name, r.forDuration)
		}
		if !severities[r.labels["severity"]] {
			t.Errorf("%s: severity label %q, want critical, warning or info", name, r.labels["severity"])
		}
		for _, a := range []string{"summary", "description", "runbook_url"} {
			if strings.TrimSpace(r.annotations[a]) == "" {
				t.Errorf("%s: no %s annotation", name, a)
			}
		}
		if _, ok := r.annotations["runbook"]; ok {
			t.Errorf("%s: a runbook annotation: name it runbook_url, which Alertmanager integrations and Grafana link", name)
		}
		// An absent() alert has no labels to name, and its value is always 1.
		absent := strings.HasPrefix(strings.TrimSpace(r.expr), "absent(")
		if !absent && !templateRE.MatchString(r.annotations["summary"]+r.annotations["description"]) {
			t.Errorf("%s: summary and description name neither {{ $labels.x }} nor {{ $value }}", name)
		}
		anchor := strings.ToLower(r.alert)
		if want := runbookURLBase + "#" + anchor; r.annotations["runbook_url"] != want {
			t.Errorf("%s: runbook_url %q, want %q", name, r.annotations["runbook_url"], want)
		}
		if !anchors[anchor] {
			t.Errorf("%s: %s has no section %q (a heading \"### %s\")", name, runbookPath, anchor, r.alert)
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
		if r.record != "" {
			records[r.record] = true
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
	doc, err := parseYAML(string(readRepoFile(t, ruleTestsPath)))
	if err != nil {
		t.Fatalf("%s: %v", ruleTestsPath, err)
	}
	firing, quiet := map[string]int{}, map[string]int{}
	var exprs []string
	err = func() error {
		top, err := asMap(doc, "top level")
		if err != nil {
			return err
		}
		files, err := asList(top["rule_files"], "rule_files")
		if err != nil {
			return err
		}
		if len(files) != 1 || files[0] != "segmentd-alerts.yaml" {
			return fmt.Errorf("rule_files: %q, want [segmentd-alerts.yaml]", files)
		}
		tests, err := asList(top["tests"], "tests")
		if err != nil {
			return err
		}
		for ti, tc := range tests {
			tm, err := asMap(tc, fmt.Sprintf("tests[%d]", ti))
			if err != nil {
				return err
			}
			where := fmt.Sprintf("test %q", tm["name"])
			series, err := asList(tm["input_series"], where+": input_series")
			if err != nil {
				return err
			}
			for _, s := range series {
				sm, err := asMap(s, where+": input_series")
				if err != nil {
					return err
				}
				name, _ := sm["series"].(string)
				metric, _, _ := strings.Cut(name, "{")
				if _, err := resolveSeries(metric); err != nil && !records[metric] {
					t.Errorf("%s: input series %s: %v", where, name, err)
				}
			}
			if v := tm["alert_rule_test"]; v != nil {
				cases, err := asList(v, where+": alert_rule_test")
				if err != nil {
					return err
				}
				for _, c := range cases {
					cm, err := asMap(c, where+": alert_rule_test")
					if err != nil {
						return err
					}
					alert, _ := cm["alertname"].(string)
					exp, err := asList(cm["exp_alerts"], fmt.Sprintf("%s: %s: exp_alerts (write [] for none)", where, alert))
					if err != nil {
						return err
					}
					if len(exp) == 0 {
						quiet[alert]++
					} else {
						firing[alert]++
					}
				}
			}
			if v := tm["promql_expr_test"]; v != nil {
				cases, err := asList(v, where+": promql_expr_test")
				if err != nil {
					return err
				}
				for _, c := range cases {
					cm, err := asMap(c, where+": promql_expr_test")
					if err != nil {
						return err
					}
					expr, _ := cm["expr"].(string)
					exprs = append(exprs, expr)
					checkExprMetrics(t, where, expr, records)
				}
			}
		}
		return nil
	}()
	if err != nil {
		t.Fatalf("%s: %v", ruleTestsPath, err)
	}
	for _, r := range rules {
		switch {
		case r.alert != "" && (firing[r.alert] == 0 || quiet[r.alert] == 0):
			t.Errorf("alert %s: %d firing and %d not-firing test cases; want at least one of each", r.alert, firing[r.alert], quiet[r.alert])
		case r.record != "" && !containsWord(exprs, r.record):
			t.Errorf("recording rule %s: no promql_expr_test evaluates it", r.record)
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
		if r.alert == alert {
			return true
		}
	}
	return false
}
