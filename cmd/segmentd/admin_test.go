package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/admin"
	"github.com/segmentd/segmentd/internal/kafkatest"
	"github.com/segmentd/segmentd/internal/testenv"
	"github.com/segmentd/segmentd/operators"
	"github.com/segmentd/segmentd/processor"
)

// segmentd is a `segmentd run` started in-process on a test broker.
type segmentd struct {
	base   string // http://host:port
	topics processor.Topics
	b      *kafkatest.Broker
}

// startSegmentd runs runCommand with args on b, its HTTP server on host (a free
// port), and waits until /readyz has answered 200 for half a second (the group may
// rebalance once after the first join).
func startSegmentd(t *testing.T, b *kafkatest.Broker, host string, args ...string) *segmentd {
	t.Helper()
	addr, err := testenv.FreeAddrOn(host)
	if err != nil {
		t.Fatal(err)
	}
	s := &segmentd{b: b, topics: processor.Topics{
		Events: []string{kafkatest.UniqueName("events")}, Segments: kafkatest.UniqueName("segments"),
		Catalog: kafkatest.UniqueName("catalog"), Membership: kafkatest.UniqueName("membership"),
		Changelog: kafkatest.UniqueName("changelog"), DLQ: kafkatest.UniqueName("dlq"),
	}}
	_, port, _ := net.SplitHostPort(addr)
	s.base = "http://127.0.0.1:" + port
	all := append([]string{
		"--brokers", strings.Join(b.Addrs, ","), "--data-dir", t.TempDir(), "--group", kafkatest.UniqueName("g"),
		"--http-addr", addr, "--partitions", "3", "--commit-interval", "20ms", "--log-level", "error",
		"--events-topic", s.topics.Events[0], "--segments-topic", s.topics.Segments, "--catalog-topic", s.topics.Catalog,
		"--membership-topic", s.topics.Membership, "--changelog-topic", s.topics.Changelog, "--dlq-topic", s.topics.DLQ,
	}, args...)
	stopped := testenv.Background(t, "segmentd run", func(ctx context.Context) error { return runCommand(ctx, all, io.Discard, io.Discard) })
	deadline := time.Now().Add(30 * time.Second)
	var since time.Time
	for {
		select {
		case <-stopped:
			t.Fatal("segmentd run stopped before it was ready (its error follows)")
		default:
		}
		if status, _ := httpGet(s.base+"/readyz", ""); status != http.StatusOK {
			since = time.Time{}
		} else if since.IsZero() {
			since = time.Now()
		}
		if !since.IsZero() && time.Since(since) > 500*time.Millisecond {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatal("/readyz not 200 after 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func httpGet(url, token string) (int, string) {
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// cli runs a segmentd CLI command and returns its stdout, stderr and error.
func cli(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := run(ctx, args, &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const cliWS = "acme.myshopify.com"

// definitions.yaml: a list of two in the first document, one in JSON syntax in the
// second, one without a workspace in the third.
const definitionsYAML = `# the demo's segments
- workspace: acme.myshopify.com
  id: big
  name: Big spenders
  groups:
    - conditions:
        - {field: total_spent, op: gte, value: 100.50}
- workspace: acme.myshopify.com
  id: mx
  groups:
    - conditions:
        - field: country
          op: in
          value: [MX, CO]
---
{"workspace": "acme.myshopify.com", "id": "vip", "groups": [{"conditions": [{"field": "tag", "op": "has", "value": "vip"}]}]}
---
id: recent
groups:
  - conditions:
      - field: last_engaged_at
        op: after
        value: 2026-01-01
`

func TestCLIAgainstRunningSegmentd(t *testing.T) {
	b := kafkatest.Kfake(t)
	s := startSegmentd(t, b, "127.0.0.1")
	server := "--server=" + s.base

	// /metrics and /healthz are served beside the admin API.
	for _, p := range []string{"/metrics", "/healthz", "/readyz", "/v1/openapi.yaml"} {
		if status, body := httpGet(s.base+p, ""); status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", p, status, body)
		}
	}

	// An invalid definition among valid ones: nothing is applied.
	bad := writeFile(t, "bad.json", `[
	  {"workspace":"acme.myshopify.com","id":"ok","groups":[{"conditions":[{"field":"tag","op":"has","value":"x"}]}]},
	  {"workspace":"acme.myshopify.com","id":"bad","groups":[{"conditions":[{"field":"orders_count","op":"gt","value":1}]},{"conditions":[{"field":"country","op":"gt","value":"MX"}]}]}
	]`)
	_, stderr, err := cli(t, "segments", "apply", "-f", bad, server)
	if err == nil || !strings.Contains(err.Error(), "1 of 2 definitions are invalid; none applied") ||
		!strings.Contains(stderr, `bad.json, item 2 (line 3): groups[1].conditions[0].op: "gt" is not allowed for field "country"`) {
		t.Fatalf("apply invalid: %v\n%s", err, stderr)
	}

	defs := writeFile(t, "definitions.yaml", definitionsYAML)
	// A dry run previews them: no contact yet, no segment; nothing applied.
	stdout, stderr, err := cli(t, "segments", "apply", "--dry-run", "-f", defs, "--workspace", cliWS, server)
	if err != nil || stdout != "acme.myshopify.com/big: 0 members, 0 would match: 0 would enter, 0 would leave\n"+
		"acme.myshopify.com/mx: 0 members, 0 would match: 0 would enter, 0 would leave\n"+
		"acme.myshopify.com/vip: 0 members, 0 would match: 0 would enter, 0 would leave\n"+
		"acme.myshopify.com/recent: 0 members, 0 would match: 0 would enter, 0 would leave\n" ||
		stderr != "dry run: nothing applied; counted over partitions 0,1,2\n" {
		t.Fatalf("dry run: %v\n%s%s", err, stdout, stderr)
	}
	stdout, stderr, err = cli(t, "segments", "apply", "-f", defs, "--workspace", cliWS, server)
	if err != nil || stdout != "created acme.myshopify.com/big\ncreated acme.myshopify.com/mx\ncreated acme.myshopify.com/vip\ncreated acme.myshopify.com/recent\n" {
		t.Fatalf("apply: %v\n%s%s", err, stdout, stderr)
	}
	// Produced straight to the topic with --direct.
	// It is built on vip: a segment reference (the list shows the dependency).
	direct := writeFile(t, "direct.yaml", "workspace: acme.myshopify.com\nid: direct\ngroups: [{conditions: [{field: segment, op: in_segment, value: vip}]}]\n")
	stdout, stderr, err = cli(t, "segments", "apply", "--direct", "-f", direct, "--brokers", strings.Join(b.Addrs, ","), "--segments-topic", s.topics.Segments)
	if err != nil || stdout != "written acme.myshopify.com/direct to "+s.topics.Segments+"\n" {
		t.Fatalf("apply --direct: %v\n%s%s", err, stdout, stderr)
	}

	// Some contacts.
	prod := b.Client(t, kgo.ProducerLinger(0))
	for i := 1; i <= 6; i++ {
		tags := "x"
		if i%2 == 0 {
			tags = "vip"
		}
		country := []string{"MX", "US", "CO"}[i%3]
		v := fmt.Sprintf(`{"topic":"customers/update","shop":%q,"id":"c%d","payload":{"id":%d,"email":"user%d@example.com","first_name":"Ana","last_name":"Díaz","tags":%q,"default_address":{"country_code":%q}}}`,
			cliWS, i, i, i, tags, country)
		if err := prod.ProduceSync(context.Background(), &kgo.Record{Topic: s.topics.Events[0], Key: fmt.Appendf(nil, "%s/%d", cliWS, i), Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// mx: 3 (CO), 4 (US)… country MX for i%3==0 → 3, 6; CO for i%3==2 → 2, 5: 4 members.
	// vip: 2, 4, 6; direct (in_segment vip) the same.
	want := []string{
		"ID      VERSION  MEMBERS  USES  USED BY  NAME",
		"big     1        0        -     -        Big spenders",
		"direct  1        3        vip   -",
		"mx      1        4        -     -",
		"recent  1        0        -     -",
		"vip     1        3        -     direct",
	}
	var last string
	testenv.Eventually(t, "segments list", func() (bool, string) {
		stdout, stderr, err := cli(t, "segments", "list", "--workspace", strings.ToUpper(cliWS), server)
		last = stdout + stderr
		if err != nil {
			return false, err.Error()
		}
		return strings.TrimRight(stdout, "\n") == strings.Join(want, "\n"), last
	})
	if !strings.Contains(last, "5 segments; members counted over partitions 0,1,2") {
		t.Fatalf("list footer: %s", last)
	}
	// segments get shows the dependencies too.
	for id, want := range map[string]string{"vip": "used by  direct\n", "direct": "uses     vip\n"} {
		if stdout, _, err := cli(t, "segments", "get", cliWS, id, server); err != nil || !strings.Contains(stdout, want) {
			t.Errorf("segments get %s: %v: lacks %q:\n%s", id, err, want, stdout)
		}
	}
	stdout, _, err = cli(t, "segments", "list", cliWS, "--json", server)
	var list struct {
		Segments []admin.Segment `json:"segments"`
	}
	if err != nil || json.Unmarshal([]byte(stdout), &list) != nil || len(list.Segments) != 5 {
		t.Fatalf("list --json: %v %s", err, stdout)
	}
	if _, _, err := cli(t, "segments", "list", server); err == nil {
		t.Fatal("list without a workspace")
	}

	// A contact: a readable summary, or the JSON. Flags may follow the arguments.
	stdout, _, err = cli(t, "contact", "get", cliWS, "6", server)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"acme.myshopify.com/6", "user6@example.com", "Ana Díaz", "mx (v1), vip (v1)", "tags", "vip", "  country ", "MX"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("contact get lacks %q:\n%s", want, stdout)
		}
	}
	stdout, _, err = cli(t, "contact", "get", "--json", server, cliWS, "gid://shopify/Customer/2")
	var v admin.Contact
	if err != nil || json.Unmarshal([]byte(stdout), &v) != nil || v.CustomerID != 2 || v.Profile.Email != "user2@example.com" {
		t.Fatalf("contact get --json: %v %s", err, stdout)
	}
	_, _, err = cli(t, "contact", "get", cliWS, "999", server)
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("unknown contact: %v", err)
	}

	// Applying the same definitions again changes nothing; a changed one replaces.
	stdout, _, err = cli(t, "segments", "apply", "-f", defs, "--workspace", cliWS, server)
	if err != nil || stdout != "unchanged acme.myshopify.com/big\nunchanged acme.myshopify.com/mx\nunchanged acme.myshopify.com/vip\nunchanged acme.myshopify.com/recent\n" {
		t.Fatalf("apply again: %v %s", err, stdout)
	}
	changed := writeFile(t, "changed.yaml", strings.Replace(definitionsYAML, "Big spenders", "Bigger spenders", 1))
	stdout, _, err = cli(t, "segments", "apply", "-f", changed, "--workspace", cliWS, server)
	if err != nil || !strings.HasPrefix(stdout, "updated acme.myshopify.com/big\nunchanged acme.myshopify.com/mx\n") {
		t.Fatalf("apply changed: %v %s", err, stdout)
	}
	// The admin API's requests are on /metrics, by route and status.
	_, metrics := httpGet(s.base+"/metrics", "")
	if !strings.Contains(metrics, `segmentd_admin_requests_total{code="201",route="PUT /v1/workspaces/{ws}/segments/{id}"} 4`) {
		t.Errorf("/metrics lacks the admin requests:\n%s", grepLines(metrics, "segmentd_admin"))
	}
}

func TestRunAdminToken(t *testing.T) {
	b := kafkatest.Kfake(t)
	tokenFile := writeFile(t, "token", "file-token\n")
	s := startSegmentd(t, b, "0.0.0.0", "--admin-token-file", tokenFile)
	server := "--server=" + s.base
	for _, p := range []string{"/metrics", "/healthz", "/readyz"} {
		if status, _ := httpGet(s.base+p, ""); status != http.StatusOK {
			t.Fatalf("GET %s without a token: %d", p, status)
		}
	}
	if status, _ := httpGet(s.base+"/v1/workspaces/"+cliWS+"/segments", ""); status != http.StatusUnauthorized {
		t.Fatalf("admin API without a token: %d", status)
	}
	if status, _ := httpGet(s.base+"/v1/workspaces/"+cliWS+"/segments", "wrong"); status != http.StatusForbidden {
		t.Fatalf("admin API with a wrong token: %d", status)
	}
	_, _, err := cli(t, "segments", "list", cliWS, server)
	if err == nil || !strings.Contains(err.Error(), "--admin-token-file") {
		t.Fatalf("list without a token: %v", err)
	}
	if _, _, err := cli(t, "segments", "list", cliWS, server, "--admin-token", "file-token"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := cli(t, "segments", "list", cliWS, server, "--admin-token-file", tokenFile); err != nil {
		t.Fatal(err)
	}
	t.Setenv(envAdminToken, "file-token")
	if _, _, err := cli(t, "segments", "list", cliWS, server); err != nil {
		t.Fatalf("token from %s: %v", envAdminToken, err)
	}
}

func TestRunAdminTokenFromEnv(t *testing.T) {
	b := kafkatest.Kfake(t)
	t.Setenv(envAdminToken, "env-token")
	s := startSegmentd(t, b, "127.0.0.1")
	if status, _ := httpGet(s.base+"/v1/workspaces/"+cliWS+"/segments", ""); status != http.StatusUnauthorized {
		t.Fatalf("without the token: %d", status)
	}
	if status, body := httpGet(s.base+"/v1/workspaces/"+cliWS+"/segments", "env-token"); status != http.StatusOK {
		t.Fatalf("with the token: %d %s", status, body)
	}
}

// On a non-loopback address without a token, segmentd runs (metrics, probes) and
// its admin API refuses everything.
func TestRunAdminLockedWithoutToken(t *testing.T) {
	b := kafkatest.Kfake(t)
	t.Setenv(envAdminToken, "")
	s := startSegmentd(t, b, "0.0.0.0")
	if status, _ := httpGet(s.base+"/healthz", ""); status != http.StatusOK {
		t.Fatalf("healthz: %d", status)
	}
	status, body := httpGet(s.base+"/v1/workspaces/"+cliWS+"/segments", "anything")
	if status != http.StatusForbidden || !strings.Contains(body, "--admin-token-file") {
		t.Fatalf("locked admin API: %d %s", status, body)
	}
}

func TestRunBadAdminFlags(t *testing.T) {
	for name, args := range map[string][]string{
		"missing token file": {"--admin-token-file", filepath.Join(t.TempDir(), "none")},
		"empty token file":   {"--admin-token-file", writeFile(t, "empty", "\n")},
		"bad peer":           {"--peers", "segmentd-1:8080"},
	} {
		err := runCommand(context.Background(), append([]string{"--brokers", "127.0.0.1:1", "--data-dir", t.TempDir(), "--http-addr", "127.0.0.1:0"}, args...), io.Discard, io.Discard)
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestReadDefinitions(t *testing.T) {
	defs, err := readDefinitions("definitions.yaml", []byte(definitionsYAML), cliWS)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range defs {
		got = append(got, d.where+" "+string(d.json))
	}
	want := []string{
		`definitions.yaml, document 1, item 1 (line 2) {"workspace":"acme.myshopify.com","id":"big","name":"Big spenders","groups":[{"conditions":[{"field":"total_spent","op":"gte","value":100.50}]}]}`,
		`definitions.yaml, document 1, item 2 (line 8) {"workspace":"acme.myshopify.com","id":"mx","groups":[{"conditions":[{"field":"country","op":"in","value":["MX","CO"]}]}]}`,
		`definitions.yaml, document 2 (line 16) {"workspace":"acme.myshopify.com","id":"vip","groups":[{"conditions":[{"field":"tag","op":"has","value":"vip"}]}]}`,
		`definitions.yaml, document 3 (line 18) {"workspace":"acme.myshopify.com","id":"recent","groups":[{"conditions":[{"field":"last_engaged_at","op":"after","value":"2026-01-01"}]}]}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if errs := validateDefinitions(defs); len(errs) > 0 {
		t.Fatal(errs)
	}

	for name, c := range map[string]struct{ in, want string }{
		"one JSON definition": {`{"workspace":"a.myshopify.com","id":"x","groups":[]}`, `{"workspace":"a.myshopify.com","id":"x","groups":[]}`},
		"big integers and decimals keep their digits": {"value: 9007199254740993\nv2: 0.1000\nv3: -5\nv4: 1e3",
			`{"workspace":"acme.myshopify.com","value":9007199254740993,"v2":0.1000,"v3":-5,"v4":1e3}`},
		"YAML number forms": {"a: 0x10\nb: 1_000\nc: +5\nd: .5", `{"workspace":"acme.myshopify.com","a":16,"b":1000,"c":5,"d":0.5}`},
		"scalars":           {"a: null\nb: ~\nc: true\nd: 'true'\ne: yes\nf: 2026-01-02T03:04:05Z", `{"workspace":"acme.myshopify.com","a":null,"b":null,"c":true,"d":"true","e":"yes","f":"2026-01-02T03:04:05Z"}`},
		"anchors":           {"x: &v [MX]\ny: *v", `{"workspace":"acme.myshopify.com","x":["MX"],"y":["MX"]}`},
		"empty documents":   {"---\n---\nid: a\n---\n", `{"workspace":"acme.myshopify.com","id":"a"}`},
	} {
		defs, err := readDefinitions("f", []byte(c.in), cliWS)
		if err != nil || len(defs) != 1 || string(defs[0].json) != c.want {
			var js string
			if len(defs) > 0 {
				js = string(defs[0].json)
			}
			t.Errorf("%s: %v %d %s, want %s", name, err, len(defs), js, c.want)
		}
	}
	for name, in := range map[string]string{
		"not YAML":      "a: [",
		"a scalar":      "just text",
		"list of lists": "- [1]",
		"custom tag":    "id: !custom a",
		"infinite":      "value: .inf",
	} {
		if defs, err := readDefinitions("f", []byte(in), ""); err == nil {
			t.Errorf("%s: no error: %v", name, defs)
		}
	}

	// Duplicates and invalid definitions are reported with where they are.
	defs, err = readDefinitions("f.yaml", []byte("- {workspace: a.myshopify.com, id: x, groups: [{conditions: [{field: tag, op: has, value: a}]}]}\n"+
		"- {workspace: a.myshopify.com, id: x, groups: [{conditions: [{field: tag, op: has, value: b}]}]}\n"+
		"- {workspace: a.myshopify.com, id: y, groups: [{conditions: [{field: tag, op: gt, value: b}]}]}\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	errs := validateDefinitions(defs)
	wantErrs := []string{
		"f.yaml, item 2 (line 2): a.myshopify.com/x is defined again (first in f.yaml, item 1 (line 1))",
		`f.yaml, item 3 (line 3): groups[0].conditions[0].op: "gt" is not allowed for field "tag"`,
	}
	if strings.Join(errs, "\n") != strings.Join(wantErrs, "\n") {
		t.Fatalf("errors:\n%s", strings.Join(errs, "\n"))
	}
	// A definition read from YAML is what the processor accepts.
	if _, err := operators.ParseDefinition(defs[0].json); err != nil {
		t.Fatal(err)
	}
	// A key given twice is refused by the definition parser.
	defs, err = readDefinitions("f.yaml", []byte("workspace: a.myshopify.com\nid: a\nid: b\ngroups: []"), "")
	if errs := validateDefinitions(defs); err != nil || len(errs) != 1 || errs[0] != "f.yaml (line 1): id: duplicate key" {
		t.Fatalf("duplicate key: %v %q", err, errs)
	}
}

func TestParseArgs(t *testing.T) {
	var api apiFlags
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	api.register(fs)
	j := fs.Bool("json", false, "")
	t.Setenv("SEGMENTD_SERVER", "http://env:1")
	pos, err := parseArgs(fs, []string{"ws", "--json", "7", "--", "--x"})
	if err != nil || strings.Join(pos, " ") != "ws 7 --x" || !*j || api.server != "http://env:1" {
		t.Fatalf("%v %v %v %s", pos, err, *j, api.server)
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestRunPprof: --pprof serves the runtime's profiles on --http-addr; without it
// there are none.
func TestRunPprof(t *testing.T) {
	b := kafkatest.Kfake(t)
	on := startSegmentd(t, b, "127.0.0.1", "--pprof")
	if status, body := httpGet(on.base+"/debug/pprof/heap?debug=1", ""); status != http.StatusOK || !strings.Contains(body, "heap profile") {
		t.Fatalf("GET /debug/pprof/heap with --pprof: %d %.200s", status, body)
	}
	if status, body := httpGet(on.base+"/debug/pprof/goroutine?debug=1", ""); status != http.StatusOK || !strings.Contains(body, "goroutine profile") {
		t.Fatalf("GET /debug/pprof/goroutine with --pprof: %d %.200s", status, body)
	}
	off := startSegmentd(t, b, "127.0.0.1")
	if status, _ := httpGet(off.base+"/debug/pprof/heap?debug=1", ""); status == http.StatusOK {
		t.Fatal("/debug/pprof/heap served without --pprof")
	}
}
