package harness

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBackfillLog: the follower counts each (partition, segment) "segment
// backfilled" once, only for the segments it keeps, counts step modes, and leaves
// an incomplete last line for the next read.
func TestBackfillLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "segmentd.log")
	first := `{"time":"2026-12-08T01:00:00Z","level":"INFO","msg":"started"}
{"time":"2026-12-08T01:00:01Z","level":"DEBUG","msg":"segment step backfilled","partition":0,"segment":"a.myshopify.com/burst-000","version":1,"mode":"algebra","candidates":0}
{"time":"2026-12-08T01:00:01Z","level":"INFO","msg":"segment backfilled","partition":0,"segment":"a.myshopify.com/burst-000","version":1}
{"time":"2026-12-08T01:00:02Z","level":"INFO","msg":"segment backfilled","partition":0,"segment":"a.myshopify.com/burst-000","version":1}
{"time":"2026-12-08T01:00:02Z","level":"INFO","msg":"segment backfilled","partition":0,"segment":"a.myshopify.com/other","version":1}
{"time":"2026-12-08T01:00:02Z","level":"DEBUG","msg":"segment step backfilled","partition":1,"segment":"a.myshopify.com/burst-000","version":1,"mode":"scan","candidates":0}
{"time":"2026-12-08T01:00:03Z","level":"INFO","msg":"segment backfilled","partition":1,"segment":"a.myshopify.com/burst-000","version":1}
{"time":"2026-12-08T01:00:04Z","level":"INFO","msg":"segment backf`
	if err := os.WriteFile(path, []byte(first), 0o644); err != nil {
		t.Fatal(err)
	}
	bl := newBackfillLog(0, func(s string) bool { return strings.Contains(s, "/burst-") })
	if err := bl.read(path); err != nil {
		t.Fatal(err)
	}
	if bl.pairs != 2 || bl.complete(2) != 1 || bl.complete(3) != 0 {
		t.Errorf("pairs %d, complete(2) %d, complete(3) %d; want 2, 1, 0", bl.pairs, bl.complete(2), bl.complete(3))
	}
	if bl.steps["algebra"] != 1 || bl.steps["scan"] != 1 {
		t.Errorf("steps %v", bl.steps)
	}
	if want := time.Date(2026, 12, 8, 1, 0, 3, 0, time.UTC); !bl.last.Equal(want) {
		t.Errorf("last %v, want %v", bl.last, want)
	}
	if want := int64(strings.LastIndexByte(first, '\n') + 1); bl.off != want {
		t.Errorf("offset %d, want %d (the incomplete line left)", bl.off, want)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`illed","partition":2,"segment":"a.myshopify.com/burst-000","version":1}` + "\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := bl.read(path); err != nil {
		t.Fatal(err)
	}
	if bl.pairs != 3 || bl.complete(3) != 1 {
		t.Errorf("after the rest of the line: pairs %d, complete(3) %d; want 3, 1", bl.pairs, bl.complete(3))
	}
	// From an offset: the lines before it are not counted.
	bl = newBackfillLog(int64(strings.Index(first, `{"time":"2026-12-08T01:00:03Z"`)), nil)
	if err := bl.read(path); err != nil {
		t.Fatal(err)
	}
	if bl.pairs != 2 || len(bl.steps) != 0 {
		t.Errorf("from an offset: pairs %d, steps %v; want 2 and none", bl.pairs, bl.steps)
	}
}

const modeMetrics0 = `segmentd_backfill_contacts_total{mode="algebra"} 100
segmentd_backfill_contacts_total{mode="scan"} 50
segmentd_backfill_contacts_read_total{mode="algebra"} 10
segmentd_backfill_contacts_read_total{mode="scan"} 50
`

const modeMetrics1 = `segmentd_backfill_contacts_total{mode="algebra"} 1100
segmentd_backfill_contacts_total{mode="scan"} 50
segmentd_backfill_contacts_read_total{mode="algebra"} 30
segmentd_backfill_contacts_read_total{mode="scan"} 50
`

func TestBackfillModes(t *testing.T) {
	m0, err := parseMetrics(strings.NewReader(modeMetrics0))
	if err != nil {
		t.Fatal(err)
	}
	m1, err := parseMetrics(strings.NewReader(modeMetrics1))
	if err != nil {
		t.Fatal(err)
	}
	// From the metrics alone: the modes whose passed contacts grew.
	bm := backfillModes(m0, m1, nil)
	if bm.Mode != "algebra" || bm.ContactsByMode["algebra"] != 1000 || bm.ContactsByMode["scan"] != 0 || bm.ReadByMode["algebra"] != 20 {
		t.Errorf("from the metrics: %+v", bm)
	}
	if s := bm.String(); !strings.HasPrefix(s, "algebra (algebra: 0 partition steps, 1000 contacts passed, 20 read from the store") || strings.Contains(s, "scan:") {
		t.Errorf("String() = %q", s)
	}
	// The step log decides when it has lines.
	bm = backfillModes(m0, m1, map[string]int{"algebra": 4, "scan": 2})
	if bm.Mode != "algebra+scan" {
		t.Errorf("with steps of both: mode %q", bm.Mode)
	}
	// A segmentd without the mode label.
	old, err := parseMetrics(strings.NewReader("segmentd_backfill_contacts_total 7\n"))
	if err != nil {
		t.Fatal(err)
	}
	bm = backfillModes(old, old, nil)
	if bm.Mode != "" || bm.ContactsByMode != nil || !strings.Contains(bm.String(), "unknown") {
		t.Errorf("without labels: %+v %q", bm, bm.String())
	}
}

func TestCheckPreview(t *testing.T) {
	for _, tc := range []struct {
		route, body string
		count       int64
		err         string
	}{
		{previewRoutes[0], `{"count":12,"sample":[1,5,9],"partitions":[0,1]}`, 12, ""},
		{previewRoutes[0], `{"count":0,"sample":[]}`, 0, ""},
		{previewRoutes[0], `{"sample":[]}`, 0, `no "count"`},
		{previewRoutes[0], `{"count":3,"sample":null}`, 0, "not a list"},
		{previewRoutes[0], `{"count":3,"sample":[5,1]}`, 0, "not sorted"},
		{previewRoutes[0], `{"count":-1,"sample":[]}`, 0, "not a count"},
		{previewRoutes[0], `<html>`, 0, "not a JSON object"},
		{previewRoutes[1], `{"members":10,"matching":8,"would_enter":3,"would_leave":5,"sample_entering":[2],"sample_leaving":[1,4]}`, 8, ""},
		{previewRoutes[1], `{"members":10,"matching":8,"would_enter":3,"would_leave":4,"sample_entering":[],"sample_leaving":[]}`, 0, "inconsistent"},
		{previewRoutes[1], `{"members":10,"matching":8,"would_enter":3,"would_leave":5,"sample_entering":[]}`, 0, `no "sample_leaving"`},
		{previewRoutes[2], `{"count":41,"partitions":[0]}`, 41, ""},
		{previewRoutes[2], `{"count":"41"}`, 0, "not a count"},
	} {
		n, err := checkPreview(tc.route, []byte(tc.body))
		if tc.err == "" {
			if err != nil || n != tc.count {
				t.Errorf("%s %s: %d, %v; want %d", previewName(tc.route), tc.body, n, err, tc.count)
			}
		} else if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s %s: error %v, want one containing %q", previewName(tc.route), tc.body, err, tc.err)
		}
	}
}

func TestBurstDefinitions(t *testing.T) {
	wss := []string{"a.myshopify.com", "b.myshopify.com", "c.myshopify.com"}
	segs, err := burstDefinitions(wss, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	keys := map[string]bool{}
	for _, s := range segs {
		per[s.Workspace]++
		if keys[string(s.Key)] {
			t.Errorf("duplicate key %s", s.Key)
		}
		keys[string(s.Key)] = true
		if !strings.Contains(string(s.Key), "/burst-") || s.Def == nil {
			t.Errorf("segment %s: not a parsed burst definition", s.Key)
		}
	}
	if len(segs) != 10 || per[wss[0]] != 4 || per[wss[1]] != 3 || per[wss[2]] != 3 {
		t.Errorf("%d definitions, per shop %v; want 10 as 4, 3, 3", len(segs), per)
	}
	if segs, err := burstDefinitions(wss, 0, 1); err != nil || segs != nil {
		t.Errorf("none: %v, %v", segs, err)
	}
}

func TestEstimateBodyAndWithoutID(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ids := []string{"s1", "s2", "s3", "s4"}
	sawExclude := false
	for range 50 {
		var req struct {
			Include []map[string]string `json:"include"`
			Exclude []map[string]string `json:"exclude"`
		}
		if err := json.Unmarshal(estimateBody(rng, ids), &req); err != nil {
			t.Fatal(err)
		}
		if len(req.Include) < 1 || len(req.Include) > 3 || len(req.Exclude) > 1 {
			t.Fatalf("include %v, exclude %v", req.Include, req.Exclude)
		}
		seen := map[string]bool{}
		for _, r := range append(req.Include, req.Exclude...) {
			if len(r) != 1 || r["segment"] == "" || seen[r["segment"]] {
				t.Fatalf("refs %v %v: want distinct segment refs", req.Include, req.Exclude)
			}
			seen[r["segment"]] = true
		}
		sawExclude = sawExclude || len(req.Exclude) == 1
	}
	if !sawExclude {
		t.Error("no estimate with an exclusion in 50 draws")
	}
	b, err := withoutID([]byte(`{"workspace":"a.myshopify.com","id":"x","groups":[]}`))
	if err != nil || strings.Contains(string(b), `"id"`) || !strings.Contains(string(b), `"workspace":"a.myshopify.com"`) {
		t.Errorf("withoutID: %s, %v", b, err)
	}
}

func TestLatencySummary(t *testing.T) {
	var lats []time.Duration
	for i := 100; i >= 1; i-- {
		lats = append(lats, time.Duration(i)*time.Millisecond)
	}
	p50, p99, mx, mean := latencySummary(lats)
	if p50 != 51 || p99 != 100 || mx != 100 || mean != 50.5 {
		t.Errorf("p50 %v, p99 %v, max %v, mean %v", p50, p99, mx, mean)
	}
	if lats[0] != 100*time.Millisecond {
		t.Error("latencySummary sorted its argument")
	}
	if p50, _, _, _ := latencySummary(nil); !math.IsNaN(p50) {
		t.Errorf("no samples: p50 %v", p50)
	}
}

func TestIssue14TargetsAndReport(t *testing.T) {
	res := sampleResults()
	res.Backfill.BackfillModes = BackfillModes{Mode: "algebra", StepsByMode: map[string]int{"algebra": 6}}
	res.Backfill.SecondsFor1M = 0.8
	res.Restore = &Restore{Contacts: 50000, Records: 200000, RecordsPerSecond: 200000, SecondsFor1M: 20, SecondsFor1MCompacted: 5, RecordsPerContact: 4, Partitions: 6}
	res.Definitions = &Definitions{Definitions: 40, Workspaces: 2, Contacts: 50000, Partitions: 6, Seconds: 0.5, DefinitionsPerSecond: 80,
		Backfilled: 240, Segments: 40, BackfillModes: BackfillModes{Mode: "scan"}}
	res.Preview = &Preview{Workspace: "a.myshopify.com", Contacts: 33000, Endpoints: []PreviewEndpoint{
		{Route: previewRoutes[0], Requests: 50, P50Ms: 3, P99Ms: 20, MaxMs: 25, MinCount: 0, MaxCount: 900},
		{Route: previewRoutes[1], Requests: 50, P50Ms: 4, P99Ms: 120, MaxMs: 130},
		{Route: previewRoutes[2], Requests: 50, P50Ms: 1, P99Ms: 2, MaxMs: 2},
	}}
	res.Targets14 = evaluateTargets14(res)
	met := map[string]bool{}
	for _, tg := range res.Targets14 {
		met[tg.Name] = tg.Met
	}
	want := map[string]bool{
		"new segment over the largest shop":                               true,
		"10,000 definitions created at once":                              false, // 0.5 s × 10,000/40 = 125 s > 60 s
		"segments:preview / change preview / audiences:estimate p99":      false,
		"1M-contact partition restored (compacted changelog) incl. index": true,
		"RSS per contact, index included":                                 false,
	}
	if len(met) != len(want) {
		t.Fatalf("targets %+v", res.Targets14)
	}
	for name, w := range want {
		if got, ok := met[name]; !ok || got != w {
			t.Errorf("target %q: met %v (present %v), want %v", name, got, ok, w)
		}
	}
	md := Markdown(res)
	for _, s := range []string{
		"**Issue 14 targets:**",
		"| `POST /v1/workspaces/{ws}/segments/{id}:preview` | 50 | 0 | 4.0 ms | **120.0 ms** | 130.0 ms |",
		"All backfilled in **0.50 s** (80.0 definitions/s)",
		"measured with 40 definitions, 125.0 s for 10,000 extrapolated linearly",
		"Path: algebra (algebra: 6 partition steps",
		"segments:preview 20.0 ms, change preview 120.0 ms, audiences:estimate 2.0 ms",
	} {
		if !strings.Contains(md, s) {
			t.Errorf("markdown lacks %q:\n%s", s, md)
		}
	}
	// A burst that timed out is reported as such, not met, and not extrapolated.
	res.Definitions.TimedOut, res.Definitions.TimeoutSeconds, res.Definitions.PendingAtEnd, res.Definitions.Segments = true, 120, 37, 3
	res.Targets14 = evaluateTargets14(res)
	md = Markdown(res)
	if !strings.Contains(md, "**Timed out after 120 s, 37 backfills pending**: 3 of 40") || !strings.Contains(md, "timed out after 120 s, 37 pending") {
		t.Errorf("timed-out burst:\n%s", md)
	}
	for _, tg := range res.Targets14 {
		if tg.Name == "10,000 definitions created at once" && (tg.Met || strings.Contains(tg.Note, "extrapolated")) {
			t.Errorf("timed-out burst target %+v", tg)
		}
	}
	// The results round-trip through JSON (the plot command redraws from it).
	js, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var back Results
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if back.Definitions == nil || back.Preview == nil || len(back.Targets14) != 5 || back.Backfill.Mode != "algebra" {
		t.Errorf("round trip lost the issue 14 figures: %s", js)
	}
}
