package load

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/events"
	"github.com/segmentd/segmentd/internal/gen"
	"github.com/segmentd/segmentd/internal/kafkatest"
	"github.com/segmentd/segmentd/internal/testseed"
	"github.com/segmentd/segmentd/operators"
	"github.com/segmentd/segmentd/state"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// The short benchmark's configuration: 2 workspaces of 16 random segments (plus the 4
// demo segments) must cover every pair.
func TestDefinitionsValidAndCoverEveryPair(t *testing.T) {
	segs, err := Definitions(DefinitionConfig{
		Workspaces: []string{gen.Domain(0), gen.Domain(1)}, PerWorkspace: 16, Seed: 7, Now: testNow,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 32 {
		t.Fatalf("got %d segments", len(segs))
	}
	seen := map[Pair]int{}
	ids := map[string]bool{}
	for _, s := range segs {
		if ids[string(s.Key)] {
			t.Errorf("duplicate key %s", s.Key)
		}
		ids[string(s.Key)] = true
		if _, err := operators.ParseDefinition(s.Value); err != nil {
			t.Errorf("%s: %v", s.Key, err)
		}
		if _, err := operators.Compile(s.Def); err != nil {
			t.Errorf("%s: compile: %v", s.Key, err)
		}
		for _, g := range s.Def.Groups {
			for _, c := range g.Conditions {
				seen[Pair{c.Field, c.Op}]++
			}
		}
	}
	for _, p := range Pairs() {
		if seen[p] == 0 {
			t.Errorf("pair %s %s never drawn", p.Field, p.Op)
		}
	}
	if len(Pairs()) != 83 {
		t.Errorf("%d pairs, SPEC §6 has 83", len(Pairs()))
	}
}

// Many seeds (half fixed, half fresh: internal/testseed): the drawer never makes an
// invalid definition.
func TestDefinitionsAlwaysValid(t *testing.T) {
	for _, seed := range testseed.Range(t, 50) {
		if _, err := Definitions(DefinitionConfig{Workspaces: []string{"a.myshopify.com"}, PerWorkspace: 40, Seed: seed}); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
	}
}

// The table of pairs is exactly what the rule language allows: every other operator
// is rejected for the field, at the op path.
func TestPairsMatchOperators(t *testing.T) {
	allOps := map[string]bool{}
	for _, f := range fieldOps {
		for _, o := range f.ops {
			allOps[o] = true
		}
	}
	allowed := map[Pair]bool{}
	for _, p := range Pairs() {
		allowed[p] = true
	}
	testseed.Run(t, testseed.Seeds(t, []uint64{1}, 1), func(t *testing.T, seed uint64) {
		pairsMatchOperators(t, allOps, allowed, &drawer{r: rand.New(rand.NewPCG(seed, 1)), now: testNow})
	})
}

func pairsMatchOperators(t *testing.T, allOps map[string]bool, allowed map[Pair]bool, d *drawer) {
	for _, f := range fieldOps {
		for o := range allOps {
			p := Pair{f.field, o}
			valueOp := o
			if !allowed[p] {
				valueOp = f.ops[0]
			}
			v, _ := json.Marshal(d.value(Pair{f.field, valueOp}))
			js := fmt.Sprintf(`{"workspace":"x.myshopify.com","id":"s","groups":[{"conditions":[{"field":%q,"op":%q,"value":%s}]}]}`, f.field, o, v)
			_, err := operators.ParseDefinition([]byte(js))
			switch {
			case allowed[p] && err != nil:
				t.Errorf("%s %s: rejected: %v", f.field, o, err)
			case !allowed[p] && err == nil:
				t.Errorf("%s %s: accepted, but not in the table", f.field, o)
			case !allowed[p] && !strings.Contains(err.Error(), ".op:"):
				t.Errorf("%s %s: rejected for another reason: %v", f.field, o, err)
			}
		}
	}
}

// TestVocabularyInHistory: the values segments draw from occur in generated traffic.
func TestVocabularyInHistory(t *testing.T) {
	g := gen.New(gen.Config{Seed: 3, Workspaces: 2, ContactsPerWorkspace: 2000, Start: testNow})
	var all bytes.Buffer
	for r := range g.History() {
		all.Write(r.Value)
	}
	for _, r := range g.Catalog() {
		all.Write(r.Value)
	}
	text := all.String()
	check := func(what string, xs []string, format string) {
		for _, x := range xs {
			if !strings.Contains(text, fmt.Sprintf(format, x)) {
				t.Errorf("%s %q does not occur in the generated history", what, x)
			}
		}
	}
	check("country", countries, `"country_code":"%s"`)
	check("brand", brands, `"vendor":"%s"`)
	check("collection", collections, `"%s"`)
	check("list", lists, `"list_id":"%s"`)
	check("tag", tags, `%s`)
	check("automation", automations, `"automation_id":"%s"`)
}

func TestDeliveryIDMatchesDecoder(t *testing.T) {
	g := gen.New(gen.Config{Seed: 5, ContactsPerWorkspace: 300, Start: testNow})
	n := 0
	check := func(r gen.Record) {
		kr := Record("events", r)
		rec := events.Record{Key: kr.Key, Value: kr.Value, Timestamp: testNow}
		for _, h := range kr.Headers {
			rec.Headers = append(rec.Headers, events.Header{Key: h.Key, Value: h.Value})
		}
		ev, err := events.Decode(&rec, &events.Options{})
		if err != nil {
			return // guest orders
		}
		n++
		if got := DeliveryID(kr); got != ev.DeliveryID || got == "" {
			t.Fatalf("%s: DeliveryID = %q, decoder says %q", r.Topic, got, ev.DeliveryID)
		}
	}
	for r := range g.History() {
		check(r)
	}
	for i := range 5000 {
		check(g.Next(testNow.Add(time.Duration(i) * time.Second)))
	}
	if n < 5000 {
		t.Errorf("only %d records decoded", n)
	}
}

type noCatalog struct{}

func (noCatalog) Collections(string, string) []string { return nil }

// A seeded contact has exactly the one timer it was made for.
func TestTimerSeed(t *testing.T) {
	const ws = "timers.myshopify.com"
	segs, err := TimerSegments(ws)
	if err != nil {
		t.Fatal(err)
	}
	var compiled []*operators.Segment
	for _, s := range segs {
		c, err := operators.Compile(s.Def)
		if err != nil {
			t.Fatal(err)
		}
		compiled = append(compiled, c)
	}
	rs := operators.NewRuleSet(compiled)
	due := testNow.Add(90 * time.Second)
	for kind := range NumTimerKinds {
		r := TimerSeed("events", ws, 1000+int64(kind), kind, due)
		if len(r.Value) > 400 {
			t.Errorf("kind %d: %d bytes", kind, len(r.Value))
		}
		ev, err := events.Decode(&events.Record{Key: r.Key, Value: r.Value, Timestamp: testNow}, &events.Options{})
		if err != nil {
			t.Fatalf("kind %d: %v\n%s", kind, err, r.Value)
		}
		var c state.Contact
		if out := c.Apply(ev, testNow); out != state.Applied {
			t.Fatalf("kind %d: apply: %v", kind, out)
		}
		a := c.Attrs(ws, noCatalog{}, "exclude_from_galantis")
		if got := rs.NextFlip(&a, testNow); !got.Equal(due) {
			t.Errorf("kind %d: next flip %v, want %v", kind, got, due)
		}
		before := rs.Segment(kind).Match(&a, due.Add(-time.Millisecond))
		after := rs.Segment(kind).Match(&a, due)
		if before == after {
			t.Errorf("kind %d: segment %s does not flip at due (%v)", kind, segs[kind].ID, before)
		}
		if next := rs.NextFlip(&a, due); !next.IsZero() && next.Sub(due) < 24*time.Hour {
			t.Errorf("kind %d: another flip soon after due: %v", kind, next)
		}
	}
}

func TestOpenLoopKeepsSchedule(t *testing.T) {
	b := kafkatest.Kfake(t)
	topic := b.Topic(t, "openloop", 3, nil)
	p, err := NewProducer(b.Addrs)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var scheds []time.Time
	st, err := p.OpenLoop(context.Background(), OpenLoopConfig{
		Rate: 2000, Duration: time.Second,
		Next: func(time.Time) *kgo.Record { return &kgo.Record{Topic: topic, Value: []byte("x")} },
		Sent: func(s time.Time, r *kgo.Record) {
			if !r.Timestamp.Equal(s) {
				t.Errorf("timestamp %v, scheduled %v", r.Timestamp, s)
			}
			scheds = append(scheds, s)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Scheduled != 2000 || len(scheds) != 2000 || st.Failed != 0 {
		t.Fatalf("stats %+v", st)
	}
	// The schedule is fixed: record i at start + i/rate, whatever the sends did.
	for i, s := range scheds {
		want := st.Start.Add(time.Duration(i) * 500 * time.Microsecond)
		if d := s.Sub(want); d < -time.Microsecond || d > time.Microsecond {
			t.Fatalf("record %d scheduled at %v, want %v", i, s, want)
		}
	}
	if st.LateP50 > 5*time.Millisecond {
		t.Errorf("median lateness %v on an idle producer", st.LateP50)
	}
	n := 0
	pre, err := p.Preload(context.Background(), func() *kgo.Record {
		if n++; n > 1000 {
			return nil
		}
		return &kgo.Record{Topic: topic, Value: []byte("y")}
	})
	if err != nil || pre.Records != 1000 {
		t.Fatalf("preload %+v %v", pre, err)
	}
}
