package harness

import (
	"strings"
	"testing"

	"github.com/segmentd/segmentd/bench/load"
	"github.com/segmentd/segmentd/internal/gen"
	"github.com/segmentd/segmentd/operators"
)

func TestCompareTransitions(t *testing.T) {
	a := map[string]string{"s.com/1 x": "+-", "s.com/2 x": "+", "s.com/3 y": "+"}
	b := map[string]string{"s.com/1 x": "+", "s.com/2 x": "+", "s.com/4 y": "+"}
	d := compareTransitions(a, b)
	if d.Pairs != 4 || d.Differing != 3 {
		t.Fatalf("pairs %d, differing %d; want 4, 3", d.Pairs, d.Differing)
	}
	want := []string{`s.com/1 x: segmentd "+-", kstreams "+"`, `s.com/3 y: segmentd "+", kstreams ""`, `s.com/4 y: segmentd "", kstreams "+"`}
	if strings.Join(d.Examples, "|") != strings.Join(want, "|") {
		t.Fatalf("examples %q; want %q", d.Examples, want)
	}
	if d := compareTransitions(a, a); d.Differing != 0 || len(d.Examples) != 0 {
		t.Fatalf("identical inputs differ: %+v", d)
	}
}

// The subset definitions keep only the peer's fields, stay valid for segmentd, and
// keep every subset condition of the originals.
func TestSubsetDefinitions(t *testing.T) {
	r := &run{g: gen.New(gen.Config{Seed: 1, Workspaces: 2, ContactsPerWorkspace: 10, Skew: 1})}
	segs, err := load.Definitions(load.DefinitionConfig{Workspaces: r.g.Workspaces(), PerWorkspace: 40, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	r.segments = segs
	want := 0
	for _, s := range segs {
		for _, g := range s.Def.Groups {
			for _, c := range g.Conditions {
				if peerFields[c.Field] {
					want++
				}
			}
		}
	}
	recs, err := r.subsetDefinitions("t")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) == 0 {
		t.Fatal("no subset definitions")
	}
	got := 0
	for _, rec := range recs {
		d, err := operators.ParseDefinition(rec.Value)
		if err != nil {
			t.Fatalf("%s: %v", rec.Value, err)
		}
		if string(rec.Key) != d.Workspace+"/"+d.ID {
			t.Fatalf("key %s for %s/%s", rec.Key, d.Workspace, d.ID)
		}
		for _, g := range d.Groups {
			for _, c := range g.Conditions {
				if !peerFields[c.Field] {
					t.Fatalf("field %s outside the subset in %s", c.Field, rec.Value)
				}
				if len(c.InLastDays) > 0 {
					t.Fatalf("a window (outside the subset) in %s", rec.Value)
				}
				if strings.HasPrefix(d.ID, "bench-") {
					got++
				}
			}
		}
	}
	if got != want {
		t.Fatalf("%d subset conditions kept of the random segments; want %d", got, want)
	}
}
