package admin

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// defRich matches contacts who spent 1500 or more: ids 15 and up of the fake world
// (total_spent is 100 × id), minus the excluded ones (17, 27).
const defRich = `{"name":"Rich","groups":[{"conditions":[{"field":"total_spent","op":"gte","value":1500}]}]}`

// loyalMember and richMatch are defLoyal and defRich computed from a contact id of the
// fake world (addContacts) directly: orders_count is id % 5, total_spent 100 × id,
// and id % 10 == 7 is excluded.
func loyalMember(id int64) bool { return id%5 >= 3 && id%10 != 7 }
func richMatch(id int64) bool   { return id >= 15 && id%10 != 7 }

// ExpectedChange is the preview of replacing a segment whose members are member by
// a definition matching match, over contacts first…last, computed independently of
// any backend. Exported for the package's external tests (preview_integration_test.go).
func ExpectedChange(first, last int64, member, match func(int64) bool, sample int) ChangePreviewResponse {
	want := ChangePreviewResponse{SampleEntering: []int64{}, SampleLeaving: []int64{}}
	for id := first; id <= last; id++ {
		m, x := member(id), match(id)
		if m {
			want.Members++
		}
		if x {
			want.Matching++
		}
		if x && !m {
			want.WouldEnter++
			if len(want.SampleEntering) < sample {
				want.SampleEntering = append(want.SampleEntering, id)
			}
		}
		if m && !x {
			want.WouldLeave++
			if len(want.SampleLeaving) < sample {
				want.SampleLeaving = append(want.SampleLeaving, id)
			}
		}
	}
	return want
}

func checkChange(t *testing.T, what string, r reply, want ChangePreviewResponse, parts string) {
	t.Helper()
	wantStatus(t, what, r, http.StatusOK)
	var got ChangePreviewResponse
	r.decode(t, &got)
	if got.Members != want.Members || got.Matching != want.Matching || got.WouldEnter != want.WouldEnter || got.WouldLeave != want.WouldLeave ||
		ids(got.SampleEntering) != ids(want.SampleEntering) || ids(got.SampleLeaving) != ids(want.SampleLeaving) ||
		fmt.Sprint(got.Partitions) != parts {
		t.Errorf("%s:\n got %s\nwant %+v over partitions %s", what, r.body, want, parts)
	}
	if want.Members-want.WouldLeave+want.WouldEnter != want.Matching {
		t.Fatalf("%s: the expectation is inconsistent: %+v", what, want)
	}
}

func TestPreviewChange(t *testing.T) {
	e := newEnv(t)
	e.put("loyal", strings.Replace(defLoyal, `{"name"`, `{"workspace":"acme.myshopify.com","id":"loyal","name"`, 1))
	base := "/v1/workspaces/" + ws + "/segments/"
	for _, sample := range []int{0, 1, 3, 100} {
		r := e.do("POST", fmt.Sprintf("%sloyal:preview?sample=%d", base, sample), defRich)
		checkChange(t, fmt.Sprintf("sample=%d", sample), r, ExpectedChange(1, 30, loyalMember, richMatch, sample), "[0 1 2]")
	}
	want := ExpectedChange(1, 30, loyalMember, richMatch, DefaultSample)
	if want.WouldEnter == 0 || want.WouldLeave == 0 {
		t.Fatalf("the case does not exercise both directions: %+v", want)
	}
	// The default sample; the ':' escaped; the body naming the workspace and id.
	checkChange(t, "default sample", e.do("POST", base+"loyal:preview", defRich), want, "[0 1 2]")
	checkChange(t, "escaped", e.do("POST", base+"loyal%3Apreview", defRich), want, "[0 1 2]")
	named := strings.Replace(defRich, `{"name"`, `{"workspace":"ACME.myshopify.com","id":"loyal","name"`, 1)
	checkChange(t, "named in the body", e.do("POST", "/v1/workspaces/ACME.myshopify.com/segments/loyal:preview", named), want, "[0 1 2]")
	// Replacing a segment by its own definition changes nothing.
	checkChange(t, "same definition", e.do("POST", base+"loyal:preview", defLoyal),
		ExpectedChange(1, 30, loyalMember, loyalMember, DefaultSample), "[0 1 2]")
	// A segment that does not exist has no members: everyone matching would enter.
	checkChange(t, "new segment", e.do("POST", base+"nope:preview", defRich),
		ExpectedChange(1, 30, func(int64) bool { return false }, richMatch, DefaultSample), "[0 1 2]")
	r := e.do("POST", base+"nope:preview?sample=0", defRich)
	if !strings.Contains(string(r.body), `"sample_entering":[],"sample_leaving":[]`) {
		t.Fatalf("empty samples are not empty arrays: %s", r.body)
	}

	// Nothing is written, nothing changes, no write is audited.
	if recs := e.readTopic(); len(recs) != 0 {
		t.Fatalf("preview produced: %v", recs)
	}
	var seg SegmentResponse
	e.do("GET", base+"loyal", "").decode(t, &seg)
	if seg.Version != 1 || seg.Name != "Loyal" || seg.Members != want.Members {
		t.Fatalf("loyal after the previews: %+v", seg)
	}
	logs := e.logs.String()
	if strings.Contains(logs, "admin write") {
		t.Fatalf("a preview is audited as a write:\n%s", logs)
	}
	if !strings.Contains(logs, `route="POST /v1/workspaces/{ws}/segments/{id}:preview" status=200`) {
		t.Fatalf("the request log lacks the route:\n%s", logs)
	}
}

// TestPreviewChangeValidation: the definition is validated as a PUT of it is (400
// with the path of SPEC §6), and so are the URL and the sample.
func TestPreviewChangeValidation(t *testing.T) {
	e := newEnv(t)
	path := "/v1/workspaces/" + ws + "/segments/loyal:preview"
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
		{"bad id in the URL", "/v1/workspaces/" + ws + "/segments/Not_Valid:preview", defLoyal, "", "id"},
		{"no groups", path, `{"groups":[]}`, "groups: at least one group is required", "groups"},
		{"not JSON", path, `{"groups":`, "", ""},
		{"empty body", path, ``, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do("POST", c.path, c.body)
			wantStatus(t, "POST", r, http.StatusBadRequest)
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
	for _, q := range []string{"sample=1001", "sample=-1", "sample=x"} {
		r := e.do("POST", path+"?"+q, defLoyal)
		wantStatus(t, q, r, http.StatusBadRequest)
		if !strings.Contains(string(r.body), "sample must be an integer from 0 to 1000") {
			t.Errorf("%s: %s", q, r.body)
		}
	}
	wantStatus(t, "bad workspace", e.do("POST", "/v1/workspaces/a..b/segments/loyal:preview", defLoyal), http.StatusBadRequest)
	if recs := e.readTopic(); len(recs) != 0 {
		t.Fatalf("written: %v", recs)
	}
}

// TestPreviewChangeRouting: the custom method shares its path with the segment's
// routes; each answers only its own methods, and an unknown verb is a 404.
func TestPreviewChangeRouting(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newEnv(t, func(c *Config) { c.Registerer = reg })
	seg := "/v1/workspaces/" + ws + "/segments/"
	wantStatus(t, "PUT", e.do("PUT", seg+"loyal", defLoyal), http.StatusCreated)
	for _, c := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", seg + "loyal:preview", http.StatusMethodNotAllowed, "POST"},
		{"PUT", seg + "loyal:preview", http.StatusMethodNotAllowed, "POST"},
		{"DELETE", seg + "loyal:preview", http.StatusMethodNotAllowed, "POST"},
		{"POST", seg + "loyal", http.StatusMethodNotAllowed, "GET, PUT, DELETE, HEAD"},
		{"POST", seg + "loyal:launch", http.StatusNotFound, ""},
		{"POST", seg + "loyal:", http.StatusNotFound, ""},
		{"GET", seg + "loyal:", http.StatusNotFound, ""},
		{"POST", seg + "loyal:preview/x", http.StatusNotFound, ""},
		{"GET", seg + "loyal", http.StatusOK, ""},
		{"HEAD", seg + "loyal", http.StatusOK, ""},
		{"POST", seg + "loyal:preview", http.StatusOK, ""},
	} {
		r := e.do(c.method, c.path, defLoyal)
		if r.status != c.status || r.header.Get("Allow") != c.allow {
			t.Errorf("%s %s: %d Allow %q, want %d Allow %q: %s", c.method, c.path, r.status, r.header.Get("Allow"), c.status, c.allow, r.body)
		}
	}
	if recs := e.readTopic(); len(recs) != 1 {
		t.Fatalf("written: %v", recs) // the PUT only
	}
	for labels, want := range map[[2]string]float64{
		{"POST /v1/workspaces/{ws}/segments/{id}:preview", "200"}: 1,
		{"GET /v1/workspaces/{ws}/segments/{id}:preview", "405"}:  1, // a method the verb does not serve
		{"POST /v1/workspaces/{ws}/segments/{id}", "405"}:         1, // POST of the segment
		{"POST /v1/workspaces/{ws}/segments/{id}", "404"}:         2, // unknown verbs
		{"GET /v1/workspaces/{ws}/segments/{id}", "200"}:          2, // GET, HEAD
	} {
		if got := testutil.ToFloat64(e.h.m.requests.WithLabelValues(labels[0], labels[1])); got != want {
			t.Errorf("requests %v: %v, want %v", labels, got, want)
		}
	}

	// Not ready: 503.
	e.backend.notReady.Store(true)
	wantStatus(t, "not ready", e.do("POST", seg+"loyal:preview", defLoyal), http.StatusServiceUnavailable)
}

// TestPreviewChangeAuth: the preview is authenticated and Host-checked as every
// route is.
func TestPreviewChangeAuth(t *testing.T) {
	path := "/v1/workspaces/" + ws + "/segments/loyal:preview"
	withToken := newEnv(t, func(c *Config) { c.Token = "tok" })
	wantStatus(t, "no token", doURL(t, withToken.srv.URL, "POST", path, defLoyal, ""), http.StatusUnauthorized)
	wantStatus(t, "wrong token", doURL(t, withToken.srv.URL, "POST", path, defLoyal, "nope"), http.StatusForbidden)
	wantStatus(t, "token", doURL(t, withToken.srv.URL, "POST", path, defLoyal, "tok"), http.StatusOK)

	open := newEnv(t)
	req := httptest.NewRequest("POST", path, strings.NewReader(defLoyal))
	req.Host = "attacker.example.com"
	rec := httptest.NewRecorder()
	open.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "not a loopback name") {
		t.Fatalf("Host attacker.example.com: %d %s", rec.Code, rec.Body)
	}
	locked, err := New(Config{Backend: open.backend, Producer: nopProducer{}, ListenAddr: "0.0.0.0:8080"})
	if err != nil {
		t.Fatal(err)
	}
	rec = httptest.NewRecorder()
	locked.ServeHTTP(rec, httptest.NewRequest("POST", path, strings.NewReader(defLoyal)))
	if rec.Code != http.StatusForbidden {
		t.Fatalf("locked: %d %s", rec.Code, rec.Body)
	}
}

// TestFanOutPreviewChange: over a group of two processes whose partitions each hold
// members of the segment, the preview asked of either process is exact: the
// expectation is computed from the contacts directly, not from a backend.
func TestFanOutPreviewChange(t *testing.T) {
	g := newGroup(t)
	path := "/v1/workspaces/" + ws + "/segments/loyal:preview"
	local := map[string]ChangePreviewResponse{}
	for name, srv := range map[string]*httptest.Server{"a": g.a, "b": g.b} {
		r := doURL(t, srv.URL, "POST", path+"?local=true&sample=1000", defRich, g.token)
		wantStatus(t, name+" local", r, http.StatusOK)
		var l ChangePreviewResponse
		r.decode(t, &l)
		if l.Members == 0 || l.WouldEnter == 0 || l.WouldLeave == 0 {
			t.Fatalf("%s holds no part of the change: %s", name, r.body)
		}
		local[name] = l
	}
	if local["a"].Members+local["b"].Members != ExpectedChange(1, 30, loyalMember, richMatch, 0).Members {
		t.Fatalf("the local answers do not partition the members: %+v", local)
	}
	for _, sample := range []int{0, 2, 5, 1000} {
		want := ExpectedChange(1, 30, loyalMember, richMatch, sample)
		for name, srv := range map[string]*httptest.Server{"a": g.a, "b": g.b, "reference": g.ref} {
			r := doURL(t, srv.URL, "POST", fmt.Sprintf("%s?sample=%d", path, sample), defRich, g.token)
			checkChange(t, fmt.Sprintf("via %s, sample=%d", name, sample), r, want, "[0 1 2]")
		}
	}
	// A peer down fails the preview, naming the peer.
	g.b.Close()
	r := doURL(t, g.a.URL, "POST", path, defRich, g.token)
	wantStatus(t, "peer down", r, http.StatusBadGateway)
	if !strings.Contains(string(r.body), g.b.URL) {
		t.Fatalf("peer down: %s", r.body)
	}
}
