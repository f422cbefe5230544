package operators

import (
	"testing"
	"unsafe"
)

// TestIndexKeysOwnTheirMemory: the index's maps keep their keys for as long as the
// partition lives, so a key must not share the memory of the value it came from (a
// decoded contact keeps a record's strings in one buffer: a shared key would keep
// the whole record alive, ~350 MB at 1M contacts with a phone number each).
func TestIndexKeysOwnTheirMemory(t *testing.T) {
	record := "+15550100|Springfield|example.com|auto-1"
	phone, auto := record[:9], record[34:]
	m := valueBitmaps{}
	m.add(phone, 1)
	for k := range m {
		if unsafe.StringData(k) == unsafe.StringData(phone) {
			t.Fatal("valueBitmaps keeps a key that shares the value's memory")
		}
	}
	x := NewIndex()
	x.add(1, &Attrs{CompletionsByAutomation: map[string]int64{auto: 2}})
	for k := range x.byAutomation {
		if unsafe.StringData(k) == unsafe.StringData(auto) {
			t.Fatal("byAutomation keeps a key that shares the value's memory")
		}
	}
}
