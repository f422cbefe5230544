package chaos

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Output record types (SPEC §7).
const (
	typeAdded   = "UserAddedToSegment"
	typeRemoved = "UserRemovedFromSegment"
)

// outRec is one record of the membership topic.
type outRec struct {
	Partition  int32
	Offset     int64
	Key        string
	Header     string // the "type" header
	Timestamp  time.Time
	Type       string          `json:"type"`
	ID         string          `json:"id"`
	Workspace  string          `json:"workspace"`
	Segment    string          `json:"segment_id"`
	Version    json.Number     `json:"segment_version"`
	Customer   json.Number     `json:"customer_id"`
	OccurredAt string          `json:"occurred_at"`
	Reason     string          `json:"reason"`
	Cause      json.RawMessage `json:"cause"`
	parseErr   string
}

func parseOut(r *kgo.Record) *outRec {
	o := &outRec{Partition: r.Partition, Offset: r.Offset, Key: string(r.Key), Timestamp: r.Timestamp}
	for _, h := range r.Headers {
		if h.Key == "type" {
			o.Header = string(h.Value)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(r.Value))
	dec.UseNumber()
	if err := dec.Decode(o); err != nil {
		o.parseErr = fmt.Sprintf("value %q: %v", r.Value, err)
		return o
	}
	switch {
	case o.Type != typeAdded && o.Type != typeRemoved:
		o.parseErr = fmt.Sprintf("type %q", o.Type)
	case o.Header != o.Type:
		o.parseErr = fmt.Sprintf("header type %q differs from the value's type %q", o.Header, o.Type)
	case o.ID == "":
		o.parseErr = "empty id"
	case o.Key != o.Workspace+"/"+o.Customer.String():
		o.parseErr = fmt.Sprintf("key %q is not the contact key %s/%s", o.Key, o.Workspace, o.Customer)
	}
	return o
}

func (o *outRec) sign() string {
	if o.Type == typeAdded {
		return "+"
	}
	return "-"
}

func (o *outRec) String() string {
	return fmt.Sprintf("%s p%d@%d %s id=%s v%s reason=%s cause=%s occurred_at=%s", o.sign(), o.Partition, o.Offset, o.Type, o.ID,
		o.Version, o.Reason, o.Cause, o.OccurredAt)
}

func (o *outRec) at() time.Time {
	if t, err := time.Parse(time.RFC3339Nano, o.OccurredAt); err == nil {
		return t
	}
	return o.Timestamp
}

// verdict is the outcome of the comparison.
type verdict struct {
	records        int
	added, removed int
	pairs          int // (contact, segment) pairs with output
	refMembers     int
	malformed      []string
	dupIDs         []string // check 1: an id twice
	repeats        []string // check 1: same type twice in a row (pair keys)
	startsRemoved  []string // check 2: first record is a removal (pair keys)
	splitPartition []string // a contact key in several membership partitions
	finalDiff      []string // check 3 (pair keys)
	missing        []string // check 3: reference member without any record (pair keys)
	stableDiff     []string // check 4 (pair keys)
	stablePairs    int
	deadLetterDiff []string // check 5
	deadLetters    int
	bad            map[string]bool // pair keys to show in detail
	byPair         map[string][]*outRec
}

func (v *verdict) mismatches() int {
	return len(v.malformed) + len(v.dupIDs) + len(v.repeats) + len(v.startsRemoved) + len(v.splitPartition) +
		len(v.finalDiff) + len(v.missing) + len(v.stableDiff) + len(v.deadLetterDiff)
}

// compare runs checks 1–5 (see the package doc) on the membership and dead-letter
// records against the reference.
func compare(out []*outRec, dlq []*kgo.Record, ref *reference) *verdict {
	v := &verdict{records: len(out), bad: map[string]bool{}}
	byPair := map[string][]*outRec{}
	var pairOrder []string
	ids := map[string]*outRec{}
	partOf := map[string]int32{}
	for _, o := range out {
		if o.parseErr != "" {
			v.malformed = append(v.malformed, fmt.Sprintf("p%d@%d key %q: %s", o.Partition, o.Offset, o.Key, o.parseErr))
			continue
		}
		if o.Type == typeAdded {
			v.added++
		} else {
			v.removed++
		}
		if prev, dup := ids[o.ID]; dup {
			v.dupIDs = append(v.dupIDs, fmt.Sprintf("id %s at p%d@%d and p%d@%d (%s %s / %s)", o.ID, prev.Partition, prev.Offset,
				o.Partition, o.Offset, o.Key, prev.Segment, o.Segment))
			v.bad[pairKey(o.Key, o.Segment)] = true
			v.bad[pairKey(prev.Key, prev.Segment)] = true
		} else {
			ids[o.ID] = o
		}
		if p, ok := partOf[o.Key]; ok && p != o.Partition {
			v.splitPartition = append(v.splitPartition, fmt.Sprintf("%s in membership partitions %d and %d", o.Key, p, o.Partition))
		}
		partOf[o.Key] = o.Partition
		pk := pairKey(o.Key, o.Segment)
		if byPair[pk] == nil {
			pairOrder = append(pairOrder, pk)
		}
		byPair[pk] = append(byPair[pk], o)
	}
	v.pairs = len(byPair)

	// Checks 1 and 2: per pair, alternation starting with added.
	for _, pk := range pairOrder {
		seq := byPair[pk]
		if seq[0].Type != typeAdded {
			v.startsRemoved = append(v.startsRemoved, pk)
			v.bad[pk] = true
		}
		for i := 1; i < len(seq); i++ {
			if seq[i].Type == seq[i-1].Type {
				v.repeats = append(v.repeats, pk)
				v.bad[pk] = true
				break
			}
		}
	}

	// Check 3: final memberships. Together with check 2 this rules out a missing
	// transition: a sequence that alternates and starts with "added" is determined by
	// its length, and its last record says whether the contact is a member; a lost
	// transition either breaks the alternation (two of a kind in a row, or a first
	// "removed") or leaves the final state wrong. The one loss it cannot see is a whole
	// added+removed pair, which check 4 covers for the stable segments.
	refMembers := ref.finalMembers()
	v.refMembers = len(refMembers)
	for pk := range refMembers {
		if len(byPair[pk]) == 0 {
			v.missing = append(v.missing, pk)
			v.bad[pk] = true
		}
	}
	all := map[string]bool{}
	for pk := range byPair {
		all[pk] = true
	}
	for pk := range refMembers {
		all[pk] = true
	}
	for pk := range all {
		seq := byPair[pk]
		outMember := len(seq) > 0 && seq[len(seq)-1].Type == typeAdded
		if outMember != refMembers[pk] {
			v.finalDiff = append(v.finalDiff, pk)
			v.bad[pk] = true
		}
	}

	// Check 4: the stable segments, transition by transition.
	stablePairs := map[string]bool{}
	for pk := range ref.steps {
		stablePairs[pk] = true
	}
	for pk := range byPair {
		key, seg, _ := strings.Cut(pk, "|")
		ws, _, _ := strings.Cut(key, "/")
		if s := ref.segs[ws+"/"+seg]; s != nil && s.stable {
			stablePairs[pk] = true
		}
	}
	v.stablePairs = len(stablePairs)
	for pk := range stablePairs {
		var got, want strings.Builder
		for _, o := range byPair[pk] {
			got.WriteString(o.sign())
		}
		for _, s := range ref.steps[pk] {
			if s.added {
				want.WriteString("+")
			} else {
				want.WriteString("-")
			}
		}
		if got.String() != want.String() {
			v.stableDiff = append(v.stableDiff, pk)
			v.bad[pk] = true
		}
	}

	// Check 5: dead letters exactly once.
	gotDL := map[string]int{}
	for _, r := range dlq {
		gotDL[dlKey(r.Key, r.Value)]++
	}
	v.deadLetters = len(dlq)
	for k, n := range ref.deadLetter {
		if gotDL[k] != n {
			v.deadLetterDiff = append(v.deadLetterDiff, fmt.Sprintf("%d× in the dead-letter topic, want %d×: key %q value %.200q", gotDL[k], n, strings.Split(k, "\x00")[0], strings.SplitN(k, "\x00", 2)[1]))
		}
	}
	for k, n := range gotDL {
		if _, ok := ref.deadLetter[k]; !ok {
			v.deadLetterDiff = append(v.deadLetterDiff, fmt.Sprintf("%d× in the dead-letter topic, want none: key %q value %.200q", n, strings.Split(k, "\x00")[0], strings.SplitN(k, "\x00", 2)[1]))
		}
	}
	for _, l := range [][]string{v.malformed, v.dupIDs, v.repeats, v.startsRemoved, v.splitPartition, v.finalDiff, v.missing, v.stableDiff, v.deadLetterDiff} {
		sort.Strings(l)
	}
	v.byPair = byPair
	return v
}

// details renders the evidence for one bad pair: the output sequence, the reference,
// the faults around it and the relevant log lines.
func (h *harness) details(v *verdict, pk string) string {
	var b strings.Builder
	key, seg, _ := strings.Cut(pk, "|")
	ws, _, _ := strings.Cut(key, "/")
	s := h.ref.segs[ws+"/"+seg]
	kind := "deleted by the end of the run"
	if s != nil {
		kind = fmt.Sprintf("final definition after %d valid record(s)", s.defs)
		if s.stable {
			kind += ", stable (compared transition by transition)"
		}
	}
	fmt.Fprintf(&b, "contact %s, segment %s (%s)\n", key, seg, kind)
	seq := v.byPair[pk]
	fmt.Fprintf(&b, "  output, %d record(s):\n", len(seq))
	var from, to time.Time
	for _, o := range seq {
		fmt.Fprintf(&b, "    %s\n", o)
		if at := o.at(); from.IsZero() || at.Before(from) {
			from = at
		}
		if at := o.at(); at.After(to) {
			to = at
		}
	}
	rc := h.ref.contacts[key]
	refMember := false
	if rc != nil && s != nil {
		refMember = h.ref.member(rc, s)
	}
	fmt.Fprintf(&b, "  reference: member at the end = %v\n", refMember)
	if steps := h.ref.steps[pk]; len(steps) > 0 || (s != nil && s.stable) {
		fmt.Fprintf(&b, "  reference transitions after each event (%d): ", len(steps))
		for _, st := range steps {
			fmt.Fprintf(&b, "%s ", st)
			if from.IsZero() || st.at.Before(from) {
				from = st.at
			}
			if st.at.After(to) {
				to = st.at
			}
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "  contact (reference): %s\n", h.ref.describe(key))
	if from.IsZero() {
		return b.String()
	}
	from, to = from.Add(-15*time.Second), to.Add(15*time.Second)
	if tl := h.tl.format(from, to); tl != "" {
		fmt.Fprintf(&b, "  faults and harness actions from %s to %s:\n%s", from.UTC().Format("15:04:05"), to.UTC().Format("15:04:05"), tl)
	}
	var window []string
	if rc != nil {
		window = append(window, "partition="+strconv.Itoa(int(rc.partition))+" ")
	}
	lines := h.cluster.grepLogs([]string{key + " ", key + "\"", "customer_id=" + strings.TrimPrefix(key, ws+"/")}, from, to, window, 40)
	if len(lines) > 0 {
		fmt.Fprintf(&b, "  log lines naming the contact, or its input partition in that window:\n")
		for _, l := range lines {
			fmt.Fprintf(&b, "    %s: %s\n", l.file, l.text)
		}
	}
	return b.String()
}
