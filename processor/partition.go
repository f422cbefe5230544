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

// load reads the partition's meta and rebuilds its bitmaps from the stored records.
// Records are decoded and indexed on GOMAXPROCS goroutines, each into bitmaps of its
// own, which are then merged: a 1M-contact partition is mostly decoding.
func (pt *partition) load(store *state.Store, exclusionTag string) error {
	meta, err := store.Meta(pt.id)
	if err != nil {
		return err
	}
	pt.meta = meta
	type entry struct {
		key string
		val []byte
	}
	const chunk = 512
	workers := runtime.GOMAXPROCS(0)
	parts := make([]*partition, workers)
	errs := make([]error, workers)
	scratch := make([]state.Contact, workers)
	for i := range parts {
		parts[i] = newPartition(pt.id)
	}
	par := startParallel(workers, 8)
	index := func(es []entry) func(int) {
		return func(i int) {
			for _, e := range es {
				if errs[i] != nil {
					return // drain
				}
				c := &scratch[i]
				if err := c.UnmarshalBinary(e.val); err != nil {
					errs[i] = fmt.Errorf("decode %s: %w", e.key, err)
					return
				}
				// No catalog: the bitmaps need lists, consent and tags only.
				parts[i].index(e.key, c, nil, exclusionTag)
			}
		}
	}
	var es []entry
	err = store.ScanContactEncodings(pt.id, "", "", func(key, val []byte) (bool, error) {
		es = append(es, entry{string(key), slices.Clone(val)})
		if len(es) == chunk {
			par.submit(index(es))
			es = nil
		}
		return true, nil
	})
	if len(es) > 0 {
		par.submit(index(es))
	}
	par.join()
	if err := errors.Join(append(errs, err)...); err != nil {
		return err
	}
	for _, q := range parts {
		pt.mergeAttrs(q)
		for _, m := range [...]struct{ dst, src map[string]*roaring.Bitmap }{
			{pt.members, q.members}, {pt.products, q.products}, {pt.lists, q.lists}, {pt.reachable, q.reachable},
		} {
			for k, b := range m.src {
				if d := m.dst[k]; d != nil {
					d.Or(b)
				} else {
					m.dst[k] = b
				}
			}
		}
	}
	return nil
}

// restore brings the store's copy of partition p up to the end of its changelog
// (read_committed), from the offset checkpointed with the last applied batch.
func restore(ctx context.Context, cfg *Config, p int32, log *slog.Logger) (restored int, err error) {
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
				aerr = batch.DeleteContact(p, key, 0)
			default:
				// Only the header is decoded here; load decodes every record.
				var dense uint32
				var due time.Time
				if dense, due, aerr = state.PeekHeader(r.Value); aerr == nil {
					aerr = batch.PutContactEncoded(p, key, dense, r.Value)
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
