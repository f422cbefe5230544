package events

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestSpecialLanes checks the 8-bytes-at-a-time string scan against a byte-by-byte one:
// the lowest lane specialLanes flags is the first byte that is special in strings.
func TestSpecialLanes(t *testing.T) {
	pool := []byte{0x00, 0x01, 0x1f, 0x20, 0x21, '"', '#', '\\', ']', 'a', 0x7f, 0x80, 0xc3, 0xff, 0x5b, 0x5d, 0x1e, 0x23}
	r := rand.New(rand.NewPCG(15, 15))
	var b [8]byte
	for n := 0; n < 200000; n++ {
		for k := range b {
			if r.IntN(4) == 0 {
				b[k] = byte(r.IntN(256))
			} else {
				b[k] = pool[r.IntN(len(pool))]
			}
		}
		want := 8
		for k, c := range b {
			if strSpecial[c] {
				want = k
				break
			}
		}
		got := 8
		if m := specialLanes(binary.LittleEndian.Uint64(b[:])); m != 0 {
			got = bits.TrailingZeros64(m) >> 3
		}
		if got != want {
			t.Fatalf("% x: first special byte %d, want %d", b, got, want)
		}
	}
}

// TestDecodeLargeOrder decodes an order whose line items outnumber the tape's first
// array many times over, so that the index grows while the value is checked: the items
// come out as the original ones repeated, in order.
func TestDecodeLargeOrder(t *testing.T) {
	order, err := os.ReadFile(filepath.Join("testdata", "webhooks", "orders_paid.json"))
	if err != nil {
		t.Fatal(err)
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(order, &members); err != nil {
		t.Fatal(err)
	}
	items := bytes.TrimSpace(members["line_items"])
	inner := items[1 : len(items)-1]
	const copies = 100
	repeated := bytes.Repeat(append(bytes.Clone(inner), ','), copies)
	repeated = append(append([]byte{'['}, repeated[:len(repeated)-1]...), ']')
	rec := func(v []byte) *Record {
		return &Record{Key: []byte(testShop + "/706405506930370084"), Value: v, Headers: []Header{
			{Key: "X-Shopify-Topic", Value: []byte("orders/paid")},
			{Key: "X-Shopify-Shop-Domain", Value: []byte(testShop)},
		}}
	}
	small, err := Decode(rec(order), nil)
	if err != nil {
		t.Fatal(err)
	}
	members["line_items"] = repeated
	large, err := json.Marshal(members)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(large, []byte{'{'}); n < 4*128 {
		t.Fatalf("only %d objects: not enough to grow the tape", n)
	}
	ev, err := Decode(rec(large), nil)
	if err != nil {
		t.Fatal(err)
	}
	var want []LineItem
	for range copies {
		want = append(want, small.Order.LineItems...)
	}
	if !reflect.DeepEqual(ev.Order.LineItems, want) {
		t.Fatalf("line items of the large order: %d, want %d (the original %d repeated)",
			len(ev.Order.LineItems), len(want), len(small.Order.LineItems))
	}
	ev.Order.LineItems, small.Order.LineItems = nil, nil
	if !reflect.DeepEqual(ev, small) {
		t.Fatalf("large order %+v, want %+v", ev.Order, small.Order)
	}
}
