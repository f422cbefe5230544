package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/internal/kafkatest"
	"github.com/segmentd/segmentd/internal/testenv"
)

// segmentdMain runs segmentd as main does, with args: it returns what it printed on
// stdout and stderr and its exit status.
func segmentdMain(args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := run(ctx, args, &out, &errb)
	if err != nil {
		reportError(&errb, err)
	}
	return out.String(), errb.String(), exitCode(err)
}

// TestCLIConventions: help on stdout with status 0; a usage error in one line and a
// hint, status 2; a runtime failure status 1; flags shown as --flag, benchmark flags
// not shown. `run` used to accept stray arguments, print 77 lines for a bad flag and
// exit 2 for any failure; help went to stderr with -flag.
func TestCLIConventions(t *testing.T) {
	hint := func(cmd string) string { return "Run '" + cmd + " --help' for usage.\n" }
	for _, tc := range []struct {
		args   []string
		code   int
		stdout []string // substrings; nil: empty
		stderr string   // exactly, unless prefixed by "~" (a substring)
	}{
		{[]string{"run", "-x"}, 2, nil, "segmentd run: flag provided but not defined: -x\n" + hint("segmentd run")},
		{[]string{"run", "stray"}, 2, nil, "segmentd run: unexpected argument \"stray\"\n" + hint("segmentd run")},
		{[]string{"run", "--partitions=x"}, 2, nil, "segmentd run: invalid value \"x\" for flag --partitions: strconv.ParseInt: parsing \"x\": invalid syntax\n" + hint("segmentd run")},
		{[]string{"run", "--log-format", "xml"}, 2, nil, "segmentd run: invalid --log-format \"xml\" (text or json)\n" + hint("segmentd run")},
		{[]string{"run", "--data-dir"}, 2, nil, "segmentd run: flag needs an argument: --data-dir\n" + hint("segmentd run")},
		{[]string{"run", "--help"}, 0, []string{"Usage: segmentd run [flags]", "\n  --data-dir string\n", "(default ./segmentd-data)", "\n  --brokers list\n", "\n  --partitions int\n"}, ""},
		{[]string{"tail", "-h"}, 0, []string{"Usage: segmentd tail [flags]", "--since", "--segment list"}, ""},
		{[]string{"segments", "apply", "--help"}, 0, []string{"Usage: segmentd segments apply -f FILE", "\n  -f value\n", "--dry-run"}, ""},
		{[]string{"contact", "explain", "-help"}, 0, []string{"Usage: segmentd contact explain WORKSPACE CUSTOMER_ID --segment ID", "--segment string"}, ""},
		{[]string{"--help"}, 0, []string{"Commands:", "  segments delete ", "  audience estimate ", "  completion "}, ""},
		{[]string{"help", "tail"}, 0, []string{"Usage: segmentd tail [flags]"}, ""},
		{[]string{"segments", "--help"}, 0, []string{"Usage: segmentd segments COMMAND", "  segments get "}, ""},
		{nil, 2, nil, "~Usage: segmentd COMMAND"},
		{[]string{"segments"}, 2, nil, "~  segments apply "},
		{[]string{"bogus"}, 2, nil, "segmentd: unknown command \"bogus\"\n" + hint("segmentd")},
		{[]string{"segments", "bogus"}, 2, nil, "segmentd segments: unknown command \"segments bogus\"\n" + hint("segmentd segments")},
		{[]string{"import", "--shop", "acme.myshopify.com"}, 2, nil, "segmentd import: missing arguments: usage: segmentd import --shop DOMAIN [flags] FILE...\n" + hint("segmentd import")},
		{[]string{"import", "f.jsonl"}, 2, nil, "segmentd import: --shop is required\n" + hint("segmentd import")},
		{[]string{"tail", "--since", "yesterday"}, 2, nil, "~segmentd tail: --since: \"yesterday\" is neither"},
		{[]string{"tail", "--since", "1h", "--offset", "3"}, 2, nil, "segmentd tail: --offset and --since: give at most one\n" + hint("segmentd tail")},
		{[]string{"contact", "get", "acme.myshopify.com"}, 2, nil, "~segmentd contact get: missing arguments"},
		{[]string{"contact", "get", "acme.myshopify.com", "x"}, 2, nil, "~segmentd contact get: invalid customer id \"x\""},
		{[]string{"contact", "explain", "acme.myshopify.com", "1"}, 2, nil, "segmentd contact explain: --segment is required\n" + hint("segmentd contact explain")},
		{[]string{"audience", "estimate", "acme.myshopify.com", "--include", "vip"}, 2, nil, "~segmentd audience estimate: --include \"vip\": want segment:ID or list:ID"},
		{[]string{"segments", "delete", "acme.myshopify.com", "a", "b"}, 2, nil, "~segmentd segments delete: unexpected argument \"b\""},
		{[]string{"completion", "fish"}, 2, nil, "~segmentd completion: unknown shell \"fish\""},
		// Runtime failures: status 1, one line.
		{[]string{"segments", "list", "acme.myshopify.com", "--server", "http://" + closedAddr(t)}, 1, nil, "~segmentd: admin API at http://"},
		{[]string{"segments", "apply", "-f", "/nonexistent/defs.yaml"}, 1, nil, "segmentd: read /nonexistent/defs.yaml: open /nonexistent/defs.yaml: no such file or directory\n"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			stdout, stderr, code := segmentdMain(tc.args...)
			if code != tc.code {
				t.Errorf("exit status %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout, stderr)
			}
			if sub, ok := strings.CutPrefix(tc.stderr, "~"); ok {
				if !strings.Contains(stderr, sub) {
					t.Errorf("stderr %q lacks %q", stderr, sub)
				}
				if tc.code == 2 && len(tc.args) > 1 && strings.Count(stderr, "\n") != 2 {
					t.Errorf("stderr %q: want the error and the hint, two lines", stderr)
				}
			} else if stderr != tc.stderr {
				t.Errorf("stderr:\n%s\nwant:\n%s", stderr, tc.stderr)
			}
			if tc.stdout == nil && stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			for _, want := range tc.stdout {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout)
				}
			}
		})
	}

	// Help never shows a flag with one dash (but -f), nor the benchmarks-only flags.
	for _, c := range commands() {
		stdout, _, code := segmentdMain(append(strings.Fields(c.name), "--help")...)
		if code != 0 || !strings.Contains(stdout, "Usage: segmentd "+c.name) {
			t.Errorf("%s --help: status %d\n%s", c.name, code, stdout)
		}
		for _, line := range strings.Split(stdout, "\n") {
			if strings.HasPrefix(line, "  -") && !strings.HasPrefix(line, "  --") && !strings.HasPrefix(line, "  -f ") {
				t.Errorf("%s --help shows a one-dash flag: %q", c.name, line)
			}
		}
		if strings.Contains(stdout, "bench") {
			t.Errorf("%s --help shows a benchmarks-only flag:\n%s", c.name, stdout)
		}
	}
	if !strings.HasPrefix(newRunFlagSet(&runFlags{}).Lookup("bench-naive-evaluation").Usage, benchmarksOnly) {
		t.Error("--bench-naive-evaluation is not marked as benchmarks only")
	}
}

// TestCompletionBash: the bash script, loaded in bash, completes commands, their flags
// and the values of completion's argument; benchmark flags are not offered.
func TestCompletionBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		testenv.MissingTool(t, "bash", "not installed")
	}
	script, _, code := segmentdMain("completion", "bash")
	if code != 0 || !strings.Contains(script, "complete -o default -F _segmentd segmentd") {
		t.Fatalf("completion bash: status %d\n%s", code, script)
	}
	complete := func(line string) string {
		t.Helper()
		words := strings.Fields(line)
		if strings.HasSuffix(line, " ") {
			words = append(words, "")
		}
		var arr strings.Builder
		for _, w := range words {
			fmt.Fprintf(&arr, "%q ", w)
		}
		prog := script + fmt.Sprintf("\nCOMP_WORDS=(%s)\nCOMP_CWORD=%d\n_segmentd\necho \"${COMPREPLY[*]}\"\n", arr.String(), len(words)-1)
		out, err := exec.Command(bash, "--norc", "--noprofile", "-c", prog).CombinedOutput()
		if err != nil {
			t.Fatalf("bash: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	for line, want := range map[string]string{
		"segmentd seg":                      "segments",
		"segmentd segments ":                "apply list get delete",
		"segmentd contact e":                "explain",
		"segmentd audience ":                "estimate",
		"segmentd tail --si":                "--since",
		"segmentd tail --seg":               "--segment",
		"segmentd contact explain ws 1 --s": "--segment --server --server-ca",
		"segmentd run --bench":              "",
		"segmentd run --data-dir ":          "", // a value: files
		"segmentd completion ":              "bash zsh",
		"segmentd segments apply -":         "", // checked below
	} {
		got := complete(line)
		if line == "segmentd segments apply -" {
			for _, f := range []string{"-f", "--dry-run", "--direct", "--server"} {
				if !strings.Contains(" "+got+" ", " "+f+" ") {
					t.Errorf("%q: %q lacks %s", line, got, f)
				}
			}
			continue
		}
		if got != want {
			t.Errorf("%q completes to %q, want %q", line, got, want)
		}
	}
	// Every command is completed.
	for _, c := range commands() {
		first, rest, _ := strings.Cut(c.name, " ")
		if got := complete("segmentd " + first[:2]); !strings.Contains(got, first) {
			t.Errorf("%s: not completed (%q)", first, got)
		}
		if rest != "" {
			if got := complete("segmentd " + first + " "); !strings.Contains(got, rest) {
				t.Errorf("%s: not completed (%q)", c.name, got)
			}
		}
	}
}

// TestCompletionZsh: the zsh script, loaded in zsh with compadd and _files standing in
// for the completion system's (they only work inside a completion widget), offers the
// same words as bash.
func TestCompletionZsh(t *testing.T) {
	zsh, err := exec.LookPath("zsh")
	if err != nil {
		testenv.MissingTool(t, "zsh", "install it with scripts/ensure-tools.sh zsh")
	}
	script, _, code := segmentdMain("completion", "zsh")
	if code != 0 || !strings.HasPrefix(script, "#compdef segmentd\n") {
		t.Fatalf("completion zsh: status %d\n%s", code, script)
	}
	path := writeFile(t, "_segmentd", script)
	const stubs = `compdef() { print -r -- "compdef $*"; }
compadd() { [[ $1 == -- ]] && shift; print -r -- "$*"; }
_files() { print -r -- FILES; }
`
	complete := func(words ...string) string {
		t.Helper()
		prog := stubs + "source " + path + "\nwords=(segmentd \"$@\"); CURRENT=$#words; _segmentd\n"
		out, err := exec.Command(zsh, append([]string{"-f", "-c", prog, "zsh"}, words...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("zsh: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	for _, tc := range []struct {
		words []string
		want  string
	}{
		{[]string{""}, "compdef _segmentd segmentd\nrun import tail segments contact audience completion version help --help --version"},
		{[]string{"segments", ""}, "compdef _segmentd segmentd\napply list get delete"},
		{[]string{"contact", "explain", "ws", "1", "--"}, "compdef _segmentd segmentd\n--help --admin-token --admin-token-file --json --segment --server --server-ca --timeout"},
		{[]string{"tail", "--since", ""}, "compdef _segmentd segmentd\nFILES"},
		{[]string{"import", "--shop", "a.myshopify.com", ""}, "compdef _segmentd segmentd\nFILES"},
		{[]string{"completion", ""}, "compdef _segmentd segmentd\nbash zsh"},
	} {
		if got := complete(tc.words...); got != tc.want {
			t.Errorf("%q: got\n%s\nwant\n%s", tc.words, got, tc.want)
		}
	}
	if got := complete("run", "--"); strings.Contains(got, "bench") || !strings.Contains(got, " --data-dir ") {
		t.Errorf("run --: %s", got)
	}
}

// TestTailStartAndFilter: tail starts at a time (--since), an offset (--offset) or the
// beginning, and prints only the segments of --segment.
func TestTailStartAndFilter(t *testing.T) {
	b := kafkatest.Kfake(t)
	topic := b.Topic(t, kafkatest.UniqueName("membership"), 1, nil)
	now := time.Now()
	old, recent := now.Add(-3*time.Hour), now.Add(-30*time.Minute)
	recs := []struct {
		seg string
		at  time.Time
	}{{"big", old}, {"vip", old}, {"vip", recent}, {"big", recent}}
	prod := b.Client(t, kgo.ProducerLinger(0))
	var values []string
	for i, r := range recs {
		v := fmt.Sprintf(`{"type":"UserAddedToSegment","workspace":%q,"segment_id":%q,"segment_version":1,"customer_id":%d}`, cliWS, r.seg, i+1)
		values = append(values, v)
		if err := prod.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Value: []byte(v), Timestamp: r.at}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	brokers := strings.Join(b.Addrs, ",")
	for _, tc := range []struct {
		args []string
		want []int // indexes of recs
	}{
		{[]string{"--from-beginning"}, []int{0, 1, 2, 3}},
		{[]string{"--from-beginning", "--segment", "vip"}, []int{1, 2}},
		{[]string{"--offset", "0", "--segment", cliWS + "/big", "--segment", "other"}, []int{0, 3}},
		{[]string{"--since", "1h"}, []int{2, 3}},
		{[]string{"--since", now.Add(-4 * time.Hour).UTC().Format(time.RFC3339), "--segment", "big"}, []int{0, 3}},
		{[]string{"--offset", "1"}, []int{1, 2, 3}},
		{[]string{"--offset", "-1"}, []int{3}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var want []string
			for _, i := range tc.want {
				want = append(want, values[i])
			}
			var out testenv.SyncBuffer
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				done <- tailCommand(ctx, append([]string{"--brokers", brokers, "--membership-topic", topic, "--json"}, tc.args...), &out, new(testenv.SyncBuffer))
			}()
			deadline := time.Now().Add(20 * time.Second)
			for strings.Count(out.String(), "\n") < len(want) && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(300 * time.Millisecond) // would a record too many follow?
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSuffix(out.String(), "\n"); got != strings.Join(want, "\n") {
				t.Errorf("printed:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
			}
		})
	}
}

// TestCLIAdminCommands: segments get and delete, contact explain and search, audience
// estimate, against a running segmentd (none of these commands existed).
func TestCLIAdminCommands(t *testing.T) {
	b := kafkatest.Kfake(t)
	s := startSegmentd(t, b, "127.0.0.1")
	server := "--server=" + s.base
	defs := writeFile(t, "definitions.yaml", definitionsYAML)
	if stdout, stderr, err := cli(t, "segments", "apply", "-f", defs, "--workspace", cliWS, server); err != nil {
		t.Fatalf("apply: %v\n%s%s", err, stdout, stderr)
	}
	prod := b.Client(t, kgo.ProducerLinger(0))
	for i := 1; i <= 6; i++ {
		tags := "x"
		if i%2 == 0 {
			tags = "vip"
		}
		country := []string{"MX", "US", "CO"}[i%3]
		v := fmt.Sprintf(`{"topic":"customers/update","shop":%q,"id":"c%d","payload":{"id":%d,"email":"user%d@example.com","first_name":"Ana","last_name":"Díaz","tags":%q,"default_address":{"country_code":%q},"sms_marketing_consent":{"state":"subscribed"}}}`,
			cliWS, i, i, i, tags, country)
		if err := prod.ProduceSync(context.Background(), &kgo.Record{Topic: s.topics.Events[0], Key: fmt.Appendf(nil, "%s/%d", cliWS, i), Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// vip: 2, 4, 6; mx (country MX or CO): 2, 3, 5, 6.
	testenv.Eventually(t, "segments get", func() (bool, string) {
		stdout, stderr, err := cli(t, "segments", "get", cliWS, "vip", server)
		if err != nil {
			return false, err.Error() + stderr
		}
		return strings.Contains(stdout, "members  3, over partitions 0,1,2\n"), stdout
	})
	stdout, _, err := cli(t, "segments", "get", cliWS, "big", server)
	for _, want := range []string{"segment  acme.myshopify.com/big\n", "name     Big spenders\n", "version  1\n", "definition:\n", `"field": "total_spent"`} {
		if err != nil || !strings.Contains(stdout, want) {
			t.Errorf("segments get: %v: lacks %q:\n%s", err, want, stdout)
		}
	}
	if stdout, _, err := cli(t, "segments", "get", "--json", cliWS, "mx", server); err != nil || !strings.Contains(stdout, `"members": 4`) {
		t.Errorf("segments get --json: %v\n%s", err, stdout)
	}

	// Search: by email, a table.
	stdout, stderr, err := cli(t, "contact", "search", cliWS, "user4@", server)
	if err != nil || !strings.HasPrefix(stdout, "ID  EMAIL              PHONE  NAME\n4   user4@example.com         Ana Díaz\n") || strings.Count(stdout, "\n") != 2 {
		t.Errorf("contact search: %v\n%s%s", err, stdout, stderr)
	}
	if stdout, _, err := cli(t, "contact", "search", cliWS, "Ana", "--limit", "2", "--json", server); err != nil || strings.Count(stdout, `"customer_id"`) != 2 {
		t.Errorf("contact search --limit 2 --json: %v\n%s", err, stdout)
	}

	// Explain: condition by condition.
	stdout, _, err = cli(t, "contact", "explain", cliWS, "2", "--segment", "vip", server)
	if err != nil || !strings.HasPrefix(stdout, "acme.myshopify.com/2 matches segment vip") || !strings.Contains(stdout, "  group 1: match\n    + tag has \"vip\" (actual: [vip])\n") {
		t.Errorf("contact explain 2: %v\n%s", err, stdout)
	}
	stdout, _, err = cli(t, "contact", "explain", cliWS, "gid://shopify/Customer/1", "--segment=mx", server)
	if err != nil || !strings.HasPrefix(stdout, "acme.myshopify.com/1 does not match segment mx") || !strings.Contains(stdout, `- country in ["MX","CO"] (actual: US)`) {
		t.Errorf("contact explain 1: %v\n%s", err, stdout)
	}
	if _, _, err := cli(t, "contact", "explain", cliWS, "2", "--segment", "nope", server); err == nil || !strings.Contains(err.Error(), `segment "nope"`) || exitCode(err) != 1 {
		t.Errorf("explain of an unknown segment: %v (exit %d)", err, exitCode(err))
	}

	// Estimate: vip but not mx is 4; vip or mx is 2, 3, 4, 5, 6.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--include", "segment:vip", "--exclude", "segment:mx"}, "1 contacts (partitions 0,1,2)\n"},
		{[]string{"--include", "segment:vip,segment:mx"}, "5 contacts (partitions 0,1,2)\n"},
		{[]string{"--include", "segment:vip", "--include", "list:none"}, "3 contacts (partitions 0,1,2)\n"},
	} {
		stdout, stderr, err := cli(t, append([]string{"audience", "estimate", cliWS, server}, tc.args...)...)
		if err != nil || stdout != tc.want {
			t.Errorf("audience estimate %q: %v\n%s%s, want %s", tc.args, err, stdout, stderr, tc.want)
		}
	}
	if _, _, err := cli(t, "audience", "estimate", cliWS, "--include", "segment:nope", server); err == nil || !strings.Contains(err.Error(), `segment "nope"`) || exitCode(err) != 1 {
		t.Errorf("estimate of an unknown segment: %v", err)
	}

	// Delete: then the segment is gone.
	stdout, _, err = cli(t, "segments", "delete", cliWS, "vip", server)
	if err != nil || stdout != "deleted acme.myshopify.com/vip\n" {
		t.Fatalf("segments delete: %v %q", err, stdout)
	}
	if _, _, err := cli(t, "segments", "get", cliWS, "vip", server); err == nil || !strings.Contains(err.Error(), "404") || exitCode(err) != 1 {
		t.Errorf("get after delete: %v", err)
	}
	if _, _, err := cli(t, "segments", "delete", cliWS, "vip", server); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("delete again: %v", err)
	}
}
