package processor

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestGlobalLogCompact: compaction keeps the last entries of each key, in order,
// and positions (counts of entries read) keep their meaning.
func TestGlobalLogCompact(t *testing.T) {
	var l globalLog
	for i, k := range []string{"a", "b", "a", "a", "c", "a"} {
		l.entries = append(l.entries, globalEntry{Offset: int64(i), Key: k})
	}
	before := l.upTo(6)
	l.compact(5, 2) // of a, b, a, a, c: the last two a, b, c
	keys := func(es []globalEntry) string {
		var b strings.Builder
		for _, e := range es {
			fmt.Fprintf(&b, "%s%d ", e.Key, e.Offset)
		}
		return strings.TrimSpace(b.String())
	}
	if got, want := keys(l.upTo(6)), "b1 a2 a3 c4 a5"; got != want {
		t.Errorf("after compaction: %s, want %s", got, want)
	}
	if got, want := keys(before), "a0 b1 a2 a3 c4 a5"; got != want {
		t.Errorf("a slice returned before compaction changed: %s, want %s", got, want)
	}
	if l.length() != 6 {
		t.Errorf("length %d, want 6", l.length())
	}
	if got := keys(l.since(5)); got != "a5" {
		t.Errorf("since(5) = %s, want a5", got)
	}
	if got := keys(l.since(6)); got != "" {
		t.Errorf("since(6) = %s, want nothing", got)
	}
	if got := keys(l.upTo(5)); got != "b1 a2 a3 c4" {
		t.Errorf("upTo(5) = %s, want b1 a2 a3 c4", got)
	}
	l.entries = append(l.entries, globalEntry{Offset: 6, Key: "b"})
	l.compact(7, 1)
	if got, want := keys(l.upTo(7)), "c4 a5 b6"; got != want {
		t.Errorf("compacted again: %s, want %s", got, want)
	}
	l.compact(7, 1) // nothing new: unchanged
	if got := keys(l.since(7)); got != "" || l.length() != 7 {
		t.Errorf("since(7) = %q, length %d", got, l.length())
	}
}

// TestGlobalLogsStayBounded: a process that runs for long keeps a bounded number of
// global entries however often the definitions and catalog change (each key's last
// few), and a full reconcile (after an aborted window, or of a partition assigned)
// replays only those: it produces nothing, the partition having applied them all.
// Without compaction the logs hold every entry read since the start.
func TestGlobalLogsStayBounded(t *testing.T) {
	rig := newWindowRig(t)
	do := func(cmd, key, input string) string {
		t.Helper()
		d := &datadriven.TestData{Cmd: cmd, CmdArgs: []datadriven.CmdArg{{Key: "key", Vals: []string{key}}}, Input: input}
		return rig.command(t, d)
	}
	def := func(v int) string {
		return fmt.Sprintf(`{"workspace":"acme.myshopify.com","id":"big","name":"Big","groups":[{"conditions":[{"field":"total_spent","op":"gt","value":%d}]}]}`, v)
	}
	do("catalog", "acme.myshopify.com/product/p1", `{"workspace":"acme.myshopify.com","product_id":"p1","collections":[]}`)
	do("definition", "acme.myshopify.com/shoes", `{"workspace":"acme.myshopify.com","id":"shoes","name":"Shoes","groups":[{"conditions":[{"field":"purchased_collection","op":"in","value":["shoes"]}]}]}`)
	do("definition", "acme.myshopify.com/big", def(100))
	if got := do("events", "", `acme.myshopify.com/1 {"topic":"orders/create","shop":"acme.myshopify.com","id":"o1","payload":{"id":1,"customer":{"id":1},"created_at":"2026-11-20T10:00:00Z","updated_at":"2026-11-20T10:00:00Z","current_total_price":"150.00","line_items":[{"product_id":"p1","vendor":"Acme","price":"150.00","quantity":1}]}}`); !strings.Contains(got, "UserAddedToSegment acme.myshopify.com/1 big v1 event") {
		t.Fatalf("order: %s", got)
	}
	const rounds = 300
	for i := range rounds {
		// p1 goes in and out of shoes; big alternates between 200 and 100:
		// contact 1 enters and leaves both, once per round.
		cols, sign := `[]`, "RemovedFrom"
		if i%2 == 0 {
			cols, sign = `["shoes"]`, "AddedTo"
		}
		got := do("catalog", "acme.myshopify.com/product/p1", `{"workspace":"acme.myshopify.com","product_id":"p1","collections":`+cols+`}`)
		if want := "User" + sign + "Segment acme.myshopify.com/1 shoes"; !strings.HasPrefix(got, want) {
			t.Fatalf("round %d, catalog: %q, want %s", i, got, want)
		}
		limit, sign := 200, "RemovedFrom"
		if i%2 == 1 {
			limit, sign = 100, "AddedTo"
		}
		got = do("definition", "acme.myshopify.com/big", def(limit))
		if want := fmt.Sprintf("User%sSegment acme.myshopify.com/1 big v%d definition", sign, i+2); !strings.HasPrefix(got, want) {
			t.Fatalf("round %d, definition: %q, want %s", i, got, want)
		}
	}
	segRead, catRead := rig.p.logs.counts()
	if segRead != rounds+2 || catRead != rounds+1 {
		t.Fatalf("read %d definitions and %d catalog records, want %d and %d", segRead, catRead, rounds+2, rounds+1)
	}
	// Each key's last entries, and fewer than compactEvery not compacted yet.
	segHeld, catHeld := rig.p.logs.stored()
	if maxSeg, maxCat := 2*keepSteps+compactEvery, keepCatalogSteps+compactEvery; segHeld > maxSeg || catHeld > maxCat {
		t.Errorf("the logs hold %d definitions and %d catalog records, want at most %d and %d", segHeld, catHeld, maxSeg, maxCat)
	}
	// A full reconcile replays what is held, and changes nothing.
	rig.p.reconcile[0] = true
	if got := rig.run(t, nil); got != "(nothing)\n" {
		t.Errorf("full reconcile: %q, want nothing", got)
	}
}
