package processor

import (
	"bytes"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/internal/gen"
)

// TestFlushRecordsIntact checks that the records one window encodes into its shared
// chunks (window.enc) each stay intact until produced: every contact's changelog record
// of a window that changes hundreds of contacts, spanning several chunks, is the
// record the Pebble batch wrote.
func TestFlushRecordsIntact(t *testing.T) {
	rig := newWindowRig(t)
	g := gen.New(gen.Config{Seed: 3, ContactsPerWorkspace: 1000, Start: rig.now})
	var recs []*kgo.Record
	for r := range g.History() {
		recs = append(recs, &kgo.Record{Topic: rig.p.cfg.Topics.Events[0], Key: r.Key, Value: r.Value,
			Headers: toKgoHeaders(r.Headers), Timestamp: rig.now})
	}
	rig.window(t, recs)
	stored := map[string][]byte{}
	if err := rig.p.cfg.Store.ScanContactEncodings(0, "", "", func(key, enc []byte) (bool, error) {
		stored[string(key)] = bytes.Clone(enc)
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	compared, size := 0, 0
	for _, r := range rig.sink.recs {
		enc, ok := stored[string(r.Key)]
		if r.Topic != rig.p.cfg.Topics.Changelog || !ok {
			continue
		}
		if !bytes.Equal(r.Value, enc) {
			t.Fatalf("changelog record of %s (%d bytes) differs from the stored one (%d bytes)", r.Key, len(r.Value), len(enc))
		}
		compared++
		size += len(r.Value)
	}
	if compared != len(stored) || compared < 1000 {
		t.Fatalf("compared %d changelog records, %d contacts stored", compared, len(stored))
	}
	if size < 3*encChunk {
		t.Fatalf("%d bytes of records: fewer than three chunks", size)
	}
	t.Logf("%d records, %d bytes", compared, size)
}
