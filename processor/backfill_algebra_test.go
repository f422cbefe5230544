package processor

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/state"
)

// algebraShop is the workspace of the backfill-algebra tests.
const algebraShop = "acme.myshopify.com"

// orderEvent returns an orders/create of contact id for price (in units).
func (rig *windowRig) orderEvent(id, n, price int) *kgo.Record {
	return rig.event(fmt.Sprintf("%s/%d", algebraShop, id), fmt.Sprintf(
		`{"topic":"orders/create","shop":%q,"id":"o%d-%d","payload":{"id":%d,"customer":{"id":%d},"created_at":"2026-11-20T10:00:00Z","updated_at":"2026-11-20T10:00:00Z","current_total_price":"%d.00","line_items":[]}}`,
		algebraShop, id, n, id*1000+n, id, price))
}

// spentDef returns a definition of segment id: total_spent above gt.
func spentDef(id string, gt int) string {
	return fmt.Sprintf(`{"workspace":%q,"id":%q,"name":%q,"groups":[{"conditions":[{"field":"total_spent","op":"gt","value":%d}]}]}`,
		algebraShop, id, id, gt)
}

// backfillReads returns the contacts backfills read (scan, algebra) and those the
// algebra covered.
func backfillReads(rig *windowRig) (scan, algebra, passed float64) {
	m := rig.p.m
	return testutil.ToFloat64(m.backfillRead.WithLabelValues(backfillScanMode)),
		testutil.ToFloat64(m.backfillRead.WithLabelValues(backfillAlgebraMode)),
		testutil.ToFloat64(m.backfillContacts.WithLabelValues(backfillAlgebraMode))
}

// TestBackfillAlgebraReadsOnlyCandidates: the backfill of a definition that is not
// time-relative reads only the contacts whose membership it changes (the new
// members of a new segment, the leavers and joiners of a changed one), and its
// output (transitions and changelog records) is the one of a scan, which
// NaiveEvaluation forces: steps of several versions in one window, with events in
// the same window, a reference, a deletion and a re-creation.
func TestBackfillAlgebraReadsOnlyCandidates(t *testing.T) {
	const n = 1000
	alg := newWindowRig(t)
	scan := newWindowRig(t, func(c *Config) { c.NaiveEvaluation = true })
	rigs := []*windowRig{alg, scan}
	// step runs one window in both rigs and checks they produced the same records.
	step := func(name string, globals [][2]string, events func(rig *windowRig) []*kgo.Record) {
		t.Helper()
		var out [2][]*kgo.Record
		for i, rig := range rigs {
			for _, g := range globals {
				rig.global("definition", g[0], g[1])
			}
			var recs []*kgo.Record
			if events != nil {
				recs = events(rig)
			}
			rig.run(t, recs)
			out[i] = rig.sink.recs
		}
		if len(out[0]) != len(out[1]) {
			t.Fatalf("%s: algebra produced %d records, scan %d", name, len(out[0]), len(out[1]))
		}
		for i := range out[0] {
			a, b := out[0][i], out[1][i]
			if a.Topic != b.Topic || !bytes.Equal(a.Key, b.Key) || !bytes.Equal(a.Value, b.Value) {
				t.Fatalf("%s: record %d: algebra %s %s %s, scan %s %s %s", name, i, a.Topic, a.Key, a.Value, b.Topic, b.Key, b.Value)
			}
		}
	}
	// expect checks the contacts the algebra rig's backfills read since the last call.
	var lastScan, lastAlg, lastPassed float64
	expect := func(name string, reads, passed int) {
		t.Helper()
		s, a, p := backfillReads(alg)
		if s != lastScan || a-lastAlg != float64(reads) || p-lastPassed != float64(passed) {
			t.Fatalf("%s: backfills read %v contacts by scan, %v by algebra (covering %v), want 0, %d (covering %d)",
				name, s-lastScan, a-lastAlg, p-lastPassed, reads, passed)
		}
		lastScan, lastAlg, lastPassed = s, a, p
	}

	// Contact i spent i%100.
	step("contacts", nil, func(rig *windowRig) []*kgo.Record {
		var recs []*kgo.Record
		for i := 1; i <= n; i++ {
			recs = append(recs, rig.orderEvent(i, 1, i%100))
		}
		return recs
	})
	expect("contacts", 0, 0)

	// A new segment: its members (91..99: 9 in each hundred) are read, no other.
	step("new", [][2]string{{algebraShop + "/big", spentDef("big", 90)}}, nil)
	expect("new", n/100*9, n)
	if got := len(alg.sink.recs); got == 0 {
		t.Fatal("the new segment produced nothing")
	}

	// A looser version: the joiners (81..90) are read.
	step("changed", [][2]string{{algebraShop + "/big", spentDef("big", 80)}}, nil)
	expect("changed", n/100*10, n)

	// Two versions in one window, with events for contacts 1 to 5 (who spend 95
	// more) in it: the second step's candidates come from the bitmaps of the last
	// commit, plus the contacts the window holds.
	step("two at once", [][2]string{
		{algebraShop + "/big", spentDef("big", 85)},
		{algebraShop + "/big", spentDef("big", 70)},
	}, func(rig *windowRig) []*kgo.Record {
		var recs []*kgo.Record
		for i := 1; i <= 5; i++ {
			recs = append(recs, rig.orderEvent(i, 2, 95))
		}
		return recs
	})
	// v3 (gt 85): the leavers 81..85 (50) and the 5 contacts of the window; v4 (gt
	// 70): the joiners 71..85 as of the last commit (150, the leavers among them),
	// and the 5 contacts again.
	expect("two at once", 50+5+150+5, 2*n)

	// A segment referencing big (and under 80): its members (71..79) are read.
	ref := fmt.Sprintf(`{"workspace":%q,"id":"ref","name":"ref","groups":[{"conditions":[{"field":"segment","op":"in_segment","value":"big"},{"field":"total_spent","op":"lt","value":80}]}]}`, algebraShop)
	step("reference", [][2]string{{algebraShop + "/ref", ref}}, nil)
	expect("reference", n/100*9, n)

	// Deleted (a scan of the records with an entry), then re-created: the new
	// incarnation's members are read (98 and 99 of each hundred, and 3 to 5, who
	// spent 98 to 100).
	step("deleted", [][2]string{{algebraShop + "/big", ""}}, nil)
	lastScan, lastAlg, lastPassed = backfillReads(alg)
	step("re-created", [][2]string{{algebraShop + "/big", spentDef("big", 97)}}, nil)
	expect("re-created", n/100*2+3, n)
}

// TestBackfillScanKeepsEachRecord: a scan hands each contact it changes, decoded by
// a worker, to the loop; a worker's next chunk must not decode into a record it
// handed over (the loop would write another contact's record under its key). Every
// member of a new segment gets exactly its own transition and record.
func TestBackfillScanKeepsEachRecord(t *testing.T) {
	const n = 3000
	rig := newWindowRig(t, func(c *Config) { c.NaiveEvaluation = true })
	var recs []*kgo.Record
	for i := 1; i <= n; i++ {
		recs = append(recs, rig.orderEvent(i, 1, i%100))
	}
	rig.run(t, recs)
	for k, gt := range []int{90, 50, 10} {
		id := fmt.Sprintf("s%d", k)
		rig.global("definition", algebraShop+"/"+id, spentDef(id, gt))
		rig.run(t, nil)
		added := map[string]bool{}
		for _, r := range rig.sink.recs {
			if r.Topic == rig.p.cfg.Topics.Membership {
				added[string(r.Key)] = true
			}
		}
		for i := 1; i <= n; i++ {
			key := fmt.Sprintf("%s/%d", algebraShop, i)
			if want := i%100 > gt; added[key] != want {
				t.Fatalf("segment %s (over %d): contact %d (spent %d) added: %v", id, gt, i, i%100, added[key])
			}
			var c state.Contact
			if err := rig.p.cfg.Store.Contact(0, key, &c); err != nil {
				t.Fatal(err)
			}
			if os := c.Orders(); len(os) != 1 || os[0].ID != fmt.Sprint(i*1000+1) {
				t.Fatalf("the record of contact %d has orders %+v", i, os)
			}
			if want := i%100 > gt; isMember(&c, id) != want {
				t.Fatalf("segment %s: the record of contact %d says member %v", id, i, !want)
			}
		}
	}
}

// feed hands rig the globals (kind, key, value) and runs one window of events.
func feed(t *testing.T, rig *windowRig, globals [][3]string, events func(rig *windowRig) []*kgo.Record) {
	t.Helper()
	for _, g := range globals {
		rig.global(g[0], g[1], g[2])
	}
	var recs []*kgo.Record
	if events != nil {
		recs = events(rig)
	}
	rig.run(t, recs)
}

// stepBoth runs one window in each rig, with the globals (kind, key, value) and the
// records of events, and checks they produced the same records.
func stepBoth(t *testing.T, rigs []*windowRig, name string, globals [][3]string, events func(rig *windowRig) []*kgo.Record) {
	t.Helper()
	var out [][]*kgo.Record
	for _, rig := range rigs {
		feed(t, rig, globals, events)
		out = append(out, rig.sink.recs)
	}
	compareBoth(t, rigs, name, out)
}

// compareBoth checks that the records out[0] the first rig produced are those
// out[1] of the second, which scans, and that the rigs store the same NextDue and
// timers.
func compareBoth(t *testing.T, rigs []*windowRig, name string, out [][]*kgo.Record) {
	t.Helper()
	// Transitions and dead letters in order; changelog records by key (segment
	// metas are written in map order).
	var ordered [2][]*kgo.Record
	var changelog [2]map[string]string
	for i, recs := range out {
		changelog[i] = map[string]string{}
		for _, r := range recs {
			if r.Topic == rigs[i].p.cfg.Topics.Changelog {
				changelog[i][string(r.Key)] = string(r.Value)
			} else {
				ordered[i] = append(ordered[i], r)
			}
		}
	}
	if len(ordered[0]) != len(ordered[1]) {
		t.Fatalf("%s: %d records, and %d by a scan", name, len(ordered[0]), len(ordered[1]))
	}
	for i := range ordered[0] {
		a, b := ordered[0][i], ordered[1][i]
		if a.Topic != b.Topic || !bytes.Equal(a.Key, b.Key) || !bytes.Equal(a.Value, b.Value) {
			t.Fatalf("%s: record %d: %s %s %s, and by a scan %s %s %s", name, i, a.Topic, a.Key, a.Value, b.Topic, b.Key, b.Value)
		}
	}
	if len(changelog[0]) != len(changelog[1]) {
		t.Fatalf("%s: %d changelog keys, and %d by a scan", name, len(changelog[0]), len(changelog[1]))
	}
	for k, v := range changelog[0] {
		if w, ok := changelog[1][k]; !ok || v != w {
			t.Fatalf("%s: changelog %q: %q, and by a scan %q (%v)", name, k, v, w, ok)
		}
	}
	if a, b := rigs[0].timerState(t), rigs[1].timerState(t); a != b {
		t.Fatalf("%s: stored NextDue and timer index\n%s\nand by a scan\n%s", name, a, b)
	}
}

// timerState renders every stored contact's NextDue and the timer index of the
// rig's partition.
func (rig *windowRig) timerState(t testing.TB) string {
	var sb strings.Builder
	store := rig.p.cfg.Store
	err := store.ScanContacts(0, "", "", func(key string, c *state.Contact) (bool, error) {
		fmt.Fprintf(&sb, "%s due %s\n", key, c.NextDue.Format(time.RFC3339))
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = store.ScanTimers(0, time.Time{}, maxDue, func(due time.Time, key string) bool {
		fmt.Fprintf(&sb, "timer %s %s\n", due.Format(time.RFC3339), key)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return sb.String()
}

// TestBackfillAlgebraWithCatalogStepsPending: a definition on purchased collections
// backfilled while a catalog change is still to be applied to the partition's
// contacts: each contact is evaluated with the catalog it has reached, as a scan
// does, not with the last one.
func TestBackfillAlgebraWithCatalogStepsPending(t *testing.T) {
	rigs := []*windowRig{newWindowRig(t), newWindowRig(t, func(c *Config) { c.NaiveEvaluation = true })}
	catalog := func(colls string) [3]string {
		return [3]string{"catalog", algebraShop + "/product/p1",
			fmt.Sprintf(`{"workspace":%q,"product_id":"p1","collections":[%s]}`, algebraShop, colls)}
	}
	shoes := func(id string) [3]string {
		return [3]string{"definition", algebraShop + "/" + id,
			fmt.Sprintf(`{"workspace":%q,"id":%q,"name":"Shoes","groups":[{"conditions":[{"field":"purchased_collection","op":"in","value":["shoes"]}]}]}`, algebraShop, id)}
	}
	stepBoth(t, rigs, "catalog", [][3]string{catalog(`"shoes"`)}, nil)
	stepBoth(t, rigs, "buyers", nil, func(rig *windowRig) []*kgo.Record {
		var recs []*kgo.Record
		for i := 1; i <= 50; i++ {
			recs = append(recs, rig.event(fmt.Sprintf("%s/%d", algebraShop, i), fmt.Sprintf(
				`{"topic":"orders/create","shop":%q,"id":"o%d","payload":{"id":%d,"customer":{"id":%d},"created_at":"2026-11-20T10:00:00Z","updated_at":"2026-11-20T10:00:00Z","current_total_price":"30.00","line_items":[{"product_id":"p1","vendor":"Acme","price":"30.00","quantity":1}]}}`,
				algebraShop, i, i*1000, i)))
		}
		return recs
	})
	stepBoth(t, rigs, "p1 leaves shoes, then shoes1", [][3]string{catalog(`"summer"`), shoes("shoes1")}, nil)
	stepBoth(t, rigs, "shoes2, then p1 joins shoes", [][3]string{shoes("shoes2"), catalog(`"shoes"`)}, nil)
	stepBoth(t, rigs, "p1 leaves shoes, then shoes3", [][3]string{catalog(`"summer"`), shoes("shoes3")}, nil)
}

// BenchmarkBackfillNewSegment: the backfill of a new segment over 200,000 contacts
// of one partition, through the attribute index (algebra) and by a scan
// (NaiveEvaluation), in the window rig (no broker): from the definition to the
// window's records flushed and committed. join10 (total_spent above 90) adds a tenth
// of the contacts, join1 (above 98) a hundredth.
//
// The timerel variants have time-relative segments in force in the workspace (those
// of the demo: days since the last order, orders in the last 30 days), so that
// every contact has a timer.
//
//	go test ./processor -run '^$' -bench BackfillNewSegment -benchtime 3x
func BenchmarkBackfillNewSegment(b *testing.B) {
	const n = 200_000
	for _, variant := range benchVariants {
		for _, mode := range []string{backfillAlgebraMode, backfillScanMode} {
			benchBackfillNewSegment(b, n, variant, mode)
		}
	}
}

// benchVariants are the workspaces of the backfill benchmarks: without, and with
// time-relative segments in force.
var benchVariants = []string{"", "timerel"}

// benchTimeRelative defines, for the timerel variant, time-relative segments like
// the demo's in the rig's workspace.
func benchTimeRelative(b *testing.B, rig *windowRig, variant string) {
	if variant == "" {
		return
	}
	for _, d := range [][2]string{
		{"lapsed", `[{"conditions":[{"field":"total_spent","op":"gt","value":50},{"field":"days_since_last_order","op":"gt","value":60}]}]`},
		{"first-time", `[{"conditions":[{"field":"orders_count","op":"eq","value":1},{"field":"days_since_last_order","op":"lte","value":30}]}]`},
		{"recent-repeat", `[{"conditions":[{"field":"orders_count","op":"gte","value":2,"in_last_days":30}]}]`},
	} {
		id, groups := d[0], d[1]
		rig.global("definition", algebraShop+"/"+id, fmt.Sprintf(`{"workspace":%q,"id":%q,"name":%q,"groups":%s}`, algebraShop, id, id, groups))
	}
	rig.run(b, nil)
}

func benchBackfillNewSegment(b *testing.B, n int, variant, mode string) {
	{
		rig := newWindowRig(b, func(c *Config) {
			c.NaiveEvaluation = mode == backfillScanMode
			c.BackfillChunk = 1 << 30
			c.CommitInterval, c.TransactionTimeout = time.Minute, 5*time.Minute
		})
		benchTimeRelative(b, rig, variant)
		name := mode
		if variant != "" {
			name = variant + "/" + mode
		}
		const batch = 20_000
		for i := 1; i <= n; i += batch {
			recs := make([]*kgo.Record, 0, batch)
			for j := i; j < i+batch && j <= n; j++ {
				recs = append(recs, rig.orderEvent(j, 1, j%100))
			}
			rig.run(b, recs)
		}
		seq := 0 // b.Run runs its function more than once: a new segment each time
		for _, join := range []struct {
			name string
			gt   int
		}{{"join10", 90}, {"join1", 98}} {
			b.Run(name+"/"+join.name, func(b *testing.B) {
				scan0, alg0, _ := backfillReads(rig)
				var transitions int
				for i := 0; i < b.N; i++ {
					seq++
					id := fmt.Sprintf("bench%d", seq)
					rig.global("definition", algebraShop+"/"+id, spentDef(id, join.gt))
					rig.run(b, nil)
					transitions += rig.transitions()
				}
				b.StopTimer()
				scan, alg, _ := backfillReads(rig)
				b.ReportMetric(float64(transitions)/float64(b.N), "transitions/op")
				b.ReportMetric((scan-scan0+alg-alg0)/float64(b.N), "read/op")
			})
		}
	}
}

// BenchmarkBackfillBurst: 200 new segments at once (total_spent above 95 to 98: 1
// to 4% of the contacts join each) over 20,000 contacts of one partition, backfilled
// in one window: through the attribute index, one query shared by the steps of the
// window, or by a scan per segment (NaiveEvaluation).
//
//	go test ./processor -run '^$' -bench BackfillBurst -benchtime 2x
func BenchmarkBackfillBurst(b *testing.B) {
	const n, defs = 20_000, 200
	for _, variant := range benchVariants {
		for _, mode := range []string{backfillAlgebraMode, backfillScanMode} {
			name := mode
			if variant != "" {
				name = variant + "/" + mode
			}
			b.Run(name, func(b *testing.B) {
				rig := newWindowRig(b, func(c *Config) {
					c.NaiveEvaluation = mode == backfillScanMode
					c.BackfillChunk = 1 << 30
					c.CommitInterval, c.TransactionTimeout = time.Minute, 5*time.Minute
				})
				benchTimeRelative(b, rig, variant)
				recs := make([]*kgo.Record, 0, n)
				for j := 1; j <= n; j++ {
					recs = append(recs, rig.orderEvent(j, 1, j%100))
				}
				rig.run(b, recs)
				b.ResetTimer()
				var transitions int
				for i := 0; i < b.N; i++ {
					for k := range defs {
						id := fmt.Sprintf("burst%d-%d", i, k)
						rig.global("definition", algebraShop+"/"+id, spentDef(id, 95+k%4))
					}
					rig.run(b, nil)
					transitions += rig.transitions()
				}
				b.StopTimer()
				scan, alg, _ := backfillReads(rig)
				b.ReportMetric(float64(transitions)/float64(b.N), "transitions/op")
				b.ReportMetric((scan+alg)/float64(b.N), "read/op")
			})
		}
	}
}

// TestBackfillAlgebraMatchesScanRandom: random programs of the metamorphic generator
// (definitions created, changed, deleted and re-created, several versions of one
// segment at once, references, catalog changes, events in the same windows), with
// and without their time-relative definitions (with them, only the steps that do
// not change the time-relative predicates go through the attribute index), give
// the same records, stored NextDue and timers as with every backfill scanned
// (NaiveEvaluation).
func TestBackfillAlgebraMatchesScanRandom(t *testing.T) {
	t.Run("without time-relative", func(t *testing.T) { testBackfillAlgebraRandom(t, false) })
	t.Run("with time-relative", func(t *testing.T) { testBackfillAlgebraRandom(t, true) })
}

func testBackfillAlgebraRandom(t *testing.T, keepTimeRelative bool) {
	timeRelative := []string{"days_since", "in_last_days", "more_than_days_ago", "lifecycle_stage"}
	if keepTimeRelative {
		timeRelative = nil
	}
	var algebraReads float64
	for seed := uint64(1); seed <= 20; seed++ {
		prog := generate(seed, mmGenOptions{Phases: 8, EventsPerPhase: 80, Contacts: 30, SameSegmentTwice: true, BatchCatalog: true})
		rigs := []*windowRig{newWindowRig(t), newWindowRig(t, func(c *Config) { c.NaiveEvaluation = true })}
		for _, rig := range rigs {
			rig.now = prog.Start
		}
		for i, ph := range prog.Phases {
			var globals [][3]string
		records:
			for _, r := range ph.Globals {
				kind := "definition"
				if r.Topic == mmCatalog {
					kind = "catalog"
				}
				for _, m := range timeRelative {
					if kind == "definition" && bytes.Contains(r.Value, []byte(m)) {
						continue records
					}
				}
				globals = append(globals, [3]string{kind, r.Key, string(r.Value)})
			}
			for _, rig := range rigs {
				rig.now = rig.now.Add(ph.Advance)
			}
			stepBoth(t, rigs, fmt.Sprintf("seed %d phase %d", seed, i), globals, func(rig *windowRig) []*kgo.Record {
				var recs []*kgo.Record
				for _, r := range ph.Events {
					recs = append(recs, &kgo.Record{Topic: rig.p.cfg.Topics.Events[0], Key: []byte(r.Key), Value: r.Value,
						Headers: r.Headers, Timestamp: rig.now})
				}
				return recs
			})
		}
		_, a, _ := backfillReads(rigs[0])
		algebraReads += a
	}
	t.Logf("algebra reads %v", algebraReads)
	if algebraReads == 0 {
		t.Fatal("no backfill went through the attribute index")
	}
}

// transitions counts the membership records of the rig's last window.
func (rig *windowRig) transitions() int {
	n := 0
	for _, r := range rig.sink.recs {
		if r.Topic == rig.p.cfg.Topics.Membership {
			n++
		}
	}
	return n
}

// orderAt returns an orders/create of contact id for price (in units), placed at.
func (rig *windowRig) orderAt(id, n, price int, at time.Time) *kgo.Record {
	ts := at.UTC().Format(time.RFC3339)
	return rig.event(fmt.Sprintf("%s/%d", algebraShop, id), fmt.Sprintf(
		`{"topic":"orders/create","shop":%q,"id":"o%d-%d","payload":{"id":%d,"customer":{"id":%d},"created_at":%q,"updated_at":%q,"current_total_price":"%d.00","line_items":[]}}`,
		algebraShop, id, n, id*1000+n, id, ts, ts, price))
}

// daysDef returns a time-relative definition of segment id: days_since_last_order
// op value.
func daysDef(id, op string, value int) string {
	return fmt.Sprintf(`{"workspace":%q,"id":%q,"name":%q,"groups":[{"conditions":[{"field":"days_since_last_order","op":%q,"value":%d}]}]}`,
		algebraShop, id, id, op, value)
}

// TestBackfillAlgebraTimeRelativeWorkspace: in a workspace with time-relative
// segments in force, a new or changed definition that is not time-relative (and
// does not replace one) is backfilled through the attribute index, and its output,
// every contact's stored NextDue and the timer index are those of a scan
// (NaiveEvaluation): with re-created contacts whose deletion fence is their next
// timer, with timers due but not fired at the step's instant, after a
// time-relative version was replaced by one that is not, after a time-relative
// segment was deleted, and after a time-relative segment's own step, still
// scanning when the definition arrived. A step that changes the time-relative
// predicates is scanned.
func TestBackfillAlgebraTimeRelativeWorkspace(t *testing.T) {
	const n = 300
	chunk := func(c *Config) { c.BackfillChunk = 100 }
	alg := newWindowRig(t, chunk)
	scan := newWindowRig(t, chunk, func(c *Config) { c.NaiveEvaluation = true })
	rigs := []*windowRig{alg, scan}
	for _, rig := range rigs {
		rig.partial = true
	}
	// phase hands both rigs globals and one window of events, then runs windows
	// until no backfill is pending (windows more than the scan's), and compares.
	phase := func(name string, globals [][3]string, events func(rig *windowRig) []*kgo.Record) {
		t.Helper()
		var out [][]*kgo.Record
		for _, rig := range rigs {
			feed(t, rig, globals, events)
			all := rig.sink.recs
			for i := 0; rig.p.backfillsPending() > 0; i++ {
				if i > 100 {
					t.Fatalf("%s: backfills still pending after 100 windows", name)
				}
				rig.run(t, nil)
				all = append(all, rig.sink.recs...)
			}
			out = append(out, all)
		}
		compareBoth(t, rigs, name, out)
	}
	def := func(id, val string) [3]string { return [3]string{"definition", algebraShop + "/" + id, val} }
	var lastScan, lastAlg float64
	// expect checks how the algebra rig's backfills read contacts since the last call.
	expect := func(name string, algebra bool) {
		t.Helper()
		s, a, _ := backfillReads(alg)
		ds, da := s-lastScan, a-lastAlg
		lastScan, lastAlg = s, a
		if algebra && (ds != 0 || da == 0) {
			t.Fatalf("%s: backfills read %v contacts by scan and %v by algebra, want none by scan", name, ds, da)
		}
		if !algebra && ds == 0 {
			t.Fatalf("%s: backfills read no contact by scan", name)
		}
	}

	// Contact i last ordered i%90 days ago, for i%100.
	phase("contacts", nil, func(rig *windowRig) []*kgo.Record {
		var recs []*kgo.Record
		for i := 1; i <= n; i++ {
			recs = append(recs, rig.orderAt(i, 1, i%100, rig.now.Add(-time.Duration(i%90)*24*time.Hour-time.Hour)))
		}
		return recs
	})
	phase("time-relative segments", [][3]string{
		def("recent", daysDef("recent", "lte", 30)), def("old", daysDef("old", "gt", 60)), def("mid", daysDef("mid", "gt", 10)),
	}, nil)
	expect("time-relative segments", false)

	// Contacts 1 to 3 deleted, and re-created an hour later by an order: their
	// next timer is their deletion fence (7 days), before their next flip (31 days).
	phase("deleted contacts", nil, func(rig *windowRig) []*kgo.Record {
		var recs []*kgo.Record
		for i := 1; i <= 3; i++ {
			recs = append(recs, rig.event(fmt.Sprintf("%s/%d", algebraShop, i),
				fmt.Sprintf(`{"topic":"customers/delete","shop":%q,"id":"d%d","payload":{"id":%d}}`, algebraShop, i, i)))
		}
		return recs
	})
	for _, rig := range rigs {
		rig.now = rig.now.Add(time.Hour)
	}
	phase("re-created contacts", nil, func(rig *windowRig) []*kgo.Record {
		var recs []*kgo.Record
		for i := 1; i <= 3; i++ {
			recs = append(recs, rig.orderAt(i, 2, 5, rig.now.Add(-time.Minute)))
		}
		return recs
	})

	phase("new", [][3]string{def("big", spentDef("big", 90))}, nil)
	expect("new", true)
	phase("changed", [][3]string{def("big", spentDef("big", 80))}, nil)
	expect("changed", true)
	phase("deleted", [][3]string{def("big", "")}, nil)
	lastScan, lastAlg, _ = backfillReads(alg)

	// Two days later, the timers of the contacts crossing 11, 31 and 61 days are
	// due but do not fire before the step (a window out of time for them).
	for _, rig := range rigs {
		rig.now = rig.now.Add(2 * 24 * time.Hour)
		rig.p.timers.heap = rig.p.timers.heap[:0]
		for id := range rig.p.parts {
			rig.p.timers.loadedUntil[id] = rig.now.Add(time.Hour)
		}
		rig.p.timers.nextLoad = rig.now.Add(time.Hour)
	}
	phase("due timers", [][3]string{def("big2", spentDef("big2", 90))}, nil)
	expect("due timers", true)
	for _, rig := range rigs {
		rig.p.timers.reset()
	}
	phase("timers fired", nil, nil)
	lastScan, lastAlg, _ = backfillReads(alg)

	// A time-relative version replaced by one that is not: scanned (NextDue
	// changes); the next definition goes through the index.
	phase("time-relative replaced", [][3]string{def("recent", spentDef("recent", 50))}, nil)
	expect("time-relative replaced", false)
	phase("after the replacement", [][3]string{def("big3", spentDef("big3", 70))}, nil)
	expect("after the replacement", true)

	// A time-relative segment deleted (old; mid stays): its deletion sets NextDue.
	phase("time-relative deleted", [][3]string{def("old", "")}, nil)
	expect("time-relative deleted", false)
	phase("after the deletion", [][3]string{def("big4", spentDef("big4", 60))}, nil)
	expect("after the deletion", true)

	// A time-relative segment whose scan takes windows (100 contacts each), and a
	// definition arriving while it scans: it waits for the scan, then goes
	// through the index.
	for _, rig := range rigs {
		rig.global("definition", algebraShop+"/late", daysDef("late", "gt", 45))
		rig.run(t, nil)
		if rig.p.backfillsPending() == 0 {
			t.Fatal("late: the time-relative scan took one window")
		}
	}
	phase("while a time-relative step scans", [][3]string{def("big5", spentDef("big5", 40))}, nil)
	s0, a0, _ := backfillReads(alg)
	if s0 == lastScan || a0 == lastAlg {
		t.Fatalf("while a time-relative step scans: read %v by scan, %v by algebra, want both", s0-lastScan, a0-lastAlg)
	}
	lastScan, lastAlg = s0, a0
	// A definition followed by a time-relative one: it is scanned (the other's step
	// is pending), and the next one goes through the index again.
	phase("a time-relative step after it", [][3]string{def("big6", spentDef("big6", 30)), def("later", daysDef("later", "lte", 5))}, nil)
	expect("a time-relative step after it", false)
	phase("last", [][3]string{def("big7", spentDef("big7", 20))}, nil)
	expect("last", true)
}
