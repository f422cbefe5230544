package events

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Header is one Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Record is the part of a Kafka record the decoders read.
type Record struct {
	Key, Value []byte
	Headers    []Header
	Timestamp  time.Time
}

// DefaultMaxRecordBytes is the default of Options.MaxRecordBytes: 1 MiB.
const DefaultMaxRecordBytes = 1 << 20

// Options configure decoding. The zero value means the defaults.
type Options struct {
	// MaxRecordBytes is the largest record value accepted, in bytes; a larger one is
	// dead-lettered as record_too_large. 0 means DefaultMaxRecordBytes.
	MaxRecordBytes int
}

// Validate reports whether the options are usable.
func (o *Options) Validate() error {
	if o.MaxRecordBytes < 0 {
		return fmt.Errorf("events: max record bytes %d is negative", o.MaxRecordBytes)
	}
	return nil
}

func (o *Options) maxRecordBytes() int {
	if o == nil || o.MaxRecordBytes <= 0 {
		return DefaultMaxRecordBytes
	}
	return o.MaxRecordBytes
}

// Header names (SPEC §4, Form A), without the optional "X-" prefix. Matched
// case-insensitively.
const (
	headerTopic       = "Shopify-Topic"
	headerShop        = "Shopify-Shop-Domain"
	headerWebhookID   = "Shopify-Webhook-Id"
	headerTriggeredAt = "Shopify-Triggered-At"
	headerEventID     = "Shopify-Event-Id"
	headerAPIVersion  = "Shopify-API-Version"
)

// shopifyHeaders are the headers Decode reads; a nil value is an absent header.
type shopifyHeaders struct {
	topic, shop, webhookID, triggeredAt, eventID, apiVersion []byte
	hasTopic                                                 bool
}

// readHeaders collects the Shopify headers of r. Of repeated headers the first wins.
func readHeaders(hs []Header) (shopifyHeaders, error) {
	var h shopifyHeaders
	for i := range hs {
		name := hs[i].Key
		if len(name) > 2 && (name[0] == 'x' || name[0] == 'X') && name[1] == '-' {
			name = name[2:]
		}
		if len(name) < len("Shopify-") || !strings.EqualFold(name[:len("Shopify-")], "Shopify-") {
			continue
		}
		var dst *[]byte
		switch {
		case strings.EqualFold(name, headerTopic):
			dst = &h.topic
			h.hasTopic = true
		case strings.EqualFold(name, headerShop):
			dst = &h.shop
		case strings.EqualFold(name, headerWebhookID):
			dst = &h.webhookID
		case strings.EqualFold(name, headerTriggeredAt):
			dst = &h.triggeredAt
		case strings.EqualFold(name, headerEventID):
			dst = &h.eventID
		case strings.EqualFold(name, headerAPIVersion):
			dst = &h.apiVersion
		default:
			continue
		}
		if *dst != nil {
			continue
		}
		v := hs[i].Value
		if !utf8.Valid(v) {
			return h, newError(ReasonInvalidUTF8, "header X-"+canonicalHeader(name), "not valid UTF-8")
		}
		if v == nil {
			v = []byte{}
		}
		*dst = v
	}
	return h, nil
}

// canonicalHeader returns the documented spelling of a Shopify header name.
func canonicalHeader(name string) string {
	for _, n := range [...]string{headerTopic, headerShop, headerWebhookID, headerTriggeredAt, headerEventID, headerAPIVersion} {
		if strings.EqualFold(name, n) {
			return n
		}
	}
	return name
}

// envelope holds the raw members of a Form B value (nil when absent).
type envelope struct {
	topic, shop, id, occurredAt, payload []byte
}

// envelopeSpans collects where the envelope members are from the top-level members the
// JSON check reports, so that Decode recognizes an envelope without a pass of its own;
// of duplicates the last wins. It holds offsets, not slices: the checker then stores no
// pointer into the value, which keeps its state (and the tape) off the heap.
type envelopeSpans [5]struct{ start, end int } // topic, shop, id, occurred_at, payload; end 0: absent

func (e *envelopeSpans) member(rawName []byte, start, end int) {
	name := rawName
	if bytes.IndexByte(name, '\\') >= 0 {
		name = unescape(name)
	}
	k := -1
	switch string(name) {
	case "topic":
		k = 0
	case "shop":
		k = 1
	case "id":
		k = 2
	case "occurred_at":
		k = 3
	case "payload":
		k = 4
	}
	if k >= 0 {
		e[k].start, e[k].end = start, end
	}
}

// envelope returns the members of the checked value b.
func (e *envelopeSpans) envelope(b []byte) envelope {
	at := func(k int) []byte {
		if e[k].end == 0 {
			return nil
		}
		return b[e[k].start:e[k].end]
	}
	return envelope{topic: at(0), shop: at(1), id: at(2), occurredAt: at(3), payload: at(4)}
}

// minIndexed is the size from which Decode records the structural index of a value;
// below it, skipping nested values by scanning costs less than the index.
const minIndexed = 1024

// Decode decodes and validates one record of an events topic (SPEC §4). Errors are
// *Error (dead-letter) or ErrGuestOrder (count and skip). opts may be nil.
//
// The checks run in this order, so that a record with several problems always gets the
// same reason: size, empty value, UTF-8, JSON syntax, form and topic, shop, envelope and
// header fields, the payload, and last the record key.
func Decode(r *Record, opts *Options) (*Event, error) {
	if r == nil {
		return nil, newError(ReasonEmptyValue, "value", "no record")
	}
	if max := opts.maxRecordBytes(); len(r.Value) > max {
		return nil, newError(ReasonRecordTooLarge, "value",
			strconv.Itoa(len(r.Value))+" bytes, more than the limit of "+strconv.Itoa(max))
	}
	value := trimWS(r.Value)
	switch {
	case len(value) == 0:
		return nil, newError(ReasonEmptyValue, "value", "empty")
	case string(value) == "null":
		return nil, newError(ReasonEmptyValue, "value", "null")
	}
	// One pass checks the grammar and, inside strings, UTF-8 (the only place a value
	// that passes the grammar can hold bytes ≥ 0x80). UTF-8 comes first in the order of
	// checks, so a syntax error is reported only if the whole value is UTF-8.
	var spans envelopeSpans
	var tape []tapeEntry
	if len(r.Value) >= minIndexed {
		var room [128]tapeEntry // enough for a webhook body of ~10 KB
		tape = room[:0]
	}
	ix, jerr := checkJSONTop(r.Value, &spans, tape)
	if err := jerr; err != nil {
		bad := err.off
		if !err.badUTF8 {
			bad = firstInvalidUTF8(r.Value)
		}
		if bad < len(r.Value) {
			return nil, newError(ReasonInvalidUTF8, "value", "not valid UTF-8 (first bad byte at offset "+
				strconv.Itoa(bad)+")")
		}
		return nil, newError(ReasonInvalidJSON, "value",
			"invalid JSON at byte "+strconv.Itoa(err.off)+": "+err.msg)
	}
	h, err := readHeaders(r.Headers)
	if err != nil {
		return nil, err
	}

	env := spans.envelope(r.Value)
	var head Event
	payload, err := decodeCommon(r, value, &env, &h, &head)
	if err != nil {
		return nil, err
	}
	ev := newEvent(&head)
	if err := ix.decodePayload(payload, ev); err != nil {
		return nil, within(err, "payload")
	}
	if ev.Kind == OrderDelete && ev.CustomerID == 0 {
		if ev.CustomerID, err = routeByKey(r.Key, ev.Workspace); err != nil {
			return nil, err
		}
		return ev, nil
	}
	if err := checkKey(r.Key, ev.Workspace, ev.CustomerID); err != nil {
		return nil, err
	}
	return ev, nil
}

// newEvent returns a copy of head on the heap. The payload of the common kinds (a
// message status, an order, a customer) comes in the same allocation, preset in the
// event for its decoder to fill in.
func newEvent(head *Event) *Event {
	switch head.Kind {
	case MessageStatus, MessageInbound:
		return withPayload(head, func(ev *Event, m *Message) { ev.Message = m })
	case OrderUpsert:
		return withPayload(head, func(ev *Event, o *Order) { ev.Order = o })
	case CustomerUpsert:
		return withPayload(head, func(ev *Event, c *Customer) { ev.Customer = c })
	}
	ev := new(Event)
	*ev = *head
	return ev
}

// withPayload allocates a copy of head and a zero payload P together, and points the
// event at the payload with set.
func withPayload[P any](head *Event, set func(*Event, *P)) *Event {
	x := &struct {
		ev Event
		p  P
	}{ev: *head}
	set(&x.ev, &x.p)
	return &x.ev
}

// decodeCommon recognizes the form of the record, fills in the fields of ev that do not
// come from the payload and returns the payload.
//
// The form: a value that is a JSON object with both a "topic" and a "payload" member is
// an envelope (Form B), whatever the headers; otherwise a record with a topic header is a
// forwarded webhook (Form A); otherwise a value with one of "topic" or "payload" is taken
// for an incomplete envelope, and anything else lacks its topic header.
func decodeCommon(r *Record, value []byte, env *envelope, h *shopifyHeaders, ev *Event) (payload []byte, err error) {
	formB := (env.topic != nil && env.payload != nil) ||
		(!h.hasTopic && (env.topic != nil || env.payload != nil))

	var topic, shop []byte
	if formB {
		if topic, err = envelopeString(env.topic, "topic"); err != nil {
			return nil, err
		}
		if shop, err = envelopeString(env.shop, "shop"); err != nil {
			return nil, err
		}
	} else {
		if !h.hasTopic {
			return nil, newError(ReasonMissingField, "header X-Shopify-Topic",
				`missing, and the value is not an envelope with "topic" and "payload"`)
		}
		if topic = h.topic; len(trimWS(topic)) == 0 {
			return nil, newError(ReasonMissingField, "header X-Shopify-Topic", "empty")
		}
		if shop = h.shop; len(trimWS(shop)) == 0 {
			return nil, newError(ReasonMissingField, "header X-Shopify-Shop-Domain", "missing")
		}
	}

	spec, ok := lookupTopic(topic)
	if !ok {
		path := "header X-Shopify-Topic"
		if formB {
			path = "topic"
		}
		return nil, newError(ReasonUnknownTopic, path, strconv.Quote(string(topic))+" is not a known topic")
	}
	ev.Kind, ev.Topic = spec.kind, spec.canonical

	domain := trimWS(shop)
	upper, ok := checkWorkspace(domain)
	if !ok {
		path := "header X-Shopify-Shop-Domain"
		if formB {
			path = "shop"
		}
		return nil, newError(ReasonInvalidID, path, strconv.Quote(string(shop))+" is not a shop domain")
	}

	// Delivery id: the envelope's id, else the webhook id header; "" is none. A plain
	// string id is taken as is (what parseStringID does with one), to be copied below.
	var deliveryID []byte
	if formB && string(env.id) != `""` {
		if text, plain := plainStringID(env.id); plain {
			deliveryID = text
		} else if ev.DeliveryID, _, err = parseStringID(env.id, "id", ""); err != nil {
			return nil, err
		}
	}
	if deliveryID == nil && ev.DeliveryID == "" && len(h.webhookID) > 0 {
		if len(h.webhookID) > maxIDLen {
			return nil, newError(ReasonInvalidID, "header X-Shopify-Webhook-Id", "longer than 255 bytes")
		}
		deliveryID = h.webhookID
	}
	// The workspace, the delivery id and the header strings share one allocation.
	var sb strings.Builder
	sb.Grow(len(domain) + len(deliveryID) + len(h.eventID) + len(h.apiVersion))
	if upper {
		for _, c := range domain {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			sb.WriteByte(c)
		}
	} else {
		sb.Write(domain)
	}
	sb.Write(deliveryID)
	sb.Write(h.eventID)
	sb.Write(h.apiVersion)
	all := sb.String()
	i, j, k := len(domain), len(domain)+len(deliveryID), len(domain)+len(deliveryID)+len(h.eventID)
	ev.Workspace = all[:i]
	if deliveryID != nil {
		ev.DeliveryID = all[i:j]
	}
	ev.EventID, ev.APIVersion = all[j:k], all[k:]

	// Occurred at: the envelope's occurred_at, else the triggered-at header, else the
	// record timestamp.
	var have bool
	if formB {
		if ev.OccurredAt, have, err = parseTimestamp(env.occurredAt, "occurred_at"); err != nil {
			return nil, err
		}
	}
	if !have && len(h.triggeredAt) > 0 {
		if ev.OccurredAt, have = parseTimestampText(h.triggeredAt); !have {
			return nil, newError(ReasonInvalidTimestamp, "header X-Shopify-Triggered-At",
				strconv.Quote(string(h.triggeredAt))+" is not an RFC 3339 timestamp")
		}
	}
	if !have {
		ev.OccurredAt = r.Timestamp.UTC()
	}

	payload = value
	if formB {
		payload = env.payload
	}
	switch kindOf(payload) {
	case jsonObject:
		return payload, nil
	case jsonInvalid, jsonNull:
		return nil, newError(ReasonMissingField, "payload", "missing")
	}
	return nil, wrongType("payload", "an object", payload)
}

// envelopeString reads a required string member of the envelope.
func envelopeString(v []byte, path string) ([]byte, error) {
	switch kindOf(v) {
	case jsonInvalid, jsonNull:
		return nil, missing(path)
	case jsonString:
		s := v[1 : len(v)-1]
		if len(trimWS(s)) == 0 {
			return nil, newError(ReasonMissingField, path, "empty")
		}
		if strings.IndexByte(string(s), '\\') >= 0 {
			s = unescape(s)
		}
		return s, nil
	}
	return nil, wrongType(path, "a string", v)
}

// ParseWorkspace returns the workspace s names, lower-cased, if s is a shop domain as
// events must carry one (a record with any other is dead-lettered invalid_id): two or
// more dot-separated labels of letters, digits and inner hyphens, at most 63 bytes each
// and 253 in all (a single label such as "localhost" names a host, not a shop). The
// admin API and the import apply the same rule.
func ParseWorkspace(s string) (string, bool) { return parseWorkspace([]byte(s)) }

// parseWorkspace returns the lower-cased shop domain, if s is one: two or more
// dot-separated labels of letters, digits and inner hyphens, at most 253 bytes.
func parseWorkspace(s []byte) (string, bool) {
	upper, ok := checkWorkspace(s)
	switch {
	case !ok:
		return "", false
	case upper:
		return strings.ToLower(string(s)), true
	}
	return string(s), true
}

// checkWorkspace reports whether s is a shop domain (ok), and whether it has upper-case
// letters (ASCII only, as ok requires).
func checkWorkspace(s []byte) (upper, ok bool) {
	if len(s) == 0 || len(s) > 253 {
		return false, false
	}
	dotted := false
	label := 0
	for i, c := range s {
		switch {
		case 'a' <= c && c <= 'z', isDigit(c):
		case 'A' <= c && c <= 'Z':
			upper = true
		case c == '-':
			if label == 0 || i+1 == len(s) || s[i+1] == '.' {
				return false, false
			}
		case c == '.':
			if label == 0 {
				return false, false
			}
			label, dotted = 0, true
			continue
		default:
			return false, false
		}
		if label++; label > 63 {
			return false, false
		}
	}
	if label == 0 || !dotted {
		return false, false
	}
	return upper, true
}

// checkKey checks that key is the contact key of (workspace, id).
func checkKey(key []byte, workspace string, id int64) error {
	var buf [20]byte
	digits := strconv.AppendInt(buf[:0], id, 10)
	if len(key) == len(workspace)+1+len(digits) &&
		string(key[:len(workspace)]) == workspace &&
		key[len(workspace)] == '/' &&
		string(key[len(workspace)+1:]) == string(digits) {
		return nil
	}
	want := ContactKey(workspace, id)
	if len(key) == 0 {
		return newError(ReasonKeyMismatch, "key", "missing, want "+strconv.Quote(want))
	}
	return newError(ReasonKeyMismatch, "key", strconv.Quote(string(key))+
		" does not match the payload's contact key "+strconv.Quote(want))
}

// routeByKey returns the customer id of the contact key of an orders/delete record,
// whose payload names no customer.
func routeByKey(key []byte, workspace string) (int64, error) {
	if len(key) == 0 {
		return 0, newError(ReasonUnroutable, "key",
			"missing; orders/delete is routed by the contact key <shop>/<customer_id>")
	}
	i := bytes.LastIndexByte(key, '/')
	if i > 0 {
		id, idOK := parsePositiveInt64(key[i+1:])
		ws, wsOK := parseWorkspace(key[:i])
		switch {
		case idOK && wsOK && ws == workspace && string(key[:i]) == workspace:
			return id, nil
		case idOK && wsOK:
			return 0, newError(ReasonKeyMismatch, "key", strconv.Quote(string(key))+
				" is not the contact key of a customer of "+strconv.Quote(workspace))
		}
	}
	return 0, newError(ReasonUnroutable, "key", strconv.Quote(string(key))+
		" is not a contact key (<shop>/<customer_id>); orders/delete is routed by it")
}

// firstInvalidUTF8 returns the offset of the first byte of b that is not valid UTF-8.
func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// decodePayload decodes the payload object p according to ev.Kind.
func (ix *index) decodePayload(p []byte, ev *Event) error {
	switch ev.Kind {
	case CustomerUpsert:
		return ix.decodeCustomer(p, ev)
	case CustomerDelete:
		return ix.decodeCustomerDelete(p, ev)
	case CustomerRedact:
		return ix.decodeRedact(p, ev)
	case SMSConsentUpdate, WhatsAppConsentUpdate, EmailConsentUpdate:
		return ix.decodeConsent(p, ev)
	case TagsAdded, TagsRemoved:
		return ix.decodeTags(p, ev)
	case PurchasingSummary:
		return ix.decodeSummary(p, ev)
	case OrderUpsert:
		return ix.decodeOrder(p, ev)
	case OrderDelete:
		return ix.decodeOrderDelete(p, ev)
	case MessageStatus, MessageInbound:
		return ix.decodeMessage(p, ev)
	case AutomationCompleted:
		return ix.decodeAutomation(p, ev)
	case ListMemberAdded, ListMemberRemoved:
		return ix.decodeList(p, ev)
	case BackInStockSubscribed, BackInStockUnsubscribed:
		return ix.decodeBackInStock(p, ev)
	case ConversationUpdated:
		return ix.decodeConversation(p, ev)
	case LifecycleStageSet:
		return ix.decodeStage(p, ev)
	}
	return errors.New("events: no decoder for kind " + ev.Kind.String())
}
