package processor

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/segmentd/segmentd/events"
	"github.com/segmentd/segmentd/operators"
	"github.com/segmentd/segmentd/state"
)

func defEntry(t *testing.T, offset int64, def string) *globalEntry {
	t.Helper()
	e := &globalEntry{Offset: offset, Key: ws + "/big"}
	if def != "" {
		d, err := operators.ParseDefinition([]byte(def))
		if err != nil {
			t.Fatal(err)
		}
		e.Def = d
	}
	return e
}

func metaOf(s *segInfo, backfilling bool) state.SegmentMeta {
	return state.SegmentMeta{Incarnation: s.Incarnation, Version: s.Version, RulesKey: s.RulesKey, Deleted: s.Deleted,
		Pos: s.Pos, Backfilling: backfilling}
}

// TestSegmentHistory: each accepted version and the deletion are steps; identical
// re-sends are not; pruning keeps what owned partitions still need and the last
// keepSteps steps; metas of older releases (no position) are found by version.
func TestSegmentHistory(t *testing.T) {
	p := &Processor{rules: newRules(), parts: map[int32]*partition{}}
	r := p.rules
	for i := range 12 {
		r.applySegment(defEntry(t, int64(i), seg("big", fmt.Sprintf(`{"field":"total_spent","op":"gte","value":%d}`, i+1))))
	}
	r.applySegment(defEntry(t, 12, seg("big", `{"field":"total_spent","op":"gte","value":12}`))) // identical
	h := r.history[ws+"/big"]
	if len(h) != 12 || h[0].Version != 1 || h[11].Version != 12 || h[11] != r.segs[ws+"/big"] {
		t.Fatalf("history of %d steps, versions %d..%d", len(h), h[0].Version, h[len(h)-1].Version)
	}
	if i, exact := locateStep(h, &state.SegmentMeta{Incarnation: h[4].Incarnation, Version: 5, RulesKey: h[4].RulesKey}); i != 4 || !exact {
		t.Errorf("meta without position: step %d (exact %v), want 4", i, exact)
	}

	p0, p1 := newPartition(0), newPartition(1)
	p0.meta.Segments = map[string]state.SegmentMeta{ws + "/big": metaOf(h[1], false)} // applied v2
	p1.meta.Segments = map[string]state.SegmentMeta{ws + "/big": metaOf(h[4], true)}  // backfilling v5
	p.parts[0], p.parts[1] = p0, p1
	pruneHistory(p.rules, p.parts)
	if got := r.history[ws+"/big"]; len(got) != 11 || got[0].Version != 2 {
		t.Fatalf("after pruning: %d steps from v%d, want 11 from v2", len(got), got[0].Version)
	}
	p0.meta.Segments[ws+"/big"] = metaOf(h[11], false)
	pruneHistory(p.rules, p.parts)
	if got := r.history[ws+"/big"]; len(got) != 9 || got[0].Version != 4 {
		t.Fatalf("after pruning: %d steps from v%d, want 9 from v4 (v5 is being backfilled)", len(got), got[0].Version)
	}
	p1.meta.Segments[ws+"/big"] = metaOf(h[11], false)
	pruneHistory(p.rules, p.parts)
	if got := r.history[ws+"/big"]; len(got) != keepSteps || got[0].Version != 12-keepSteps+1 {
		t.Fatalf("after pruning: %d steps from v%d, want the last %d", len(got), got[0].Version, keepSteps)
	}

	r.applySegment(defEntry(t, 13, ""))
	got := r.history[ws+"/big"]
	if last := got[len(got)-1]; !last.Deleted || last.Version != 12 || last.Pos != stepPos(0, 13) || r.segs[ws+"/big"] != nil {
		t.Fatalf("deletion step: %+v", last)
	}
	if i := seenStep(got, map[int32]int64{0: 13}); i != len(got)-2 {
		t.Errorf("seen up to offset 13: step %d, want %d", i, len(got)-2)
	}
}

// TestWaitForDefinitions: a partition whose meta applied segment records this
// process has not read waits for them before its reconcile, but not forever.
func TestWaitForDefinitions(t *testing.T) {
	p := &Processor{rules: newRules(), defsWait: map[int32]time.Time{}, cfg: Config{Logger: slog.New(slog.DiscardHandler)}}
	pt := newPartition(0)
	pt.meta.SegmentsOffsets = map[int32]int64{0: 5}
	p.rules.segRead[0] = 3
	if !p.waitForDefinitions(pt) || !p.waitForDefinitions(pt) {
		t.Fatal("a partition ahead of the definitions read does not wait")
	}
	p.rules.segRead[0] = 5
	if p.waitForDefinitions(pt) {
		t.Fatal("a partition waits though the definitions it applied were read")
	}
	p.rules.segRead[0] = 3
	p.waitForDefinitions(pt)
	p.defsWait[0] = time.Now().Add(-maxDefinitionsWait)
	if p.waitForDefinitions(pt) {
		t.Fatal("a partition waits beyond maxDefinitionsWait")
	}
}

func catEntry(offset int64, product string, collections ...string) *globalEntry {
	ce := &events.CatalogEntry{Workspace: ws, ProductID: product, Collections: collections}
	return &globalEntry{Offset: offset, Key: ws + "/product/" + product, Catalog: ce}
}

// TestCatalogHistory: the catalog as of a step is the latest mapping except for
// the products of the steps not reached, which keep their mapping from before the
// first; pruning keeps the record before an owned partition's first queued step
// and the last keepCatalogSteps records; past that the records collapse.
func TestCatalogHistory(t *testing.T) {
	p := &Processor{rules: newRules(), parts: map[int32]*partition{}}
	r := p.rules
	for i := range 10 {
		r.applyCatalog(catEntry(int64(2*i), "a", fmt.Sprintf("c%d", i)))
		r.applyCatalog(catEntry(int64(2*i+1), "b", fmt.Sprintf("d%d", i)))
	}
	r.applyCatalog(catEntry(20, "a")) // tombstone
	key := ws + "/product/a"
	step := func(offset int64, product string) state.CatalogStep {
		return state.CatalogStep{Pos: stepPos(0, offset), Product: ws + "/product/" + product}
	}
	at := r.newCatalogAt([]state.CatalogStep{step(3, "b"), step(4, "a"), step(6, "a")}, false)
	if got := at.Collections(ws, "a"); len(got) != 1 || got[0] != "c1" {
		t.Errorf("a before offset 4: %v, want [c1]", got)
	}
	if got := at.Collections(ws, "b"); len(got) != 1 || got[0] != "d0" {
		t.Errorf("b before offset 3: %v, want [d0]", got)
	}
	if got := r.newCatalogAt(nil, false).Collections(ws, "a"); got != nil {
		t.Errorf("a after its tombstone: %v", got)
	}
	if got := r.collectionsBefore(key, stepPos(0, 0)); got != nil {
		t.Errorf("a before its first record: %v", got)
	}

	pt := newPartition(0)
	pt.meta.CatalogSteps = []state.CatalogStep{step(8, "a")}
	p.parts[0] = pt
	pruneCatalog(p.rules, p.parts)
	if h := r.catHist[key]; len(h) != 8 || h[0].Pos != stepPos(0, 6) {
		t.Fatalf("after pruning: %d records from %d, want 8 from offset 6's", len(h), h[0].Pos)
	}
	if got := r.collectionsBefore(key, stepPos(0, 8)); len(got) != 1 || got[0] != "c3" {
		t.Errorf("a before offset 8 after pruning: %v, want [c3]", got)
	}
	pt.meta.CatalogSteps = nil
	pruneCatalog(p.rules, p.parts)
	if h := r.catHist[key]; len(h) != keepCatalogSteps || r.catLong[key] {
		t.Fatalf("after pruning: %d records, want %d", len(h), keepCatalogSteps)
	}
	// A step older than the kept records: they collapse into the oldest kept one.
	if got := r.collectionsBefore(key, stepPos(0, 2)); len(got) != 1 || got[0] != "c7" {
		t.Errorf("a before a pruned record: %v, want the oldest kept mapping [c7]", got)
	}
}
