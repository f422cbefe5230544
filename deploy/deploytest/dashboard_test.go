package deploytest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/segmentd/segmentd/internal/testenv"
)

type dashboard struct {
	Title         string  `json:"title"`
	UID           string  `json:"uid"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []templateVar `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int            `json:"id"`
	Type       string         `json:"type"`
	Title      string         `json:"title"`
	GridPos    *gridPos       `json:"gridPos"`
	Datasource *datasourceRef `json:"datasource"`
	Targets    []target       `json:"targets"`
	Panels     []panel        `json:"panels"` // a collapsed row's
}

type gridPos struct{ H, W, X, Y int }

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type target struct {
	Expr       string         `json:"expr"`
	RefID      string         `json:"refId"`
	Datasource *datasourceRef `json:"datasource"`
}

type templateVar struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Definition string          `json:"definition"`
	Datasource *datasourceRef  `json:"datasource"`
}

// queryText is a query variable's query: a string, or {"query": "..."}.
func (v templateVar) queryText() string {
	var s string
	if json.Unmarshal(v.Query, &s) == nil {
		return s
	}
	var q struct{ Query string }
	if json.Unmarshal(v.Query, &q) == nil {
		return q.Query
	}
	return ""
}

// dashboardRows are the rows issue 6 asks for, by title.
var dashboardRows = []string{
	"Throughput", "Transitions", "Dead letters", "Latency", "Evaluation", "Consumer lag",
	"Transactions", "Timers", "Restore and backfill", "Pebble", "Go runtime", "Admin API",
}

const datasourceUID = "${datasource}"

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(readRepoFile(t, dashboardPath)))
	var d dashboard
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s: %v", dashboardPath, err)
	}
	return d
}

// allPanels is every panel, rows and the panels inside collapsed rows included.
func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

func TestDashboardStructure(t *testing.T) {
	d := loadDashboard(t)
	if d.Title == "" || d.UID == "" {
		t.Errorf("title %q, uid %q: want both", d.Title, d.UID)
	}
	if d.SchemaVersion < 36 {
		t.Errorf("schemaVersion %d: want a current one (39)", d.SchemaVersion)
	}

	vars := map[string]templateVar{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v
	}
	if v, ok := vars["datasource"]; !ok || v.Type != "datasource" || v.queryText() != "prometheus" {
		t.Errorf("templating: want a variable datasource of type datasource, query prometheus; have %+v", v)
	}
	for _, name := range []string{"job", "instance"} {
		v, ok := vars[name]
		switch {
		case !ok:
			t.Errorf("templating: no %s variable", name)
		case v.Type != "query" || v.Datasource == nil || v.Datasource.UID != datasourceUID:
			t.Errorf("templating: %s: want a query variable on %s, have type %q, datasource %+v", name, datasourceUID, v.Type, v.Datasource)
		case !strings.HasPrefix(v.queryText(), "label_values("):
			t.Errorf("templating: %s: query %q, want label_values(...)", name, v.queryText())
		}
	}

	ids := map[int]string{}
	var rows []string
	var placed []panel
	for _, p := range allPanels(d.Panels) {
		where := fmt.Sprintf("panel %d %q", p.ID, p.Title)
		if p.ID <= 0 {
			t.Errorf("%s: want a positive id", where)
		} else if other, dup := ids[p.ID]; dup {
			t.Errorf("%s: id also used by %q", where, other)
		}
		ids[p.ID] = p.Title
		if p.Title == "" {
			t.Errorf("%s: no title", where)
		}
		g := p.GridPos
		if g == nil || g.W <= 0 || g.H <= 0 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
			t.Errorf("%s: gridPos %+v: want h, w > 0 inside the 24-column grid", where, g)
		} else {
			for _, q := range placed {
				if overlap(*g, *q.GridPos) {
					t.Errorf("%s: overlaps panel %d %q", where, q.ID, q.Title)
				}
			}
			placed = append(placed, p)
		}
		if p.Type == "row" {
			rows = append(rows, p.Title)
			continue
		}
		if p.Datasource == nil || p.Datasource.Type != "prometheus" || p.Datasource.UID != datasourceUID {
			t.Errorf("%s: datasource %+v, want {prometheus %s}", where, p.Datasource, datasourceUID)
		}
		if len(p.Targets) == 0 {
			t.Errorf("%s: no targets", where)
		}
		refIDs := map[string]bool{}
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("%s: target %s has no expr", where, tg.RefID)
			}
			if tg.RefID == "" || refIDs[tg.RefID] {
				t.Errorf("%s: target refId %q empty or repeated", where, tg.RefID)
			}
			refIDs[tg.RefID] = true
			if tg.Datasource != nil && tg.Datasource.UID != datasourceUID {
				t.Errorf("%s: target %s: datasource %+v, want %s", where, tg.RefID, tg.Datasource, datasourceUID)
			}
		}
	}
	for _, want := range dashboardRows {
		if !strings.Contains("\x00"+strings.Join(rows, "\x00")+"\x00", "\x00"+want+"\x00") {
			t.Errorf("no row %q (rows: %q)", want, rows)
		}
	}
}

func overlap(a, b gridPos) bool {
	return a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H
}

var labelValuesRE = regexp.MustCompile(`^label_values\((.+),\s*[a-zA-Z_][a-zA-Z0-9_]*\)$`)

// dashboardExprs returns every PromQL expression of the dashboard (panel targets and
// the selectors of label_values variables) by where it is.
func dashboardExprs(t *testing.T, d dashboard) (panels, variables map[string]string) {
	t.Helper()
	panels, variables = map[string]string{}, map[string]string{}
	for _, p := range allPanels(d.Panels) {
		for _, tg := range p.Targets {
			panels[fmt.Sprintf("panel %d %q target %s", p.ID, p.Title, tg.RefID)] = tg.Expr
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := labelValuesRE.FindStringSubmatch(v.queryText())
		if m == nil {
			t.Errorf("variable %s: query %q: want label_values(selector, label)", v.Name, v.queryText())
			continue
		}
		variables["variable "+v.Name] = m[1]
	}
	return panels, variables
}

// TestDashboardMetrics checks that every metric the dashboard reads is known, and that
// every selector of a panel is narrowed by the $job and $instance variables.
func TestDashboardMetrics(t *testing.T) {
	panels, variables := dashboardExprs(t, loadDashboard(t))
	for where, expr := range variables {
		checkExprMetrics(t, where, expr, nil)
	}
	for _, where := range sortedKeys(panels) {
		for _, s := range checkExprMetrics(t, where, panels[where], nil) {
			for _, v := range []string{`job=~"$job"`, `instance=~"$instance"`} {
				if !strings.Contains(s.Labels, v) {
					t.Errorf("%s: %s{%s} lacks %s", where, s.Metric, s.Labels, v)
				}
			}
		}
	}
}

// TestDashboardShowsEverySegmentdMetric: each known segmentd metric has a panel.
func TestDashboardShowsEverySegmentdMetric(t *testing.T) {
	panels, _ := dashboardExprs(t, loadDashboard(t))
	shown := map[string]bool{}
	for _, expr := range panels {
		sels, _ := promqlSelectors(expr)
		for _, s := range sels {
			if base, err := resolveSeries(s.Metric); err == nil {
				shown[base] = true
			}
		}
	}
	for _, name := range sortedKeys(knownMetrics) {
		if strings.HasPrefix(name, "segmentd_") && !shown[name] {
			t.Errorf("%s: no dashboard panel reads it", name)
		}
	}
}

// grafanaVars are stand-ins for the dashboard variables when promtool parses the
// expressions.
var grafanaVars = strings.NewReplacer(
	"$__rate_interval", "5m",
	"$__interval", "1m",
	"$__range", "1h",
	"$job", "segmentd",
	"$instance", "a:8080",
)

// TestDashboardExprsParse has promtool parse every dashboard expression, as recording
// rules of a scratch rule file, with the Grafana variables replaced.
func TestDashboardExprsParse(t *testing.T) {
	panels, variables := dashboardExprs(t, loadDashboard(t))
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, where := range append(sortedKeys(panels), sortedKeys(variables)...) {
		expr, ok := panels[where]
		if !ok {
			expr = variables[where]
		}
		if strings.Contains(grafanaVars.Replace(expr), "$") {
			t.Errorf("%s: a Grafana variable this test does not know: %s", where, expr)
		}
		q, err := json.Marshal(grafanaVars.Replace(expr)) // a JSON string is a YAML scalar
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "      # %s\n      - record: dashboard:expr:%d\n        expr: %s\n", where, i, q)
	}
	path := filepath.Join(t.TempDir(), "dashboard-exprs.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	runPromtool(t, testenv.RepoRoot(t), "check", "rules", path)
}
