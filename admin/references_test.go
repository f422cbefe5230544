package admin

import (
	"net/http"
	"strings"
	"testing"
)

// TestPutReferences: PUT and validate check segment references against the
// definitions in force (SPEC §6): a cycle or a chain deeper than 8 is a 400 naming
// the condition and the cycle, and nothing is written; a missing target is valid.
func TestPutReferences(t *testing.T) {
	e := newEnv(t)
	refDef := func(op, id string) string {
		return `{"groups":[{"conditions":[{"field":"segment","op":"` + op + `","value":"` + id + `"}]}]}`
	}
	base := "/v1/workspaces/" + ws + "/segments/"
	wantStatus(t, "PUT a -> b (missing)", e.do("PUT", base+"a", refDef("in_segment", "b")), http.StatusCreated)
	wantStatus(t, "PUT b -> c", e.do("PUT", base+"b", refDef("not_in_segment", "c")), http.StatusCreated)
	written := len(e.readTopic())

	for _, c := range []struct {
		name, method, path, body, err string
	}{
		{"cycle", "PUT", base + "c", refDef("in_segment", "a"),
			`groups[0].conditions[0].value: segment "a" closes a cycle of segment references: c → a → b → c`},
		{"self", "PUT", base + "c", refDef("in_segment", "c"),
			`groups[0].conditions[0].value: segment "c" references itself: c → c`},
		{"validate cycle", "POST", "/v1/workspaces/" + ws + "/segments:validate",
			`{"id":"c","groups":[{"conditions":[{"field":"tag","op":"has","value":"x"}]},{"conditions":[{"field":"segment","op":"in_segment","value":"a"}]}]}`,
			`groups[1].conditions[0].value: segment "a" closes a cycle of segment references: c → a → b → c`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(c.method, c.path, c.body)
			wantStatus(t, c.name, r, http.StatusBadRequest)
			var got struct {
				Error string `json:"error"`
			}
			r.decode(t, &got)
			if got.Error != c.err {
				t.Fatalf("error %q, want %q", got.Error, c.err)
			}
		})
	}
	if n := len(e.readTopic()); n != written {
		t.Fatalf("invalid definitions were written: %d records, want %d", n, written)
	}

	// Depth: c -> d -> … a chain; a (-> b -> c) on top may reach 8 references, not 9.
	prev := "c"
	for _, id := range []string{"d", "e", "f", "g", "h", "i"} {
		wantStatus(t, "PUT "+prev, e.do("PUT", base+prev, refDef("in_segment", id)), http.StatusCreated)
		prev = id
	}
	// a -> b -> c -> d -> e -> f -> g -> h -> i: 8 references; i -> j makes 9.
	r := e.do("PUT", base+"i", refDef("in_segment", "j"))
	wantStatus(t, "PUT i -> j", r, http.StatusBadRequest)
	if !strings.Contains(string(r.body), "deeper than 8: a → b → c → d → e → f → g → h → i → j") {
		t.Fatalf("depth error: %s", r.body)
	}
	wantStatus(t, "PUT i (no reference)", e.do("PUT", base+"i", `{"groups":[{"conditions":[{"field":"tag","op":"has","value":"x"}]}]}`), http.StatusCreated)

}
