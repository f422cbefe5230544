package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// group is a deployment of two processes over one world, each owning some
// partitions and knowing both URLs (its own included), and a reference process that
// owns every partition, for comparison.
type group struct {
	world    *world
	a, b     *httptest.Server
	ref      *httptest.Server
	ha, hb   atomic.Pointer[Handler]
	peerHits atomic.Int64 // requests with local=true
	token    string
}

func newGroup(t *testing.T) *group {
	g := &group{world: newWorld(3), token: "group-token"}
	g.world.addContacts(ws, 1, 30)
	g.put(t, "loyal", `{"workspace":"acme.myshopify.com","id":"loyal","name":"Loyal","groups":[{"conditions":[{"field":"orders_count","op":"gte","value":3}]}]}`)
	g.put(t, "mexico", defMexico)
	serve := func(p *atomic.Pointer[Handler]) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("local") == "true" {
				g.peerHits.Add(1)
			}
			p.Load().ServeHTTP(w, r)
		}))
		t.Cleanup(s.Close)
		return s
	}
	g.a, g.b = serve(&g.ha), serve(&g.hb)
	peers := []string{g.a.URL, g.b.URL + "/"}
	mk := func(owned []int32, peers []string) *Handler {
		h, err := New(Config{Backend: &fakeBackend{w: g.world, owned: owned}, Producer: nopProducer{},
			Token: g.token, ListenAddr: "0.0.0.0:8080", Peers: peers})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	g.ha.Store(mk([]int32{0, 2}, peers))
	g.hb.Store(mk([]int32{1}, peers))
	g.ref = httptest.NewServer(mk([]int32{0, 1, 2}, nil))
	t.Cleanup(g.ref.Close)
	return g
}

func (g *group) put(t *testing.T, id, def string) {
	if err := g.world.applyRecord(ws+"/"+id, []byte(def)); err != nil {
		t.Fatal(err)
	}
}

// TestFanOutMatchesOneProcess: a question asked of either process of the group gets
// the answer a single process owning every partition gives.
func TestFanOutMatchesOneProcess(t *testing.T) {
	g := newGroup(t)
	w := "/v1/workspaces/" + ws
	requests := []struct{ method, path, body string }{
		{"GET", w + "/segments", ""},
		{"GET", w + "/segments/loyal", ""},
		{"GET", w + "/segments/nope", ""},
		{"POST", w + "/segments:preview?sample=5", defLoyal},
		{"POST", w + "/segments:preview?sample=100", defMexico},
		{"POST", w + "/segments/loyal:preview?sample=3", `{"groups":[{"conditions":[{"field":"country","op":"is","value":"MX"}]}]}`},
		{"POST", w + "/segments/mexico:preview", defLoyal},
		{"POST", w + "/segments/nope:preview", defLoyal},
		{"POST", w + "/segments/loyal:preview", defInvalid},
		{"GET", w + "/contacts?q=carla", ""},
		{"GET", w + "/contacts?q=carla&limit=3", ""},
		{"GET", w + "/contacts?q=nobody", ""},
		{"POST", w + "/audiences:estimate", `{"include":[{"segment":"loyal"},{"list":"vip"}],"exclude":[{"segment":"mexico"}]}`},
		{"POST", w + "/audiences:estimate", `{"include":[{"segment":"nope"}]}`},
		{"GET", w + "/contacts/999", ""},
		{"GET", w + "/contacts/4/explain?segment=nope", ""},
		{"POST", w + "/segments:validate", defInvalid},
	}
	// Every contact, wherever it lives, and its explanation.
	for id := 1; id <= 30; id++ {
		requests = append(requests,
			struct{ method, path, body string }{"GET", fmt.Sprintf("%s/contacts/%d", w, id), ""},
			struct{ method, path, body string }{"GET", fmt.Sprintf("%s/contacts/%d/explain?segment=loyal", w, id), ""})
	}
	for _, rq := range requests {
		want := doURL(t, g.ref.URL, rq.method, rq.path, rq.body, g.token)
		for name, srv := range map[string]*httptest.Server{"a": g.a, "b": g.b} {
			got := doURL(t, srv.URL, rq.method, rq.path, rq.body, g.token)
			if got.status != want.status || string(got.body) != string(want.body) {
				t.Errorf("%s %s via %s:\n got %d %s\nwant %d %s", rq.method, rq.path, name, got.status, got.body, want.status, want.body)
			}
		}
	}
	if g.peerHits.Load() == 0 {
		t.Fatal("no request reached a peer")
	}
}

func TestFanOutLocal(t *testing.T) {
	g := newGroup(t)
	r := doURL(t, g.a.URL, "GET", "/v1/workspaces/"+ws+"/segments/loyal?local=true", "", g.token)
	wantStatus(t, "local", r, http.StatusOK)
	var seg SegmentResponse
	r.decode(t, &seg)
	// Partitions 0 and 2 of loyal's 12 members (3,4,8,9,13,14,18,19,23,24,28,29): id % 3 != 1.
	if seg.Members != 8 || !slices.Equal(seg.Partitions, []int32{0, 2}) {
		t.Fatalf("local answer: %s", r.body)
	}
	wantStatus(t, "contact of the peer, asked locally", doURL(t, g.a.URL, "GET", "/v1/workspaces/"+ws+"/contacts/4?local=true", "", g.token), http.StatusNotFound)
}

func TestFanOutMembersPaging(t *testing.T) {
	g := newGroup(t)
	base := "/v1/workspaces/" + ws + "/segments/loyal/members"
	want := membersOf(t, g.ref.URL, base, 1000, g.token)
	if len(want) != 12 {
		t.Fatalf("reference members: %v", want)
	}
	slices.Sort(want)
	for _, srv := range []*httptest.Server{g.a, g.b} {
		for _, limit := range []int{1, 2, 3, 5, 8, 12, 100} {
			got := membersOf(t, srv.URL, base, limit, g.token)
			if len(got) != len(want) {
				t.Fatalf("limit %d: %v, want %v", limit, got, want)
			}
			slices.Sort(got)
			if ids(got) != ids(want) {
				t.Fatalf("limit %d: %v, want %v", limit, got, want)
			}
		}
	}
}

// membersOf pages through a segment's members with limit.
func membersOf(t *testing.T, base, path string, limit int, token string) []int64 {
	t.Helper()
	var out []int64
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("paging does not end")
		}
		r := doURL(t, base, "GET", fmt.Sprintf("%s?limit=%d&cursor=%s", path, limit, cursor), "", token)
		wantStatus(t, "members", r, http.StatusOK)
		var page MembersResponse
		r.decode(t, &page)
		if len(page.Members) > limit {
			t.Fatalf("page of %d, limit %d", len(page.Members), limit)
		}
		out = append(out, page.Members...)
		if page.NextCursor == "" {
			return out
		}
		cursor = page.NextCursor
	}
}

func TestFanOutPeerDown(t *testing.T) {
	g := newGroup(t)
	g.b.Close()
	w := "/v1/workspaces/" + ws
	for _, rq := range []struct{ method, path, body string }{
		{"GET", w + "/segments", ""},
		{"GET", w + "/segments/loyal", ""},
		{"POST", w + "/segments:preview", defLoyal},
		{"GET", w + "/contacts?q=a", ""},
		{"POST", w + "/audiences:estimate", `{"include":[{"list":"vip"}]}`},
		{"GET", w + "/contacts/4", ""},                       // on the peer: cannot say 404
		{"GET", w + "/contacts/4/explain?segment=loyal", ""}, // idem
		{"GET", w + "/segments/loyal/members?limit=1000", ""},
	} {
		r := doURL(t, g.a.URL, rq.method, rq.path, rq.body, g.token)
		wantStatus(t, rq.method+" "+rq.path, r, http.StatusBadGateway)
		var eb errorBody
		r.decode(t, &eb)
		if eb.Peer != g.b.URL || !strings.Contains(eb.Error, g.b.URL) {
			t.Errorf("%s: %s does not name the peer %s", rq.path, r.body, g.b.URL)
		}
	}
	// What this process has is still answered: its own contact, and members up to the peer.
	wantStatus(t, "own contact", doURL(t, g.a.URL, "GET", w+"/contacts/3", "", g.token), http.StatusOK)
	r := doURL(t, g.a.URL, "GET", w+"/segments/loyal/members?limit=2", "", g.token)
	wantStatus(t, "first members page", r, http.StatusOK)
}

func TestFanOutPeerError(t *testing.T) {
	g := newGroup(t)
	g.hb.Load().cfg.Backend.(*fakeBackend).notReady.Store(true)
	r := doURL(t, g.a.URL, "GET", "/v1/workspaces/"+ws+"/segments", "", g.token)
	wantStatus(t, "peer not ready", r, http.StatusBadGateway)
	if !strings.Contains(string(r.body), "503 not ready") {
		t.Fatalf("peer error not relayed: %s", r.body)
	}
}

// The peers get the group's token: a process whose peers need it forwards it.
func TestFanOutForwardsToken(t *testing.T) {
	var seen atomic.Value
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Header.Get("Authorization") + " " + r.URL.RawQuery)
		json.NewEncoder(w).Encode(EstimateResponse{Count: 5, Partitions: []int32{7}})
	}))
	defer peer.Close()
	for _, tc := range []struct{ token, caller, want string }{
		{"tok", "tok", "Bearer tok"},
		{"", "caller", "Bearer caller"}, // open on loopback: the caller's header is passed on
	} {
		world := newWorld(1)
		world.addContacts(ws, 1, 4)
		h, err := New(Config{Backend: &fakeBackend{w: world, owned: []int32{0}}, Producer: nopProducer{},
			Token: tc.token, ListenAddr: "127.0.0.1:1", Peers: []string{peer.URL}})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		r := doURL(t, srv.URL, "POST", "/v1/workspaces/"+ws+"/audiences:estimate", `{"include":[{"list":"none"}]}`, tc.caller)
		srv.Close()
		wantStatus(t, "estimate", r, http.StatusOK)
		var est EstimateResponse
		r.decode(t, &est)
		if est.Count != 5 || !slices.Equal(est.Partitions, []int32{0, 7}) {
			t.Fatalf("merged: %s", r.body)
		}
		if got := seen.Load().(string); got != tc.want+" local=true" {
			t.Fatalf("peer saw %q, want %q", got, tc.want+" local=true")
		}
	}
}

func TestMergeSegment(t *testing.T) {
	a := Segment{ID: "x", Version: 2, Members: 3}
	mergeSegment(&a, &Segment{ID: "x", Version: 2, Members: 4})
	if a.Members != 7 || a.Backfilling {
		t.Fatalf("%+v", a)
	}
	mergeSegment(&a, &Segment{ID: "x", Version: 3, Name: "new", Members: 1})
	if a.Members != 8 || a.Version != 3 || a.Name != "new" || !a.Backfilling {
		t.Fatalf("%+v", a)
	}
}
