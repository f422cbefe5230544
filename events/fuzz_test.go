package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Run a fuzz target for a while with e.g.
//
//	go test ./events -run '^$' -fuzz '^FuzzDecode$' -fuzztime 30s
//
// Plain `go test` runs the seeds only.

// addDecodeSeeds seeds f with the records of the data-driven cases and of the bad-record
// table, in the argument order of FuzzDecode.
func addDecodeSeeds(f *testing.F) {
	header := func(r *Record, name string) string {
		for _, h := range r.Headers {
			if strings.EqualFold(strings.TrimPrefix(strings.ToLower(h.Key), "x-"), name) {
				return string(h.Value)
			}
		}
		return ""
	}
	add := func(r *Record) {
		if r == nil {
			return
		}
		f.Add(r.Key, r.Value, header(r, "shopify-topic"), header(r, "shopify-shop-domain"),
			header(r, "shopify-triggered-at"))
	}
	for _, c := range badCases() {
		add(c.rec)
	}
	cases := readCases(f, filepath.Join("testdata", "decode.txt"))
	for _, c := range cases {
		r, _ := buildRecord(f, c)
		add(r)
	}
}

func FuzzDecode(f *testing.F) {
	addDecodeSeeds(f)
	f.Fuzz(func(t *testing.T, key, value []byte, topic, shop, triggeredAt string) {
		r := &Record{Key: key, Value: value, Timestamp: time.Unix(1732183200, 0)}
		for _, h := range [...]struct{ name, value string }{
			{"X-Shopify-Topic", topic},
			{"x-shopify-shop-domain", shop},
			{"Shopify-Triggered-At", triggeredAt},
		} {
			if h.value != "" {
				r.Headers = append(r.Headers, Header{Key: h.name, Value: []byte(h.value)})
			}
		}
		ev, err := Decode(r, &Options{MaxRecordBytes: 64 << 10})
		checkDecodeResult(t, r, ev, err)
	})
}

// checkDecodeResult checks the invariants of doc.go on one result of Decode.
func checkDecodeResult(t *testing.T, r *Record, ev *Event, err error) {
	t.Helper()
	if err != nil {
		if ev != nil {
			t.Fatalf("event and error: %v", err)
		}
		if errors.Is(err, ErrGuestOrder) {
			return
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("error of type %T: %v", err, err)
		}
		if !slices.Contains(Reasons(), e.Reason) {
			t.Fatalf("unknown reason %q", e.Reason)
		}
		if e.Detail == "" || !utf8.ValidString(e.Detail) || !strings.Contains(e.Detail, ": ") {
			t.Fatalf("bad detail %q", e.Detail)
		}
		return
	}
	if ev == nil {
		t.Fatal("no event and no error")
	}
	spec, ok := topics[ev.Topic]
	if !ok || spec.canonical != ev.Topic || spec.kind != ev.Kind || ev.Kind == KindInvalid {
		t.Fatalf("kind %v with topic %q", ev.Kind, ev.Topic)
	}
	if ev.Workspace == "" || ev.Workspace != strings.ToLower(ev.Workspace) || strings.Contains(ev.Workspace, "/") {
		t.Fatalf("workspace %q", ev.Workspace)
	}
	if ev.CustomerID < 1 {
		t.Fatalf("customer id %d", ev.CustomerID)
	}
	if string(r.Key) != ev.ContactKey() {
		t.Fatalf("key %q for contact %q", r.Key, ev.ContactKey())
	}
	if ev.OccurredAt.Location() != time.UTC {
		t.Fatalf("occurred at %v not in UTC", ev.OccurredAt)
	}
	set := map[string]bool{
		"Customer":     ev.Customer != nil,
		"Redact":       ev.Redact != nil,
		"Consent":      ev.Consent != nil,
		"Tags":         ev.Tags != nil,
		"Summary":      ev.Summary != nil,
		"Order":        ev.Order != nil,
		"OrderID":      ev.OrderID != "",
		"Message":      ev.Message != nil,
		"Automation":   ev.Automation != nil,
		"ListID":       ev.ListID != "",
		"BackInStock":  ev.BackInStock != nil,
		"Conversation": ev.Conversation != nil,
		"Stage":        ev.Stage != nil,
	}
	want := map[Kind]string{
		CustomerUpsert: "Customer", CustomerRedact: "Redact",
		SMSConsentUpdate: "Consent", WhatsAppConsentUpdate: "Consent", EmailConsentUpdate: "Consent",
		TagsAdded: "Tags", TagsRemoved: "Tags", PurchasingSummary: "Summary",
		OrderUpsert: "Order", OrderDelete: "OrderID",
		MessageStatus: "Message", MessageInbound: "Message", AutomationCompleted: "Automation",
		ListMemberAdded: "ListID", ListMemberRemoved: "ListID",
		BackInStockSubscribed: "BackInStock", BackInStockUnsubscribed: "BackInStock",
		ConversationUpdated: "Conversation", LifecycleStageSet: "Stage",
	}[ev.Kind]
	for name, isSet := range set {
		if isSet != (name == want) {
			t.Fatalf("%v event: %s set = %v", ev.Kind, name, isSet)
		}
	}
	for _, tag := range ev.Tags {
		if tag == "" || tag != strings.TrimSpace(tag) {
			t.Fatalf("tag %q", tag)
		}
	}
	if m := ev.Message; m != nil && ((m.Timestamp.IsZero() && !ev.OccurredAt.IsZero()) ||
		(ev.Kind == MessageStatus) != (m.Status != 0)) {
		t.Fatalf("message %+v", m)
	}
}

func FuzzDecodeCatalog(f *testing.F) {
	cases := readCases(f, filepath.Join("testdata", "catalog.txt"))
	for _, c := range cases {
		r, _ := buildRecord(f, c)
		f.Add(r.Key, r.Value, r.Value == nil)
	}
	f.Fuzz(func(t *testing.T, key, value []byte, tombstone bool) {
		if tombstone {
			value = nil
		}
		e, err := DecodeCatalog(&Record{Key: key, Value: value})
		if err != nil {
			var de *Error
			if e != nil || !errors.As(err, &de) || !slices.Contains(Reasons(), de.Reason) || !utf8.ValidString(de.Detail) {
				t.Fatalf("(%v, %v)", e, err)
			}
			return
		}
		if string(key) != e.Workspace+"/product/"+e.ProductID && !strings.Contains(string(key), gidPrefix) {
			t.Fatalf("key %q for %+v", key, e)
		}
		if (value == nil) != (e.Collections == nil) {
			t.Fatalf("tombstone %v with collections %v", value == nil, e.Collections)
		}
		if !slices.IsSorted(e.Collections) || len(slices.Compact(slices.Clone(e.Collections))) != len(e.Collections) {
			t.Fatalf("collections %q", e.Collections)
		}
		for _, c := range e.Collections {
			if c == "" || c != strings.ToLower(strings.TrimSpace(c)) {
				t.Fatalf("collection %q", c)
			}
		}
	})
}

// FuzzCheckJSON compares the JSON checker and readers with encoding/json.
func FuzzCheckJSON(f *testing.F) {
	for _, s := range []string{`{"\\u0074opic":1,"\u0074opic":2}`, `{}`, `[]`, `""`, `"\ud83d\ude00 \u00e9 \ud800 x"`, `-0.5e+3`, `{"a":[1,{"b":null}],"c":"\""}`, `01`, `[1,]`, "\"\t\"", `{"a" 1}`, ` true `, `nul`} {
		f.Add([]byte(s))
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "webhooks", "*.json"))
	for _, name := range files {
		b, _ := os.ReadFile(name)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := checkJSON(b)
		ours, std := err == nil, json.Valid(b)
		if ours != std && !(err != nil && strings.Contains(err.msg, "nested deeper")) {
			t.Fatalf("checkJSON %v, json.Valid %v for %q", err, std, b)
		}
		if !ours || !utf8.Valid(b) {
			return
		}
		// The envelope members seen during the check are those the reader finds.
		var spans envelopeSpans
		var wantEnv envelope
		if _, err := checkJSONTop(b, &spans, nil); err != nil {
			t.Fatal("checkJSONTop disagrees with checkJSON")
		}
		env := spans.envelope(b)
		for m := newMembers(trimWS(b)); m.next(); {
			switch string(m.key()) { // m.key() is unescaped already
			case "topic":
				wantEnv.topic = m.val()
			case "shop":
				wantEnv.shop = m.val()
			case "id":
				wantEnv.id = m.val()
			case "occurred_at":
				wantEnv.occurredAt = m.val()
			case "payload":
				wantEnv.payload = m.val()
			}
		}
		if !slices.EqualFunc([][]byte{env.topic, env.shop, env.id, env.occurredAt, env.payload},
			[][]byte{wantEnv.topic, wantEnv.shop, wantEnv.id, wantEnv.occurredAt, wantEnv.payload}, bytes.Equal) {
			t.Fatalf("%q: envelope members %q, want %q", b, env, wantEnv)
		}
		// Readers agree with encoding/json on the members, elements and strings.
		v := trimWS(b)
		var want any
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(&want); err != nil {
			t.Fatalf("json.Unmarshal: %v", err)
		}
		compareValue(t, v, want)
		// The structural index recorded by the check skips exactly what a scan skips.
		// A small array makes the tape grow on larger inputs.
		ix, err := checkJSONTop(b, nil, make([]tapeEntry, 0, 2))
		if err != nil {
			t.Fatal("checkJSONTop with an index disagrees with checkJSON")
		}
		compareIndexed(t, &ix, v)
	})
}

// compareIndexed checks that walking the checked value v through ix gives the members
// and elements a scan gives, and that the walk stays in step with the tape.
func compareIndexed(t *testing.T, ix *index, v []byte) {
	t.Helper()
	switch kindOf(v) {
	case jsonObject:
		m, want := ix.members(v), newMembers(v)
		if m.c.tape == nil {
			t.Fatalf("%q: object not found in the index", v)
		}
		for want.next() {
			if !m.next() || !bytes.Equal(m.key(), want.key()) || !bytes.Equal(m.val(), want.val()) {
				t.Fatalf("%q: indexed member %q: %q, want %q: %q", v, m.key(), m.val(), want.key(), want.val())
			}
			compareIndexed(t, ix, m.val())
		}
		if m.next() || m.c.tape == nil {
			t.Fatalf("%q: indexed walk: extra member %q or out of step", v, m.key())
		}
	case jsonArray:
		e, want := ix.elements(v), newElements(v)
		if e.c.tape == nil {
			t.Fatalf("%q: array not found in the index", v)
		}
		for want.next() {
			if !e.next() || e.n != want.n || !bytes.Equal(e.val(), want.val()) {
				t.Fatalf("%q: indexed element %d: %q, want %q", v, want.n, e.val(), want.val())
			}
			compareIndexed(t, ix, e.val())
		}
		if e.next() || e.c.tape == nil {
			t.Fatalf("%q: indexed walk: extra element or out of step", v)
		}
	}
}

// compareValue checks that the readers see in the checked value v what encoding/json
// decoded into want.
func compareValue(t *testing.T, v []byte, want any) {
	t.Helper()
	switch w := want.(type) {
	case nil:
		if kindOf(v) != jsonNull {
			t.Fatalf("%q: want null", v)
		}
	case bool:
		if kindOf(v) != jsonBool || (v[0] == 't') != w {
			t.Fatalf("%q: want %v", v, w)
		}
	case json.Number:
		if kindOf(v) != jsonNumber || string(v) != string(w) {
			t.Fatalf("%q: want the number %s", v, w)
		}
	case string:
		if got := unquote(v); kindOf(v) != jsonString || got != w {
			t.Fatalf("%q: unquote %q, want %q", v, got, w)
		}
	case []any:
		e := newElements(v)
		for i := range w {
			if !e.next() || e.n != i {
				t.Fatalf("%q: element %d missing", v, i)
			}
			compareValue(t, e.val(), w[i])
		}
		if e.next() {
			t.Fatalf("%q: extra element %q", v, e.val())
		}
	case map[string]any:
		last := map[string][]byte{}
		for m := newMembers(v); m.next(); {
			last[string(m.key())] = m.val()
		}
		if len(last) != len(w) {
			t.Fatalf("%q: %d members, want %d", v, len(last), len(w))
		}
		for k, wv := range w {
			gv, ok := last[k]
			if !ok {
				t.Fatalf("%q: member %q missing", v, k)
			}
			compareValue(t, gv, wv)
		}
	}
}

var strictRFC3339 = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$`)

// FuzzTimestamp compares the RFC 3339 parser with the time package.
func FuzzTimestamp(f *testing.F) {
	for _, s := range []string{"2024-10-03T10:15:22-04:00", "2024-10-03T14:15:22.123456789Z", "2024-02-29T00:00:00Z",
		"2023-02-29T00:00:00Z", "2024-10-03t10:15:22z", "2024-10-03 10:15:22+05:30", "1732183200", "1732183200.5",
		"0001-01-01T00:00:00Z", "9999-12-31T23:59:59.9999999999Z", "2024-10-03T24:00:00Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseTimestampText([]byte(s))
		if ok && got.Location() != time.UTC {
			t.Fatalf("%q: %v not UTC", s, got)
		}
		want, err := time.Parse(time.RFC3339Nano, s)
		if err != nil || !strictRFC3339.MatchString(s) {
			return // time.Parse is lenient in places (one-digit hours): compare strict input only
		}
		if !ok {
			t.Fatalf("%q: time.Parse accepts it (%v), parseTimestampText does not", s, want)
		}
		if !got.Equal(want) {
			t.Fatalf("%q: got %v, want %v", s, got, want)
		}
	})
}
