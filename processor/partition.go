package processor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/operators"
	"github.com/segmentd/segmentd/state"
)

// partition is the in-memory state of one owned partition (of every events topic and
// of the changelog, which share partition numbers). It is owned by the processing
// loop; nothing in it changes until a window's transaction has committed.
type partition struct {
	id   int32
	meta state.PartitionMeta // as of the last committed window
	// members: "<ws>/<segment id>" → dense ids of current members. Derived from the
	// contact records, which carry the memberships, so a restore rebuilds them; each
	// bitmap has one owner, the loop.
	members map[string]*roaring.Bitmap
	// products: "<ws>/<product id>" → dense ids of contacts who bought it, for
	// catalog changes. A superset is harmless (re-evaluation is idempotent).
	products map[string]*roaring.Bitmap
	// lists: "<ws>/<list id>" → dense ids of the list's members; reachable: "<ws>"
	// → dense ids of contacts with consent "yes" who are not excluded. For audience
	// estimates.
	lists     map[string]*roaring.Bitmap
	reachable map[string]*roaring.Bitmap
	// pending: workspace → segments meta is backfilling (backfill.go; nil: not
	// computed yet).
	pending map[string][]string
	// attrs: workspace → attribute index of its contacts (attrindex.go);
	// customers: dense id → customer id.
	attrs     map[string]*operators.Index
	customers []int64
	// clean: segment key → position of the step its backfill started from a state
	// in which no contact holds an entry of another incarnation of the segment
	// (backfill.go, startStep). In memory only: after a restart or a move the step
	// is scanned.
	clean map[string]int64
}

func newPartition(id int32) *partition {
	return &partition{id: id, members: map[string]*roaring.Bitmap{}, products: map[string]*roaring.Bitmap{},
		lists: map[string]*roaring.Bitmap{}, reachable: map[string]*roaring.Bitmap{}, attrs: map[string]*operators.Index{}}
}

func (pt *partition) bitmap(m map[string]*roaring.Bitmap, key string) *roaring.Bitmap {
	b := m[key]
	if b == nil {
		b = roaring.New()
		m[key] = b
	}
	return b
}

// index adds a contact's memberships, purchases, lists, reachability and attributes
// to the bitmaps and indexes.
func (pt *partition) index(key string, c *state.Contact, cat state.Catalog, exclusionTag string) {
	if c.DenseID == 0 || c.IsTombstone() || c.IsNew() {
		return
	}
	ws := workspaceOf(key)
	a := c.Attrs(ws, cat, exclusionTag)
	pt.attrIndex(ws).Update(c.DenseID, nil, &a)
	pt.setCustomer(c.DenseID, customerIDOf(key))
	for _, l := range a.Lists {
		pt.bitmap(pt.lists, ws+"/"+l).Add(c.DenseID)
	}
	if reachable(&a) {
		pt.bitmap(pt.reachable, ws).Add(c.DenseID)
	}
	for _, m := range c.Memberships {
		if m.Member() {
			pt.bitmap(pt.members, ws+"/"+m.Segment).Add(c.DenseID)
		}
	}
	for _, prod := range c.PurchasedProducts() {
		pt.bitmap(pt.products, ws+"/"+prod).Add(c.DenseID)
	}
}

// reachable reports whether a contact may be messaged: consent "yes", not excluded.
func reachable(a *operators.Attrs) bool {
	return a.Consent == operators.ConsentYes && !a.Excluded
}

// load reads the partition's meta and rebuilds its bitmaps and indexes from the
// stored records (a partition whose changelog had nothing to restore, and tests).
func (pt *partition) load(store *state.Store, exclusionTag string) error {
	ld := newLoader(pt, exclusionTag)
	if err := ld.scanStore(store); err != nil {
		ld.abort()
		return err
	}
	return ld.finish(store)
}

// A loader builds a partition's bitmaps and attribute indexes from contact records:
// first those already in the store (scanStore), then those that a restore writes into
// it as it reads them from the changelog (add, deleted), so that a restore into an
// empty store reads no record twice. Records are decoded and indexed on GOMAXPROCS
// workers, each into a partition of its own; finish merges them.
//
// A record replaced by a later one of the same contact must not stay indexed. The
// writer keeps a contact's dense id until the contact is purged or re-created, and
// compaction keeps a suffix of each key's records; so within one pass a dense id
// met twice marks a contact whose first version was indexed (stale), and a purge or
// a change of dense id is always preceded by the contact's tombstone with its old
// dense id. Only a contact already in the store before the restore can change dense
// id (or be purged) with no record of its old id in the pass: for those, the
// committed record is looked up by key. finish takes the stale ids out of every
// bitmap and indexes them again from their final records in the store, the only
// records read back.
type loader struct {
	pt           *partition
	exclusionTag string
	par          *parallel
	parts        []*partition
	errs         []error
	scratch      []state.Contact
	chunk        []loadEntry
	seen         *roaring.Bitmap // dense ids indexed
	stale        *roaring.Bitmap // dense ids indexed from a record that a later one replaced
	stored       bool            // the store held records of the partition before the restore
	readBack     int             // records read back from the store by finish
}

type loadEntry struct {
	key string
	val []byte
}

// loadChunk is how many records a loader hands a worker at a time.
const loadChunk = 512

// newLoader starts the workers of a load into pt; finish or abort joins them.
func newLoader(pt *partition, exclusionTag string) *loader {
	workers := runtime.GOMAXPROCS(0)
	ld := &loader{pt: pt, exclusionTag: exclusionTag, par: startParallel(workers, 8),
		parts: make([]*partition, workers), errs: make([]error, workers), scratch: make([]state.Contact, workers),
		seen: roaring.New(), stale: roaring.New()}
	for i := range ld.parts {
		ld.parts[i] = newPartition(pt.id)
	}
	return ld
}

// submit hands the pending chunk to the workers.
func (ld *loader) submit() {
	if len(ld.chunk) == 0 {
		return
	}
	es := ld.chunk
	ld.chunk = make([]loadEntry, 0, loadChunk)
	ld.par.submit(func(i int) {
		for _, e := range es {
			if ld.errs[i] != nil {
				return // drain
			}
			c := &ld.scratch[i]
			if err := c.UnmarshalBinary(e.val); err != nil {
				ld.errs[i] = fmt.Errorf("decode %s: %w", e.key, err)
				return
			}
			// No catalog: the bitmaps need lists, consent and tags only.
			ld.parts[i].index(e.key, c, nil, ld.exclusionTag)
		}
	})
}

// queue indexes record val of key, whose dense id is dense. val must stay unchanged.
func (ld *loader) queue(key string, dense uint32, val []byte) {
	if dense == 0 {
		return // never indexed
	}
	if !ld.seen.CheckedAdd(dense) {
		ld.stale.Add(dense)
		return
	}
	ld.chunk = append(ld.chunk, loadEntry{key, val})
	if len(ld.chunk) == loadChunk {
		ld.submit()
	}
}

// scanStore indexes the records of the partition already in the store.
func (ld *loader) scanStore(store *state.Store) error {
	return store.ScanContactEncodings(ld.pt.id, "", "", func(key, val []byte) (bool, error) {
		dense, _, err := state.PeekHeader(val)
		if err != nil {
			return false, fmt.Errorf("decode %s: %w", key, err)
		}
		ld.stored = true
		ld.queue(string(key), dense, slices.Clone(val))
		return true, nil
	})
}

// add indexes a contact record that the restore writes (the store has not committed
// it yet). val must stay unchanged.
func (ld *loader) add(store *state.Store, key string, dense uint32, val []byte) error {
	if ld.stored && !ld.seen.Contains(dense) {
		if err := ld.replaced(store, key, dense); err != nil {
			return err
		}
	}
	ld.queue(key, dense, val)
	return nil
}

// deleted notes the purge of key's record by the restore.
func (ld *loader) deleted(store *state.Store, key string) error {
	if !ld.stored {
		return nil
	}
	return ld.replaced(store, key, 0)
}

// replaced marks stale the dense id of key's committed record if it differs from
// dense: a contact that was in the store before the restore and was re-created or
// purged since.
func (ld *loader) replaced(store *state.Store, key string, dense uint32) error {
	old, err := store.ContactDense(ld.pt.id, key)
	switch {
	case errors.Is(err, state.ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	if old != dense && ld.seen.Contains(old) {
		ld.stale.Add(old)
	}
	return nil
}

// abort joins the workers without building anything.
func (ld *loader) abort() { ld.par.join() }

// finish joins the workers, merges what they built into the partition, indexes the
// stale dense ids again from the store's records, and reads the partition's meta.
// The store must hold the restore's writes.
func (ld *loader) finish(store *state.Store) error {
	ld.submit()
	ld.par.join()
	if err := errors.Join(ld.errs...); err != nil {
		return err
	}
	pt := ld.pt
	for _, q := range ld.parts {
		pt.mergeAttrs(q)
		for _, m := range pt.bitmapSets(q) {
			for k, b := range m.src {
				if d := m.dst[k]; d != nil {
					d.Or(b)
				} else {
					m.dst[k] = b
				}
			}
		}
	}
	if !ld.stale.IsEmpty() {
		if err := ld.reindexStale(store); err != nil {
			return err
		}
	}
	meta, err := store.Meta(pt.id)
	if err != nil {
		return err
	}
	pt.meta = meta
	return nil
}

// bitmapSets pairs the bitmap maps of pt (dst) with those of q (src).
func (pt *partition) bitmapSets(q *partition) [4]struct{ dst, src map[string]*roaring.Bitmap } {
	return [...]struct{ dst, src map[string]*roaring.Bitmap }{
		{pt.members, q.members}, {pt.products, q.products}, {pt.lists, q.lists}, {pt.reachable, q.reachable},
	}
}

// reindexStale takes the stale dense ids out of every bitmap and index of the
// partition and indexes each again from the store's record that now holds it, if any.
func (ld *loader) reindexStale(store *state.Store) error {
	pt := ld.pt
	for _, m := range pt.bitmapSets(pt) {
		for k, b := range m.dst {
			if b.AndNot(ld.stale); b.IsEmpty() {
				delete(m.dst, k)
			}
		}
	}
	for _, x := range pt.attrs {
		x.RemoveAll(ld.stale)
	}
	var c state.Contact
	it := ld.stale.Iterator()
	for it.HasNext() {
		dense := it.Next()
		if int(dense) < len(pt.customers) {
			pt.customers[dense] = 0
		}
		key, err := store.ContactKeyByDense(pt.id, dense)
		if errors.Is(err, state.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		switch err := store.Contact(pt.id, key, &c); {
		case errors.Is(err, state.ErrNotFound):
			continue // purged
		case err != nil:
			return err
		}
		ld.readBack++
		if c.DenseID == dense { // else re-created under another dense id, indexed as such
			pt.index(key, &c, nil, ld.exclusionTag)
		}
	}
	return nil
}

// restore brings the store's copy of partition p up to the end of its changelog
// (read_committed), from the offset checkpointed with the last applied batch.
// Each contact record written is also handed to ld, which indexes it.
func restore(ctx context.Context, cfg *Config, p int32, log *slog.Logger, ld *loader) (restored int, err error) {
	store := cfg.Store
	from, err := store.ChangelogOffset(p)
	if err != nil {
		return 0, err
	}
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
			cfg.Topics.Changelog: {p: kgo.NewOffset().At(from)},
		}),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}, cfg.KafkaOptions...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return 0, fmt.Errorf("restore partition %d: %w", p, err)
	}
	defer cl.Close()
	end, err := stableEnd(ctx, kadm.NewClient(cl), cfg.Topics.Changelog, p, 2*cfg.TransactionTimeout, log)
	if err != nil {
		return 0, fmt.Errorf("restore partition %d: %w", p, err)
	}
	if from >= end {
		return 0, nil
	}
	log.Info("restoring partition from changelog", "partition", p, "from", from, "to", end)
	start := time.Now()
	next := from
	batch := store.NewBatch()
	defer func() { batch.Close() }()
	flush := func() error {
		if err := batch.PutChangelogOffset(p, next); err != nil {
			return err
		}
		if err := batch.Commit(false); err != nil {
			return err
		}
		batch = store.NewBatch()
		return nil
	}
	sinceFlush := 0
	lastLog := time.Now()
	for next < end {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return restored, err
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = errors.Join(ferr, err) })
		if ferr != nil {
			return restored, fmt.Errorf("restore partition %d: %w", p, ferr)
		}
		var aerr error
		fs.EachRecord(func(r *kgo.Record) {
			if aerr != nil || r.Offset < next {
				return
			}
			next = r.Offset + 1
			if r.Attrs.IsControl() {
				return
			}
			restored++
			sinceFlush++
			key := string(r.Key)
			switch {
			case key == state.MetaKey:
				var m state.PartitionMeta
				if aerr = m.UnmarshalBinary(r.Value); aerr == nil {
					aerr = batch.PutMetaEncoded(p, r.Value)
				}
			case strings.HasPrefix(key, "\x00"):
				segKey, ok := state.ParseSegmentMetaKey(key)
				if !ok {
					aerr = fmt.Errorf("unknown changelog key %q", key)
					break
				}
				var sm *state.SegmentMeta
				if r.Value != nil {
					sm = new(state.SegmentMeta)
					aerr = json.Unmarshal(r.Value, sm)
				}
				if aerr == nil {
					aerr = batch.PutSegmentMeta(p, segKey, sm)
				}
			case r.Value == nil:
				if aerr = ld.deleted(store, key); aerr == nil {
					aerr = batch.DeleteContact(p, key, 0)
				}
			default:
				// Only the header is decoded here; the loader's workers decode the
				// record in full to index it.
				var dense uint32
				var due time.Time
				if dense, due, aerr = state.PeekHeader(r.Value); aerr == nil {
					aerr = batch.PutContactEncoded(p, key, dense, r.Value)
				}
				if aerr == nil {
					aerr = ld.add(store, key, dense, r.Value)
				}
				if aerr == nil && !due.IsZero() {
					// A stale index entry left by an older version of the record
					// is harmless: firing checks the record's NextDue.
					aerr = batch.PutTimer(p, due, key)
				}
			}
		})
		if aerr != nil {
			return restored, fmt.Errorf("restore partition %d at offset %d: %w", p, next, aerr)
		}
		if time.Since(lastLog) >= 5*time.Second {
			lastLog = time.Now()
			log.Info("restoring partition", "partition", p, "offset", next, "end", end,
				"progress", fmt.Sprintf("%.1f%%", 100*float64(next-from)/float64(end-from)), "records", restored)
		}
		if sinceFlush >= 10000 {
			if err := flush(); err != nil {
				return restored, err
			}
			sinceFlush = 0
		}
	}
	if err := flush(); err != nil {
		return restored, err
	}
	log.Info("replayed partition changelog", "partition", p, "records", restored, "took", time.Since(start).Round(time.Millisecond))
	return restored, nil
}

// stableEnd returns the end of partition p of the changelog once no transaction is
// open on it. The previous owner of a partition that moved may still be committing its
// last window: restoring only up to the last stable offset then would miss that
// window, whose input offsets the new owner's consumer would nevertheless skip. So
// wait until the last stable offset reaches the high watermark (the previous owner's
// transaction committed or aborted; it cannot start another one, having lost the
// partition), bounded by the transaction timeout.
func stableEnd(ctx context.Context, adm *kadm.Client, topic string, p int32, wait time.Duration, log *slog.Logger) (int64, error) {
	deadline := time.Now().Add(wait)
	for attempt := 0; ; attempt++ {
		stable, err := adm.ListCommittedOffsets(ctx, topic)
		if err != nil {
			return 0, fmt.Errorf("list last stable offsets: %w", err)
		}
		high, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			return 0, fmt.Errorf("list end offsets: %w", err)
		}
		so, ok1 := stable.Lookup(topic, p)
		ho, ok2 := high.Lookup(topic, p)
		if !ok1 || !ok2 || so.Err != nil || ho.Err != nil {
			return 0, fmt.Errorf("no offsets for %s[%d]: %v %v", topic, p, so.Err, ho.Err)
		}
		if so.Offset >= ho.Offset {
			return so.Offset, nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("a transaction stays open on %s[%d] (stable %d < end %d)", topic, p, so.Offset, ho.Offset)
		}
		if attempt%20 == 0 {
			log.Info("waiting for the previous owner's transaction to end before restoring", "partition", p, "stable", so.Offset, "end", ho.Offset)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
