package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/admin"
	"github.com/segmentd/segmentd/internal/kafkatest"
	"github.com/segmentd/segmentd/internal/testenv"
	"github.com/segmentd/segmentd/operators"
	"github.com/segmentd/segmentd/processor"
	"github.com/segmentd/segmentd/state"
)

const (
	ws    = "acme.myshopify.com"
	token = "integration-token"
)

var now = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// deployment is a consumer group of segmentd processes on one broker, each with its
// admin API, plus a producer of input events.
type deployment struct {
	t      *testing.T
	b      *kafkatest.Broker
	topics processor.Topics
	group  string
	prod   *kgo.Client
	procs  []*process
}

type process struct {
	proc *processor.Processor
	srv  *httptest.Server
	h    atomic.Pointer[admin.Handler]
}

func newDeployment(t *testing.T, b *kafkatest.Broker) *deployment {
	suffix := strings.ReplaceAll(strings.ToLower(t.Name()), "/", "-")
	compact := "compact"
	d := &deployment{t: t, b: b, group: kafkatest.UniqueName("g-" + suffix)}
	d.topics = processor.Topics{
		Events:     []string{b.Topic(t, "events-"+suffix, 3, nil)},
		Segments:   b.Topic(t, "segments-"+suffix, 1, map[string]*string{"cleanup.policy": &compact}),
		Catalog:    b.Topic(t, "catalog-"+suffix, 1, map[string]*string{"cleanup.policy": &compact}),
		Membership: b.Topic(t, "membership-"+suffix, 3, nil),
		Changelog:  b.Topic(t, "changelog-"+suffix, 3, map[string]*string{"cleanup.policy": &compact}),
		DLQ:        b.Topic(t, "dlq-"+suffix, 3, nil),
	}
	d.prod = b.Client(t, kgo.ProducerLinger(0))
	return d
}

// start starts n processes whose admin APIs know each other (each its own URL too).
func (d *deployment) start(n int) {
	t := d.t
	for range n {
		p := &process{}
		p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p.h.Load().ServeHTTP(w, r)
		}))
		t.Cleanup(p.srv.Close)
		d.procs = append(d.procs, p)
	}
	var peers []string
	if n > 1 {
		for _, p := range d.procs {
			peers = append(peers, p.srv.URL)
		}
	}
	for _, p := range d.procs {
		store, err := state.Open(t.TempDir(), state.Options{InMemory: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		p.proc, err = processor.New(processor.Config{
			Brokers: d.b.Addrs, Group: d.group, Topics: d.topics, Partitions: 3,
			CommitInterval: 20 * time.Millisecond, Store: store, Now: func() time.Time { return now },
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if err != nil {
			t.Fatal(err)
		}
		testenv.Background(t, "processor", p.proc.Run)
		h, err := admin.New(admin.Config{
			Backend: p.proc, Producer: d.prod, SegmentsTopic: d.topics.Segments,
			Token: token, ListenAddr: "0.0.0.0:8080", Peers: peers,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if err != nil {
			t.Fatal(err)
		}
		p.h.Store(h)
	}
	// Ready, and the group's partitions all owned, each by one process.
	testenv.Eventually(d.t, "every partition owned", func() (bool, string) {
		var all []int32
		for _, p := range d.procs {
			r := d.do(p, "GET", "/v1/workspaces/"+ws+"/segments?local=true", "")
			if r.status != http.StatusOK {
				return false, fmt.Sprintf("%d %s", r.status, r.body)
			}
			var l admin.SegmentListResponse
			json.Unmarshal(r.body, &l)
			if len(l.Partitions) == 0 {
				return false, "a process owns nothing"
			}
			all = append(all, l.Partitions...)
		}
		slices.Sort(all)
		return slices.Equal(all, []int32{0, 1, 2}), fmt.Sprint(all)
	})
}

type reply struct {
	status int
	body   []byte
}

func (d *deployment) do(p *process, method, path, body string) reply {
	d.t.Helper()
	req, err := http.NewRequest(method, p.srv.URL+path, strings.NewReader(body))
	if err != nil {
		d.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, b}
}

// get decodes a 200 answer into v.
func (d *deployment) get(p *process, path string, v any) {
	d.t.Helper()
	r := d.do(p, "GET", path, "")
	if r.status != http.StatusOK {
		d.t.Fatalf("GET %s: %d %s", path, r.status, r.body)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		d.t.Fatalf("GET %s: %v: %s", path, err, r.body)
	}
}

// tryGet is get for a condition that may not hold yet: false and why, instead of
// failing the test.
func (d *deployment) tryGet(p *process, path string, v any) (bool, string) {
	r := d.do(p, "GET", path, "")
	if r.status != http.StatusOK {
		return false, fmt.Sprintf("GET %s: %d %s", path, r.status, r.body)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		return false, fmt.Sprintf("GET %s: %v: %s", path, err, r.body)
	}
	return true, ""
}

func (d *deployment) envelope(cid int64, topic, id, payload string) {
	d.t.Helper()
	v := fmt.Sprintf(`{"topic":%q,"shop":%q,"id":%q,"payload":%s}`, topic, ws, id, payload)
	r := &kgo.Record{Topic: d.topics.Events[0], Key: fmt.Appendf(nil, "%s/%d", ws, cid), Value: []byte(v)}
	if err := d.prod.ProduceSync(context.Background(), r).FirstErr(); err != nil {
		d.t.Fatal(err)
	}
}

// population: contacts 1..20; contact i spent 50*i in one order; even ones subscribe
// to SMS; multiples of 3 are tagged vip; 1..5 are on list "news"; contact 15 is
// excluded.
func (d *deployment) population() {
	for i := int64(1); i <= 20; i++ {
		tags := "x"
		if i%3 == 0 {
			tags = "vip"
		}
		if i == 15 {
			tags = "vip, exclude_from_galantis"
		}
		consent := "unsubscribed"
		if i%2 == 0 {
			consent = "subscribed"
		}
		d.envelope(i, "customers/update", fmt.Sprintf("c%d", i), fmt.Sprintf(
			`{"id":%d,"first_name":"Name%d","last_name":"Doe","email":"user%d@example.com","phone":"+52 55 0000 %04d","tags":%q,"sms_marketing_consent":{"state":%q},"updated_at":"2026-11-01T00:00:00Z"}`,
			i, i, i, i, tags, consent))
		created := now.Add(-time.Duration(i) * 24 * time.Hour).Format(time.RFC3339)
		d.envelope(i, "orders/create", fmt.Sprintf("o%d", i), fmt.Sprintf(
			`{"id":%d,"customer":{"id":%d},"created_at":%q,"updated_at":%q,"test":false,"total_price":"%d.00","line_items":[]}`,
			1000+i, i, created, created, 50*i))
		if i <= 5 {
			d.envelope(i, "lists/member_added", fmt.Sprintf("l%d", i), fmt.Sprintf(`{"customer_id":%d,"list_id":"news"}`, i))
		}
	}
}

const (
	// big: total_spent >= 500 → 10..20 except 15 (excluded): 10 members.
	defBig = `{"name":"Big spenders","groups":[{"conditions":[{"field":"total_spent","op":"gte","value":500}]}]}`
	// vip: tag vip → 3, 6, 9, 12, 18 (15 excluded): 5 members.
	defVIP     = `{"name":"VIP","groups":[{"conditions":[{"field":"tag","op":"has","value":"vip"}]}]}`
	defInvalid = `{"groups":[{"conditions":[{"field":"country","op":"gt","value":"MX"}]}]}`
)

// TestAdminAPIOnProcessor drives the admin API of real processors: one process, and
// a group of two whose handlers fan out to each other. Both must give the same
// answers.
func TestAdminAPIOnProcessor(t *testing.T) {
	for _, n := range []int{1, 2} {
		t.Run(fmt.Sprintf("processes=%d", n), func(t *testing.T) {
			kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
				d := newDeployment(t, b)
				d.start(n)
				checkAdminAPI(t, d)
			})
		})
	}
}

func checkAdminAPI(t *testing.T, d *deployment) {
	p0 := d.procs[0]
	last := d.procs[len(d.procs)-1]
	segs := "/v1/workspaces/" + ws + "/segments"

	// Definitions: invalid ones are refused with the path; valid ones written.
	r := d.do(p0, "PUT", segs+"/big", defInvalid)
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), `"path":"groups[0].conditions[0].op"`) {
		t.Fatalf("PUT invalid: %d %s", r.status, r.body)
	}
	if r := d.do(p0, "PUT", segs+"/big", defBig); r.status != http.StatusCreated {
		t.Fatalf("PUT big: %d %s", r.status, r.body)
	}
	if r := d.do(last, "PUT", segs+"/vip", defVIP); r.status != http.StatusCreated {
		t.Fatalf("PUT vip: %d %s", r.status, r.body)
	}
	d.population()

	// Counts, on every process, once the events are processed.
	for _, p := range d.procs {
		testenv.Eventually(d.t, "segment counts", func() (bool, string) {
			var l admin.SegmentListResponse
			d.get(p, segs, &l)
			counts := map[string]int64{}
			for _, s := range l.Segments {
				if !s.Backfilling {
					counts[s.ID] = s.Members
				}
			}
			return counts["big"] == 10 && counts["vip"] == 5 && slices.Equal(l.Partitions, []int32{0, 1, 2}), fmt.Sprintf("%s", mustJSON(l))
		})
	}
	var seg admin.SegmentResponse
	d.get(last, segs+"/big", &seg)
	if seg.Version != 1 || seg.Name != "Big spenders" || seg.Members != 10 {
		t.Fatalf("GET big: %+v", seg)
	}
	if r := d.do(p0, "GET", segs+"/nope", ""); r.status != http.StatusNotFound {
		t.Fatalf("GET unknown: %d %s", r.status, r.body)
	}

	// Members, paged 3 at a time, from every process.
	for _, p := range d.procs {
		var got []int64
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 20 {
				t.Fatal("paging does not end")
			}
			var page admin.MembersResponse
			d.get(p, fmt.Sprintf("%s/big/members?limit=3&cursor=%s", segs, cursor), &page)
			if len(page.Members) > 3 {
				t.Fatalf("page of %d", len(page.Members))
			}
			got = append(got, page.Members...)
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
		slices.Sort(got)
		if fmt.Sprint(got) != "[10 11 12 13 14 16 17 18 19 20]" {
			t.Fatalf("members of big: %v", got)
		}
	}

	// A contact, whichever process owns it, with its memberships; explain.
	for cid := int64(1); cid <= 20; cid++ {
		var v admin.Contact
		d.get(p0, fmt.Sprintf("/v1/workspaces/%s/contacts/%d", ws, cid), &v)
		if v.CustomerID != cid || v.Profile.Email != fmt.Sprintf("user%d@example.com", cid) || v.Orders.Counted != 1 {
			t.Fatalf("contact %d: %+v", cid, v)
		}
		var ex operators.Explanation
		d.get(last, fmt.Sprintf("/v1/workspaces/%s/contacts/%d/explain?segment=big", ws, cid), &ex)
		wantMatch := cid >= 10 && cid != 15
		if ex.Match != wantMatch || fmt.Sprint(ex.Groups[0].Conditions[0].Actual) != fmt.Sprint(50*cid) {
			t.Fatalf("explain %d in big: %s", cid, mustJSON(ex))
		}
	}
	var v admin.Contact
	d.get(p0, "/v1/workspaces/"+ws+"/contacts/12", &v)
	if got := fmt.Sprint(v.Memberships); got != "[{big 1} {vip 1}]" && got != "[{vip 1} {big 1}]" {
		t.Fatalf("memberships of 12: %s", got)
	}
	// Contact 12 as the API shows it, from every process: the processor's answer and
	// its JSON view, pinned.
	for _, p := range d.procs {
		checkContact12(t, d.do(p, "GET", "/v1/workspaces/"+ws+"/contacts/12", ""))
	}
	if r := d.do(p0, "GET", "/v1/workspaces/"+ws+"/contacts/999", ""); r.status != http.StatusNotFound {
		t.Fatalf("unknown contact: %d %s", r.status, r.body)
	}

	// Preview: total_spent > 800 → 17..20.
	r = d.do(last, "POST", segs+":preview?sample=10", `{"groups":[{"conditions":[{"field":"total_spent","op":"gt","value":800}]}]}`)
	var pv admin.PreviewResponse
	if r.status != http.StatusOK || json.Unmarshal(r.body, &pv) != nil || pv.Count != 4 || fmt.Sprint(pv.Sample) != "[17 18 19 20]" {
		t.Fatalf("preview: %d %s", r.status, r.body)
	}
	r = d.do(p0, "POST", segs+":validate", defVIP)
	if r.status != http.StatusOK {
		t.Fatalf("validate: %d %s", r.status, r.body)
	}

	// Search by email, name and phone.
	var s admin.SearchResponse
	d.get(p0, "/v1/workspaces/"+ws+"/contacts?q=user7@", &s)
	if len(s.Contacts) != 1 || s.Contacts[0].CustomerID != 7 {
		t.Fatalf("search by email: %s", mustJSON(s))
	}
	d.get(last, "/v1/workspaces/"+ws+"/contacts?q=NAME1", &s) // 1, 10..19
	if len(s.Contacts) != 11 || s.Contacts[0].CustomerID != 1 || s.Contacts[10].CustomerID != 19 {
		t.Fatalf("search by name: %s", mustJSON(s))
	}
	d.get(last, "/v1/workspaces/"+ws+"/contacts?q=name1&limit=5", &s)
	if len(s.Contacts) != 5 || !strings.HasPrefix(s.Contacts[4].FirstName, "Name1") {
		t.Fatalf("search by name, 5 at most: %s", mustJSON(s))
	}
	d.get(p0, "/v1/workspaces/"+ws+"/contacts?q=55+0000+0004", &s)
	if len(s.Contacts) != 1 || s.Contacts[0].CustomerID != 4 {
		t.Fatalf("search by phone: %s", mustJSON(s))
	}

	// Estimate: consent yes (even), not excluded.
	for body, want := range map[string]int64{
		`{"include":[{"segment":"big"}]}`:                                               6, // 10,12,14,16,18,20
		`{"include":[{"segment":"big"}],"exclude":[{"segment":"vip"}]}`:                 4, // minus 12, 18
		`{"include":[{"list":"news"},{"segment":"vip"}]}`:                               5, // 2,4 ∪ 6,12,18
		`{"include":[{"list":"news"}],"exclude":[{"list":"news"}]}`:                     0,
		`{"include":[{"segment":"vip"}],"exclude":[{"segment":"big"}]}`:                 1, // 6
		`{"include":[{"segment":"big"},{"segment":"vip"},{"list":"news"}]}`:             9, // 2,4,6,10,12,14,16,18,20
		`{"include":[{"segment":"big"},{"segment":"vip"}],"exclude":[{"list":"news"}]}`: 7, // 6,10,12,14,16,18,20
	} {
		r := d.do(p0, "POST", "/v1/workspaces/"+ws+"/audiences:estimate", body)
		var est admin.EstimateResponse
		if r.status != http.StatusOK || json.Unmarshal(r.body, &est) != nil || est.Count != want {
			t.Errorf("estimate %s: %d %s, want %d", body, r.status, r.body, want)
		}
	}
	if r := d.do(p0, "POST", "/v1/workspaces/"+ws+"/audiences:estimate", `{"include":[{"segment":"nope"}]}`); r.status != http.StatusNotFound {
		t.Fatalf("estimate of an unknown segment: %d %s", r.status, r.body)
	}

	// Replace and delete.
	if r := d.do(p0, "PUT", segs+"/big", strings.Replace(defBig, "500", "900", 1)); r.status != http.StatusOK {
		t.Fatalf("PUT replace: %d %s", r.status, r.body)
	}
	testenv.Eventually(d.t, "big v2", func() (bool, string) {
		var seg admin.SegmentResponse
		d.get(last, segs+"/big", &seg)
		return seg.Version == 2 && seg.Members == 3 && !seg.Backfilling, mustJSON(seg) // 18, 19, 20
	})
	if r := d.do(last, "DELETE", segs+"/vip", ""); r.status != http.StatusAccepted {
		t.Fatalf("DELETE: %d %s", r.status, r.body)
	}
	testenv.Eventually(d.t, "vip deleted", func() (bool, string) {
		r := d.do(p0, "GET", segs+"/vip", "")
		return r.status == http.StatusNotFound, string(r.body)
	})
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestAdminWritesReadYourWrites: on real processors, a write follows what the
// segments topic holds. A segment created then deleted at once, on the same process
// or on another, is deleted (the DELETE does not answer 404 and leave it live); an
// identical re-send changes nothing.
func TestAdminWritesReadYourWrites(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		d := newDeployment(t, b)
		d.start(2)
		d.population()
		segs := "/v1/workspaces/" + ws + "/segments/"
		for i, del := range []*process{d.procs[0], d.procs[1]} {
			id := fmt.Sprintf("rebind%d", i)
			if r := d.do(d.procs[0], "PUT", segs+id, defBig); r.status != http.StatusCreated {
				t.Fatalf("PUT %s: %d %s", id, r.status, r.body)
			}
			if r := d.do(d.procs[0], "GET", segs+id+"?local=true", ""); r.status != http.StatusOK {
				t.Fatalf("GET %s right after PUT: %d %s", id, r.status, r.body)
			}
			if r := d.do(del, "DELETE", segs+id, ""); r.status != http.StatusAccepted {
				t.Fatalf("DELETE %s right after PUT: %d %s", id, r.status, r.body)
			}
			// The deleting process at once; the other when it has read the topic
			// (about a commit interval later).
			if r := d.do(del, "GET", segs+id+"?local=true", ""); r.status != http.StatusNotFound {
				t.Fatalf("GET %s after DELETE: %d %s", id, r.status, r.body)
			}
			if del != d.procs[0] {
				testenv.Eventually(t, "the other process sees the DELETE", func() (bool, string) {
					r := d.do(d.procs[0], "GET", segs+id+"?local=true", "")
					return r.status == http.StatusNotFound, fmt.Sprintf("%d %s", r.status, r.body)
				})
			}
		}
		// PUT twice at once through both processes: one creates, the other finds it.
		r0 := d.do(d.procs[0], "PUT", segs+"twice", defVIP)
		r1 := d.do(d.procs[1], "PUT", segs+"twice", defVIP)
		if r0.status != http.StatusCreated || r1.status != http.StatusOK || !strings.Contains(string(r1.body), `"result":"unchanged"`) {
			t.Fatalf("PUT, PUT identical: %d %s; %d %s", r0.status, r0.body, r1.status, r1.body)
		}
		r := d.do(d.procs[1], "PUT", segs+"twice", strings.Replace(defVIP, "VIP", "Very important", 1))
		if r.status != http.StatusOK || !strings.Contains(string(r.body), `"result":"updated"`) || !strings.Contains(string(r.body), `"segment_version":1`) {
			t.Fatalf("PUT renamed: %d %s", r.status, r.body)
		}
		// The deleted segments stay deleted: every process lists only "twice". The
		// writer (procs[1]) at once; the other reads the topic on its own, about a
		// commit interval later.
		for i, p := range d.procs {
			var l admin.SegmentListResponse
			check := func() (bool, string) {
				if ok, msg := d.tryGet(p, "/v1/workspaces/"+ws+"/segments?local=true", &l); !ok {
					return false, msg
				}
				return len(l.Segments) == 1 && l.Segments[0].ID == "twice" && l.Segments[0].Name == "Very important", mustJSON(l)
			}
			if i == 1 {
				if ok, msg := check(); !ok {
					t.Fatalf("segments on the writer: %s", msg)
				}
				continue
			}
			testenv.Eventually(t, "the other process lists only twice", check)
		}
	})
}

// contact12 is contact 12 of the population as the API shows it.
const contact12 = `{
  "workspace": "acme.myshopify.com", "customer_id": 12, "partition": 2, "synced_at": "2026-11-21T10:00:00Z",
  "profile": {"email": "user12@example.com", "first_name": "Name12", "last_name": "Doe",
    "phone": "+52 55 0000 0012", "phone_e164": "+525500000012", "updated_at": "2026-11-01T00:00:00Z"},
  "consents": {"sms": {"received": true, "state": "SUBSCRIBED"}, "whatsapp": {"received": false}, "email": {"received": false}},
  "attributes": {
    "consent_status": "yes", "email_consent_status": "unknown", "email_domain": "example.com",
    "orders_count": 1, "total_spent": "600.00", "average_order_value": "600.00",
    "first_order_at": "2026-11-09T10:00:00Z", "last_order_at": "2026-11-09T10:00:00Z",
    "days_since_first_order": 12, "days_since_last_order": 12, "lifecycle_stage": "first_time_buyer",
    "phone": "+525500000012", "purchased_brands": [], "purchased_collections": [], "purchased_prices": [],
    "messages_received": 0, "messages_read": 0, "automation_completions": 0, "excluded": false},
  "tags": ["vip"], "lists": [],
  "orders": {"total": 1, "counted": 1, "cancelled": 0, "test": 0},
  "memberships": [{"segment_id": "big", "segment_version": 1}, {"segment_id": "vip", "segment_version": 1}]
}`

// checkContact12 compares an answer with contact12. The SMS consent's time is the
// input record's (wall clock), and memberships come in the order they were gained:
// both are checked apart.
func checkContact12(t *testing.T, r reply) {
	t.Helper()
	var got, want map[string]any
	if r.status != http.StatusOK || json.Unmarshal(r.body, &got) != nil {
		t.Fatalf("contact 12: %d %s", r.status, r.body)
	}
	if err := json.Unmarshal([]byte(contact12), &want); err != nil {
		t.Fatal(err)
	}
	if consents, ok := got["consents"].(map[string]any); ok {
		if sms, ok := consents["sms"].(map[string]any); ok {
			if _, err := time.Parse(time.RFC3339Nano, fmt.Sprint(sms["updated_at"])); err != nil {
				t.Errorf("contact 12: consent time %v", sms["updated_at"])
			}
			delete(sms, "updated_at")
		}
	}
	if ms, ok := got["memberships"].([]any); ok {
		slices.SortFunc(ms, func(a, b any) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("contact 12:\n got %s\nwant %s", r.body, contact12)
	}
}
