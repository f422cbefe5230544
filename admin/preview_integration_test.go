package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/segmentd/segmentd/admin"
	"github.com/segmentd/segmentd/internal/kafkatest"
	"github.com/segmentd/segmentd/internal/testenv"
)

// defMid replaces big (total_spent >= 500) by 300 <= total_spent <= 800.
const defMid = `{"name":"Mid","groups":[{"conditions":[{"field":"total_spent","op":"gte","value":300},{"field":"total_spent","op":"lte","value":800}]}]}`

// TestPreviewChangeOnProcessor: on a group of two real processes whose partitions
// share the members, the preview of replacing a segment is exact over every
// partition, whichever process is asked, and writes nothing. The expectation is
// computed from the population's rule (contact i spent 50·i; 15 is excluded).
func TestPreviewChangeOnProcessor(t *testing.T) {
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		d := newDeployment(t, b)
		d.start(2)
		segs := "/v1/workspaces/" + ws + "/segments"
		if r := d.do(d.procs[0], "PUT", segs+"/big", defBig); r.status != http.StatusCreated {
			t.Fatalf("PUT big: %d %s", r.status, r.body)
		}
		d.population()
		testenv.Eventually(t, "big settled", func() (bool, string) {
			// procs[1] reads the write from the topic on its own (about a commit
			// interval later): 404 until then.
			var seg admin.SegmentResponse
			if ok, msg := d.tryGet(d.procs[1], segs+"/big", &seg); !ok {
				return false, msg
			}
			return seg.Members == 10 && !seg.Backfilling, mustJSON(seg)
		})
		ends := func() kadm.ListedOffsets {
			o, err := b.Admin(t).ListEndOffsets(context.Background(), d.topics.Segments)
			if err != nil {
				t.Fatal(err)
			}
			return o
		}
		before := ends()

		spent := func(i int64) int64 { return 50 * i }
		big := func(i int64) bool { return i != 15 && spent(i) >= 500 }
		mid := func(i int64) bool { return i != 15 && spent(i) >= 300 && spent(i) <= 800 }
		none := func(int64) bool { return false }
		for _, c := range []struct {
			id            string
			member, match func(int64) bool
			sample        int
		}{
			{"big", big, mid, 10},
			{"big", big, mid, 2},
			{"big", big, mid, 0},
			{"fresh", none, mid, 10}, // no such segment: no members
			{"fresh", none, mid, 3},  // the lowest ids, not the first keys ("ws/10" < "ws/6")
		} {
			want := admin.ExpectedChange(1, 20, c.member, c.match, c.sample)
			if c.id == "big" && (want.WouldEnter == 0 || want.WouldLeave == 0) {
				t.Fatalf("the case does not exercise both directions: %+v", want)
			}
			var sum admin.ChangePreviewResponse
			for i, p := range d.procs {
				path := fmt.Sprintf("%s/%s:preview?sample=%d", segs, c.id, c.sample)
				got := previewChange(t, d, p, path)
				if !sameChange(got, want) || !slices.Equal(got.Partitions, []int32{0, 1, 2}) {
					t.Errorf("%s via process %d:\n got %s\nwant %s", path, i, mustJSON(got), mustJSON(want))
				}
				local := previewChange(t, d, p, path+"&local=true")
				if c.id == "big" && local.Members == 0 {
					t.Errorf("process %d owns no member of big (partitions %v): the case does not span the processes", i, local.Partitions)
				}
				sum.Members += local.Members
				sum.Matching += local.Matching
				sum.WouldEnter += local.WouldEnter
				sum.WouldLeave += local.WouldLeave
			}
			if sum.Members != want.Members || sum.Matching != want.Matching || sum.WouldEnter != want.WouldEnter || sum.WouldLeave != want.WouldLeave {
				t.Errorf("%s: the local answers sum to %s, want %s", c.id, mustJSON(sum), mustJSON(want))
			}
		}
		// The sample of an unsaved definition's preview is the lowest ids too, not
		// the first keys of each process ("ws/10" < "ws/6").
		for _, p := range d.procs {
			r := d.do(p, "POST", segs+":preview?sample=3", defMid)
			var pv admin.PreviewResponse
			if r.status != http.StatusOK || json.Unmarshal(r.body, &pv) != nil || pv.Count != 10 || fmt.Sprint(pv.Sample) != "[6 7 8]" {
				t.Errorf("preview of mid, sample 3: %d %s", r.status, r.body)
			}
		}
		if r := d.do(d.procs[0], "POST", segs+"/big:preview", defInvalid); r.status != http.StatusBadRequest ||
			!strings.Contains(string(r.body), `"path":"groups[0].conditions[0].op"`) {
			t.Fatalf("invalid: %d %s", r.status, r.body)
		}

		// Nothing written: the segments topic did not grow, big is unchanged.
		after := ends()
		before.Each(func(o kadm.ListedOffset) {
			if a, _ := after.Lookup(o.Topic, o.Partition); a.Offset != o.Offset {
				t.Errorf("segments topic partition %d: end offset %d, was %d", o.Partition, a.Offset, o.Offset)
			}
		})
		var seg admin.SegmentResponse
		d.get(d.procs[0], segs+"/big", &seg)
		if seg.Version != 1 || seg.Members != 10 || seg.Name != "Big spenders" {
			t.Fatalf("big after the previews: %s", mustJSON(seg))
		}
		if r := d.do(d.procs[0], "GET", segs+"/fresh", ""); r.status != http.StatusNotFound {
			t.Fatalf("fresh after its preview: %d %s", r.status, r.body)
		}
	})
}

func previewChange(t *testing.T, d *deployment, p *process, path string) admin.ChangePreviewResponse {
	t.Helper()
	r := d.do(p, "POST", path, defMid)
	var got admin.ChangePreviewResponse
	if r.status != http.StatusOK || json.Unmarshal(r.body, &got) != nil {
		t.Fatalf("POST %s: %d %s", path, r.status, r.body)
	}
	return got
}

func sameChange(a, b admin.ChangePreviewResponse) bool {
	return a.Members == b.Members && a.Matching == b.Matching && a.WouldEnter == b.WouldEnter && a.WouldLeave == b.WouldLeave &&
		slices.Equal(a.SampleEntering, b.SampleEntering) && slices.Equal(a.SampleLeaving, b.SampleLeaving)
}
