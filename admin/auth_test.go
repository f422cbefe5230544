package admin

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "127.1.2.3:80": true, "localhost:8080": true, "LOCALHOST:1": true,
		"[::1]:8080": true, "::1": true, "[::1%lo]:80": true, "127.0.0.1": true,
		"0.0.0.0:8080": false, ":8080": false, "[::]:8080": false, "10.0.0.5:8080": false,
		"example.com:8080": false, "": false, "garbage": false, "[::ffff:127.0.0.1]:80": true,
	} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestAuth(t *testing.T) {
	const path = "/v1/workspaces/" + ws + "/segments"

	t.Run("loopback without a token is open", func(t *testing.T) {
		e := newEnv(t)
		wantStatus(t, "no token", e.do("GET", path, ""), http.StatusOK)
		if e.h.Locked() {
			t.Fatal("locked")
		}
	})

	t.Run("non-loopback without a token is locked", func(t *testing.T) {
		for _, addr := range []string{"0.0.0.0:8080", ":8080", "10.1.2.3:8080", ""} {
			e := newEnv(t, func(c *Config) { c.ListenAddr = addr })
			if !e.h.Locked() {
				t.Fatalf("%q: not locked", addr)
			}
			for _, p := range []string{path, "/v1/openapi.yaml", "/v1/nothing"} {
				r := doURL(t, e.srv.URL, "GET", p, "", "anything")
				wantStatus(t, addr+" "+p, r, http.StatusForbidden)
				if !strings.Contains(string(r.body), "--admin-token-file") {
					t.Fatalf("locked answer does not say what to do: %s", r.body)
				}
			}
		}
	})

	for _, addr := range []string{"0.0.0.0:8080", "127.0.0.1:8080"} {
		t.Run("token required on "+addr, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.ListenAddr = addr; c.Token = "s3cret-token" })
			r := doURL(t, e.srv.URL, "GET", path, "", "")
			wantStatus(t, "no token", r, http.StatusUnauthorized)
			if r.header.Get("WWW-Authenticate") != `Bearer realm="segmentd"` {
				t.Fatalf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
			}
			for _, wrong := range []string{"s3cret-tokeN", "s3cret-token-", "s3cret-toke", "x"} {
				wantStatus(t, "wrong token "+wrong, doURL(t, e.srv.URL, "GET", path, "", wrong), http.StatusForbidden)
			}
			wantStatus(t, "right token", doURL(t, e.srv.URL, "GET", path, "", "s3cret-token"), http.StatusOK)
			// Unknown endpoints are not revealed without credentials.
			wantStatus(t, "unknown endpoint without token", doURL(t, e.srv.URL, "GET", "/v1/nothing", "", ""), http.StatusUnauthorized)

			for header, want := range map[string]int{
				"bearer s3cret-token":   http.StatusOK, // the scheme is case-insensitive
				"Bearer  s3cret-token ": http.StatusOK,
				"Basic s3cret-token":    http.StatusUnauthorized,
				"s3cret-token":          http.StatusUnauthorized,
				"Bearer":                http.StatusUnauthorized,
				"Bearer ":               http.StatusUnauthorized,
			} {
				req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
				req.Header.Set("Authorization", header)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != want {
					t.Errorf("Authorization %q: %d, want %d", header, resp.StatusCode, want)
				}
			}
		})
	}
}

// The comparison hashes both sides, so it takes the same path whatever the length
// or content of the candidate; check the hashing, not the timing.
func TestTokenMatches(t *testing.T) {
	h, err := New(Config{Backend: &fakeBackend{w: newWorld(1)}, Producer: nopProducer{}, Token: "abc"})
	if err != nil {
		t.Fatal(err)
	}
	for tok, want := range map[string]bool{"abc": true, "ab": false, "abcd": false, "": false, "ABC": false} {
		if got := h.tokenMatches(tok); got != want {
			t.Errorf("tokenMatches(%q) = %v", tok, got)
		}
	}
	if allocs := testing.AllocsPerRun(100, func() { h.tokenMatches("abd") }); allocs > 1 {
		t.Errorf("tokenMatches allocates %v times", allocs)
	}
}

func TestConfigValidate(t *testing.T) {
	b := &fakeBackend{w: newWorld(1)}
	for name, c := range map[string]Config{
		"no backend":      {Producer: nopProducer{}},
		"no producer":     {Backend: b},
		"relative peer":   {Backend: b, Producer: nopProducer{}, Peers: []string{"segmentd-1:8080"}},
		"peer with query": {Backend: b, Producer: nopProducer{}, Peers: []string{"http://a:1/?x=1"}},
		"ftp peer":        {Backend: b, Producer: nopProducer{}, Peers: []string{"ftp://a:1"}},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := New(Config{Backend: b, Producer: nopProducer{}, Peers: []string{"http://a:1/", "https://b.example/segmentd"}}); err != nil {
		t.Fatal(err)
	}
}

// TestLoopbackWithoutTokenChecksHost: without a token, only requests addressed to a
// loopback name are served (DNS rebinding: a page of attacker.example resolving to
// 127.0.0.1 sends Host: attacker.example); with a token, any name is.
func TestLoopbackWithoutTokenChecksHost(t *testing.T) {
	e := newEnv(t)
	withToken := newEnv(t, func(c *Config) { c.Token = "tok" })
	for host, want := range map[string]int{
		"localhost": 200, "localhost:8080": 200, "127.0.0.1": 200, "127.0.0.1:8080": 200, "[::1]:8080": 200, "[::1]": 200,
		"attacker.example.com": 403, "attacker.example.com:8080": 403, "localhost.attacker.example": 403,
		"127.0.0.1.nip.io": 403, "0.0.0.0:8080": 403, "10.0.0.1": 403,
	} {
		for _, env := range []*env{e, withToken} {
			for _, m := range []string{"GET", "PUT"} {
				req, err := http.NewRequest(m, env.srv.URL+"/v1/workspaces/"+ws+"/segments/loyal", strings.NewReader(defLoyal))
				if err != nil {
					t.Fatal(err)
				}
				req.Host = host
				if env.token != "" {
					req.Header.Set("Authorization", "Bearer "+env.token)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				refused := resp.StatusCode == http.StatusForbidden
				if wantRefused := want == 403 && env.token == ""; refused != wantRefused {
					t.Errorf("token %v, %s with Host %s: %d %s", env.token != "", m, host, resp.StatusCode, body)
				}
				if refused && !strings.Contains(string(body), "not a loopback name") {
					t.Errorf("Host %s: %s", host, body)
				}
			}
		}
	}
}

// TestTokensRotate: with Config.Tokens, the accepted tokens follow what it returns
// from one request to the next (a token rotated without a restart), every listed
// token is accepted during a rotation, and none is accepted once withdrawn.
func TestTokensRotate(t *testing.T) {
	const path = "/v1/workspaces/" + ws + "/segments"
	var mu sync.Mutex
	current := []string{"old-token"}
	e := newEnv(t, func(c *Config) {
		c.ListenAddr = "0.0.0.0:8080"
		c.Tokens = func() []string {
			mu.Lock()
			defer mu.Unlock()
			return current
		}
	})
	set := func(tokens ...string) {
		mu.Lock()
		defer mu.Unlock()
		current = tokens
	}
	if e.h.Locked() {
		t.Fatal("locked although Tokens is set")
	}
	wantStatus(t, "old token", doURL(t, e.srv.URL, "GET", path, "", "old-token"), http.StatusOK)
	wantStatus(t, "new token before the rotation", doURL(t, e.srv.URL, "GET", path, "", "new-token"), http.StatusForbidden)
	set("new-token", "old-token")
	wantStatus(t, "new token during the rotation", doURL(t, e.srv.URL, "GET", path, "", "new-token"), http.StatusOK)
	wantStatus(t, "old token during the rotation", doURL(t, e.srv.URL, "GET", path, "", "old-token"), http.StatusOK)
	set("new-token")
	wantStatus(t, "old token after the rotation", doURL(t, e.srv.URL, "GET", path, "", "old-token"), http.StatusForbidden)
	wantStatus(t, "new token after the rotation", doURL(t, e.srv.URL, "GET", path, "", "new-token"), http.StatusOK)
	wantStatus(t, "no token", doURL(t, e.srv.URL, "GET", path, "", ""), http.StatusUnauthorized)
}
