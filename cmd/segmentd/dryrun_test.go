package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/admin"
	"github.com/segmentd/segmentd/internal/kafkatest"
	"github.com/segmentd/segmentd/internal/testenv"
)

// TestApplyDryRun: `segments apply --dry-run` prints, for each definition, what
// replacing the segment by it would change over every partition, and writes nothing
// to the segments topic; without --dry-run, apply is unchanged.
func TestApplyDryRun(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		s := startSegmentd(t, b, "127.0.0.1")
		server := "--server=" + s.base
		live := writeFile(t, "live.yaml", `
- {id: mx, groups: [{conditions: [{field: country, op: is, value: MX}]}]}
- {id: vip, groups: [{conditions: [{field: tag, op: has, value: vip}]}]}
`)
		if stdout, stderr, err := cli(t, "segments", "apply", "-f", live, "--workspace", cliWS, server); err != nil ||
			stdout != "created acme.myshopify.com/mx\ncreated acme.myshopify.com/vip\n" {
			t.Fatalf("apply: %v\n%s%s", err, stdout, stderr)
		}
		// Contacts 1…12: country MX, US, CO by i % 3; even ones tagged vip; 12 excluded.
		country := func(i int64) string { return []string{"MX", "US", "CO"}[i%3] }
		vip := func(i int64) bool { return i%2 == 0 }
		excluded := func(i int64) bool { return i == 12 }
		prod := b.Client(t, kgo.ProducerLinger(0))
		for i := int64(1); i <= 12; i++ {
			tags := "x"
			if vip(i) {
				tags = "vip"
			}
			if excluded(i) {
				tags += ", exclude_from_galantis"
			}
			v := fmt.Sprintf(`{"topic":"customers/update","shop":%q,"id":"c%d","payload":{"id":%d,"email":"user%d@example.com","tags":%q,"default_address":{"country_code":%q}}}`,
				cliWS, i, i, i, tags, country(i))
			if err := prod.ProduceSync(context.Background(), &kgo.Record{Topic: s.topics.Events[0], Key: fmt.Appendf(nil, "%s/%d", cliWS, i), Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		testenv.Eventually(t, "members", func() (bool, string) {
			stdout, _, err := cli(t, "segments", "list", cliWS, "--json", server)
			var l admin.SegmentListResponse
			if err != nil || json.Unmarshal([]byte(stdout), &l) != nil || len(l.Segments) != 2 {
				return false, fmt.Sprint(err, stdout)
			}
			return l.Segments[0].Members == 3 && !l.Segments[0].Backfilling && l.Segments[1].Members == 5 && !l.Segments[1].Backfilling, stdout
		})
		ends := func() kadm.ListedOffsets {
			o, err := b.Admin(t).ListEndOffsets(context.Background(), s.topics.Segments)
			if err != nil {
				t.Fatal(err)
			}
			return o
		}
		before := ends()

		// mx becomes "country is CO"; fresh, new, is "tag has vip".
		next := writeFile(t, "next.yaml", `
- {id: mx, groups: [{conditions: [{field: country, op: is, value: CO}]}]}
- {id: fresh, groups: [{conditions: [{field: tag, op: has, value: vip}]}]}
`)
		stdout, stderr, err := cli(t, "segments", "apply", "--dry-run", "--sample", "3", "-f", next, "--workspace", cliWS, server)
		want := "acme.myshopify.com/mx: 3 members, 4 would match: 4 would enter, 3 would leave\n" +
			"  entering: 2, 5, 8 (3 of 4)\n" +
			"  leaving: 3, 6, 9\n" +
			"acme.myshopify.com/fresh: 0 members, 5 would match: 5 would enter, 0 would leave\n" +
			"  entering: 2, 4, 6 (3 of 5)\n"
		if err != nil || stdout != want || stderr != "dry run: nothing applied; counted over partitions 0,1,2\n" {
			t.Fatalf("dry run: %v\n%s%s\nwant\n%s", err, stdout, stderr, want)
		}

		// --json: the same previews, against expectations computed from the contacts.
		stdout, stderr, err = cli(t, "segments", "apply", "--dry-run", "--json", "-f", next, "--workspace", cliWS, server)
		var got []dryRunPreview
		if err != nil || json.Unmarshal([]byte(stdout), &got) != nil || len(got) != 2 {
			t.Fatalf("dry run --json: %v\n%s%s", err, stdout, stderr)
		}
		for i, c := range []struct {
			id            string
			member, match func(int64) bool
		}{
			{"mx", func(i int64) bool { return country(i) == "MX" && !excluded(i) }, func(i int64) bool { return country(i) == "CO" && !excluded(i) }},
			{"fresh", func(int64) bool { return false }, func(i int64) bool { return vip(i) && !excluded(i) }},
		} {
			w := dryRunPreview{Workspace: cliWS, ID: c.id, ChangePreviewResponse: admin.ChangePreviewResponse{
				SampleEntering: []int64{}, SampleLeaving: []int64{}, Partitions: []int32{0, 1, 2}}}
			for i := int64(1); i <= 12; i++ {
				m, x := c.member(i), c.match(i)
				if m {
					w.Members++
				}
				if x {
					w.Matching++
				}
				if x && !m {
					w.WouldEnter++
					w.SampleEntering = append(w.SampleEntering, i)
				}
				if m && !x {
					w.WouldLeave++
					w.SampleLeaving = append(w.SampleLeaving, i)
				}
			}
			g := got[i]
			if g.Workspace != w.Workspace || g.ID != w.ID || g.Members != w.Members || g.Matching != w.Matching ||
				g.WouldEnter != w.WouldEnter || g.WouldLeave != w.WouldLeave || !slices.Equal(g.SampleEntering, w.SampleEntering) ||
				!slices.Equal(g.SampleLeaving, w.SampleLeaving) || !slices.Equal(g.Partitions, w.Partitions) {
				t.Errorf("preview %d:\n got %+v\nwant %+v", i, g, w)
			}
		}

		// Nothing was written: the segments topic did not grow; mx is as it was, fresh
		// does not exist.
		after := ends()
		before.Each(func(o kadm.ListedOffset) {
			if a, _ := after.Lookup(o.Topic, o.Partition); a.Offset != o.Offset {
				t.Errorf("segments topic partition %d: end offset %d after the dry runs, %d before", o.Partition, a.Offset, o.Offset)
			}
		})
		stdout, _, err = cli(t, "segments", "get", cliWS, "mx", "--json", server)
		if err != nil || !strings.Contains(stdout, `"value": "MX"`) || !strings.Contains(stdout, `"segment_version": 1`) {
			t.Fatalf("mx after the dry runs: %v\n%s", err, stdout)
		}
		var ae *apiError
		if _, _, err := cli(t, "segments", "get", cliWS, "fresh", server); !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
			t.Fatalf("fresh after the dry runs: %v", err)
		}

		// Usage: --json and --sample go with --dry-run; the sample is bounded.
		for _, args := range [][]string{{"--json"}, {"--sample", "3"}, {"--dry-run", "--sample", "1001"}, {"--dry-run", "--sample", "-1"}} {
			_, _, err := cli(t, append([]string{"segments", "apply", "-f", next, "--workspace", cliWS, server}, args...)...)
			if exitCode(err) != 2 {
				t.Errorf("%v: %v, want a usage error", args, err)
			}
		}
		after = ends()
		before.Each(func(o kadm.ListedOffset) {
			if a, _ := after.Lookup(o.Topic, o.Partition); a.Offset != o.Offset {
				t.Errorf("segments topic partition %d: written by a refused command", o.Partition)
			}
		})

		// Without --dry-run, apply writes as before.
		if stdout, stderr, err := cli(t, "segments", "apply", "-f", next, "--workspace", cliWS, server); err != nil ||
			stdout != "updated acme.myshopify.com/mx\ncreated acme.myshopify.com/fresh\n" {
			t.Fatalf("apply: %v\n%s%s", err, stdout, stderr)
		}
		var grew int64
		after = ends()
		before.Each(func(o kadm.ListedOffset) {
			a, _ := after.Lookup(o.Topic, o.Partition)
			grew += a.Offset - o.Offset
		})
		if grew != 2 {
			t.Fatalf("apply wrote %d records, want 2", grew)
		}
	})
}
