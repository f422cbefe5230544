package gen

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentd/segmentd/events"
	"github.com/segmentd/segmentd/operators"
)

// sample returns the history and n live events (one every 50 ms) of g.
func sample(g *Generator, n int) (hist, live []Record) {
	for r := range g.History() {
		hist = append(hist, r)
	}
	now := testStart.Add(time.Second)
	for i := 0; i < n; i++ {
		live = append(live, g.Next(now))
		now = now.Add(50 * time.Millisecond)
	}
	return hist, live
}

// TestRecordsWellFormed: every value is valid JSON that decodes into a generic map;
// keys are "<workspace>/<customer_id>" of the payload's customer (guest orders
// "<workspace>/guest/<order_id>"); Form A records carry the Shopify headers; every
// timestamp parses; ids beyond 2^53 and phones without a calling code occur.
func TestRecordsWellFormed(t *testing.T) {
	g := New(Config{Seed: 7, Workspaces: 3, ContactsPerWorkspace: 400, Skew: 1, Start: testStart})
	hist, live := sample(g, 10000)
	domains := map[string]bool{}
	for _, d := range g.Workspaces() {
		domains[d] = true
	}
	var (
		bigIDs, guests, phones, national, formA int
		apis                                    = map[string]int{}
		webhookIDs                              = map[string][]byte{}
	)
	for i, r := range append(hist, live...) {
		if !json.Valid(r.Value) {
			t.Fatalf("record %d (%s): invalid JSON: %s", i, r.Topic, r.Value)
		}
		d, err := decodeRecord(&r)
		if err != nil {
			t.Fatalf("record %d (%s): %v\n%s", i, r.Topic, err, r.Value)
		}
		if !domains[d.shop] {
			t.Fatalf("record %d: unknown shop %q", i, d.shop)
		}
		if d.topic != r.Topic && !(strings.HasPrefix(d.topic, "customer_tags/") && strings.HasPrefix(r.Topic, "customer.tags_")) {
			t.Fatalf("record %d: topic %q, Record.Topic %q", i, d.topic, r.Topic)
		}
		if d.customerID > 1<<53 {
			bigIDs++
		}
		if d.customerID == 0 {
			guests++
		}
		checkTimes(t, r.Topic, d.payload)
		if d.formA {
			formA++
			if len(r.Headers) != 6 {
				t.Fatalf("record %d: %d headers", i, len(r.Headers))
			}
			id := header(&r, hWebhookID)
			if prev, ok := webhookIDs[id]; ok && !bytes.Equal(prev, r.Value) {
				t.Fatalf("record %d: webhook id %s reused for a different body", i, id)
			}
			webhookIDs[id] = r.Value
			if _, err := time.Parse(time.RFC3339Nano, header(&r, hTriggeredAt)); err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
			if !uuidRE.MatchString(id) || !uuidRE.MatchString(header(&r, hEventID)) {
				t.Fatalf("record %d: webhook or event id is not a UUID", i)
			}
			apis[header(&r, hAPIVersion)]++
		} else {
			if id, _ := d.envelope["id"].(string); !uuidRE.MatchString(id) {
				t.Fatalf("record %d: envelope id %q", i, id)
			}
			checkTimes(t, r.Topic, d.envelope)
		}
		if r.Topic == "customers/create" || r.Topic == "customers/update" {
			switch ph := d.payload["phone"].(type) {
			case string:
				phones++
				if !strings.HasPrefix(ph, "+") {
					national++
				}
			case nil:
			default:
				t.Fatalf("phone %v", ph)
			}
			_, hasTags := d.payload["tags"]
			if hasTags != (header(&r, hAPIVersion) == apiOld) {
				t.Fatalf("customer in API %s: tags present %v", header(&r, hAPIVersion), hasTags)
			}
		}
	}
	t.Logf("%d records (%d Form A), %d ids > 2^53, %d guest orders, %d/%d phones without +, API versions %v",
		len(hist)+len(live), formA, bigIDs, guests, national, phones, apis)
	if bigIDs == 0 || guests == 0 {
		t.Errorf("want some ids > 2^53 (%d) and guest orders (%d)", bigIDs, guests)
	}
	if f := float64(national) / float64(phones); f < 0.05 || f > 0.25 {
		t.Errorf("%.2f of phones lack the calling code; want some, not most", f)
	}
	if f := float64(apis[apiOld]) / float64(apis[apiOld]+apis[apiNew]); f < 0.3 || f > 0.7 {
		t.Errorf("%.2f of webhooks in API %s; want about half", f, apiOld)
	}
}

var (
	uuidRE  = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	rfc3339 = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$`)
)

// checkTimes checks every timestamp-named member of v, recursively.
func checkTimes(t *testing.T, topic string, v any) {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			s, ok := e.(string)
			if ok && (strings.HasSuffix(k, "_at") || k == "occurredAt" || k == "timestamp") {
				if _, err := strconv.ParseInt(s, 10, 64); err == nil && k == "timestamp" {
					continue
				}
				if !rfc3339.MatchString(s) {
					t.Fatalf("%s: %s %q is not RFC 3339", topic, k, s)
				}
				if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
					t.Fatalf("%s: %s: %v", topic, k, err)
				}
				continue
			}
			checkTimes(t, topic, e)
		}
	case []any:
		for _, e := range x {
			checkTimes(t, topic, e)
		}
	}
}

// category returns the Mix category of a topic.
func category(topic string) int {
	switch {
	case strings.HasPrefix(topic, "orders/"):
		return 0
	case strings.HasPrefix(topic, "customer"):
		return 1
	}
	return 2
}

// TestMix: the live stream follows Config.Mix within a percentage point.
func TestMix(t *testing.T) {
	for _, mix := range []Mix{{}, {Orders: 1, Customers: 1, Messaging: 2}, {Orders: 0, Customers: 0.2, Messaging: 0.8}} {
		g := New(Config{Seed: 3, ContactsPerWorkspace: 500, Mix: mix, Start: testStart})
		want := g.cfg.Mix
		var n [3]int
		const total = 100000
		now := testStart
		for i := 0; i < total; i++ {
			n[category(g.Next(now).Topic)]++
			now = now.Add(time.Millisecond)
		}
		for i, w := range []float64{want.Orders, want.Customers, want.Messaging} {
			if got := float64(n[i]) / total; math.Abs(got-w) > 0.01 {
				t.Errorf("mix %+v: category %d has share %.3f, want %.3f", mix, i, got, w)
			}
		}
	}
}

// TestSizes: orders about 5 KB, customers about 1.5 KB, message statuses a few
// hundred bytes.
func TestSizes(t *testing.T) {
	g := New(Config{Seed: 5, Start: testStart})
	hist, live := sample(g, 50000)
	sum, n := map[string]int{}, map[string]int{}
	for _, r := range append(hist, live...) {
		sum[r.Topic] += len(r.Value)
		n[r.Topic]++
	}
	mean := func(prefix string) float64 {
		s, c := 0, 0
		for k := range sum {
			if strings.HasPrefix(k, prefix) {
				s, c = s+sum[k], c+n[k]
			}
		}
		return float64(s) / float64(c)
	}
	for _, c := range []struct {
		prefix string
		lo, hi float64
	}{
		{"orders/", 4000, 7000},
		{"customers/create", 1100, 1900},
		{"customers/update", 1100, 1900},
		{"messages/status", 150, 350},
	} {
		m := mean(c.prefix)
		t.Logf("%-18s %6.0f B", c.prefix, m)
		if m < c.lo || m > c.hi {
			t.Errorf("%s: mean size %.0f B, want [%.0f, %.0f]", c.prefix, m, c.lo, c.hi)
		}
	}
}

// TestDeterministic: the same config gives the same bytes; History does not depend on
// Next; another seed gives other bytes.
func TestDeterministic(t *testing.T) {
	digest := func(seed int64) (h1, h2, l [32]byte) {
		g := New(Config{Seed: seed, Workspaces: 2, ContactsPerWorkspace: 300, Start: testStart})
		hash := func(rs []Record) [32]byte {
			d := sha256.New()
			for _, r := range rs {
				d.Write(r.Key)
				d.Write(r.Value)
				for _, h := range r.Headers {
					d.Write([]byte(h.Key))
					d.Write(h.Value)
				}
			}
			return [32]byte(d.Sum(nil))
		}
		hist, live := sample(g, 5000)
		hist2, _ := sample(g, 0)
		return hash(hist), hash(hist2), hash(live)
	}
	a1, a2, al := digest(11)
	b1, _, bl := digest(11)
	c1, _, cl := digest(12)
	if a1 != b1 || al != bl {
		t.Error("same seed, different output")
	}
	if a1 != a2 {
		t.Error("History changed after Next")
	}
	if a1 == c1 || al == cl {
		t.Error("different seeds, same output")
	}
}

// TestSegmentDefinitions: each demo definition has the SPEC §6 shape, a valid id and
// its key, and is accepted by operators.ParseDefinition.
func TestSegmentDefinitions(t *testing.T) {
	g := New(Config{Seed: 1, Workspaces: 3, ContactsPerWorkspace: 10, Start: testStart})
	segs := g.Segments()
	if len(segs) != 3*len(demoSegments) {
		t.Fatalf("%d definitions, want %d", len(segs), 3*len(demoSegments))
	}
	idRE := regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)
	for _, s := range segs {
		var def struct {
			Workspace string `json:"workspace"`
			ID        string `json:"id"`
			Name      string `json:"name"`
			Groups    []struct {
				Conditions []struct {
					Field      string          `json:"field"`
					Op         string          `json:"op"`
					Value      json.RawMessage `json:"value"`
					InLastDays int             `json:"in_last_days"`
				} `json:"conditions"`
			} `json:"groups"`
		}
		dec := json.NewDecoder(bytes.NewReader(s.Value))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&def); err != nil {
			t.Fatalf("%s: %v", s.Key, err)
		}
		if !idRE.MatchString(def.ID) || string(s.Key) != def.Workspace+"/"+def.ID {
			t.Errorf("key %q, id %q", s.Key, def.ID)
		}
		if len(def.Groups) == 0 {
			t.Errorf("%s: no groups", s.Key)
		}
		for _, gr := range def.Groups {
			if len(gr.Conditions) == 0 {
				t.Errorf("%s: empty group", s.Key)
			}
			for _, c := range gr.Conditions {
				if c.Field == "" || c.Op == "" || !json.Valid(c.Value) {
					t.Errorf("%s: bad condition %+v", s.Key, c)
				}
			}
		}
		if _, err := operators.ParseDefinition(s.Value); err != nil {
			t.Errorf("%s: operators.ParseDefinition: %v", s.Key, err)
		}
	}
}

// TestCatalog: one entry per product, keyed "<workspace>/product/<id>", covering the
// products of the orders.
func TestCatalog(t *testing.T) {
	g := New(Config{Seed: 1, Workspaces: 2, ContactsPerWorkspace: 100, Start: testStart})
	products := map[string]bool{}
	for _, r := range g.Catalog() {
		var e struct {
			Workspace   string   `json:"workspace"`
			ProductID   string   `json:"product_id"`
			Collections []string `json:"collections"`
		}
		if err := json.Unmarshal(r.Value, &e); err != nil {
			t.Fatal(err)
		}
		if string(r.Key) != e.Workspace+"/product/"+e.ProductID || len(e.Collections) == 0 {
			t.Fatalf("catalog entry %s: %s", r.Key, r.Value)
		}
		products[string(r.Key)] = true
	}
	for r := range g.History() {
		if !strings.HasPrefix(r.Topic, "orders/") {
			continue
		}
		m, _ := decodeJSON(r.Value)
		for _, li := range m["line_items"].([]any) {
			key := header(&r, hShop) + "/product/" + li.(map[string]any)["product_id"].(json.Number).String()
			if !products[key] {
				t.Fatalf("order product %s not in the catalog", key)
			}
		}
	}
}

// TestDecodedBySegmentd: segmentd's own decoder accepts every record (guest orders are
// reported as such).
func TestDecodedBySegmentd(t *testing.T) {
	g := New(Config{Seed: 9, Workspaces: 2, ContactsPerWorkspace: 300, Start: testStart})
	hist, live := sample(g, 20000)
	for _, r := range append(hist, live...) {
		er := &events.Record{Key: r.Key, Value: r.Value, Timestamp: testStart}
		for _, h := range r.Headers {
			er.Headers = append(er.Headers, events.Header{Key: h.Key, Value: h.Value})
		}
		ev, err := events.Decode(er, nil)
		if errors.Is(err, events.ErrGuestOrder) {
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v\n%s", r.Topic, err, r.Value)
		}
		if ev.Topic != r.Topic || ev.ContactKey() != string(r.Key) {
			t.Fatalf("decoded %s %s, generated %s %s", ev.Topic, ev.ContactKey(), r.Topic, r.Key)
		}
	}
}

func TestConfig(t *testing.T) {
	for _, c := range []Config{
		{Workspaces: -1}, {ContactsPerWorkspace: -1}, {Skew: -1}, {Skew: math.NaN()},
		{Mix: Mix{Orders: -1}}, {History: -time.Hour}, {History: time.Hour},
	} {
		if c.Validate() == nil {
			t.Errorf("%+v: invalid config accepted", c)
		}
	}
	var zero Config
	if err := zero.Validate(); err != nil {
		t.Fatal(err)
	}
	g := New(Config{Workspaces: 12, ContactsPerWorkspace: 100, Skew: 1.2, Start: testStart})
	sizes := g.Contacts()
	if sizes[0] <= 3*sizes[11] || sizes[11] < 1 {
		t.Errorf("skewed sizes %v", sizes)
	}
	if ws := g.Workspaces(); ws[0] != "demo-shop.myshopify.com" || ws[7] != "shop-007.myshopify.com" {
		t.Errorf("workspaces %v", ws)
	}
}

// TestAppendTime checks the hand-written RFC 3339 formatter against package time.
func TestAppendTime(t *testing.T) {
	r := newRNG(1)
	for i := 0; i < 100000; i++ {
		ns := r.between(-2e18, 4e18)
		off := (r.intn(29) - 14) * 3600
		if i%7 == 0 {
			off += 1800
		}
		frac := r.intn(10)
		got := string(appendTime(nil, ns, off, frac, true))
		layout := "2006-01-02T15:04:05"
		if frac > 0 {
			layout += "." + strings.Repeat("0", frac)
		}
		layout += "Z07:00"
		want := time.Unix(0, ns).In(time.FixedZone("", off)).Format(layout)
		if got != want {
			t.Fatalf("appendTime(%d, %d, %d) = %s, want %s", ns, off, frac, got, want)
		}
	}
}
