package operators

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzParseDefinition feeds arbitrary bytes to ParseDefinition, seeded with every
// definition of testdata/*.txt. It must never panic; what it accepts must compile,
// evaluate, index and re-parse to the same rules.
//
//	go test ./operators -run '^$' -fuzz FuzzParseDefinition -fuzztime 1m
func FuzzParseDefinition(f *testing.F) {
	for _, seed := range testdataDefinitions(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseDefinition(data)
		if err != nil {
			if _, ok := err.(*ValidationError); !ok {
				t.Fatalf("error %v is a %T, not a *ValidationError", err, err)
			}
			return
		}
		s, err := Compile(d)
		if err != nil {
			t.Fatalf("parsed definition does not compile: %v", err)
		}
		key := d.RulesKey()
		again, err := json.Marshal(d)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		d2, err := ParseDefinition(again)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", again, err)
		}
		if k2 := d2.RulesKey(); k2 != key {
			t.Fatalf("rules key changed on re-parse:\n%s\n%s", key, k2)
		}
		rs := NewRuleSet([]*Segment{s})
		now := time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)
		a := &Attrs{OrdersCount: 1, LastOrderAt: now.Add(-3 * Day), Country: "MX", Tags: []string{"vip"}}
		m := s.Match(a, now)
		aff := rs.Affected(&Attrs{}, a, now, nil)
		if empty := len(rs.MatchEmpty()) == 1; m != empty && len(aff) != 1 {
			t.Fatalf("match changed from the empty contact but Affected = %v", aff)
		}
		rs.NextFlip(a, now)
		Explain(s, a, now)
	})
}

// testdataDefinitions returns the definitions (valid or not) of testdata/*.txt.
func testdataDefinitions(tb testing.TB) [][]byte {
	var out [][]byte
	paths, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if err != nil {
		tb.Fatal(err)
	}
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			tb.Fatal(err)
		}
		lines := strings.Split(string(data), "\n")
		for i := 0; i < len(lines); i++ {
			cmd := strings.Fields(lines[i] + " x")[0]
			if cmd != "define" && cmd != "parse" && cmd != "rule" {
				continue
			}
			var input []string
			for i++; i < len(lines) && lines[i] != "----"; i++ {
				input = append(input, lines[i])
			}
			if cmd == "rule" {
				if js, err := ruleJSON("fuzz", input); err == nil {
					out = append(out, js)
				}
				continue
			}
			out = append(out, []byte(strings.Join(input, "\n")))
		}
	}
	return out
}
