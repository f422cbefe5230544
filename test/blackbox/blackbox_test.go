package blackbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/segmentd/segmentd/internal/kafkatest"
	"github.com/segmentd/segmentd/internal/testenv"
)

// Output record types and reasons (SPEC §7).
const (
	added   = "UserAddedToSegment"
	removed = "UserRemovedFromSegment"

	reasonEvent      = "event"
	reasonDefinition = "definition"
	reasonCatalog    = "catalog"
)

// Dead-letter headers (SPEC §4.4) and reason codes (events/doc.go, processor/globals.go).
const (
	hdrError  = "segmentd-error"
	hdrDetail = "segmentd-detail"

	dlInvalidJSON       = "invalid_json"
	dlEmptyValue        = "empty_value"
	dlUnknownTopic      = "unknown_topic"
	dlMissingField      = "missing_field"
	dlInvalidID         = "invalid_id"
	dlInvalidEnum       = "invalid_enum"
	dlInvalidTimestamp  = "invalid_timestamp"
	dlKeyMismatch       = "key_mismatch"
	dlInvalidDefinition = "invalid_definition"
)

const ws = "acme.myshopify.com"

// want is one expected transition of the membership topic.
type want struct {
	Customer int64
	Segment  string
	Type     string
	Version  int64
	Reason   string
	Cause    map[string]any
}

func eventCause(topic, deliveryID string) map[string]any {
	return map[string]any{"topic": topic, "delivery_id": deliveryID}
}

func definitionCause(version int64) map[string]any {
	return map[string]any{"segment_version": version}
}

func catalogCause(productID string) map[string]any {
	return map[string]any{"product_id": productID}
}

// wantDead is one expected dead letter: the original record and the reason.
type wantDead struct {
	From   string // input topic, for messages
	Rec    record
	Reason string
	Detail string // a substring the detail must contain ("" for any non-empty detail)
}

// TestBlackBox runs the segmentd binary against a real Kafka broker, producing its input
// and reading its output with kcat only.
func TestBlackBox(t *testing.T) {
	if !kafkatest.RealSelected(t) {
		testenv.MissingTool(t, "a real Kafka broker", "not selected (-short or SEGMENTD_TEST_BROKERS without kafka)")
	}
	kcatPath := requireKcat(t)
	b := kafkatest.Real(t)
	bin := testenv.SegmentdBinary(t)
	testStart := time.Now()
	k := kcat{path: kcatPath, brokers: strings.Join(b.Addrs, ",")}

	// Unique topics and group: the broker is shared by every test and every run.
	run := kafkatest.UniqueName("blackbox")
	topics := struct{ events, segments, catalog, membership, changelog, dlq string }{
		events: run + ".events", segments: run + ".segments", catalog: run + ".catalog",
		membership: run + ".membership", changelog: run + ".changelog", dlq: run + ".dlq",
	}
	group := run + ".group"
	const instanceID = "blackbox-0"
	allTopics := []string{topics.events, topics.segments, topics.catalog, topics.membership, topics.changelog, topics.dlq}
	adm := b.Admin(t)
	t.Cleanup(func() { // runs after the processes are stopped (cleanups run last-in first-out)
		if t.Failed() {
			t.Logf("left topics %s.* and group %s on %s for a post-mortem", run, group, k.brokers)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if resp, err := adm.DeleteTopics(ctx, allTopics...); err != nil || resp.Error() != nil {
			t.Logf("delete topics %s.*: %v %v", run, err, resp.Error())
		}
		// A static member stays in its group after its process exits, until its session
		// times out: remove it, then the group.
		if resp, err := adm.LeaveGroup(ctx, kadm.LeaveGroup(group).InstanceIDs(instanceID).Reason("blackbox test done")); err != nil || resp.Error() != nil {
			t.Logf("remove static member %s of group %s: %v %v", instanceID, group, err, resp.Error())
		}
		if resp, err := adm.DeleteGroups(ctx, group); err != nil || resp.Error() != nil {
			t.Logf("delete group %s: %v %v", group, err, resp.Error())
		}
	})

	dataDir := t.TempDir()
	args := []string{
		"--brokers", k.brokers,
		"--data-dir", dataDir,
		"--group", group,
		"--events-topic", topics.events,
		"--segments-topic", topics.segments,
		"--catalog-topic", topics.catalog,
		"--membership-topic", topics.membership,
		"--changelog-topic", topics.changelog,
		"--dlq-topic", topics.dlq,
		"--partitions", "3",
		"--log-level", "debug",
		// A stable instance id, as a deployment gives each process (e.g. its pod name):
		// static group membership, and a stable transactional id, so that a restarted
		// process fences its crashed predecessor instead of waiting for its open
		// transaction to time out.
		"--instance-id", instanceID,
	}
	logDir := t.TempDir()
	p := startSegmentd(t, bin, filepath.Join(logDir, "segmentd-1.log"), args)
	p.waitReady(t, 30*time.Second)
	t.Logf("ready after %v", time.Since(testStart).Round(time.Millisecond))

	now := time.Now().UTC().Truncate(time.Second)
	ts := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	var wants []want
	var deads []wantDead

	// ---- 1. Definitions and the catalog (SPEC §6, §4.3), before any contact exists.
	def := func(id string, groups ...[]map[string]any) string {
		var gs []map[string]any
		for _, g := range groups {
			gs = append(gs, map[string]any{"conditions": g})
		}
		return mustJSON(t, map[string]any{"workspace": ws, "id": id, "name": "blackbox " + id, "groups": gs})
	}
	cond := func(field, op string, value any) map[string]any {
		return map[string]any{"field": field, "op": op, "value": value}
	}
	defHdr := []header{{"producer", "blackbox-test"}}
	defs := []record{
		{Key: ws + "/big-spenders", Value: str(def("big-spenders", []map[string]any{cond("total_spent", "gt", 100)}))},
		{Key: ws + "/vips", Value: str(def("vips", []map[string]any{cond("tag", "has", "vip")})), Headers: defHdr},
		{Key: ws + "/mexico", Value: str(def("mexico", []map[string]any{cond("country", "is", "MX")}))},
		{Key: ws + "/summer-buyers", Value: str(def("summer-buyers", []map[string]any{cond("purchased_collection", "in", []string{"summer"})}))},
	}
	for _, r := range defs {
		k.produce(t, topics.segments, r)
	}
	badDef := record{Key: ws + "/bad-country", Value: str(def("bad-country", []map[string]any{cond("country", "gt", 5)})), Headers: defHdr}
	k.produce(t, topics.segments, badDef)
	deads = append(deads, wantDead{From: "segments", Rec: badDef, Reason: dlInvalidDefinition, Detail: "groups[0].conditions[0].op"})
	misKeyedDef := record{Key: ws + "/not-this-id", Value: str(def("other-id", []map[string]any{cond("tag", "has", "x")}))}
	k.produce(t, topics.segments, misKeyedDef)
	deads = append(deads, wantDead{From: "segments", Rec: misKeyedDef, Reason: dlKeyMismatch})

	k.produce(t, topics.catalog, record{Key: ws + "/product/7001",
		Value: str(mustJSON(t, map[string]any{"workspace": ws, "product_id": "7001", "collections": []string{"summer", "shoes"}}))})
	misKeyedProduct := record{Key: ws + "/product/7002",
		Value: str(mustJSON(t, map[string]any{"workspace": ws, "product_id": "7003", "collections": []string{"winter"}}))}
	k.produce(t, topics.catalog, misKeyedProduct)
	deads = append(deads, wantDead{From: "catalog", Rec: misKeyedProduct, Reason: dlKeyMismatch})

	// The bad records are the last of their topics: once they are dead-lettered, every
	// definition and product before them has been read.
	k.waitCount(t, topics.dlq, len(deads), 30*time.Second, "dead letters of the segments and catalog topics")
	t.Logf("definitions and catalog read after %v", time.Since(testStart).Round(time.Millisecond))

	// ---- 2. Events in both forms (SPEC §4), keyed by contact (SPEC §2).
	// Contact 1001: a VIP in Mexico (Form A), then an order of 150.00 of a summer product
	// (Form B).
	k.produce(t, topics.events, formA(t, "customers/create", "wh-1001-1", 1001, map[string]any{
		"id": 1001, "email": "ana@example.com", "first_name": "Ana", "last_name": "Ruiz",
		"tags": "vip, newsletter", "default_address": map[string]any{"country_code": "MX"},
		"created_at": ts(-2 * time.Hour), "updated_at": ts(-2 * time.Hour),
	}, header{"X-Shopify-API-Version", "2024-10"}, header{"X-Shopify-Triggered-At", ts(-2 * time.Hour)}))
	wants = append(wants,
		want{1001, "vips", added, 1, reasonEvent, eventCause("customers/create", "wh-1001-1")},
		want{1001, "mexico", added, 1, reasonEvent, eventCause("customers/create", "wh-1001-1")})
	k.produce(t, topics.events, formB(t, "orders/create", "env-1001-2", 1001, ts(-time.Hour), map[string]any{
		"id": 5001, "customer": map[string]any{"id": 1001}, "created_at": ts(-time.Hour), "updated_at": ts(-time.Hour),
		"cancelled_at": nil, "test": false, "current_total_price": "150.00", "customer_locale": "es-MX",
		"line_items": []map[string]any{{"product_id": 7001, "vendor": "Acme", "price": "150.00", "quantity": 1}},
	}))
	wants = append(wants,
		want{1001, "big-spenders", added, 1, reasonEvent, eventCause("orders/create", "env-1001-2")},
		want{1001, "summer-buyers", added, 1, reasonEvent, eventCause("orders/create", "env-1001-2")})

	// Contact 1002: created outside every segment, tagged vip (Form A), untagged (Form B,
	// customer_id and a comma-separated tags string), then the tagging webhook is
	// delivered again (Shopify retries with the original payload), in both forms: a
	// delivery id seen before is applied once, so it must not re-add the tag.
	k.produce(t, topics.events, formA(t, "customers/create", "wh-1002-1", 1002, map[string]any{
		"id": 1002, "email": "bo@example.com", "tags": "", "default_address": map[string]any{"country_code": "US"},
		"created_at": ts(-3 * time.Hour), "updated_at": ts(-3 * time.Hour),
	}, header{"X-Shopify-API-Version", "2024-10"}))
	tagged := formA(t, "customer.tags_added", "wh-1002-2", 1002, map[string]any{
		"customerId": "gid://shopify/Customer/1002", "tags": []string{"vip"}, "occurredAt": ts(-50 * time.Minute),
	})
	k.produce(t, topics.events, tagged)
	k.produce(t, topics.events, formB(t, "customer.tags_removed", "env-1002-3", 1002, "", map[string]any{
		"customer_id": 1002, "tags": "vip", "occurredAt": ts(-40 * time.Minute),
	}))
	k.produce(t, topics.events, tagged) // redelivery, same webhook id
	k.produce(t, topics.events, formB(t, "customer.tags_added", "wh-1002-2", 1002, "", map[string]any{
		"customerId": "gid://shopify/Customer/1002", "tags": []string{"vip"}, "occurredAt": ts(-50 * time.Minute),
	})) // the same delivery relayed as an envelope
	wants = append(wants,
		want{1002, "vips", added, 1, reasonEvent, eventCause("customer.tags_added", "wh-1002-2")},
		want{1002, "vips", removed, 1, reasonEvent, eventCause("customer.tags_removed", "env-1002-3")})

	// Contact 1003: created in Mexico (Form B), then deleted (Form A, header names in
	// lower case and without the X- prefix).
	k.produce(t, topics.events, formB(t, "customers/create", "env-1003-1", 1003, ts(-30*time.Minute), map[string]any{
		"id": 1003, "email": "cy@example.com", "default_address": map[string]any{"country_code": "MX"},
		"created_at": ts(-30 * time.Minute), "updated_at": ts(-30 * time.Minute),
	}))
	k.produce(t, topics.events, record{Key: contactKey(1003), Value: str(`{"id":1003}`), Headers: []header{
		{"x-shopify-topic", "customers/delete"}, {"shopify-shop-domain", ws}, {"Shopify-Webhook-Id", "wh-1003-2"},
	}})
	wants = append(wants,
		want{1003, "mexico", added, 1, reasonEvent, eventCause("customers/create", "env-1003-1")},
		want{1003, "mexico", removed, 1, reasonEvent, eventCause("customers/delete", "wh-1003-2")})

	// Bad records (SPEC §4.4): each must reach the dead-letter topic with its key, value
	// and headers, a reason code and a detail.
	shopHdrs := func(topic, id string) []header {
		return []header{{"X-Shopify-Topic", topic}, {"X-Shopify-Shop-Domain", ws}, {"X-Shopify-Webhook-Id", id}}
	}
	bad := []wantDead{
		{Rec: record{Key: contactKey(1001), Value: str(`{"id": 1001, "email": "ana@exa`), Headers: shopHdrs("customers/update", "wh-bad-1")},
			Reason: dlInvalidJSON},
		{Rec: record{Key: contactKey(1001), Value: str(envelope(t, "products/create", "env-bad-2", "", map[string]any{"id": 7001, "title": "Sandals"}))},
			Reason: dlUnknownTopic},
		{Rec: record{Key: contactKey(1006), Value: str(envelope(t, "customers/update", "env-bad-3", "", map[string]any{"id": 1005, "email": "x@example.com"}))},
			Reason: dlKeyMismatch},
		{Rec: record{Key: contactKey(1007), Value: str(`{"id":1007,"email":"no-shop@example.com"}`),
			Headers: []header{{"X-Shopify-Topic", "customers/create"}, {"X-Shopify-Webhook-Id", "wh-bad-4"}}},
			Reason: dlMissingField},
		{Rec: record{Key: contactKey(1008), Value: str(envelope(t, "messages/status", "env-bad-5", "", map[string]any{
			"customer_id": 1008, "message_id": "m-1", "status": "exploded", "timestamp": ts(0)}))},
			Reason: dlInvalidEnum},
		{Rec: record{Key: contactKey(1009), Value: str(envelope(t, "customers/update", "env-bad-6", "yesterday at noon", map[string]any{"id": 1009}))},
			Reason: dlInvalidTimestamp},
		{Rec: record{Key: contactKey(1010), Value: str(envelope(t, "customers/create", "env-bad-7", "", map[string]any{"id": "gid://shopify/Order/1010"}))},
			Reason: dlInvalidID},
		{Rec: record{Key: contactKey(1011), Value: nil, Headers: shopHdrs("customers/update", "wh-bad-8")},
			Reason: dlEmptyValue},
	}
	for _, d := range bad {
		d.From = "events"
		k.produce(t, topics.events, d.Rec)
		deads = append(deads, d)
	}

	k.waitCount(t, topics.membership, len(wants), 30*time.Second, "transitions of the events")
	k.waitCount(t, topics.dlq, len(deads), 30*time.Second, "dead letters of the events")
	t.Logf("events processed after %v", time.Since(testStart).Round(time.Millisecond))

	// ---- 3. Changes of the catalog and the definitions re-evaluate existing contacts.
	// Product 7001 leaves "summer": 1001 no longer bought a summer product.
	k.produce(t, topics.catalog, record{Key: ws + "/product/7001",
		Value: str(mustJSON(t, map[string]any{"workspace": ws, "product_id": "7001", "collections": []string{"winter"}}))})
	wants = append(wants, want{1001, "summer-buyers", removed, 1, reasonCatalog, catalogCause("7001")})
	k.waitCount(t, topics.membership, len(wants), 30*time.Second, "transition of the catalog change")

	// Re-sending an identical definition changes nothing; a new one is evaluated against
	// every contact of the workspace; a tombstone deletes it and removes its members.
	k.produce(t, topics.segments, defs[1])
	k.produce(t, topics.segments, record{Key: ws + "/vip-mexico",
		Value: str(def("vip-mexico", []map[string]any{cond("tag", "has", "VIP"), cond("country", "in", []string{"MX", "CO"})}))})
	wants = append(wants, want{1001, "vip-mexico", added, 1, reasonDefinition, definitionCause(1)})
	k.waitCount(t, topics.membership, len(wants), 30*time.Second, "transition of the new definition")
	k.produce(t, topics.segments, record{Key: ws + "/vip-mexico", Value: nil})
	wants = append(wants, want{1001, "vip-mexico", removed, 1, reasonDefinition, definitionCause(1)})
	k.waitCount(t, topics.membership, len(wants), 30*time.Second, "transition of the deleted definition")

	time.Sleep(time.Second) // let anything unexpected show up
	before := k.consume(t, topics.membership)
	checkTransitions(t, before, wants, testStart)
	checkDeadLetters(t, k.consume(t, topics.dlq), deads)
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("first run checked after %v", time.Since(testStart).Round(time.Millisecond))

	// ---- 4. SIGTERM, then a restart on the same data dir: nothing is produced twice.
	took := p.stop(t, 30*time.Second)
	t.Logf("segmentd exited 0 %v after SIGTERM", took.Round(time.Millisecond))

	p = startSegmentd(t, bin, filepath.Join(logDir, "segmentd-2.log"), args)
	p.waitReady(t, 30*time.Second)
	t.Logf("restarted and ready after %v", time.Since(testStart).Round(time.Millisecond))

	// An old delivery again: still remembered, so vip is not re-added; the next event of
	// the same contact (same partition, so processed after it) adds it, and only then.
	k.produce(t, topics.events, tagged)
	k.produce(t, topics.events, formB(t, "customer.tags_added", "env-1002-4", 1002, "", map[string]any{
		"customer_id": "1002", "tags": "vip", "occurredAt": ts(0),
	}))
	wants = append(wants, want{1002, "vips", added, 1, reasonEvent, eventCause("customer.tags_added", "env-1002-4")})
	k.produce(t, topics.events, formB(t, "customers/create", "env-1004-1", 1004, "", map[string]any{
		"id": 1004, "email": "di@example.com", "default_address": map[string]any{"country_code": "MX"},
		"created_at": ts(0), "updated_at": ts(0),
	}))
	wants = append(wants, want{1004, "mexico", added, 1, reasonEvent, eventCause("customers/create", "env-1004-1")})
	k.waitCount(t, topics.membership, len(wants), 30*time.Second, "transition after the restart")
	time.Sleep(time.Second)
	after := k.consume(t, topics.membership)
	checkTransitions(t, after, wants, testStart)
	checkDeadLetters(t, k.consume(t, topics.dlq), deads)
	if t.Failed() {
		t.FailNow()
	}

	// ---- 5. A crash (SIGKILL) right after an event was produced, then a restart: the
	// event's transition is produced exactly once, whether or not its transaction had
	// committed when the process died.
	k.produce(t, topics.events, formA(t, "customers/create", "wh-1005-1", 1005, map[string]any{
		"id": 1005, "email": "eu@example.com", "default_address": map[string]any{"country_code": "MX"},
		"created_at": ts(0), "updated_at": ts(0),
	}))
	wants = append(wants, want{1005, "mexico", added, 1, reasonEvent, eventCause("customers/create", "wh-1005-1")})
	p.kill(t)
	p = startSegmentd(t, bin, filepath.Join(logDir, "segmentd-3.log"), args)
	p.waitReady(t, 30*time.Second)
	t.Logf("restarted after SIGKILL and ready after %v", time.Since(testStart).Round(time.Millisecond))
	k.produce(t, topics.events, formB(t, "customers/create", "env-1006-1", 1006, "", map[string]any{
		"id": 1006, "email": "fe@example.com", "default_address": map[string]any{"country_code": "MX"},
		"created_at": ts(0), "updated_at": ts(0),
	}))
	wants = append(wants, want{1006, "mexico", added, 1, reasonEvent, eventCause("customers/create", "env-1006-1")})
	k.waitCount(t, topics.membership, len(wants), 30*time.Second, "transitions after the crash")
	time.Sleep(time.Second)
	checkTransitions(t, k.consume(t, topics.membership), wants, testStart)
	checkDeadLetters(t, k.consume(t, topics.dlq), deads)

	took = p.stop(t, 30*time.Second)
	t.Logf("last run exited 0 %v after SIGTERM; total %v", took.Round(time.Millisecond), time.Since(testStart).Round(time.Millisecond))
}

// ---------------------------------------------------------------------------------
// Inputs.

func contactKey(customerID int64) string { return fmt.Sprintf("%s/%d", ws, customerID) }

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return strings.TrimRight(buf.String(), "\n")
}

// formA is a forwarded webhook (SPEC §4 Form A): the raw body and the Shopify headers.
func formA(t *testing.T, topic, webhookID string, customerID int64, payload map[string]any, extra ...header) record {
	t.Helper()
	hs := []header{{"X-Shopify-Topic", topic}, {"X-Shopify-Shop-Domain", ws}, {"X-Shopify-Webhook-Id", webhookID}}
	return record{Key: contactKey(customerID), Value: str(mustJSON(t, payload)), Headers: append(hs, extra...)}
}

// envelope is the value of a Form B record; occurredAt "" leaves it out.
func envelope(t *testing.T, topic, id, occurredAt string, payload map[string]any) string {
	t.Helper()
	env := map[string]any{"topic": topic, "shop": ws, "id": id, "payload": payload}
	if occurredAt != "" {
		env["occurred_at"] = occurredAt
	}
	return mustJSON(t, env)
}

// formB is an envelope record (SPEC §4 Form B), without headers.
func formB(t *testing.T, topic, id string, customerID int64, occurredAt string, payload map[string]any) record {
	t.Helper()
	return record{Key: contactKey(customerID), Value: str(envelope(t, topic, id, occurredAt, payload))}
}

// ---------------------------------------------------------------------------------
// Output checks.

// transitionValue is the value of a membership record (SPEC §7).
type transitionValue struct {
	Type           string         `json:"type"`
	ID             string         `json:"id"`
	Workspace      string         `json:"workspace"`
	SegmentID      string         `json:"segment_id"`
	SegmentVersion json.Number    `json:"segment_version"`
	CustomerID     json.Number    `json:"customer_id"`
	OccurredAt     string         `json:"occurred_at"`
	Reason         string         `json:"reason"`
	Cause          map[string]any `json:"cause"`
}

// checkTransitions checks every membership record (key, header type, value) and that,
// per contact and segment, the sequence of transitions is exactly the expected one (the
// order across contacts is not defined: they may be in different partitions).
func checkTransitions(t *testing.T, got []record, wants []want, testStart time.Time) {
	t.Helper()
	type pair struct {
		customer int64
		segment  string
	}
	type seen struct {
		Type, Reason string
		Version      int64
		Cause        string
	}
	norm := func(cause map[string]any) string { // canonical JSON: numbers as numbers, keys sorted
		b, _ := json.Marshal(cause)
		var m map[string]any
		json.Unmarshal(b, &m)
		b, _ = json.Marshal(m)
		return string(b)
	}
	gotBy := map[pair][]seen{}
	ids := map[string]string{}
	for _, r := range got {
		where := fmt.Sprintf("membership p%d@%d key %q", r.Partition, r.Offset, r.Key)
		if r.Value == nil {
			t.Errorf("%s: null value", where)
			continue
		}
		dec := json.NewDecoder(strings.NewReader(*r.Value))
		dec.UseNumber()
		var v transitionValue
		if err := dec.Decode(&v); err != nil {
			t.Errorf("%s: value %s: %v", where, *r.Value, err)
			continue
		}
		where += " value " + *r.Value
		customer, err := v.CustomerID.Int64()
		if err != nil || customer < 1 {
			t.Errorf("%s: customer_id %q is not a positive integer", where, v.CustomerID)
		}
		version, err := v.SegmentVersion.Int64()
		if err != nil {
			t.Errorf("%s: segment_version %q is not an integer", where, v.SegmentVersion)
		}
		if v.Type != added && v.Type != removed {
			t.Errorf("%s: type %q", where, v.Type)
		}
		if types := r.headerValues("type"); len(types) != 1 || types[0] != v.Type {
			t.Errorf("%s: header type = %q, want exactly one equal to the value's type %q", where, types, v.Type)
		}
		if want := contactKey(customer); r.Key != want {
			t.Errorf("%s: key %q, want the contact key %q", where, r.Key, want)
		}
		if v.Workspace != ws {
			t.Errorf("%s: workspace %q, want %q", where, v.Workspace, ws)
		}
		if v.ID == "" {
			t.Errorf("%s: empty id", where)
		} else if prev, dup := ids[v.ID]; dup {
			t.Errorf("%s: id %s already used by %s", where, v.ID, prev)
		} else {
			ids[v.ID] = where
		}
		if at, err := time.Parse(time.RFC3339Nano, v.OccurredAt); err != nil {
			t.Errorf("%s: occurred_at: %v", where, err)
		} else if at.Before(testStart.Add(-5*time.Second)) || at.After(time.Now().Add(5*time.Second)) {
			t.Errorf("%s: occurred_at %s is not during the test (%s…now)", where, v.OccurredAt, testStart.UTC().Format(time.RFC3339))
		}
		k := pair{customer, v.SegmentID}
		gotBy[k] = append(gotBy[k], seen{v.Type, v.Reason, version, norm(v.Cause)})
	}

	wantBy := map[pair][]seen{}
	for _, w := range wants {
		k := pair{w.Customer, w.Segment}
		wantBy[k] = append(wantBy[k], seen{w.Type, w.Reason, w.Version, norm(w.Cause)})
	}
	var keys []pair
	for k := range wantBy {
		keys = append(keys, k)
	}
	for k := range gotBy {
		if _, ok := wantBy[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].customer != keys[j].customer {
			return keys[i].customer < keys[j].customer
		}
		return keys[i].segment < keys[j].segment
	})
	for _, k := range keys {
		if g, w := gotBy[k], wantBy[k]; !reflect.DeepEqual(g, w) {
			t.Errorf("customer %d, segment %q: transitions\n got  %+v\n want %+v", k.customer, k.segment, g, w)
		}
	}
	if len(got) != len(wants) {
		t.Errorf("membership topic holds %d records, want %d:\n%s", len(got), len(wants), dump(got))
	}
}

// checkDeadLetters checks that the dead-letter topic holds exactly the expected
// records: each the original key, value and headers (in order), plus one
// segmentd-error header with the reason code and one non-empty segmentd-detail.
func checkDeadLetters(t *testing.T, got []record, wants []wantDead) {
	t.Helper()
	id := func(key string, value *string) string {
		if value == nil {
			return key + "\x00<null>"
		}
		return key + "\x00" + *value
	}
	gotBy := map[string][]record{}
	for _, r := range got {
		gotBy[id(r.Key, r.Value)] = append(gotBy[id(r.Key, r.Value)], r)
	}
	for _, w := range wants {
		rs := gotBy[id(w.Rec.Key, w.Rec.Value)]
		delete(gotBy, id(w.Rec.Key, w.Rec.Value))
		what := fmt.Sprintf("dead letter of the %s record key %q value %s", w.From, w.Rec.Key, valueString(w.Rec.Value))
		if len(rs) != 1 {
			t.Errorf("%s: found %d times, want once (reason %s)", what, len(rs), w.Reason)
			continue
		}
		r := rs[0]
		var orig []header
		for _, h := range r.Headers {
			if h.Key != hdrError && h.Key != hdrDetail {
				orig = append(orig, h)
			}
		}
		if !slices.Equal(orig, w.Rec.Headers) {
			t.Errorf("%s: original headers %v, want %v", what, orig, w.Rec.Headers)
		}
		if errs := r.headerValues(hdrError); len(errs) != 1 || errs[0] != w.Reason {
			t.Errorf("%s: %s = %q, want exactly %q (detail %q)", what, hdrError, errs, w.Reason, r.headerValues(hdrDetail))
		}
		details := r.headerValues(hdrDetail)
		switch {
		case len(details) != 1 || strings.TrimSpace(details[0]) == "":
			t.Errorf("%s: %s = %q, want one non-empty detail", what, hdrDetail, details)
		case w.Detail != "" && !strings.Contains(details[0], w.Detail):
			t.Errorf("%s: %s = %q, want it to name %q", what, hdrDetail, details[0], w.Detail)
		}
	}
	for _, rs := range gotBy {
		for _, r := range rs {
			t.Errorf("unexpected dead letter p%d@%d key %q value %s headers %v", r.Partition, r.Offset, r.Key, valueString(r.Value), r.Headers)
		}
	}
	if len(got) != len(wants) {
		t.Errorf("dead-letter topic holds %d records, want %d", len(got), len(wants))
	}
}

func valueString(v *string) string {
	if v == nil {
		return "<null>"
	}
	return *v
}
