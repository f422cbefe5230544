package load

import (
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/operators"
)

// Timer kinds: which time-relative segment a seeded contact's timer flips.
const (
	TimerLastOrder = iota // days_since_last_order gt 30: joins "lapsing-30" at due
	TimerLifecycle        // lifecycle_stage is at_risk: joins "at-risk" at due
	TimerEngaged          // last_engaged_at in_last_days 7: leaves "engaged-7d" at due
	NumTimerKinds
)

// TimerSegments returns the three time-relative segments of workspace ws that the
// records of TimerSeed arm.
func TimerSegments(ws string) ([]Segment, error) {
	defs := []struct{ id, cond string }{
		{"lapsing-30", `{"field":"days_since_last_order","op":"gt","value":30}`},
		{"at-risk", `{"field":"lifecycle_stage","op":"is","value":"at_risk"}`},
		{"engaged-7d", `{"field":"last_engaged_at","op":"in_last_days","value":7}`},
	}
	var out []Segment
	for _, d := range defs {
		js := []byte(fmt.Sprintf(`{"workspace":%q,"id":%q,"name":%q,"groups":[{"conditions":[%s]}]}`, ws, d.id, d.id, d.cond))
		def, err := operators.ParseDefinition(js)
		if err != nil {
			return nil, fmt.Errorf("timer segment %s: %w", d.id, err)
		}
		out = append(out, Segment{Workspace: ws, ID: d.id, Key: []byte(def.Key()), Value: js, Def: def})
	}
	return out, nil
}

// TimerSeed returns one Form B event for the Kafka topic that creates contact
// customerID of workspace ws with exactly one time-relative timer due at due, of the
// given kind (TimerLastOrder: an order 31 days before due; TimerLifecycle: an order
// 91 days before due; TimerEngaged: an inbound message 7 days before due). Its other
// time-relative predicates flip months later or never.
func TimerSeed(topic, ws string, customerID int64, kind int, due time.Time) *kgo.Record {
	id := strconv.FormatInt(customerID, 10)
	b := make([]byte, 0, 320)
	b = append(b, `{"topic":"`...)
	switch kind {
	case TimerEngaged:
		b = append(b, `messages/inbound","shop":"`...)
		b = append(b, ws...)
		b = append(b, `","id":"seed-`...)
		b = append(b, id...)
		b = append(b, `","payload":{"customer_id":`...)
		b = append(b, id...)
		b = append(b, `,"message_id":"in-`...)
		b = append(b, id...)
		b = append(b, `","timestamp":"`...)
		b = due.Add(-7*operators.Day).UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, `"}}`...)
	default:
		days := 31
		if kind == TimerLifecycle {
			days = 91
		}
		created := due.Add(-time.Duration(days) * operators.Day).UTC()
		b = append(b, `orders/create","shop":"`...)
		b = append(b, ws...)
		b = append(b, `","id":"seed-`...)
		b = append(b, id...)
		b = append(b, `","payload":{"id":`...)
		b = strconv.AppendInt(b, 5_000_000_000_000+customerID, 10)
		b = append(b, `,"customer":{"id":`...)
		b = append(b, id...)
		b = append(b, `},"created_at":"`...)
		b = created.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `","updated_at":"`...)
		b = created.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `","currency":"USD","current_total_price":"42.50","test":false,"line_items":[{"product_id":8000000000001,"vendor":"Luna Cosmetics","price":"42.50","quantity":1}]}}`...)
	}
	return &kgo.Record{Topic: topic, Key: []byte(ws + "/" + id), Value: b}
}
