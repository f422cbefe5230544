package gen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A reference model of the parts of segmentd's contact state (SPEC §5) that the demo
// segments read, fed with the generator's records decoded generically. It checks that
// the payloads carry what the segments need and measures segment populations.

type refOrder struct {
	created, updated time.Time
	cancelled, test  bool
	total            float64
	vendors          []string
}

type refContact struct {
	country     string
	tags        map[string]bool
	sms, wa     string // upper case; "" absent
	orders      map[string]*refOrder
	received    map[string]bool // message id → counted as received
	read        map[string]bool
	lastEngaged time.Time
	deleted     bool
}

type refModel struct {
	contacts map[string]*refContact // by contact key
	guests   int
}

func newRefModel() *refModel { return &refModel{contacts: map[string]*refContact{}} }

// decoded is a record taken apart: topic, shop, payload, customer id.
type decoded struct {
	topic, shop string
	formA       bool
	payload     map[string]any
	envelope    map[string]any
	customerID  int64 // 0: guest order
}

func decodeJSON(b []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("trailing data")
	}
	return m, nil
}

// parseID reads a customer id: a JSON number, a numeric string or a customer gid,
// exactly (SPEC §2).
func parseID(v any) (int64, error) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = strings.TrimPrefix(x, "gid://shopify/Customer/")
	default:
		return 0, fmt.Errorf("id %v (%T) is not a number or string", v, v)
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("bad id %q", s)
	}
	return id, nil
}

func header(r *Record, name string) string {
	for _, h := range r.Headers {
		if h.Key == name {
			return string(h.Value)
		}
	}
	return ""
}

// decodeRecord takes r apart and checks its key against its payload.
func decodeRecord(r *Record) (*decoded, error) {
	m, err := decodeJSON(r.Value)
	if err != nil {
		return nil, fmt.Errorf("value: %w", err)
	}
	d := &decoded{}
	if r.Headers != nil {
		d.formA = true
		d.topic, d.shop, d.payload = header(r, hTopic), header(r, hShop), m
	} else {
		d.envelope = m
		d.topic, _ = m["topic"].(string)
		d.shop, _ = m["shop"].(string)
		d.payload, _ = m["payload"].(map[string]any)
		if d.payload == nil {
			return nil, fmt.Errorf("envelope without payload object")
		}
	}
	if d.topic == "" || d.shop == "" {
		return nil, fmt.Errorf("no topic or shop")
	}
	var idv any
	p := d.payload
	switch {
	case strings.HasPrefix(d.topic, "orders/"):
		cust := p["customer"]
		if cust == nil {
			if !bytes.HasPrefix(r.Key, []byte(d.shop+"/guest/")) {
				return nil, fmt.Errorf("guest order keyed %q", r.Key)
			}
			return d, nil
		}
		idv = cust.(map[string]any)["id"]
	case d.topic == "customers/create" || d.topic == "customers/update" || d.topic == "customers/delete",
		d.topic == "customers_marketing_consent/update":
		idv = p["id"]
	case strings.Contains(d.topic, "tags"):
		idv = p["customerId"]
		if idv == nil {
			idv = p["customer_id"]
		}
	default:
		idv = p["customer_id"]
	}
	if d.customerID, err = parseID(idv); err != nil {
		return nil, err
	}
	if want := d.shop + "/" + strconv.FormatInt(d.customerID, 10); string(r.Key) != want {
		return nil, fmt.Errorf("key %q, payload says %q", r.Key, want)
	}
	return d, nil
}

func parseTime(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, fmt.Errorf("time %v is not a string", v)
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

func parseMoney(v any) float64 {
	f, _ := strconv.ParseFloat(v.(string), 64)
	return f
}

func (m *refModel) contact(key string) *refContact {
	c := m.contacts[key]
	if c == nil || c.deleted {
		c = &refContact{tags: map[string]bool{}, orders: map[string]*refOrder{},
			received: map[string]bool{}, read: map[string]bool{}}
		m.contacts[key] = c
	}
	return c
}

// apply applies one record.
func (m *refModel) apply(r *Record) error {
	d, err := decodeRecord(r)
	if err != nil {
		return err
	}
	if d.customerID == 0 {
		m.guests++
		return nil
	}
	key := string(r.Key)
	p := d.payload
	if d.topic == "customers/delete" {
		if c := m.contacts[key]; c != nil {
			c.deleted = true
		}
		return nil
	}
	c := m.contact(key)
	switch name := d.topic; {
	case name == "customers/create" || name == "customers/update":
		if a, ok := p["default_address"].(map[string]any); ok {
			c.country, _ = a["country_code"].(string)
		}
		if t, ok := p["tags"].(string); ok {
			c.tags = map[string]bool{}
			for _, s := range strings.Split(t, ",") {
				if s = strings.TrimSpace(s); s != "" {
					c.tags[strings.ToLower(s)] = true
				}
			}
		}
		if v, ok := p["sms_marketing_consent"]; ok {
			c.sms = ""
			if o, ok := v.(map[string]any); ok {
				c.sms = strings.ToUpper(o["state"].(string))
			}
		}
	case name == "customers_marketing_consent/update":
		c.sms = strings.ToUpper(p["sms_marketing_consent"].(map[string]any)["state"].(string))
	case name == "customers_whats_app_marketing_consent/update":
		c.wa = strings.ToUpper(p["whats_app_marketing_consent"].(map[string]any)["state"].(string))
	case name == "customers_email_marketing_consent/update":
	case strings.HasPrefix(name, "customer.tags_") || strings.HasPrefix(name, "customer_tags/"):
		var tags []string
		switch t := p["tags"].(type) {
		case string:
			tags = strings.Split(t, ",")
		case []any:
			for _, x := range t {
				tags = append(tags, x.(string))
			}
		}
		for _, t := range tags {
			t = strings.ToLower(strings.TrimSpace(t))
			if strings.HasSuffix(name, "added") {
				c.tags[t] = true
			} else {
				delete(c.tags, t)
			}
		}
	case strings.HasPrefix(name, "orders/"):
		id := p["id"].(json.Number).String()
		o := &refOrder{test: p["test"] == true, cancelled: p["cancelled_at"] != nil}
		if o.created, err = parseTime(p["created_at"]); err != nil {
			return err
		}
		if o.updated, err = parseTime(p["updated_at"]); err != nil {
			return err
		}
		total := p["current_total_price"]
		if total == nil {
			total = p["total_price"]
		}
		o.total = parseMoney(total)
		for _, li := range p["line_items"].([]any) {
			o.vendors = append(o.vendors, strings.ToLower(li.(map[string]any)["vendor"].(string)))
		}
		if old := c.orders[id]; old == nil || !o.updated.Before(old.updated) {
			c.orders[id] = o
		}
	case name == "messages/status":
		id := p["message_id"].(string)
		switch p["status"] {
		case "delivered":
			c.received[id] = true
		case "read", "played":
			c.received[id], c.read[id] = true, true
		case "sent", "failed":
		default:
			return fmt.Errorf("status %v", p["status"])
		}
	case name == "messages/inbound":
		t, err := parseTime(p["timestamp"])
		if err != nil {
			return err
		}
		if t.After(c.lastEngaged) {
			c.lastEngaged = t
		}
	}
	return nil
}

// attrs are the evaluated attributes of a contact at now.
type refAttrs struct {
	orders           int
	spent            float64
	daysSinceLast    int // -1: no orders
	brands           map[string]bool
	country          string
	consentYes       bool
	excluded         bool
	received, read   int
	daysSinceEngaged int // -1: never
	orders30         int // counted orders created in the last 30 days (whole days since < 30)
}

func daysSince(now, t time.Time) int {
	return int(math.Floor(float64(now.Sub(t)) / float64(24*time.Hour)))
}

func (c *refContact) attrs(now time.Time) refAttrs {
	a := refAttrs{daysSinceLast: -1, daysSinceEngaged: -1, brands: map[string]bool{}, country: c.country}
	var last time.Time
	for _, o := range c.orders {
		if o.cancelled || o.test {
			continue
		}
		a.orders++
		if daysSince(now, o.created) < 30 {
			a.orders30++
		}
		a.spent += o.total
		if o.created.After(last) {
			last = o.created
		}
		for _, v := range o.vendors {
			a.brands[v] = true
		}
	}
	if a.orders > 0 {
		a.daysSinceLast = daysSince(now, last)
	}
	state := c.sms
	if c.wa != "" {
		state = c.wa
	}
	a.consentYes = state == "SUBSCRIBED"
	a.excluded = c.tags[tagNames[exclusionTagBit]]
	a.received, a.read = len(c.received), len(c.read)
	if !c.lastEngaged.IsZero() {
		a.daysSinceEngaged = daysSince(now, c.lastEngaged)
	}
	return a
}

// numRefSegments is len(refSegments), the number of demo segments.
const numRefSegments = 7

// refSegments evaluates the demo segments (see demoSegments) by hand.
var refSegments = [numRefSegments]struct {
	id    string
	match func(a *refAttrs) bool
}{
	{SegmentHighLTVLapsed, func(a *refAttrs) bool {
		return a.orders > 0 && a.spent > 500 && a.daysSinceLast > 60 && a.consentYes
	}},
	{SegmentFirstTimeCrossSell, func(a *refAttrs) bool {
		return a.orders == 1 && a.daysSinceLast <= 30 && !a.brands[strings.ToLower(crossSellBrand)]
	}},
	{SegmentMexicoHighSpend, func(a *refAttrs) bool { return a.country == "MX" && a.spent >= 300 }},
	{SegmentReEngagementSuppress, refSuppressed},
	{SegmentRecentRepeat, func(a *refAttrs) bool { return a.orders30 >= 2 }},
	{SegmentVIP, refVIP},
	{SegmentVIPNotSuppressed, func(a *refAttrs) bool { return refVIP(a) && !refSuppressed(a) }},
}

func refSuppressed(a *refAttrs) bool {
	return (a.daysSinceEngaged > 30 && a.received >= 3) || (a.received >= 6 && a.read == 0)
}

func refVIP(a *refAttrs) bool { return a.spent >= 500 }

// members returns, per demo segment, whether c is a member at now.
func (c *refContact) members(now time.Time) [numRefSegments]bool {
	var out [numRefSegments]bool
	if c == nil || c.deleted {
		return out
	}
	a := c.attrs(now)
	if a.excluded {
		return out
	}
	for i, s := range refSegments {
		out[i] = s.match(&a)
	}
	return out
}

func (m *refModel) counts(now time.Time) [numRefSegments]int {
	var n [numRefSegments]int
	for _, c := range m.contacts {
		for i, in := range c.members(now) {
			if in {
				n[i]++
			}
		}
	}
	return n
}

var testStart = time.Date(2026, 3, 2, 15, 4, 5, 0, time.UTC)

// TestDemoSegmentsPopulated: with the default configuration the history gives each
// demo segment tens to hundreds of members out of 3000 contacts, and the live stream
// at the demo's 20 events/s moves contacts in and out of each of them within minutes.
func TestDemoSegmentsPopulated(t *testing.T) {
	g := New(Config{Seed: 1, Start: testStart})
	m := newRefModel()
	for r := range g.History() {
		if err := m.apply(&r); err != nil {
			t.Fatalf("%s %s: %v", r.Topic, r.Key, err)
		}
	}
	if len(m.contacts) != DefaultContactsPerWorkspace {
		t.Errorf("history has %d contacts, want %d", len(m.contacts), DefaultContactsPerWorkspace)
	}
	counts := m.counts(testStart)
	for i, s := range refSegments {
		t.Logf("history: %-28s %4d members", s.id, counts[i])
		least := 30
		if s.id == SegmentRecentRepeat {
			least = 10 // two orders within 30 days are rare in the history; the live stream adds hundreds
		}
		if counts[i] < least || counts[i] > 600 {
			t.Errorf("%s has %d members after the history, want tens to hundreds", s.id, counts[i])
		}
	}

	// Live: 20 events/s for 10 minutes; count the transitions events cause.
	const rate, minutes = 20, 10
	now := testStart.Add(time.Second)
	var in, out [numRefSegments]int
	for i := 0; i < rate*60*minutes; i++ {
		r := g.Next(now)
		before := m.contacts[string(r.Key)].members(now)
		if err := m.apply(&r); err != nil {
			t.Fatalf("%s %s: %v", r.Topic, r.Key, err)
		}
		after := m.contacts[string(r.Key)].members(now)
		for s := range before {
			switch {
			case !before[s] && after[s]:
				in[s]++
			case before[s] && !after[s]:
				out[s]++
			}
		}
		now = now.Add(time.Second / rate)
	}
	total := 0
	for i, s := range refSegments {
		t.Logf("live %d min at %d/s: %-28s +%d -%d", minutes, rate, s.id, in[i], out[i])
		total += in[i] + out[i]
		if in[i] == 0 || out[i] == 0 {
			t.Errorf("%s: %d entries, %d exits in %d minutes of live stream; want both", s.id, in[i], out[i], minutes)
		}
	}
	perSec := float64(total) / (60 * minutes)
	t.Logf("live: %.2f event-driven transitions per second at %d events/s", perSec, rate)
	if perSec < 0.2 {
		t.Errorf("%.2f transitions per second; want one every few seconds", perSec)
	}
	counts = m.counts(now)
	for i, s := range refSegments {
		t.Logf("after live: %-28s %4d members", s.id, counts[i])
	}
}
