package processor

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/state"
)

// TestWindowData runs the commit-window cases of testdata/window/*.txt with no broker
// at all: a Processor that never joins a group holds the rules and the loop's state,
// each command runs one window (windowRig.run) whose records go to a list instead of
// a transaction, and the store is a real Pebble store in a temporary directory.
//
// Commands (each runs one window and prints what it produced, in produced order):
//
//	events                one input record per line: "<key> <value>" (value: a
//	                      Form B envelope, or <nil>); all in the same window
//	definition key=<ws>/<id>
//	                      a segments-topic record: the input is the definition, no
//	                      input a tombstone
//	catalog key=<ws>/product/<id>
//	                      a catalog-topic record: the input is the value, no input a
//	                      tombstone
//	advance by=<duration> moves the clock, then runs a window (timers fire)
//	window                several records in one window, one a line, each topic's
//	                      in order: "event <key> <value>", "definition <key>
//	                      [<value>]", "catalog <key> [<value>]" (the window takes
//	                      the definitions and catalog records first, as the loop does)
//
// Output lines: "<type> <key> <segment> v<segment_version> <reason> <cause>
// <occurred_at>" for a transition, "dead-letter <key> <reason>" for a dead letter,
// "(nothing)" when the window produced neither. The contract orders only the records
// of one contact and segment, so lines are sorted by key and segment, stably. The
// expected outputs are written from SPEC §4–§7, not from what the code produced.
//
// Each file runs with the contact cache of 1,000 contacts, of one contact (evicted
// by every other) and off: the outputs are the same, and after every window each
// cached contact is exactly the store's record (checkCacheExact).
func TestWindowData(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "window", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/window files: %v", err)
	}
	for _, cache := range []int{1000, 1, -1} {
		for _, path := range files {
			t.Run(fmt.Sprintf("cache=%d/%s", cache, filepath.Base(path)), func(t *testing.T) {
				rig := newWindowRig(t, func(c *Config) { c.ContactCache = cache })
				datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
					return rig.command(t, d)
				})
			})
		}
	}
}

// windowRig runs windows of a Processor that never joins a group.
type windowRig struct {
	p      *Processor
	now    time.Time
	sink   *listSink
	offset map[string]int64 // next offset per global topic
	// abort makes window end as an aborted window does: nothing committed.
	abort bool
	// midWindow, if set, runs after a window's input, before its timers.
	midWindow func()
	// partial lets a window leave backfills pending (a limited BackfillChunk).
	partial bool
}

// listSink is a recordSink that keeps what it is given, produced at once.
type listSink struct {
	recs   []*kgo.Record
	offset map[topicPartition]int64 // next offset per topic/partition
}

type topicPartition struct {
	topic string
	p     int32
}

func (s *listSink) Produce(_ context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	k := topicPartition{r.Topic, r.Partition}
	r.Offset = s.offset[k]
	s.offset[k]++
	s.recs = append(s.recs, r)
	promise(r, nil)
}

// newWindowRig returns a rig; opts adjust its Processor's Config.
func newWindowRig(t testing.TB, opts ...func(*Config)) *windowRig {
	store, err := state.Open(t.TempDir(), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	rig := &windowRig{now: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC), offset: map[string]int64{}}
	cfg := Config{
		Brokers:            []string{"unused:9092"},
		Store:              store,
		Logger:             testLogger(t),
		Now:                func() time.Time { return rig.now },
		CommitInterval:     10 * time.Second, // nothing runs out of time
		TransactionTimeout: time.Minute,
	}
	for _, o := range opts {
		o(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// One partition, assigned as onAssigned and drainHandoffs would: restored (from
	// nothing) and due for a full reconcile.
	pt := newPartition(0)
	if err := pt.load(store, p.cfg.ExclusionTag); err != nil {
		t.Fatal(err)
	}
	p.parts[0] = pt
	p.reconcile[0] = true
	p.logs.setCaughtUp()
	rig.p = p
	return rig
}

func (rig *windowRig) command(t *testing.T, d *datadriven.TestData) string {
	var recs []*kgo.Record
	switch d.Cmd {
	case "events":
		for _, line := range strings.Split(d.Input, "\n") {
			key, val, ok := strings.Cut(strings.TrimSpace(line), " ")
			if !ok {
				d.Fatalf(t, "want <key> <value>: %q", line)
			}
			recs = append(recs, rig.event(key, val))
		}
	case "definition", "catalog":
		var key string
		d.ScanArgs(t, "key", &key)
		rig.global(d.Cmd, key, d.Input)
	case "window":
		for _, line := range strings.Split(d.Input, "\n") {
			kind, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
			key, val, _ := strings.Cut(rest, " ")
			switch kind {
			case "event":
				recs = append(recs, rig.event(key, val))
			case "definition", "catalog":
				rig.global(kind, key, val)
			default:
				d.Fatalf(t, "want event, definition or catalog: %q", line)
			}
		}
	case "advance":
		var by string
		d.ScanArgs(t, "by", &by)
		dur, err := time.ParseDuration(by)
		if err != nil {
			d.Fatalf(t, "%v", err)
		}
		rig.now = rig.now.Add(dur)
	default:
		d.Fatalf(t, "unknown command %s", d.Cmd)
	}
	return rig.run(t, recs)
}

// event returns an events-topic record; val "<nil>" is a null value.
func (rig *windowRig) event(key, val string) *kgo.Record {
	r := &kgo.Record{Topic: rig.p.cfg.Topics.Events[0], Key: []byte(key), Value: []byte(val), Timestamp: rig.now}
	if val == "<nil>" {
		r.Value = nil
	}
	return r
}

// global hands a segments-topic ("definition") or catalog-topic record to the logs
// as the globals reader would; an empty val is a tombstone.
func (rig *windowRig) global(kind, key, val string) {
	topic := rig.p.cfg.Topics.Segments
	if kind == "catalog" {
		topic = rig.p.cfg.Topics.Catalog
	}
	var v []byte
	if val != "" {
		v = []byte(val)
	}
	e := globalEntry{Offset: rig.offset[topic], Key: key, Record: toEventsRecord(&kgo.Record{Key: []byte(key), Value: v})}
	rig.offset[topic]++
	if kind == "definition" {
		decodeDefinitionEntry(&e)
		rig.p.logs.add([]globalEntry{e}, nil, map[int32]int64{0: e.Offset + 1})
	} else {
		decodeCatalogEntry(&e)
		rig.p.logs.add(nil, []globalEntry{e}, nil)
	}
}

// run runs one window as Processor.runWindow does, minus the transaction: globals,
// input, timers and backfills, then the flush to a Pebble batch, committed.
func (rig *windowRig) run(t testing.TB, recs []*kgo.Record) string {
	rig.window(t, recs)
	return rig.outputs(t)
}

// window runs one window of recs (see run) and commits it.
func (rig *windowRig) window(t testing.TB, recs []*kgo.Record) {
	p := rig.p
	ctx := context.Background()
	rig.sink = &listSink{offset: map[topicPartition]int64{}}
	deps := p.newWindowDeps()
	deps.sink = rig.sink
	w := newWindow(deps)
	start := time.Now()
	if err := p.applyGlobals(ctx, w); err != nil {
		t.Fatal(err)
	}
	if err := w.processRecords(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if rig.midWindow != nil {
		rig.midWindow()
	}
	if err := w.advance(ctx, start, start.Add(p.cfg.CommitInterval)); err != nil {
		t.Fatal(err)
	}
	batch := p.cfg.Store.NewBatch()
	defer batch.Close()
	if err := w.flush(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if err := w.err(); err != nil {
		t.Fatal(err)
	}
	if rig.abort {
		// As runWindow on an abort: the batch is dropped, nothing is committed.
		p.afterAbort()
		return
	}
	if err := batch.Commit(false); err != nil {
		t.Fatal(err)
	}
	w.committed(false)
	if _, bench := t.(*testing.B); !bench {
		checkCacheExact(t, p) // a test's check: a benchmark times the window alone
	}
	p.compactLogs()
	if n := p.backfillsPending(); n > 0 && !rig.partial {
		t.Fatalf("%d backfills still pending after a window with an unlimited budget", n)
	}
}

// outputs renders the window's transitions and dead letters.
func (rig *windowRig) outputs(t testing.TB) string {
	type line struct{ key, seg, text string }
	var lines []line
	for _, r := range rig.sink.recs {
		switch r.Topic {
		case rig.p.cfg.Topics.Membership:
			var tr transitionJSON
			if err := json.Unmarshal(r.Value, &tr); err != nil {
				t.Fatalf("transition %s: %v", r.Value, err)
			}
			lines = append(lines, line{string(r.Key), tr.SegmentID, fmt.Sprintf("%s %s %s v%d %s %s %s",
				tr.Type, r.Key, tr.SegmentID, tr.SegmentVersion, tr.Reason, tr.Cause, tr.OccurredAt)})
		case rig.p.cfg.Topics.DLQ:
			reason := ""
			for _, h := range r.Headers {
				if h.Key == HeaderError {
					reason = string(h.Value)
				}
			}
			lines = append(lines, line{string(r.Key), "", fmt.Sprintf("dead-letter %s %s", r.Key, reason)})
		}
	}
	if len(lines) == 0 {
		return "(nothing)\n"
	}
	slices.SortStableFunc(lines, func(a, b line) int {
		return cmp.Or(strings.Compare(a.key, b.key), strings.Compare(a.seg, b.seg))
	})
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.text + "\n")
	}
	return b.String()
}
