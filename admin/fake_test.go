package admin

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/govalues/decimal"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/operators"
	"github.com/segmentd/segmentd/processor"
	"github.com/segmentd/segmentd/state"
)

// world is the shared truth behind fake backends: the live segments and every
// contact. Fake backends own some of its partitions, as the processes of a group do.
type world struct {
	mu       sync.Mutex
	now      time.Time
	parts    int32
	segs     map[string]*fakeSegment // "<ws>/<id>"
	contacts []*fakeContact          // sorted by (workspace, id)
}

type fakeSegment struct {
	seg     *operators.Segment
	rules   string
	version int64
}

type fakeContact struct {
	ws      string
	id      int64
	attrs   operators.Attrs
	profile state.Profile
}

func newWorld(parts int32) *world {
	return &world{now: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC), parts: parts, segs: map[string]*fakeSegment{}}
}

// applyRecord applies a segments-topic record as the processor would: a definition
// (version +1 when its rules change) or a tombstone.
func (w *world) applyRecord(key string, value []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if value == nil {
		delete(w.segs, key)
		return nil
	}
	def, err := operators.ParseDefinition(value)
	if err != nil {
		return err
	}
	if def.Key() != key {
		return fmt.Errorf("key %q does not match %s", key, def.Key())
	}
	seg, err := operators.Compile(def)
	if err != nil {
		return err
	}
	old := w.segs[key]
	fs := &fakeSegment{seg: seg, rules: def.RulesKey(), version: 1}
	if old != nil {
		fs.version = old.version
		if old.rules != fs.rules {
			fs.version++
		}
	}
	w.segs[key] = fs
	return nil
}

// addContacts adds n contacts with ids first… to workspace ws, with attributes that
// vary with the id.
func (w *world) addContacts(ws string, first, n int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for id := first; id < first+n; id++ {
		c := &fakeContact{ws: ws, id: id}
		c.attrs.OrdersCount = id % 5
		c.attrs.TotalSpent = decimal.MustNew(id*100, 0)
		c.attrs.Country = []string{"MX", "US", "CO"}[id%3]
		if id%2 == 0 {
			c.attrs.Consent = operators.ConsentYes
		}
		if id%3 == 0 {
			c.attrs.Lists = []string{"vip"}
		}
		if id%10 == 7 {
			c.attrs.Excluded = true
		}
		c.profile = state.Profile{
			Email:     fmt.Sprintf("customer%d@example.com", id),
			FirstName: []string{"Ana", "Bruno", "Carla", "Diego"}[id%4],
			LastName:  "Pérez",
			PhoneE164: fmt.Sprintf("+5255%08d", id),
		}
		w.contacts = append(w.contacts, c)
	}
	slices.SortFunc(w.contacts, func(a, b *fakeContact) int {
		if c := strings.Compare(a.ws, b.ws); c != 0 {
			return c
		}
		return int(a.id - b.id)
	})
}

func (w *world) partition(id int64) int32 { return int32(id % int64(w.parts)) }

// fakeBackend implements Backend over the partitions of a world it owns.
type fakeBackend struct {
	w        *world
	owned    []int32
	notReady atomic.Bool
	block    bool // every query waits for its context to end
	// follow applies the segments topic up to its end to w, as the processor's
	// SyncSegments does; nil: w is always up to date (no topic).
	follow func(ctx context.Context) error
	// stall: SyncSegments and WaitSegmentRecord wait for their context to end.
	stall atomic.Bool
}

func (b *fakeBackend) SyncSegments(ctx context.Context) error {
	if b.stall.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	if b.follow == nil {
		return nil
	}
	return b.follow(ctx)
}

// WaitSegmentRecord reads the topic to its end, which includes the record.
func (b *fakeBackend) WaitSegmentRecord(ctx context.Context, _ int32, _ int64) error {
	return b.SyncSegments(ctx)
}

var _ Backend = (*fakeBackend)(nil)

func (b *fakeBackend) Ready() bool { return !b.notReady.Load() }

func (b *fakeBackend) local() processor.Local {
	return processor.Local{Partitions: append([]int32{}, b.owned...)}
}

func (b *fakeBackend) owns(c *fakeContact) bool { return slices.Contains(b.owned, b.w.partition(c.id)) }

func (b *fakeBackend) wait(ctx context.Context) error {
	if b.block {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

// matching returns the owned contacts of ws that seg matches, by (partition, id).
func (b *fakeBackend) matchingLocked(ws string, match func(*fakeContact) bool) []*fakeContact {
	var out []*fakeContact
	for _, c := range b.w.contacts {
		if c.ws == ws && b.owns(c) && match(c) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(x, y *fakeContact) int {
		if px, py := b.w.partition(x.id), b.w.partition(y.id); px != py {
			return int(px - py)
		}
		return int(x.id - y.id)
	})
	return out
}

func (b *fakeBackend) infoLocked(fs *fakeSegment) processor.SegmentInfo {
	def := fs.seg.Def
	n := len(b.matchingLocked(def.Workspace, func(c *fakeContact) bool { return fs.seg.Match(&c.attrs, b.w.now) }))
	return processor.SegmentInfo{Workspace: def.Workspace, ID: def.ID, Name: def.Name, Version: fs.version, Definition: def, Members: int64(n)}
}

func (b *fakeBackend) Segments(ctx context.Context, ws string) ([]processor.SegmentInfo, processor.Local, error) {
	if err := b.wait(ctx); err != nil {
		return nil, processor.Local{}, err
	}
	b.w.mu.Lock()
	defer b.w.mu.Unlock()
	var out []processor.SegmentInfo
	for key, fs := range b.w.segs {
		if strings.HasPrefix(key, ws+"/") {
			out = append(out, b.infoLocked(fs))
		}
	}
	slices.SortFunc(out, func(x, y processor.SegmentInfo) int { return strings.Compare(x.ID, y.ID) })
	return out, b.local(), nil
}

func (b *fakeBackend) Segment(ctx context.Context, ws, id string) (processor.SegmentInfo, processor.Local, error) {
	if err := b.wait(ctx); err != nil {
		return processor.SegmentInfo{}, processor.Local{}, err
	}
	b.w.mu.Lock()
	defer b.w.mu.Unlock()
	fs := b.w.segs[ws+"/"+id]
	if fs == nil {
		return processor.SegmentInfo{}, processor.Local{}, processor.ErrNotFound
	}
	return b.infoLocked(fs), b.local(), nil
}

// Members pages by (partition, id); the dense id of a contact is its customer id.
func (b *fakeBackend) Members(ctx context.Context, ws, id string, after processor.MemberCursor, limit int) ([]int64, processor.MemberCursor, bool, error) {
	if err := b.wait(ctx); err != nil {
		return nil, after, false, err
	}
	b.w.mu.Lock()
	defer b.w.mu.Unlock()
	fs := b.w.segs[ws+"/"+id]
	if fs == nil {
		return nil, after, false, processor.ErrNotFound
	}
	var ids []int64
	next := after
	for _, c := range b.matchingLocked(ws, func(c *fakeContact) bool { return fs.seg.Match(&c.attrs, b.w.now) }) {
		pos := processor.MemberCursor{Partition: b.w.partition(c.id), Dense: uint32(c.id)}
		if pos.Partition < after.Partition || pos.Partition == after.Partition && pos.Dense <= after.Dense {
			continue
		}
		if len(ids) == limit {
			return ids, next, false, nil
		}
		ids = append(ids, c.id)
		next = pos
	}
	return ids, next, true, nil
}

func (b *fakeBackend) findLocked(ws string, id int64) *fakeContact {
	for _, c := range b.w.contacts {
		if c.ws == ws && c.id == id && b.owns(c) {
			return c
		}
	}
	return nil
}

func (b *fakeBackend) Contact(ctx context.Context, ws string, id int64) (*processor.Contact, error) {
	if err := b.wait(ctx); err != nil {
		return nil, err
	}
	b.w.mu.Lock()
	defer b.w.mu.Unlock()
	c := b.findLocked(ws, id)
	if c == nil {
		return nil, processor.ErrNotFound
	}
	v := &processor.Contact{
		Workspace: ws, CustomerID: id, Partition: b.w.partition(id), SyncedAt: b.w.now,
		Profile: c.profile, Lists: c.attrs.Lists, Attrs: c.attrs, Now: b.w.now,
		Orders: processor.OrdersSummary{Total: int(c.attrs.OrdersCount), Counted: int(c.attrs.OrdersCount)},
	}
	keys := make([]string, 0, len(b.w.segs))
	for k := range b.w.segs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fs := b.w.segs[k]
		if fs.seg.Def.Workspace == ws && fs.seg.Match(&c.attrs, b.w.now) {
			v.Memberships = append(v.Memberships, processor.Membership{SegmentID: fs.seg.Def.ID, Version: fs.version})
		}
	}
	return v, nil
}

func (b *fakeBackend) Explain(ctx context.Context, ws string, id int64, segment string) (*operators.Explanation, error) {
	if err := b.wait(ctx); err != nil {
		return nil, err
	}
	b.w.mu.Lock()
	defer b.w.mu.Unlock()
	c := b.findLocked(ws, id)
	fs := b.w.segs[ws+"/"+segment]
	if c == nil || fs == nil {
		return nil, processor.ErrNotFound
	}
	ex := operators.Explain(fs.seg, &c.attrs, b.w.now)
	return &ex, nil
}

func (b *fakeBackend) Preview(ctx context.Context, def *operators.Definition, sample int) (int64, []int64, processor.Local, error) {
	if err := b.wait(ctx); err != nil {
		return 0, nil, processor.Local{}, err
	}
	seg, err := operators.Compile(def)
	if err != nil {
		return 0, nil, processor.Local{}, err
	}
	b.w.mu.Lock()
	defer b.w.mu.Unlock()
	var ids []int64
	for _, c := range b.matchingLocked(def.Workspace, func(c *fakeContact) bool { return seg.Match(&c.attrs, b.w.now) }) {
		ids = append(ids, c.id)
	}
	n := int64(len(ids))
	slices.Sort(ids)
	if len(ids) > sample {
		ids = ids[:sample]
	}
	return n, ids, b.local(), nil
}

// PreviewChange compares seg with the current members of ws/id (the contacts its
// live definition matches), as the processor compares it with its member records.
func (b *fakeBackend) PreviewChange(ctx context.Context, ws, id string, def *operators.Definition, sample int) (processor.ChangePreview, processor.Local, error) {
	if err := b.wait(ctx); err != nil {
		return processor.ChangePreview{}, processor.Local{}, err
	}
	seg, err := operators.Compile(def)
	if err != nil {
		return processor.ChangePreview{}, processor.Local{}, err
	}
	b.w.mu.Lock()
	defer b.w.mu.Unlock()
	live := b.w.segs[ws+"/"+id]
	out := processor.ChangePreview{SampleEntering: []int64{}, SampleLeaving: []int64{}}
	b.matchingLocked(ws, func(c *fakeContact) bool {
		member := live != nil && live.seg.Match(&c.attrs, b.w.now)
		match := seg.Match(&c.attrs, b.w.now)
		if member {
			out.Members++
		}
		if match {
			out.Matching++
		}
		if match && !member {
			out.WouldEnter++
			out.SampleEntering = append(out.SampleEntering, c.id)
		}
		if member && !match {
			out.WouldLeave++
			out.SampleLeaving = append(out.SampleLeaving, c.id)
		}
		return false
	})
	for _, s := range []*[]int64{&out.SampleEntering, &out.SampleLeaving} {
		slices.Sort(*s)
		if len(*s) > sample {
			*s = (*s)[:sample]
		}
	}
	return out, b.local(), nil
}

func (b *fakeBackend) Search(ctx context.Context, ws, q string, limit int) ([]processor.ContactSummary, processor.Local, error) {
	if err := b.wait(ctx); err != nil {
		return nil, processor.Local{}, err
	}
	b.w.mu.Lock()
	defer b.w.mu.Unlock()
	q = strings.ToLower(q)
	var out []processor.ContactSummary
	for _, c := range b.matchingLocked(ws, func(c *fakeContact) bool {
		p := c.profile
		return strings.Contains(strings.ToLower(p.Email+" "+p.FirstName+" "+p.LastName), q) || strings.Contains(p.PhoneE164, q)
	}) {
		out = append(out, processor.ContactSummary{CustomerID: c.id, Email: c.profile.Email, FirstName: c.profile.FirstName,
			LastName: c.profile.LastName, Phone: c.profile.PhoneE164})
	}
	slices.SortFunc(out, func(x, y processor.ContactSummary) int { return int(x.CustomerID - y.CustomerID) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, b.local(), nil
}

func (b *fakeBackend) Estimate(ctx context.Context, ws string, include, exclude []processor.AudienceRef) (int64, processor.Local, error) {
	if err := b.wait(ctx); err != nil {
		return 0, processor.Local{}, err
	}
	b.w.mu.Lock()
	defer b.w.mu.Unlock()
	in := func(c *fakeContact, refs []processor.AudienceRef) (bool, error) {
		for _, r := range refs {
			if r.List != "" && slices.Contains(c.attrs.Lists, r.List) {
				return true, nil
			}
			if r.Segment != "" {
				fs := b.w.segs[ws+"/"+r.Segment]
				if fs == nil {
					return false, fmt.Errorf("segment %q: %w", r.Segment, processor.ErrNotFound)
				}
				if fs.seg.Match(&c.attrs, b.w.now) {
					return true, nil
				}
			}
		}
		return false, nil
	}
	var n int64
	var ferr error
	b.matchingLocked(ws, func(c *fakeContact) bool {
		inc, err := in(c, include)
		exc, err2 := in(c, exclude)
		if err != nil || err2 != nil {
			ferr = cmpErr(err, err2)
			return false
		}
		if inc && !exc && c.attrs.Consent == operators.ConsentYes && !c.attrs.Excluded {
			n++
		}
		return false
	})
	if ferr != nil {
		return 0, processor.Local{}, ferr
	}
	return n, b.local(), nil
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// ids renders customer ids for comparisons.
func ids(xs []int64) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.FormatInt(x, 10)
	}
	return strings.Join(s, ",")
}

// nopProducer accepts every record and keeps none (for handlers that never write).
type nopProducer struct{}

func (nopProducer) ProduceSync(_ context.Context, rs ...*kgo.Record) kgo.ProduceResults {
	out := make(kgo.ProduceResults, len(rs))
	for i, r := range rs {
		out[i] = kgo.ProduceResult{Record: r}
	}
	return out
}
