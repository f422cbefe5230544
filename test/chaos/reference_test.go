package chaos

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/events"
	"github.com/segmentd/segmentd/operators"
	"github.com/segmentd/segmentd/state"
)

// readTopic reads every partition of topic from its start up to the end offsets it
// has when called, calling fn for each data record in partition order. With
// read_committed, control records are kept (and skipped) so that the reader knows
// when it has passed the last offset; aborted records are never given to fn.
func readTopic(ctx context.Context, brokers []string, adm *kadm.Client, topic string, iso kgo.IsolationLevel, fn func(*kgo.Record)) (map[int32]int64, error) {
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	target := map[int32]int64{}
	starts := map[int32]kgo.Offset{}
	var listErr error
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			listErr = fmt.Errorf("end offset of %s/%d: %w", topic, o.Partition, o.Err)
		}
		target[o.Partition] = o.Offset
		if o.Offset > 0 {
			starts[o.Partition] = kgo.NewOffset().AtStart()
		}
	})
	if listErr != nil {
		return nil, listErr
	}
	if len(starts) == 0 {
		return target, nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: starts}),
		kgo.FetchIsolationLevel(iso), kgo.KeepControlRecords(), kgo.FetchMaxWait(200*time.Millisecond),
		kgo.FetchMaxBytes(64<<20), kgo.FetchMaxPartitionBytes(16<<20))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	next := map[int32]int64{}
	done := func() bool {
		for p, end := range target {
			if next[p] < end {
				return false
			}
		}
		return true
	}
	for !done() {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			var lag []string
			for p, end := range target {
				if next[p] < end {
					lag = append(lag, fmt.Sprintf("p%d at %d of %d", p, next[p], end))
				}
			}
			sort.Strings(lag)
			return nil, fmt.Errorf("reading %s: %w; not at the end: %s (an open transaction keeps read_committed readers before it)", topic, err, strings.Join(lag, ", "))
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				ferr = fmt.Errorf("fetch %s/%d: %w", t, p, err)
			}
		})
		if ferr != nil {
			return nil, ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset+1 > next[r.Partition] {
				next[r.Partition] = r.Offset + 1
			}
			if !r.Attrs.IsControl() {
				fn(r)
			}
		})
	}
	return target, nil
}

// ---------------------------------------------------------------------------------
// The reference.

// refCatalog is the final catalog: workspace → product id → collections.
type refCatalog map[string]map[string][]string

func (c refCatalog) Collections(ws, product string) []string { return c[ws][product] }

// refSegment is one final definition.
type refSegment struct {
	ws, id string
	seg    *operators.Segment
	stable bool // compared transition by transition
	defs   int  // valid records of this key on the segments topic
}

// pairKey is "<contact key>|<segment id>".
func pairKey(contact, segment string) string { return contact + "|" + segment }

// refContact is one contact of the reference.
type refContact struct {
	key       string
	ws        string
	c         *state.Contact
	partition int32
	events    int
	stableIn  map[string]bool // stable segment → member now (per-event evaluation)
}

// refStep is one transition of the reference's per-event evaluation of a stable
// segment.
type refStep struct {
	added  bool
	offset int64 // input offset of the event
	topic  string
	id     string // delivery id
	at     time.Time
}

func (s refStep) String() string {
	sign := "-"
	if s.added {
		sign = "+"
	}
	return fmt.Sprintf("%s(%s %s @%d)", sign, s.topic, s.id, s.offset)
}

// reference applies the input to state.Contact and evaluates with operators, from
// scratch, as a model of what the processor must output.
type reference struct {
	exclusion string
	now       time.Time

	segs    map[string]*refSegment   // "<ws>/<id>" → final definition
	byWS    map[string][]*refSegment // final definitions per workspace, sorted by id
	stable  map[string][]*refSegment // stable definitions per workspace
	catalog refCatalog

	contacts   map[string]*refContact
	steps      map[string][]refStep // pairKey → per-event transitions of stable segments
	input      int                  // events-topic records
	decodeErr  map[string]int       // reason → records that did not decode
	guests     int
	outcomes   map[string]int // Apply outcomes
	deadLetter map[string]int // expected dead letters: key\x00value → count
	defDead    int            // expected dead letters of the segments and catalog topics
	segRecords int
	catRecords int
}

func newReference(exclusion string) *reference {
	return &reference{exclusion: exclusion, now: time.Now(), segs: map[string]*refSegment{}, byWS: map[string][]*refSegment{},
		stable: map[string][]*refSegment{}, catalog: refCatalog{}, contacts: map[string]*refContact{},
		steps: map[string][]refStep{}, decodeErr: map[string]int{}, outcomes: map[string]int{}, deadLetter: map[string]int{}}
}

func dlKey(key, value []byte) string {
	if value == nil {
		return string(key) + "\x00<null>"
	}
	return string(key) + "\x00" + string(value)
}

// applySegmentRecord applies one segments-topic record as the processor does
// (processor/globals.go decodeDefinitionEntry, rules.applySegment): the last valid
// record of a key wins; a tombstone deletes; an invalid one is dead-lettered and
// changes nothing.
func (m *reference) applySegmentRecord(r *kgo.Record, stableIDs map[string]bool) {
	m.segRecords++
	key := string(r.Key)
	ws, id, ok := strings.Cut(key, "/")
	if !ok || ws == "" || id == "" || strings.Contains(id, "/") {
		m.defDead++
		m.deadLetter[dlKey(r.Key, r.Value)]++
		return
	}
	ws = strings.ToLower(ws)
	if r.Value == nil {
		delete(m.segs, ws+"/"+id)
		return
	}
	def, err := operators.ParseDefinition(r.Value)
	if err == nil && (def.Workspace != ws || def.ID != id) {
		err = fmt.Errorf("key mismatch")
	}
	var seg *operators.Segment
	if err == nil {
		seg, err = operators.Compile(def)
	}
	if err != nil {
		m.defDead++
		m.deadLetter[dlKey(r.Key, r.Value)]++
		return
	}
	prev := m.segs[ws+"/"+id]
	n := 1
	if prev != nil {
		n = prev.defs + 1
	}
	m.segs[ws+"/"+id] = &refSegment{ws: ws, id: id, seg: seg, defs: n, stable: stableIDs[id] && n == 1}
}

// applyCatalogRecord applies one catalog-topic record (events.DecodeCatalog, as the
// processor does).
func (m *reference) applyCatalogRecord(r *kgo.Record) {
	m.catRecords++
	e, err := events.DecodeCatalog(&events.Record{Key: r.Key, Value: r.Value, Headers: toEventsHeaders(r.Headers), Timestamp: r.Timestamp})
	if err != nil {
		m.defDead++
		m.deadLetter[dlKey(r.Key, r.Value)]++
		return
	}
	if e.Collections == nil {
		delete(m.catalog[e.Workspace], e.ProductID)
		return
	}
	if m.catalog[e.Workspace] == nil {
		m.catalog[e.Workspace] = map[string][]string{}
	}
	m.catalog[e.Workspace][e.ProductID] = e.Collections
}

// finishGlobals indexes the final definitions; call it after the segments and
// catalog topics and before the events.
func (m *reference) finishGlobals() {
	for _, s := range m.segs {
		m.byWS[s.ws] = append(m.byWS[s.ws], s)
		if s.stable {
			m.stable[s.ws] = append(m.stable[s.ws], s)
		}
	}
	for _, ss := range []map[string][]*refSegment{m.byWS, m.stable} {
		for _, l := range ss {
			sort.Slice(l, func(i, j int) bool { return l[i].id < l[j].id })
		}
	}
}

// applyEvent applies one events-topic record, in partition order, as the processor
// does (processor/window_run.go processRecord, evaluate.go applyEvent): decode with
// events.Decode (a guest order is skipped, any other error is a dead letter), then
// Contact.Apply. The stable segments are then evaluated from scratch.
func (m *reference) applyEvent(r *kgo.Record) {
	m.input++
	ev, err := events.Decode(&events.Record{Key: r.Key, Value: r.Value, Headers: toEventsHeaders(r.Headers), Timestamp: r.Timestamp}, nil)
	if err != nil {
		var de *events.Error
		switch {
		case errors.Is(err, events.ErrGuestOrder):
			m.guests++
			return
		case errors.As(err, &de):
			m.decodeErr[string(de.Reason)]++
		default:
			m.decodeErr["invalid_record"]++
		}
		m.deadLetter[dlKey(r.Key, r.Value)]++
		return
	}
	key := ev.ContactKey()
	rc := m.contacts[key]
	if rc == nil {
		rc = &refContact{key: key, ws: ev.Workspace, c: &state.Contact{}, partition: r.Partition, stableIn: map[string]bool{}}
		m.contacts[key] = rc
	}
	rc.events++
	out := rc.c.Apply(ev, m.now)
	m.outcomes[out.String()]++
	alive := !rc.c.IsNew() && !rc.c.IsTombstone()
	var a operators.Attrs
	if alive {
		a = rc.c.Attrs(rc.ws, m.catalog, m.exclusion)
	}
	for _, s := range m.stable[rc.ws] {
		match := alive && s.seg.Match(&a, m.now)
		if match == rc.stableIn[s.id] {
			continue
		}
		rc.stableIn[s.id] = match
		pk := pairKey(key, s.id)
		m.steps[pk] = append(m.steps[pk], refStep{added: match, offset: r.Offset, topic: ev.Topic, id: ev.DeliveryID, at: r.Timestamp})
	}
}

// member reports whether the contact is a member of segment id (of its workspace)
// under the final definitions and catalog.
func (m *reference) member(rc *refContact, s *refSegment) bool {
	if rc.c.IsNew() || rc.c.IsTombstone() {
		return false
	}
	a := rc.c.Attrs(rc.ws, m.catalog, m.exclusion)
	return s.seg.Match(&a, m.now)
}

// finalMembers returns every (contact, segment) pair the reference has as a member.
func (m *reference) finalMembers() map[string]bool {
	out := map[string]bool{}
	for key, rc := range m.contacts {
		if rc.c.IsNew() || rc.c.IsTombstone() {
			continue
		}
		a := rc.c.Attrs(rc.ws, m.catalog, m.exclusion)
		for _, s := range m.byWS[rc.ws] {
			if s.seg.Match(&a, m.now) {
				out[pairKey(key, s.id)] = true
			}
		}
	}
	return out
}

// describe summarizes a contact's final attributes for failure messages.
func (m *reference) describe(key string) string {
	rc := m.contacts[key]
	if rc == nil {
		return "no event of this contact on the events topic"
	}
	state := "live"
	switch {
	case rc.c.IsNew():
		state = "absent"
	case rc.c.IsTombstone():
		state = "deleted"
	}
	a := rc.c.Attrs(rc.ws, m.catalog, m.exclusion)
	return fmt.Sprintf("%s, %d events, input partition %d; orders=%d total_spent=%v aov=%v(has %v) country=%q language=%q consent=%v "+
		"tags=%v lists=%v brands=%v collections=%v prices=%v messages_received=%d read=%d last_received=%v last_engaged=%v automations=%d %v excluded=%v",
		state, rc.events, rc.partition, a.OrdersCount, a.TotalSpent, a.AOV, a.HasAOV, a.Country, a.Language, a.Consent,
		a.Tags, a.Lists, a.PurchasedBrands, a.PurchasedCollections, a.PurchasedPrices, a.MessagesReceived, a.MessagesRead,
		a.LastMessageReceivedAt.UTC().Format(time.RFC3339), a.LastEngagedAt.UTC().Format(time.RFC3339),
		a.AutomationCompletions, a.CompletionsByAutomation, a.Excluded)
}
