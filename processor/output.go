package processor

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"github.com/segmentd/segmentd/internal/jsonenc"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/events"
)

// Transition types and reasons of SPEC §7.
const (
	TypeAdded   = "UserAddedToSegment"
	TypeRemoved = "UserRemovedFromSegment"

	ReasonEvent      = "event"
	ReasonTime       = "time"
	ReasonDefinition = "definition"
	ReasonCatalog    = "catalog"
)

// Cause says what produced a transition; which fields are set depends on Reason.
type Cause struct {
	Topic          string    // event
	DeliveryID     string    // event ("" when the input had none)
	DueAt          time.Time // time
	SegmentVersion int64     // definition
	ProductID      string    // catalog
	// ViaSegment names the referenced segment whose transition caused this one
	// (SPEC §6 segment references); "" otherwise.
	ViaSegment string
}

// Transition is one output record of the membership topic.
type Transition struct {
	Added          bool
	ID             string
	Workspace      string
	SegmentID      string
	SegmentVersion int64
	CustomerID     int64
	OccurredAt     time.Time
	Reason         string
	Cause          Cause
}

// Type returns the transition's type name.
func (t *Transition) Type() string {
	if t.Added {
		return TypeAdded
	}
	return TypeRemoved
}

// transitionID is the deterministic id of the n-th transition of a contact (with
// dense id dense, never reused within its partition) in one incarnation of a segment:
// a UUID-shaped hex of a SHA-256.
func transitionID(contactKey string, dense uint32, segID string, incarnation int64, n uint32) string {
	h := sha256.New()
	var buf [20]byte
	h.Write([]byte(contactKey))
	h.Write([]byte{0})
	h.Write([]byte(segID))
	binary.BigEndian.PutUint32(buf[0:], dense)
	binary.BigEndian.PutUint64(buf[4:], uint64(incarnation))
	binary.BigEndian.PutUint32(buf[12:], n)
	h.Write(buf[:16])
	sum := h.Sum(nil)
	var out [36]byte
	hex.Encode(out[0:8], sum[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], sum[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], sum[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], sum[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], sum[10:16])
	return string(out[:])
}

// AppendJSON appends the record value of SPEC §7.
func (t *Transition) AppendJSON(b []byte) []byte {
	b = append(b, `{"type":`...)
	b = jsonenc.AppendString(b, t.Type())
	b = append(b, `,"id":`...)
	b = jsonenc.AppendString(b, t.ID)
	b = append(b, `,"workspace":`...)
	b = jsonenc.AppendString(b, t.Workspace)
	b = append(b, `,"segment_id":`...)
	b = jsonenc.AppendString(b, t.SegmentID)
	b = append(b, `,"segment_version":`...)
	b = strconv.AppendInt(b, t.SegmentVersion, 10)
	b = append(b, `,"customer_id":`...)
	b = strconv.AppendInt(b, t.CustomerID, 10)
	b = append(b, `,"occurred_at":"`...)
	b = t.OccurredAt.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, `","reason":`...)
	b = jsonenc.AppendString(b, t.Reason)
	b = append(b, `,"cause":{`...)
	switch t.Reason {
	case ReasonEvent:
		b = append(b, `"topic":`...)
		b = jsonenc.AppendString(b, t.Cause.Topic)
		b = append(b, `,"delivery_id":`...)
		if t.Cause.DeliveryID == "" {
			b = append(b, "null"...)
		} else {
			b = jsonenc.AppendString(b, t.Cause.DeliveryID)
		}
	case ReasonTime:
		b = append(b, `"due_at":"`...)
		b = t.Cause.DueAt.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
		b = append(b, '"')
	case ReasonDefinition:
		b = append(b, `"segment_version":`...)
		b = strconv.AppendInt(b, t.Cause.SegmentVersion, 10)
	case ReasonCatalog:
		b = append(b, `"product_id":`...)
		b = jsonenc.AppendString(b, t.Cause.ProductID)
	}
	if t.Cause.ViaSegment != "" {
		b = append(b, `,"via_segment":`...)
		b = jsonenc.AppendString(b, t.Cause.ViaSegment)
	}
	return append(b, "}}"...)
}

// Dead-letter headers of SPEC §4.4.
const (
	HeaderError  = "segmentd-error"
	HeaderDetail = "segmentd-detail"
)

// deadLetter builds the dead-letter record of an input record: its key, value and
// headers, plus the reason and detail.
func deadLetter(topic string, r *events.Record, reason events.Reason, detail string) *kgo.Record {
	hs := make([]kgo.RecordHeader, 0, len(r.Headers)+2)
	for _, h := range r.Headers {
		hs = append(hs, kgo.RecordHeader{Key: h.Key, Value: h.Value})
	}
	hs = append(hs,
		kgo.RecordHeader{Key: HeaderError, Value: []byte(reason)},
		kgo.RecordHeader{Key: HeaderDetail, Value: []byte(detail)})
	return &kgo.Record{Topic: topic, Key: r.Key, Value: r.Value, Headers: hs}
}

// workspaceOf returns the workspace of a contact key "<ws>/<id>".
func workspaceOf(contactKey string) string {
	ws, _, _ := strings.Cut(contactKey, "/")
	return ws
}

// customerIDOf returns the customer id of a contact key.
func customerIDOf(contactKey string) int64 {
	_, id, _ := strings.Cut(contactKey, "/")
	n, _ := strconv.ParseInt(id, 10, 64)
	return n
}
