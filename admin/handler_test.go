package admin

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/operators"
)

const (
	// matches contacts with 3 or more orders: ids 3, 4, 8, 9, 13, 14, … minus the
	// excluded ones (id % 10 == 7 never has 3 or 4 orders, so none).
	defLoyal   = `{"name":"Loyal","groups":[{"conditions":[{"field":"orders_count","op":"gte","value":3}]}]}`
	defMexico  = `{"workspace":"acme.myshopify.com","id":"mexico","groups":[{"conditions":[{"field":"country","op":"is","value":"MX"}]}]}`
	defInvalid = `{"groups":[{"conditions":[{"field":"orders_count","op":"gt","value":1}]},{"conditions":[{"field":"country","op":"gt","value":"MX"}]}]}`
)

func TestPutGetListDelete(t *testing.T) {
	e := newEnv(t)

	r := e.do("PUT", "/v1/workspaces/ACME.myshopify.com/segments/loyal", defLoyal)
	wantStatus(t, "PUT new", r, http.StatusCreated)
	var def operators.Definition
	r.decode(t, &def)
	if def.Workspace != ws || def.ID != "loyal" || def.Name != "Loyal" {
		t.Fatalf("PUT answer: %+v", def)
	}
	if loc := r.header.Get("Location"); loc != "/v1/workspaces/"+ws+"/segments/loyal" {
		t.Fatalf("Location %q", loc)
	}

	// Written to the segments topic, keyed <ws>/<id>, a definition the processor accepts.
	recs := e.readTopic()
	if len(recs) != 1 || string(recs[0].Key) != ws+"/loyal" {
		t.Fatalf("segments topic: %v", recs)
	}
	if d, err := operators.ParseDefinition(recs[0].Value); err != nil || d.Key() != ws+"/loyal" || d.RulesKey() != def.RulesKey() {
		t.Fatalf("produced definition %s: %v", recs[0].Value, err)
	}

	// Visible at once: the PUT waited until the process applied its record.
	r = e.do("GET", "/v1/workspaces/"+ws+"/segments/loyal", "")
	wantStatus(t, "GET", r, http.StatusOK)
	var seg SegmentResponse
	r.decode(t, &seg)
	// orders_count = id % 5 >= 3 over ids 1..30: 12 contacts.
	if seg.ID != "loyal" || seg.Version != 1 || seg.Members != 12 || seg.Name != "Loyal" || !slices.Equal(seg.Partitions, []int32{0, 1, 2}) {
		t.Fatalf("GET: %+v", seg)
	}

	// Replacing answers 200 and bumps the version once the topic is read.
	r = e.do("PUT", "/v1/workspaces/"+ws+"/segments/loyal", strings.Replace(defLoyal, `"value":3`, `"value":4`, 1))
	wantStatus(t, "PUT replace", r, http.StatusOK)
	e.do("PUT", "/v1/workspaces/"+ws+"/segments/mexico", defMexico)

	// Mexico: id % 3 == 0, 10 contacts, minus the excluded 27.
	r = e.do("GET", "/v1/workspaces/"+ws+"/segments", "")
	wantStatus(t, "list", r, http.StatusOK)
	var list SegmentListResponse
	r.decode(t, &list)
	if len(list.Segments) != 2 || list.Segments[0].ID != "loyal" || list.Segments[0].Version != 2 || list.Segments[0].Members != 6 ||
		list.Segments[1].ID != "mexico" || list.Segments[1].Members != 9 || list.Workspace != ws {
		t.Fatalf("list: %s", r.body)
	}
	r = e.do("GET", "/v1/workspaces/other.myshopify.com/segments", "")
	wantStatus(t, "list of another workspace", r, http.StatusOK)
	if !strings.Contains(string(r.body), `"segments":[]`) {
		t.Fatalf("empty list: %s", r.body)
	}

	r = e.do("DELETE", "/v1/workspaces/"+ws+"/segments/mexico", "")
	wantStatus(t, "DELETE", r, http.StatusAccepted)
	recs = e.readTopic()
	if last := recs[len(recs)-1]; string(last.Key) != ws+"/mexico" || last.Value != nil {
		t.Fatalf("tombstone: %+v", last)
	}
	wantStatus(t, "GET deleted", e.do("GET", "/v1/workspaces/"+ws+"/segments/mexico", ""), http.StatusNotFound)
	wantStatus(t, "DELETE unknown", e.do("DELETE", "/v1/workspaces/"+ws+"/segments/mexico", ""), http.StatusNotFound)
}

// TestWritesFollowTheTopic: a write decides from what the segments topic holds, not
// from what the process had read when the request came, and answers once the
// process has applied it (read your writes).
func TestWritesFollowTheTopic(t *testing.T) {
	e := newEnv(t)
	seg := "/v1/workspaces/" + ws + "/segments/"

	// Create, then at once delete: the DELETE sees the segment and writes the tombstone.
	wantStatus(t, "PUT", e.do("PUT", seg+"rebind", defLoyal), http.StatusCreated)
	wantStatus(t, "DELETE right after PUT", e.do("DELETE", seg+"rebind", ""), http.StatusAccepted)
	wantStatus(t, "GET after DELETE", e.do("GET", seg+"rebind", ""), http.StatusNotFound)
	wantStatus(t, "PUT again", e.do("PUT", seg+"rebind", defLoyal), http.StatusCreated)

	// A definition another process wrote, not yet read by this one when the request
	// came: DELETE deletes it, PUT replaces it (200, not 201).
	mexico := strings.Replace(defMexico, `"id":"mexico"`, `"id":"other"`, 1)
	for _, v := range []string{mexico, ""} {
		var value []byte
		if v != "" {
			value = []byte(v)
		}
		if err := e.prod.ProduceSync(context.Background(), &kgo.Record{Topic: e.topic, Key: []byte(ws + "/other"), Value: value}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if v != "" {
			wantStatus(t, "DELETE of a segment written elsewhere", e.do("DELETE", seg+"other", ""), http.StatusAccepted)
		} else {
			wantStatus(t, "PUT over a deletion written elsewhere", e.do("PUT", seg+"other", mexico), http.StatusCreated)
		}
	}
	if err := e.prod.ProduceSync(context.Background(), &kgo.Record{Topic: e.topic, Key: []byte(ws + "/mexico"), Value: []byte(defMexico)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	r := e.do("PUT", seg+"mexico", strings.Replace(defMexico, "MX", "CO", 1))
	wantStatus(t, "PUT over a definition written elsewhere", r, http.StatusOK)
	var put PutResponse
	r.decode(t, &put)
	if put.Result != ResultUpdated || put.Version != 2 {
		t.Fatalf("PUT replace: %s", r.body)
	}

	// An identical definition changes nothing and writes nothing (SPEC §6).
	before := len(e.readTopic())
	r = e.do("PUT", seg+"mexico", strings.Replace(defMexico, "MX", "CO", 1))
	wantStatus(t, "PUT identical", r, http.StatusOK)
	r.decode(t, &put)
	if put.Result != ResultUnchanged || put.Version != 2 || put.Definition == nil || put.Definition.ID != "mexico" {
		t.Fatalf("PUT identical: %s", r.body)
	}
	if after := len(e.readTopic()); after != before {
		t.Fatalf("PUT identical wrote %d records", after-before)
	}
	// The audit log names the client, the workspace and the segment of each write.
	for _, want := range []string{
		`msg="admin write" action="put segment" client=127.0.0.1 workspace=acme.myshopify.com segment=rebind result=created`,
		`msg="admin write" action="delete segment" client=127.0.0.1 workspace=acme.myshopify.com segment=other`,
		`msg="admin write" action="put segment" client=127.0.0.1 workspace=acme.myshopify.com segment=mexico result=unchanged`,
	} {
		if !strings.Contains(e.logs.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, e.logs.String())
		}
	}
}

// TestWriteTimesOutReadingTheTopic: a process that cannot catch up with the segments
// topic answers 504 within the request timeout and writes nothing.
func TestWriteTimesOutReadingTheTopic(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RequestTimeout = 200 * time.Millisecond })
	e.backend.stall.Store(true)
	for _, m := range []string{"PUT", "DELETE"} {
		start := time.Now()
		r := e.do(m, "/v1/workspaces/"+ws+"/segments/loyal", defLoyal)
		wantStatus(t, m, r, http.StatusGatewayTimeout)
		if !strings.Contains(string(r.body), "timed out reading the segments topic") || !strings.Contains(string(r.body), "nothing written") {
			t.Fatalf("%s: %s", m, r.body)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("%s took %v", m, d)
		}
	}
	if recs := e.readTopic(); len(recs) != 0 {
		t.Fatalf("written: %v", recs)
	}
}

// readTopic returns every record of the segments topic.
func (e *env) readTopic() []*kgo.Record {
	e.t.Helper()
	cl := e.broker.Client(e.t, kgo.ConsumeTopics(e.topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(50*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	var out []*kgo.Record
	for ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

func TestPutValidation(t *testing.T) {
	e := newEnv(t)
	path := "/v1/workspaces/" + ws + "/segments/loyal"
	cases := []struct {
		name, path, body string
		err, errPath     string
	}{
		{"operator not allowed", path, defInvalid,
			`groups[1].conditions[0].op: "gt" is not allowed for field "country"`, "groups[1].conditions[0].op"},
		{"workspace mismatch", path, `{"workspace":"other.myshopify.com","groups":[{"conditions":[{"field":"tag","op":"has","value":"vip"}]}]}`,
			`workspace: "other.myshopify.com" does not match the workspace "acme.myshopify.com" of the URL`, "workspace"},
		{"id mismatch", path, `{"id":"other","groups":[{"conditions":[{"field":"tag","op":"has","value":"vip"}]}]}`,
			`id: "other" does not match the segment id "loyal" of the URL`, "id"},
		{"bad id in the URL", "/v1/workspaces/" + ws + "/segments/Not_Valid", defLoyal, "", "id"},
		{"no groups", path, `{"groups":[]}`, "groups: at least one group is required", "groups"},
		{"unknown key", path, `{"groups":[{"conditions":[{"field":"tag","op":"has","value":"x"}]}],"colour":"red"}`, "colour: unknown key", "colour"},
		{"not JSON", path, `{"groups":`, "", ""},
		{"not an object", path, `[1]`, "must be an object", ""},
		{"empty body", path, ``, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do("PUT", c.path, c.body)
			wantStatus(t, "PUT", r, http.StatusBadRequest)
			var got struct {
				Error string  `json:"error"`
				Path  *string `json:"path"`
			}
			r.decode(t, &got)
			if c.err != "" && got.Error != c.err {
				t.Errorf("error %q, want %q", got.Error, c.err)
			}
			if got.Path == nil || *got.Path != c.errPath {
				t.Errorf("path %v, want %q (%s)", got.Path, c.errPath, r.body)
			}
		})
	}
	if recs := e.readTopic(); len(recs) != 0 {
		t.Fatalf("invalid definitions were produced: %v", recs)
	}
}

func TestValidate(t *testing.T) {
	e := newEnv(t)
	e.backend.notReady.Store(true) // validate does not need the processor
	for _, p := range []string{"/v1/workspaces/" + ws + "/segments:validate", "/v1/workspaces/" + ws + "/segments%3Avalidate"} {
		r := e.do("POST", p, defLoyal)
		wantStatus(t, "validate "+p, r, http.StatusOK)
		var v ValidateResponse
		r.decode(t, &v)
		if !v.Valid || v.Definition.Workspace != ws || v.Definition.ID != unsavedID {
			t.Fatalf("validate: %s", r.body)
		}
	}
	r := e.do("POST", "/v1/workspaces/"+ws+"/segments:validate", defMexico)
	wantStatus(t, "validate with id", r, http.StatusOK)
	if r.json(t)["definition"].(map[string]any)["id"] != "mexico" {
		t.Fatalf("validate keeps the id: %s", r.body)
	}
	r = e.do("POST", "/v1/workspaces/"+ws+"/segments:validate", defInvalid)
	wantStatus(t, "validate invalid", r, http.StatusBadRequest)
	want := `{"error":"groups[1].conditions[0].op: \"gt\" is not allowed for field \"country\"","path":"groups[1].conditions[0].op","valid":false}` + "\n"
	if string(r.body) != want {
		t.Fatalf("validate invalid:\n got %s\nwant %s", r.body, want)
	}
	if recs := e.readTopic(); len(recs) != 0 {
		t.Fatalf("validate produced: %v", recs)
	}
}

func TestPreview(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/v1/workspaces/"+ws+"/segments:preview?sample=4", defLoyal)
	wantStatus(t, "preview", r, http.StatusOK)
	var p PreviewResponse
	r.decode(t, &p)
	if p.Count != 12 || ids(p.Sample) != "3,4,8,9" || len(p.Partitions) != 3 {
		t.Fatalf("preview: %s", r.body)
	}
	r = e.do("POST", "/v1/workspaces/"+ws+"/segments:preview", defLoyal)
	r.decode(t, &p)
	if len(p.Sample) != DefaultSample {
		t.Fatalf("default sample: %s", r.body)
	}
	r = e.do("POST", "/v1/workspaces/"+ws+"/segments:preview?sample=0", defLoyal)
	wantStatus(t, "preview sample=0", r, http.StatusOK)
	if !strings.Contains(string(r.body), `"sample":[]`) {
		t.Fatalf("sample=0: %s", r.body)
	}
	wantStatus(t, "preview sample too big", e.do("POST", "/v1/workspaces/"+ws+"/segments:preview?sample=1001", defLoyal), http.StatusBadRequest)
	wantStatus(t, "preview invalid", e.do("POST", "/v1/workspaces/"+ws+"/segments:preview", defInvalid), http.StatusBadRequest)
	if recs := e.readTopic(); len(recs) != 0 {
		t.Fatalf("preview produced: %v", recs)
	}
}

func TestMembersPaging(t *testing.T) {
	e := newEnv(t)
	e.put("loyal", strings.Replace(defLoyal, `{"name"`, `{"workspace":"acme.myshopify.com","id":"loyal","name"`, 1))
	base := "/v1/workspaces/" + ws + "/segments/loyal/members"

	r := e.do("GET", base, "")
	wantStatus(t, "members", r, http.StatusOK)
	var all MembersResponse
	r.decode(t, &all)
	if len(all.Members) != 12 || all.NextCursor != "" {
		t.Fatalf("one page: %s", r.body)
	}
	for _, limit := range []int{1, 5, 11, 12} {
		var got []int64
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 20 {
				t.Fatal("paging does not end")
			}
			r := e.do("GET", fmt.Sprintf("%s?limit=%d&cursor=%s", base, limit, cursor), "")
			wantStatus(t, "members page", r, http.StatusOK)
			var page MembersResponse
			r.decode(t, &page)
			if len(page.Members) > limit {
				t.Fatalf("limit %d: page of %d", limit, len(page.Members))
			}
			got = append(got, page.Members...)
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
		if ids(got) != ids(all.Members) {
			t.Fatalf("limit %d: paged %v, want %v", limit, got, all.Members)
		}
	}
	wantStatus(t, "limit 0", e.do("GET", base+"?limit=0", ""), http.StatusBadRequest)
	wantStatus(t, "limit 1001", e.do("GET", base+"?limit=1001", ""), http.StatusBadRequest)
	wantStatus(t, "limit 1000", e.do("GET", base+"?limit=1000", ""), http.StatusOK)
	wantStatus(t, "bad cursor", e.do("GET", base+"?cursor=!!", ""), http.StatusBadRequest)
	wantStatus(t, "cursor of a peer that does not exist", e.do("GET", base+"?cursor="+encodeCursor(membersCursor{Source: 1}), ""), http.StatusBadRequest)
	wantStatus(t, "unknown segment", e.do("GET", "/v1/workspaces/"+ws+"/segments/nope/members", ""), http.StatusNotFound)
}

func TestContacts(t *testing.T) {
	e := newEnv(t)
	e.put("loyal", strings.Replace(defLoyal, `{"name"`, `{"workspace":"acme.myshopify.com","id":"loyal","name"`, 1))

	r := e.do("GET", "/v1/workspaces/"+ws+"/contacts/4", "")
	wantStatus(t, "contact", r, http.StatusOK)
	var v Contact
	r.decode(t, &v)
	if v.CustomerID != 4 || v.Workspace != ws || len(v.Memberships) != 1 || v.Memberships[0].SegmentID != "loyal" {
		t.Fatalf("contact: %s", r.body)
	}
	wantStatus(t, "unknown contact", e.do("GET", "/v1/workspaces/"+ws+"/contacts/999", ""), http.StatusNotFound)
	for _, bad := range []string{"0", "-1", "abc", "9223372036854775808", "+4"} {
		wantStatus(t, "contact "+bad, e.do("GET", "/v1/workspaces/"+ws+"/contacts/"+bad, ""), http.StatusBadRequest)
	}

	r = e.do("GET", "/v1/workspaces/"+ws+"/contacts/4/explain?segment=loyal", "")
	wantStatus(t, "explain", r, http.StatusOK)
	var ex operators.Explanation
	r.decode(t, &ex)
	if !ex.Match || len(ex.Groups) != 1 || !ex.Groups[0].Match || fmt.Sprint(ex.Groups[0].Conditions[0].Actual) != "4" {
		t.Fatalf("explain: %s", r.body)
	}
	wantStatus(t, "explain without segment", e.do("GET", "/v1/workspaces/"+ws+"/contacts/4/explain", ""), http.StatusBadRequest)
	wantStatus(t, "explain unknown segment", e.do("GET", "/v1/workspaces/"+ws+"/contacts/4/explain?segment=nope", ""), http.StatusNotFound)

	r = e.do("GET", "/v1/workspaces/"+ws+"/contacts?q=CARLA", "")
	wantStatus(t, "search", r, http.StatusOK)
	var s SearchResponse
	r.decode(t, &s)
	// FirstName Carla for id % 4 == 2: 2, 6, …, 30.
	if len(s.Contacts) != 8 || s.Contacts[0].CustomerID != 2 || s.Contacts[0].FirstName != "Carla" {
		t.Fatalf("search: %s", r.body)
	}
	r = e.do("GET", "/v1/workspaces/"+ws+"/contacts?q=carla&limit=3", "")
	r.decode(t, &s)
	if ids(summaryIDs(s.Contacts)) != "2,6,10" {
		t.Fatalf("search limit: %s", r.body)
	}
	r = e.do("GET", "/v1/workspaces/"+ws+"/contacts?q=%2B525500000012", "")
	r.decode(t, &s)
	if ids(summaryIDs(s.Contacts)) != "12" {
		t.Fatalf("search by phone: %s", r.body)
	}
	wantStatus(t, "search without q", e.do("GET", "/v1/workspaces/"+ws+"/contacts", ""), http.StatusBadRequest)
	wantStatus(t, "search limit 0", e.do("GET", "/v1/workspaces/"+ws+"/contacts?q=a&limit=0", ""), http.StatusBadRequest)
}

func summaryIDs(cs []ContactSummary) []int64 {
	out := make([]int64, len(cs))
	for i, c := range cs {
		out[i] = c.CustomerID
	}
	return out
}

func TestEstimate(t *testing.T) {
	e := newEnv(t)
	e.put("loyal", strings.Replace(defLoyal, `{"name"`, `{"workspace":"acme.myshopify.com","id":"loyal","name"`, 1))
	e.put("mexico", defMexico)
	path := "/v1/workspaces/" + ws + "/audiences:estimate"
	cases := []struct {
		body   string
		status int
		count  int64
	}{
		// loyal ∪ vip-list, consent yes (even ids), none excluded: loyal even = 4,8,14,18,24,28;
		// vip even (multiples of 6) = 6,12,18,24,30 → 4,6,8,12,14,18,24,28,30.
		{`{"include":[{"segment":"loyal"},{"list":"vip"}]}`, 200, 9},
		// minus Mexico (id % 3 == 0: 6, 12, 18, 24, 30): leaves 4, 8, 14, 28.
		{`{"include":[{"segment":"loyal"},{"list":"vip"}],"exclude":[{"segment":"mexico"}]}`, 200, 4},
		{`{"include":[]}`, 400, 0},
		{`{"include":[{"segment":"loyal","list":"vip"}]}`, 400, 0},
		{`{"include":[{}]}`, 400, 0},
		{`{"include":[{"segment":"loyal"}],"other":1}`, 400, 0},
		{`{"include":[{"segment":"nope"}]}`, 404, 0},
		{`not json`, 400, 0},
	}
	for _, c := range cases {
		r := e.do("POST", path, c.body)
		wantStatus(t, "estimate "+c.body, r, c.status)
		if c.status == 200 {
			var got EstimateResponse
			r.decode(t, &got)
			if got.Count != c.count || len(got.Partitions) != 3 {
				t.Errorf("estimate %s: %s, want count %d", c.body, r.body, c.count)
			}
		}
	}
}

func TestRoutingErrors(t *testing.T) {
	e := newEnv(t)
	r := e.do("PATCH", "/v1/workspaces/"+ws+"/segments/x", "{}")
	wantStatus(t, "PATCH", r, http.StatusMethodNotAllowed)
	if allow := r.header.Get("Allow"); allow != "GET, PUT, DELETE, HEAD" {
		t.Fatalf("Allow %q", allow)
	}
	wantStatus(t, "GET validate", e.do("GET", "/v1/workspaces/"+ws+"/segments:validate", ""), http.StatusMethodNotAllowed)
	wantStatus(t, "unknown endpoint", e.do("GET", "/v1/nothing", ""), http.StatusNotFound)
	wantStatus(t, "unknown action", e.do("POST", "/v1/workspaces/"+ws+"/segments:launch", "{}"), http.StatusNotFound)
	wantStatus(t, "bad workspace", e.do("GET", "/v1/workspaces/a%20b/segments", ""), http.StatusBadRequest)

	// Not ready: 503 with Retry-After, except validate.
	e.backend.notReady.Store(true)
	r = e.do("GET", "/v1/workspaces/"+ws+"/segments", "")
	wantStatus(t, "not ready", r, http.StatusServiceUnavailable)
	if r.header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	wantStatus(t, "PUT not ready", e.do("PUT", "/v1/workspaces/"+ws+"/segments/x", defLoyal), http.StatusServiceUnavailable)
}

func TestBodyLimit(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxBodyBytes = 1024 })
	big := `{"name":"` + strings.Repeat("x", 2000) + `","groups":[{"conditions":[{"field":"tag","op":"has","value":"vip"}]}]}`
	for _, p := range []string{"PUT /segments/big", "POST /segments:validate", "POST /segments:preview", "POST /audiences:estimate"} {
		method, path, _ := strings.Cut(p, " ")
		r := e.do(method, "/v1/workspaces/"+ws+path, big)
		wantStatus(t, p, r, http.StatusRequestEntityTooLarge)
	}
	// The default limit is 1 MiB.
	e = newEnv(t)
	r := e.do("POST", "/v1/workspaces/"+ws+"/segments:validate", `{"name":"`+strings.Repeat("x", 1<<20)+`"}`)
	wantStatus(t, "over 1 MiB", r, http.StatusRequestEntityTooLarge)
}

func TestTimeout(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RequestTimeout = 50 * time.Millisecond })
	e.backend.block = true
	start := time.Now()
	r := e.do("GET", "/v1/workspaces/"+ws+"/segments", "")
	wantStatus(t, "blocked backend", r, http.StatusGatewayTimeout)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("timeout took %v", d)
	}
}

func TestProduceFailure(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.SegmentsTopic = "no-such-topic" })
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan reply, 1)
	go func() { done <- doURLCtx(c, t, e.srv.URL, "PUT", "/v1/workspaces/"+ws+"/segments/x", defLoyal) }()
	select {
	case r := <-done:
		wantStatus(t, "PUT to a missing topic", r, http.StatusServiceUnavailable)
	case <-c.Done():
		t.Fatal("PUT did not answer")
	}
}

func doURLCtx(ctx context.Context, t *testing.T, base, method, path, body string) reply {
	req, _ := http.NewRequestWithContext(ctx, method, base+path, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return reply{status: -1, body: []byte(err.Error())}
	}
	defer resp.Body.Close()
	var b json.RawMessage
	_ = json.NewDecoder(resp.Body).Decode(&b)
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

// The request log names the route pattern, never path values, queries or bodies.
func TestLogsHoldNoContactData(t *testing.T) {
	e := newEnv(t)
	e.put("loyal", strings.Replace(defLoyal, `{"name"`, `{"workspace":"acme.myshopify.com","id":"loyal","name"`, 1))
	e.do("GET", "/v1/workspaces/"+ws+"/contacts/29", "")
	e.do("GET", "/v1/workspaces/"+ws+"/contacts/29/explain?segment=loyal", "")
	e.do("GET", "/v1/workspaces/"+ws+"/contacts?q=customer29@example.com", "")
	e.do("GET", "/v1/workspaces/"+ws+"/contacts/123456789", "")
	logs := e.logs.String()
	for _, secret := range []string{"/29", "customer29", "example.com", "123456789", ws} {
		if strings.Contains(logs, secret) {
			t.Errorf("log holds %q:\n%s", secret, logs)
		}
	}
	for _, want := range []string{
		`route="GET /v1/workspaces/{ws}/contacts/{customer_id}"`, `route="GET /v1/workspaces/{ws}/contacts"`,
		`route="GET /v1/workspaces/{ws}/contacts/{customer_id}/explain"`, "status=404", "status=200", "duration=",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
}

// TestRequestMetrics: requests are counted by route pattern and status code, on the
// Registerer given, with no path value (workspace, segment, customer id) in a label.
func TestRequestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newEnv(t, func(c *Config) { c.Registerer = reg })
	seg := "/v1/workspaces/" + ws + "/segments/"
	wantStatus(t, "PUT", e.do("PUT", seg+"loyal", defLoyal), http.StatusCreated)
	wantStatus(t, "GET", e.do("GET", seg+"loyal", ""), http.StatusOK)
	wantStatus(t, "GET", e.do("GET", seg+"loyal", ""), http.StatusOK)
	wantStatus(t, "GET unknown", e.do("GET", seg+"nope", ""), http.StatusNotFound)
	wantStatus(t, "PATCH", e.do("PATCH", seg+"loyal", ""), http.StatusMethodNotAllowed)
	for labels, want := range map[[2]string]float64{
		{"PUT /v1/workspaces/{ws}/segments/{id}", "201"}: 1,
		{"GET /v1/workspaces/{ws}/segments/{id}", "200"}: 2,
		{"GET /v1/workspaces/{ws}/segments/{id}", "404"}: 1,
		{"/v1/workspaces/{ws}/segments/{id}", "405"}:     1,
	} {
		if got := testutil.ToFloat64(e.h.m.requests.WithLabelValues(labels[0], labels[1])); got != want {
			t.Errorf("requests %v: %v, want %v", labels, got, want)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if strings.Contains(l.GetValue(), "loyal") || strings.Contains(l.GetValue(), "acme") {
					t.Errorf("%s: label %s=%s holds a path value", mf.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
	if !names["segmentd_admin_requests_total"] || !names["segmentd_admin_request_seconds"] {
		t.Fatalf("gathered %v", names)
	}
	// A second handler on the same registry is a configuration error, not a panic.
	if _, err := New(Config{Backend: e.backend, Producer: nopProducer{}, Registerer: reg}); err == nil {
		t.Fatal("registered twice")
	}
}

// TestWorkspaceIsAShopDomain: the {ws} of every route follows the rule events are
// held to (events.ParseWorkspace); a workspace no event could carry is a 400.
func TestWorkspaceIsAShopDomain(t *testing.T) {
	e := newEnv(t)
	for _, bad := range []string{"%2E%2E", "%3Cscript%3E", "acme.myshopify.com:8080", "a..b", "-acme.myshopify.com",
		"acme_shop.myshopify.com", "acme.myshopify.com.", "%20acme.myshopify.com", strings.Repeat("a", 64) + ".com"} {
		for _, rt := range []struct{ method, path, body string }{
			{"PUT", "/segments/x", defLoyal},
			{"GET", "/segments", ""},
			{"DELETE", "/segments/x", ""},
			{"POST", "/segments:validate", defLoyal},
			{"GET", "/contacts?q=ana", ""},
			{"GET", "/contacts/1", ""},
			{"POST", "/audiences:estimate", `{"include":[{"list":"vip"}]}`},
		} {
			r := e.do(rt.method, "/v1/workspaces/"+bad+rt.path, rt.body)
			if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "invalid workspace") {
				t.Errorf("%s %s%s: %d %s", rt.method, bad, rt.path, r.status, r.body)
			}
		}
	}
	if recs := e.readTopic(); len(recs) != 0 {
		t.Fatalf("written: %v", recs)
	}
	// Upper case is the same workspace, lower-cased.
	wantStatus(t, "PUT upper case", e.do("PUT", "/v1/workspaces/ACME.MyShopify.com/segments/loyal", defLoyal), http.StatusCreated)
	wantStatus(t, "GET", e.do("GET", "/v1/workspaces/acme.myshopify.com/segments/loyal", ""), http.StatusOK)
}

// TestBodyContentTypeAndTimeout: a body that is not JSON is a 415 that says what to
// send; a body that does not arrive within the server's read timeout is a 408 that
// names no socket address.
func TestBodyContentTypeAndTimeout(t *testing.T) {
	e := newEnv(t)
	put := func(ct string) reply {
		req, err := http.NewRequest("PUT", e.srv.URL+"/v1/workspaces/"+ws+"/segments/loyal", strings.NewReader(defLoyal))
		if err != nil {
			t.Fatal(err)
		}
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return reply{status: resp.StatusCode, header: resp.Header, body: b}
	}
	for _, ct := range []string{"application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x", "application/yaml", "json"} {
		r := put(ct)
		wantStatus(t, ct, r, http.StatusUnsupportedMediaType)
		if !strings.Contains(string(r.body), "send application/json") {
			t.Errorf("%s: %s", ct, r.body)
		}
	}
	if r := e.do("POST", "/v1/workspaces/"+ws+"/audiences:estimate", `{"include":[{"list":"vip"}]}`); r.status != http.StatusOK {
		t.Fatalf("estimate without Content-Type: %d %s", r.status, r.body)
	}
	wantStatus(t, "application/json; charset=utf-8", put("application/json; charset=utf-8"), http.StatusCreated)
	wantStatus(t, "Application/JSON", put("Application/JSON"), http.StatusOK)
	wantStatus(t, "no Content-Type", put(""), http.StatusOK)

	// A body that stalls.
	srv := httptest.NewUnstartedServer(e.h)
	srv.Config.ReadTimeout = 300 * time.Millisecond
	srv.Start()
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PUT /v1/workspaces/%s/segments/loyal HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"groups\":", ws)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout || strings.Contains(string(body), "127.0.0.1") || strings.Contains(string(body), "->") {
		t.Fatalf("stalled body: %d %s", resp.StatusCode, body)
	}
}

// TestNotFoundNamesWhat: explain and estimate say which segment or contact is missing.
func TestNotFoundNamesWhat(t *testing.T) {
	e := newEnv(t)
	wantStatus(t, "PUT", e.do("PUT", "/v1/workspaces/"+ws+"/segments/loyal", defLoyal), http.StatusCreated)
	for path, want := range map[string]string{
		"/contacts/3/explain?segment=nope":     `segment \"nope\" of workspace acme.myshopify.com not found`,
		"/contacts/9999/explain?segment=loyal": `contact 9999 of workspace acme.myshopify.com not found`,
		"/contacts/9999":                       `contact 9999 of workspace acme.myshopify.com not found`,
	} {
		r := e.do("GET", "/v1/workspaces/"+ws+path, "")
		if r.status != http.StatusNotFound || !strings.Contains(string(r.body), want) {
			t.Errorf("GET %s: %d %s, want %s", path, r.status, r.body, want)
		}
	}
	r := e.do("POST", "/v1/workspaces/"+ws+"/audiences:estimate", `{"include":[{"segment":"loyal"}],"exclude":[{"segment":"gone"}]}`)
	if r.status != http.StatusNotFound || !strings.Contains(string(r.body), `segment \"gone\" of workspace acme.myshopify.com not found`) {
		t.Errorf("estimate: %d %s", r.status, r.body)
	}
}
