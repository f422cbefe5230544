package load

import (
	"bytes"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/internal/gen"
)

// Record returns the generator's record r as a record of the Kafka topic. The bytes
// are shared, not copied: gen records own theirs.
func Record(topic string, r gen.Record) *kgo.Record {
	kr := &kgo.Record{Topic: topic, Key: r.Key, Value: r.Value}
	if len(r.Headers) > 0 {
		kr.Headers = make([]kgo.RecordHeader, len(r.Headers))
		for i, h := range r.Headers {
			kr.Headers[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
		}
	}
	return kr
}

// DeliveryID returns the delivery id of an events record as segmentd names it in an
// output's cause: the X-Shopify-Webhook-Id header of a Form A webhook, else the "id"
// of a Form B envelope (as the generator writes it: after "topic" and "shop"). It
// returns "" if there is none.
func DeliveryID(r *kgo.Record) string {
	for _, h := range r.Headers {
		k := strings.TrimPrefix(strings.ToLower(h.Key), "x-")
		if k == "shopify-webhook-id" {
			return string(h.Value)
		}
	}
	v := r.Value
	if !bytes.HasPrefix(v, []byte(`{"topic":"`)) {
		return ""
	}
	head := v[:min(len(v), 400)]
	i := bytes.Index(head, []byte(`","id":"`))
	if i < 0 {
		return ""
	}
	rest := head[i+len(`","id":"`):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}

// IsContactKey reports whether an events key is a contact key (not a guest order's).
func IsContactKey(key []byte) bool { return !bytes.Contains(key, []byte("/guest/")) }
