package processor

import (
	"bytes"
	"encoding/json"
	"github.com/segmentd/segmentd/internal/jsonenc"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// wireCause is the cause of a transition (SPEC §7) as a JSON consumer reads it; the
// rest of the record is transitionJSON's (harness_test.go).
type wireCause struct {
	Topic          *string `json:"topic"`
	DeliveryID     *string `json:"delivery_id"`
	DueAt          *string `json:"due_at"`
	SegmentVersion *int64  `json:"segment_version"`
	ProductID      *string `json:"product_id"`
	ViaSegment     *string `json:"via_segment"`
}

// validUTF8 returns s with each byte of invalid UTF-8 replaced by U+FFFD, as a JSON
// encoder writes it.
func validUTF8(s string) string {
	var b strings.Builder
	for _, r := range s { // an invalid byte ranges as one utf8.RuneError
		b.WriteRune(r)
	}
	return b.String()
}

// stdJSONString is encoding/json's encoding of s, without HTML escaping.
func stdJSONString(t *testing.T, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// checkAppendJSON encodes tr and checks that the value is valid JSON whose every field
// reads back as tr's (strings as valid UTF-8), and that each string is encoded exactly
// as encoding/json encodes it.
func checkAppendJSON(t *testing.T, tr *Transition) {
	t.Helper()
	for _, s := range []string{tr.ID, tr.Workspace, tr.SegmentID, tr.Reason, tr.Cause.Topic, tr.Cause.DeliveryID, tr.Cause.ProductID} {
		if got, want := jsonenc.AppendString(nil, s), stdJSONString(t, s); !bytes.Equal(got, want) {
			t.Fatalf("jsonenc.AppendString(%q) = %s, encoding/json gives %s", s, got, want)
		}
	}
	b := tr.AppendJSON([]byte("prefix"))
	if !bytes.HasPrefix(b, []byte("prefix")) {
		t.Fatalf("AppendJSON did not append: %q", b)
	}
	b = b[len("prefix"):]
	if !json.Valid(b) {
		t.Fatalf("AppendJSON produced invalid JSON: %s", b)
	}
	var w transitionJSON
	var c wireCause
	strict := func(v []byte, dst any) {
		t.Helper()
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.DisallowUnknownFields()
		if err := dec.Decode(dst); err != nil {
			t.Fatalf("decoding %s: %v", b, err)
		}
	}
	strict(b, &w)
	strict(w.Cause, &c)
	eqs := func(name, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %q, want %q (in %s)", name, got, want, b)
		}
	}
	eqp := func(name string, got *string, want string) {
		t.Helper()
		if got == nil {
			t.Errorf("%s missing, want %q (in %s)", name, want, b)
			return
		}
		eqs(name, *got, want)
	}
	eqs("type", w.Type, tr.Type())
	eqs("id", w.ID, validUTF8(tr.ID))
	eqs("workspace", w.Workspace, validUTF8(tr.Workspace))
	eqs("segment_id", w.SegmentID, validUTF8(tr.SegmentID))
	eqs("reason", w.Reason, validUTF8(tr.Reason))
	if w.SegmentVersion != tr.SegmentVersion || w.CustomerID != tr.CustomerID {
		t.Errorf("segment_version, customer_id = %d, %d, want %d, %d", w.SegmentVersion, w.CustomerID, tr.SegmentVersion, tr.CustomerID)
	}
	checkInstant := func(name, got string, want time.Time) {
		t.Helper()
		at, err := time.Parse(time.RFC3339Nano, got)
		if err != nil {
			t.Errorf("%s %q: %v", name, got, err)
			return
		}
		if want = want.Truncate(time.Millisecond); !at.Equal(want) {
			t.Errorf("%s = %s, want %s", name, at, want)
		}
	}
	checkInstant("occurred_at", w.OccurredAt, tr.OccurredAt)
	switch tr.Reason {
	case ReasonEvent:
		eqp("cause.topic", c.Topic, validUTF8(tr.Cause.Topic))
		if tr.Cause.DeliveryID == "" {
			if c.DeliveryID != nil {
				t.Errorf("cause.delivery_id = %q, want null", *c.DeliveryID)
			}
		} else {
			eqp("cause.delivery_id", c.DeliveryID, validUTF8(tr.Cause.DeliveryID))
		}
	case ReasonTime:
		if c.DueAt == nil {
			t.Errorf("cause.due_at missing in %s", b)
		} else {
			checkInstant("cause.due_at", *c.DueAt, tr.Cause.DueAt)
		}
	case ReasonDefinition:
		if c.SegmentVersion == nil || *c.SegmentVersion != tr.Cause.SegmentVersion {
			t.Errorf("cause.segment_version in %s, want %d", b, tr.Cause.SegmentVersion)
		}
	case ReasonCatalog:
		eqp("cause.product_id", c.ProductID, validUTF8(tr.Cause.ProductID))
	}
	if tr.Cause.ViaSegment == "" {
		if c.ViaSegment != nil {
			t.Errorf("cause.via_segment = %q, want none", *c.ViaSegment)
		}
	} else {
		eqp("cause.via_segment", c.ViaSegment, validUTF8(tr.Cause.ViaSegment))
	}
}

// TestAppendJSONEscapes: every string of a transition is a valid JSON string whatever
// it holds (a delivery id with a control character used to come out in Go syntax,
// "\a", which JSON parsers reject).
func TestAppendJSONEscapes(t *testing.T) {
	at := time.Date(2026, 11, 21, 10, 0, 0, 123456789, time.FixedZone("x", -6*3600))
	for _, s := range []string{
		"", "plain", "\x07", "bell\x07bell", "\x00", "\x1f\x7f", "tab\tnl\nret\r\b\f",
		`quote"quote`, `back\slash`, `\u0041`, "\u2028\u2029", "line\u2028sep",
		"\xff", "a\xc3(b", "\xed\xa0\x80", "ok é 日本 🎉", "<&>", "\U0010ffff",
	} {
		for _, reason := range []string{ReasonEvent, ReasonTime, ReasonDefinition, ReasonCatalog} {
			t.Run("", func(t *testing.T) {
				tr := &Transition{
					Added: reason != ReasonTime, ID: s, Workspace: s, SegmentID: s,
					SegmentVersion: 3, CustomerID: -7012345, OccurredAt: at, Reason: reason,
					Cause: Cause{Topic: s, DeliveryID: s, DueAt: at.Add(-time.Second), SegmentVersion: 2, ProductID: s},
				}
				checkAppendJSON(t, tr)
				tr.Cause.ViaSegment = s + "vip" // caused through a segment reference
				checkAppendJSON(t, tr)
			})
		}
	}
	// The escapes themselves, as a reader of the topic sees them.
	for s, want := range map[string]string{
		"\x07":     `"\u0007"`,
		"\u2028":   `"\u2028"`,
		"\xff":     `"\ufffd"`,
		`a"b\c`:    `"a\"b\\c"`,
		"\n\t\b\f": `"\n\t\b\f"`,
		"<é>":      `"<é>"`,
	} {
		if got := string(jsonenc.AppendString(nil, s)); got != want {
			t.Errorf("jsonenc.AppendString(%q) = %s, want %s", s, got, want)
		}
	}
}

// FuzzAppendJSON: whatever the strings and numbers, AppendJSON gives valid JSON that
// reads back field by field.
func FuzzAppendJSON(f *testing.F) {
	f.Add(true, "id", "acme.myshopify.com", "vip", int64(3), int64(7012345), int64(1763719200123), uint8(0),
		"orders/create", "b54557e4", "", int64(0), int64(0))
	f.Add(false, "\x07", "\u2028", "\xff", int64(-1), int64(-1), int64(0), uint8(1), "", "", "", int64(1), int64(-5))
	f.Add(true, `"`, `\`, "", int64(1), int64(1), int64(-62135596800000), uint8(2), "", "", "p\x00", int64(0), int64(9))
	f.Add(false, "", "", "", int64(0), int64(0), int64(253402300799999), uint8(3), "", "", "\x1b[0m", int64(0), int64(0))
	f.Fuzz(func(t *testing.T, added bool, id, ws, seg string, ver, cust, occurredMs int64, reason uint8,
		topic, delivery, product string, dueMs, causeVer int64) {
		// Instants between years 1 and 9999, the range RFC 3339 can write.
		const minMs, maxMs = -62135596800000, 253402300799999
		clamp := func(ms int64) time.Time {
			if ms < minMs || ms > maxMs {
				ms = minMs + (ms%(maxMs-minMs)+(maxMs-minMs))%(maxMs-minMs)
			}
			return time.UnixMilli(ms)
		}
		reasons := []string{ReasonEvent, ReasonTime, ReasonDefinition, ReasonCatalog, topic}
		tr := &Transition{
			Added: added, ID: id, Workspace: ws, SegmentID: seg, SegmentVersion: ver, CustomerID: cust,
			OccurredAt: clamp(occurredMs), Reason: reasons[int(reason)%len(reasons)],
			Cause: Cause{Topic: topic, DeliveryID: delivery, DueAt: clamp(dueMs), SegmentVersion: causeVer, ProductID: product},
		}
		checkAppendJSON(t, tr)
		if !utf8.Valid(tr.AppendJSON(nil)) {
			t.Fatal("AppendJSON produced invalid UTF-8")
		}
	})
}
