package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/segmentd/segmentd/events"
	"github.com/segmentd/segmentd/internal/gen"
)

// genRecords returns deterministic generator records: a history, then a live stream.
func genRecords(tb testing.TB, n int) []*events.Record {
	tb.Helper()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	g := gen.New(gen.Config{Seed: 15, Workspaces: 3, ContactsPerWorkspace: 40, Start: start})
	var out []*events.Record
	add := func(r gen.Record) {
		er := &events.Record{Key: bytes.Clone(r.Key), Value: bytes.Clone(r.Value), Timestamp: start}
		for _, h := range r.Headers {
			er.Headers = append(er.Headers, events.Header{Key: h.Key, Value: bytes.Clone(h.Value)})
		}
		out = append(out, er)
	}
	for r := range g.History() {
		if len(out) >= n/2 {
			break
		}
		add(r)
	}
	now := start
	for len(out) < n {
		now = now.Add(time.Millisecond)
		add(g.Next(now))
	}
	return out
}

// mutations returns variants of v: single bytes replaced, inserted or deleted at
// positions spread over the value, and truncations.
func mutations(v []byte, seed int) [][]byte {
	var out [][]byte
	subst := []byte{'"', '\\', '{', '}', '[', ']', ',', ':', ' ', 0x01, 0x80, 0xc3, 0xe2, 0xff, 'n', '0', '-', '.', 'e', 'u'}
	step := len(v)/23 + 1
	for i := seed % step; i < len(v); i += step {
		c := subst[(i+seed)%len(subst)]
		r := bytes.Clone(v)
		r[i] = c
		out = append(out, r)
		ins := append(append(bytes.Clone(v[:i]), c), v[i:]...)
		out = append(out, ins)
		out = append(out, append(bytes.Clone(v[:i]), v[i+1:]...))
		out = append(out, bytes.Clone(v[:i]))
	}
	return out
}

// TestDecodeMutatedRecords checks Decode's first checks against independent oracles on
// generator records and on variants with a byte replaced, inserted or deleted, or cut
// short: the generator's records decode (or are guest orders); a variant is
// invalid_utf8 exactly when utf8.Valid rejects it, at the offset of its first bad
// rune, and otherwise invalid_json exactly when json.Valid rejects it.
func TestDecodeMutatedRecords(t *testing.T) {
	var valid, badUTF8, badJSON int
	for i, r := range genRecords(t, 400) {
		if _, err := events.Decode(r, nil); err != nil && !errors.Is(err, events.ErrGuestOrder) {
			t.Fatalf("generator record %d (%s): %v", i, r.Value, err)
		}
		for _, m := range mutations(r.Value, i) {
			mr := *r
			mr.Value = m
			_, err := events.Decode(&mr, nil)
			var de *events.Error
			if v := bytes.TrimSpace(m); len(v) == 0 || string(v) == "null" {
				continue
			}
			reason := ""
			if errors.As(err, &de) {
				reason = string(de.Reason)
			}
			switch {
			case !utf8.Valid(m):
				badUTF8++
				want := fmt.Sprintf("value: not valid UTF-8 (first bad byte at offset %d)", firstBadRune(m))
				if reason != "invalid_utf8" || de.Detail != want {
					t.Fatalf("%q: got %v, want invalid_utf8 %q", m, err, want)
				}
			case !json.Valid(m):
				badJSON++
				if reason != "invalid_json" {
					t.Fatalf("%q: got %v, want invalid_json", m, err)
				}
			default:
				valid++
				if reason == "invalid_utf8" || reason == "invalid_json" {
					t.Fatalf("%q: got %v for valid JSON", m, err)
				}
			}
		}
	}
	if valid == 0 || badUTF8 == 0 || badJSON == 0 {
		t.Fatalf("mutations: %d valid, %d not UTF-8, %d not JSON: want some of each", valid, badUTF8, badJSON)
	}
}

// firstBadRune returns the offset of the first byte of b that does not start a valid
// rune, decoding from the start.
func firstBadRune(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}
