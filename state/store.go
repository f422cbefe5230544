package state

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Key spaces. Every key of a partition starts with its space byte and the partition
// number (big-endian uint16), so that one partition's data is a contiguous range per
// space and a lost partition is one DeleteRange per space.
const (
	spaceContact byte = 'c' // c|p|contactKey  → Contact encoding
	spaceDense   byte = 'd' // d|p|dense(be32) → contactKey
	spaceMeta    byte = 'm' // m|p             → PartitionMeta (JSON)
	spaceOffset  byte = 'o' // o|p             → next changelog offset to restore from (be64)
	spaceTimer   byte = 't' // t|p|due(be64 unix ns)|contactKey → nothing: the timer index
)

var spaces = [...]byte{spaceContact, spaceDense, spaceMeta, spaceOffset, spaceTimer}

// Options configure a Store. The zero value means the defaults.
type Options struct {
	// CacheSize is Pebble's block cache in bytes. Default 64 MiB.
	CacheSize int64
	// MemTableSize is Pebble's memtable size in bytes. Default 32 MiB.
	MemTableSize uint64
	// InMemory keeps everything in memory (tests, the embedded demo). Default false.
	InMemory bool
	// Logger receives Pebble's events. Default: discard.
	Logger *slog.Logger
}

func (o *Options) ensureDefaults() {
	if o.CacheSize <= 0 {
		o.CacheSize = 64 << 20
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = 32 << 20
	}
}

// Store is the local Pebble store of one processor: the contact records, dense-id maps,
// partition metadata and changelog checkpoints of the partitions it owns. It is a
// materialization of the changelog topic and never runs ahead of it: writes arrive as
// a Batch applied only after the Kafka transaction that carried them committed.
//
// A Store is safe for concurrent use; Batches are not.
type Store struct {
	db *pebble.DB
}

// Open opens (creating if needed) the store in dir.
func Open(dir string, opts Options) (*Store, error) {
	opts.ensureDefaults()
	cache := pebble.NewCache(opts.CacheSize)
	defer cache.Unref()
	po := &pebble.Options{
		Cache:                       cache,
		FormatMajorVersion:          pebble.FormatNewest,
		MemTableSize:                opts.MemTableSize,
		MemTableStopWritesThreshold: 4,
		L0CompactionThreshold:       2,
		L0StopWritesThreshold:       1000,
		LBaseMaxBytes:               64 << 20,
		Logger:                      discardLogger{},
	}
	for i := range po.Levels {
		po.Levels[i].BlockSize = 4 << 10
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		po.Levels[i].FilterType = pebble.TableFilter
	}
	// MinLZ where the format allows it (Pebble's "fastest"): snappy's pure-Go
	// decoder was the largest item of a point read that missed the block cache.
	po.ApplyCompressionSettings(func() pebble.DBCompressionSettings { return pebble.DBCompressionFastest })
	if opts.InMemory {
		po.FS = vfs.NewMem()
		dir = "/" + strings.TrimLeft(filepath.ToSlash(filepath.Clean(dir)), "./")
		if err := po.FS.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create in-memory store dir: %w", err)
		}
	}
	db, err := pebble.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("open pebble store in %s: %w", dir, err)
	}
	return &Store{db: db}, nil
}

// Close flushes and closes the store.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close pebble store: %w", err)
	}
	return nil
}

// Metrics returns Pebble's metrics (exported by the processor).
func (s *Store) Metrics() *pebble.Metrics { return s.db.Metrics() }

func partitionPrefix(space byte, p int32) []byte {
	return []byte{space, byte(uint16(p) >> 8), byte(uint16(p))}
}

func contactKey(p int32, key string) []byte {
	return append(partitionPrefix(spaceContact, p), key...)
}

func denseKey(p int32, dense uint32) []byte {
	return binary.BigEndian.AppendUint32(partitionPrefix(spaceDense, p), dense)
}

// prefixEnd returns the smallest key greater than every key with prefix b.
func prefixEnd(b []byte) []byte {
	end := append([]byte(nil), b...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

// ErrNotFound is returned when a key is absent.
var ErrNotFound = errors.New("not found")

// Contact reads the committed record of key in partition p into c. It returns
// ErrNotFound if there is none.
func (s *Store) Contact(p int32, key string, c *Contact) error {
	v, closer, err := s.db.Get(contactKey(p, key))
	if errors.Is(err, pebble.ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("read contact %s: %w", key, err)
	}
	defer closer.Close()
	if err := c.UnmarshalBinary(v); err != nil {
		return fmt.Errorf("decode contact %s: %w", key, err)
	}
	return nil
}

// ContactDense returns the dense id of key's committed record in partition p (read
// from the record's header), or ErrNotFound.
func (s *Store) ContactDense(p int32, key string) (uint32, error) {
	v, closer, err := s.db.Get(contactKey(p, key))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("read contact %s: %w", key, err)
	}
	defer closer.Close()
	dense, _, err := PeekHeader(v)
	if err != nil {
		return 0, fmt.Errorf("decode contact %s: %w", key, err)
	}
	return dense, nil
}

// ContactKeyByDense returns the contact key of a dense id of partition p.
func (s *Store) ContactKeyByDense(p int32, dense uint32) (string, error) {
	v, closer, err := s.db.Get(denseKey(p, dense))
	if errors.Is(err, pebble.ErrNotFound) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("read dense id %d: %w", dense, err)
	}
	defer closer.Close()
	return string(v), nil
}

// Meta reads partition p's metadata; a partition never seen has the zero meta.
func (s *Store) Meta(p int32) (PartitionMeta, error) {
	var m PartitionMeta
	v, closer, err := s.db.Get(partitionPrefix(spaceMeta, p))
	switch {
	case errors.Is(err, pebble.ErrNotFound):
	case err != nil:
		return m, fmt.Errorf("read meta of partition %d: %w", p, err)
	default:
		err = m.UnmarshalBinary(v)
		closer.Close()
		if err != nil {
			return m, fmt.Errorf("read meta of partition %d: %w", p, err)
		}
	}
	pre := segmentMetaPrefix(p)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: pre, UpperBound: prefixEnd(pre)})
	if err != nil {
		return m, fmt.Errorf("read segment metas of partition %d: %w", p, err)
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		var sm SegmentMeta
		if err := json.Unmarshal(it.Value(), &sm); err != nil {
			return m, fmt.Errorf("read segment meta %s of partition %d: %w", it.Key()[len(pre):], p, err)
		}
		if m.Segments == nil {
			m.Segments = map[string]SegmentMeta{}
		}
		m.Segments[string(it.Key()[len(pre):])] = sm
	}
	return m, it.Error()
}

// segmentMetaPrefix is the prefix of partition p's per-segment metas: m|p|0.
func segmentMetaPrefix(p int32) []byte { return append(partitionPrefix(spaceMeta, p), 0) }

// ChangelogOffset returns the offset of partition p's changelog from which a restore
// must resume (0 for a partition never restored or written here).
func (s *Store) ChangelogOffset(p int32) (int64, error) {
	v, closer, err := s.db.Get(partitionPrefix(spaceOffset, p))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read changelog offset of partition %d: %w", p, err)
	}
	defer closer.Close()
	if len(v) != 8 {
		return 0, fmt.Errorf("read changelog offset of partition %d: bad length %d", p, len(v))
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

// ScanContacts calls fn for every record of partition p whose key starts with prefix
// and sorts after `after` (all of them when after is ""), in key order, until fn
// returns false or an error. The *Contact passed to fn is reused between calls.
func (s *Store) ScanContacts(p int32, prefix, after string, fn func(key string, c *Contact) (bool, error)) error {
	var c Contact
	return s.ScanContactEncodings(p, prefix, after, func(key, enc []byte) (bool, error) {
		if err := c.UnmarshalBinary(enc); err != nil {
			return false, fmt.Errorf("scan partition %d: decode %s: %w", p, key, err)
		}
		return fn(string(key), &c)
	})
}

// ScanContactEncodings is ScanContacts without decoding: fn gets each record's key
// and encoding (for UnmarshalBinary), both valid only until fn returns. A backfill
// copies them and decodes them on other goroutines.
func (s *Store) ScanContactEncodings(p int32, prefix, after string, fn func(key, enc []byte) (bool, error)) error {
	lower := contactKey(p, prefix)
	if after != "" {
		lower = append(contactKey(p, after), 0)
	}
	it, err := s.db.NewIter(&pebble.IterOptions{
		LowerBound: lower,
		UpperBound: prefixEnd(contactKey(p, prefix)),
	})
	if err != nil {
		return fmt.Errorf("scan partition %d: %w", p, err)
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		key := it.Key()[3:]
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("scan partition %d at %s: %w", p, key, err)
		}
		ok, err := fn(key, v)
		if err != nil || !ok {
			return err
		}
	}
	return it.Error()
}

// ContactEncodings calls fn with the key and encoding of the record of each of keys
// (ascending) that partition p holds, in order, until fn returns false or an error:
// ScanContactEncodings over a sorted subset, one iterator seeking from key to key.
// The encoding is valid only until fn returns.
func (s *Store) ContactEncodings(p int32, keys []string, fn func(key string, enc []byte) (bool, error)) error {
	prefix := partitionPrefix(spaceContact, p)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return fmt.Errorf("read contacts of partition %d: %w", p, err)
	}
	defer it.Close()
	k := prefix
	for _, key := range keys {
		k = append(k[:len(prefix)], key...)
		if !it.SeekGE(k) {
			break // no record at or after key
		}
		if !bytes.Equal(it.Key(), k) {
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("read contact %s of partition %d: %w", key, p, err)
		}
		if ok, err := fn(key, v); err != nil || !ok {
			return err
		}
	}
	return it.Error()
}

// DropPartition deletes every key of partition p (it moved to another process or is
// about to be restored from scratch).
func (s *Store) DropPartition(p int32) error {
	b := s.db.NewBatch()
	defer b.Close()
	for _, sp := range spaces {
		pre := partitionPrefix(sp, p)
		if err := b.DeleteRange(pre, prefixEnd(pre), nil); err != nil {
			return fmt.Errorf("drop partition %d: %w", p, err)
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("drop partition %d: %w", p, err)
	}
	return nil
}

// Partitions returns the partitions that have data in the store.
func (s *Store) Partitions() ([]int32, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{
		LowerBound: []byte{spaceOffset},
		UpperBound: []byte{spaceOffset + 1},
	})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var ps []int32
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		if len(k) == 3 {
			ps = append(ps, int32(binary.BigEndian.Uint16(k[1:])))
		}
	}
	return ps, it.Error()
}

func timerKey(p int32, due time.Time, key string) []byte {
	b := binary.BigEndian.AppendUint64(partitionPrefix(spaceTimer, p), uint64(due.UnixNano()))
	return append(b, key...)
}

// ScanTimers calls fn, in due order, for the timers of partition p due at or before
// until (and after `after`, exclusive, unless it is zero). Timers are derived from
// the records' NextDue; an entry whose record no longer has that NextDue is stale and
// is deleted by whoever finds it so.
func (s *Store) ScanTimers(p int32, after, until time.Time, fn func(due time.Time, key string) bool) error {
	lower := partitionPrefix(spaceTimer, p)
	if !after.IsZero() {
		lower = binary.BigEndian.AppendUint64(lower, uint64(after.UnixNano()+1))
	}
	upper := binary.BigEndian.AppendUint64(partitionPrefix(spaceTimer, p), uint64(until.UnixNano()+1))
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return fmt.Errorf("scan timers of partition %d: %w", p, err)
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		due := time.Unix(0, int64(binary.BigEndian.Uint64(k[3:11]))).UTC()
		if !fn(due, string(k[11:])) {
			break
		}
	}
	return it.Error()
}

// Batch collects one commit window's writes. Nothing is visible to readers of the
// Store until Commit; Close without Commit discards it (an aborted transaction).
type Batch struct {
	b   *pebble.Batch
	buf []byte
}

// NewBatch starts a batch.
func (s *Store) NewBatch() *Batch { return &Batch{b: s.db.NewBatch()} }

// PutContact writes c as the record of key in partition p, and the dense-id map entry.
func (b *Batch) PutContact(p int32, key string, c *Contact) error {
	var err error
	b.buf, err = c.AppendBinary(b.buf[:0])
	if err != nil {
		return fmt.Errorf("encode contact %s: %w", key, err)
	}
	return b.PutContactEncoded(p, key, c.DenseID, b.buf)
}

// PutContactEncoded writes an already encoded record (as carried by the changelog).
func (b *Batch) PutContactEncoded(p int32, key string, dense uint32, enc []byte) error {
	if err := b.b.Set(contactKey(p, key), enc, nil); err != nil {
		return err
	}
	if dense != 0 {
		return b.b.Set(denseKey(p, dense), []byte(key), nil)
	}
	return nil
}

// PutTimer indexes the timer of key at due.
func (b *Batch) PutTimer(p int32, due time.Time, key string) error {
	return b.b.Set(timerKey(p, due, key), nil, nil)
}

// DeleteTimer removes the timer of key at due.
func (b *Batch) DeleteTimer(p int32, due time.Time, key string) error {
	return b.b.Delete(timerKey(p, due, key), nil)
}

// DeleteContact removes the record of key (and its dense-id entry if dense != 0).
func (b *Batch) DeleteContact(p int32, key string, dense uint32) error {
	if err := b.b.Delete(contactKey(p, key), nil); err != nil {
		return err
	}
	if dense != 0 {
		return b.b.Delete(denseKey(p, dense), nil)
	}
	return nil
}

// PutMeta writes partition p's metadata, except its segments (PutSegmentMeta).
func (b *Batch) PutMeta(p int32, m *PartitionMeta) error {
	enc, err := m.MarshalBinary()
	if err != nil {
		return err
	}
	return b.PutMetaEncoded(p, enc)
}

// PutMetaEncoded writes partition p's metadata as encoded by MarshalBinary.
func (b *Batch) PutMetaEncoded(p int32, enc []byte) error {
	return b.b.Set(partitionPrefix(spaceMeta, p), enc, nil)
}

// PutSegmentMeta writes what partition p has applied of one segment
// ("<ws>/<segment id>"); nil deletes it.
func (b *Batch) PutSegmentMeta(p int32, segKey string, sm *SegmentMeta) error {
	k := append(segmentMetaPrefix(p), segKey...)
	if sm == nil {
		return b.b.Delete(k, nil)
	}
	enc, err := json.Marshal(sm)
	if err != nil {
		return err
	}
	return b.b.Set(k, enc, nil)
}

// PutChangelogOffset records that partition p's changelog is applied up to (not
// including) offset.
func (b *Batch) PutChangelogOffset(p int32, offset int64) error {
	return b.b.Set(partitionPrefix(spaceOffset, p), binary.BigEndian.AppendUint64(nil, uint64(offset)), nil)
}

// Empty reports whether the batch holds no writes.
func (b *Batch) Empty() bool { return b.b.Empty() }

// Commit applies the batch atomically and releases it (a later Close is a no-op). sync
// makes it durable before returning; the processor does not need it (the changelog is
// the durable copy) and passes false. If Commit fails the batch stays open: Close it.
func (b *Batch) Commit(sync bool) error {
	if b.b == nil {
		return errors.New("commit pebble batch: already committed or closed")
	}
	wo := pebble.NoSync
	if sync {
		wo = pebble.Sync
	}
	if err := b.b.Commit(wo); err != nil {
		return fmt.Errorf("commit pebble batch: %w", err)
	}
	return b.Close()
}

// Close discards an uncommitted batch. Closing a committed or closed batch is a no-op:
// Pebble pools its batches, and closing one twice would release the batch another
// user has received since.
func (b *Batch) Close() error {
	if b.b == nil {
		return nil
	}
	err := b.b.Close()
	b.b = nil
	if err != nil && !errors.Is(err, pebble.ErrClosed) {
		return err
	}
	return nil
}

// PartitionMeta is the per-partition state that is not a contact record: which
// segment definitions and catalog changes the partition has applied, backfills in
// progress, and the next dense id. It travels in the changelog under MetaKey, except
// Segments: each segment's entry has its own key (SegmentMetaKey), so that a
// partition of a workspace with thousands of segments does not rewrite them all (in
// one record over Kafka's size limit) whenever one changes.
type PartitionMeta struct {
	NextDense uint32 `json:"next_dense,omitempty"`
	// Segments by "<workspace>/<segment_id>"; persisted one key each.
	Segments map[string]SegmentMeta `json:"-"`
	// SegmentsOffsets and CatalogOffsets: per partition of the segments / catalog
	// topic, the next offset this partition has yet to apply.
	SegmentsOffsets map[int32]int64 `json:"segments_offsets,omitempty"`
	CatalogOffsets  map[int32]int64 `json:"catalog_offsets,omitempty"`
	// Pending catalog re-evaluations: "<workspace>/product/<id>" → scan cursor.
	// Written by earlier releases only (one scan per product, against the latest
	// catalog); read and turned into CatalogSteps.
	CatalogScans map[string]string `json:"catalog_scans,omitempty"`
	// CatalogSteps: the catalog records this partition has yet to apply to the
	// buyers of their product, in topic order. The first is being scanned: contacts
	// with a dense id up to CatalogCursor have it, the others do not.
	CatalogSteps  []CatalogStep `json:"catalog_steps,omitempty"`
	CatalogCursor uint32        `json:"catalog_cursor,omitempty"`
	// CatalogAhead: contacts already brought through later catalog steps than the
	// scans have reached for them (an event caught them up first), by the Pos of
	// the step each reached. The scans skip them for the steps up to that one.
	CatalogAhead map[int64]DenseSet `json:"catalog_ahead,omitempty"`
}

// CatalogStep is one catalog record a partition has yet to apply: its position in
// the catalog topic ((offset+1)<<16 | partition; 0 for a scan an earlier release
// recorded, of the latest mapping) and its product "<workspace>/product/<id>".
type CatalogStep struct {
	Pos     int64  `json:"pos,omitempty"`
	Product string `json:"product"`
}

// SegmentMeta is what a partition has applied of one segment: one accepted version
// of its definition, or its deletion.
type SegmentMeta struct {
	Incarnation int64  `json:"inc"`
	Version     int64  `json:"version"`
	RulesKey    string `json:"rules"`
	Deleted     bool   `json:"deleted,omitempty"`
	// Pos is the position in the segments topic of the record of this version
	// ((offset+1)<<16 | partition); 0 in metas written before it was recorded.
	Pos int64 `json:"pos,omitempty"`
	// Backfilling: the definition (or deletion) is being applied to the partition's
	// contacts; Cursor is the last contact key done ("" = none yet). Contacts after
	// the cursor are still at the previous version.
	Backfilling bool   `json:"backfilling,omitempty"`
	Cursor      string `json:"cursor,omitempty"`
	// Ahead: contacts already brought through later versions than the backfill has
	// reached for them (an event caught them up first), by the Pos of the version
	// each reached. The backfill skips them for the versions up to that one.
	Ahead map[int64]DenseSet `json:"ahead,omitempty"`
}

// DenseSet is a set of dense contact ids; in JSON, the portable roaring encoding
// (base64).
type DenseSet struct{ *roaring.Bitmap }

// MarshalJSON implements json.Marshaler.
func (d DenseSet) MarshalJSON() ([]byte, error) {
	if d.Bitmap == nil {
		return json.Marshal([]byte{})
	}
	b, err := d.ToBytes()
	if err != nil {
		return nil, fmt.Errorf("encode dense set: %w", err)
	}
	return json.Marshal(b)
}

// UnmarshalJSON implements json.Unmarshaler.
func (d *DenseSet) UnmarshalJSON(data []byte) error {
	var b []byte
	if err := json.Unmarshal(data, &b); err != nil {
		return fmt.Errorf("decode dense set: %w", err)
	}
	d.Bitmap = roaring.New()
	if len(b) == 0 {
		return nil
	}
	if _, err := d.Bitmap.FromBuffer(b); err != nil {
		return fmt.Errorf("decode dense set: %w", err)
	}
	d.Bitmap = d.Bitmap.Clone() // FromBuffer keeps references to b
	return nil
}

// Clone returns a deep copy of sm.
func (sm SegmentMeta) Clone() SegmentMeta {
	if sm.Ahead != nil {
		ahead := make(map[int64]DenseSet, len(sm.Ahead))
		for pos, d := range sm.Ahead {
			if d.Bitmap != nil {
				ahead[pos] = DenseSet{d.Clone()}
			}
		}
		sm.Ahead = ahead
	}
	return sm
}

// MetaKey is the changelog key of a partition's PartitionMeta; it cannot be a
// contact key (those start with a workspace).
const MetaKey = "\x00meta"

// segmentMetaKeyPrefix starts the changelog keys of per-segment metas.
const segmentMetaKeyPrefix = "\x00seg\x00"

// SegmentMetaKey is the changelog key of a partition's SegmentMeta of segKey.
func SegmentMetaKey(segKey string) string { return segmentMetaKeyPrefix + segKey }

// ParseSegmentMetaKey returns the segment key of a changelog key made by
// SegmentMetaKey, or false.
func ParseSegmentMetaKey(k string) (string, bool) {
	return strings.CutPrefix(k, segmentMetaKeyPrefix)
}

// MarshalBinary encodes m (JSON: small, rarely written, easy to inspect).
func (m *PartitionMeta) MarshalBinary() ([]byte, error) { return json.Marshal(m) }

// UnmarshalBinary decodes m.
func (m *PartitionMeta) UnmarshalBinary(b []byte) error {
	*m = PartitionMeta{}
	if err := json.Unmarshal(b, m); err != nil {
		return fmt.Errorf("decode partition meta: %w", err)
	}
	return nil
}

// Clone returns a deep copy of m (the window mutates a copy; the original stands for
// the committed state until the transaction commits).
func (m *PartitionMeta) Clone() PartitionMeta {
	c := PartitionMeta{NextDense: m.NextDense}
	if m.Segments != nil {
		c.Segments = make(map[string]SegmentMeta, len(m.Segments))
		for k, v := range m.Segments {
			c.Segments[k] = v.Clone()
		}
	}
	c.SegmentsOffsets = cloneOffsets(m.SegmentsOffsets)
	c.CatalogOffsets = cloneOffsets(m.CatalogOffsets)
	if m.CatalogScans != nil {
		c.CatalogScans = make(map[string]string, len(m.CatalogScans))
		for k, v := range m.CatalogScans {
			c.CatalogScans[k] = v
		}
	}
	c.CatalogSteps = slices.Clone(m.CatalogSteps)
	c.CatalogCursor = m.CatalogCursor
	if m.CatalogAhead != nil {
		c.CatalogAhead = make(map[int64]DenseSet, len(m.CatalogAhead))
		for pos, d := range m.CatalogAhead {
			if d.Bitmap != nil {
				c.CatalogAhead[pos] = DenseSet{d.Clone()}
			}
		}
	}
	return c
}

func cloneOffsets(m map[int32]int64) map[int32]int64 {
	if m == nil {
		return nil
	}
	c := make(map[int32]int64, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

type discardLogger struct{}

func (discardLogger) Infof(string, ...any)  {}
func (discardLogger) Errorf(string, ...any) {}
func (discardLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}

var _ io.Closer = (*Store)(nil)
