package processor

import (
	"sort"
	"strings"
	"sync"

	"github.com/segmentd/segmentd/operators"
	"github.com/segmentd/segmentd/state"
)

// segInfo is one live segment as the processing loop knows it, or one step of a
// segment's history (an accepted version, or a deletion).
type segInfo struct {
	Key         string // "<workspace>/<id>"
	Workspace   string
	ID          string
	Incarnation int64 // identifies this creation of the segment (see incarnationOf)
	Version     int64 // segment_version: 1, +1 per accepted change of the rules
	RulesKey    string
	Def         *operators.Definition
	Seg         *operators.Segment
	// Pos is the position of the record of this version in the segments topic
	// (stepPos); it orders the versions of every segment.
	Pos int64
	// Deleted marks a deletion step of the history (Version and Incarnation are
	// those of the deleted definition); never set on a live segment.
	Deleted bool
}

// stepPos is the position of a segments-topic record: its offset, then its
// partition. With one partition (as segmentd creates the topic) it is the topic order.
// It is never 0, which stands for "no position" in metas.
func stepPos(partition int32, offset int64) int64 { return (offset+1)<<16 | int64(partition&0xffff) }

// posRecord returns the partition and offset of the record at position pos.
func posRecord(pos int64) (int32, int64) { return int32(pos & 0xffff), pos>>16 - 1 }

// readsCollections reports whether the version has a purchased_collection
// condition (whose attribute is derived only for rules that read it).
func (si *segInfo) readsCollections() bool {
	if si.Def == nil {
		return false
	}
	for _, g := range si.Def.Groups {
		for _, c := range g.Conditions {
			if c.Field == "purchased_collection" {
				return true
			}
		}
	}
	return false
}

// wsRules is the compiled rule set of one workspace; segs[i] is rs.Segment(i).
type wsRules struct {
	rs   *operators.RuleSet
	segs []*segInfo
}

// NeedsCollections implements state.CollectionsNeeder: attributes skip the catalog
// lookups of a workspace whose rules do not read purchased_collection. Called on the
// loop and on the loop's workers during a window, when ws does not change.
func (r *rules) NeedsCollections(workspace string) bool {
	wr := r.ws[workspace]
	return wr != nil && len(wr.rs.UsingField("purchased_collection")) > 0
}

// allCollections is a Catalog that always derives purchased collections (views of a
// contact show them whether or not a rule reads them).
type allCollections struct{ r *rules }

func (a allCollections) Collections(workspace, productID string) []string {
	return a.r.Collections(workspace, productID)
}

// rules is the processing loop's view of the segments and catalog topics: live
// segments, one RuleSet per workspace, and the product → collections catalog. segs
// and ws are owned by the loop goroutine, which publishes immutable snapshots of them
// for queries (rulesView); segInfo values are never modified once published. The
// catalog is read by queries and partition loads too, under catalogMu.
type rules struct {
	segs map[string]*segInfo
	ws   map[string]*wsRules
	// history: per segment key, its accepted versions and deletions in topic order
	// (the last one is segs[key], or a deletion), each applied by every partition in
	// turn (backfill.go). Pruned by pruneHistory.
	history map[string][]*segInfo
	// segRead: per partition of the segments topic, the offset after the last
	// record applied to the rules.
	segRead map[int32]int64

	catalogMu sync.RWMutex
	catalog   map[string]map[string][]string // workspace → product id → collections
	// catHist: per product ("<workspace>/product/<id>"), its catalog records in
	// topic order, for the catalog as of a step (catalogAt). Under catalogMu; pruned
	// by pruneCatalog. catPruned marks a product whose history lost its
	// oldest records.
	catHist   map[string][]catStep
	catPruned map[string]bool
	// catLong: the products with more than keepCatalogSteps records, for
	// pruneCatalog to look at.
	catLong map[string]bool
	// catRead: per partition of the catalog topic, the offset after the last record
	// applied to the rules.
	catRead map[int32]int64
}

// catStep is one catalog record of a product: its position (stepPos) and its
// collections (nil: a tombstone).
type catStep struct {
	Pos         int64
	Collections []string
}

func newRules() *rules {
	return &rules{segs: map[string]*segInfo{}, ws: map[string]*wsRules{}, history: map[string][]*segInfo{},
		segRead: map[int32]int64{}, catalog: map[string]map[string][]string{},
		catHist: map[string][]catStep{}, catPruned: map[string]bool{}, catLong: map[string]bool{}, catRead: map[int32]int64{}}
}

// rulesView is an immutable snapshot of the live segments, for queries.
type rulesView struct {
	segs map[string]*segInfo
	ws   map[string]*wsRules
}

// view returns a snapshot of the live segments.
func (r *rules) view() *rulesView {
	v := &rulesView{segs: make(map[string]*segInfo, len(r.segs)), ws: make(map[string]*wsRules, len(r.ws))}
	for k, s := range r.segs {
		v.segs[k] = s
	}
	for k, w := range r.ws {
		v.ws[k] = w
	}
	return v
}

// behind reports whether a partition meta has applied records of the segments topic
// that the rules have not read yet: written by a process that read further, before
// the partition moved here. Its segments are reconciled once the rules caught up.
func (r *rules) behind(m *state.PartitionMeta) bool {
	for part, next := range m.SegmentsOffsets {
		if next > r.segRead[part] {
			return true
		}
	}
	return false
}

// incarnationOf identifies the creation of a segment by the position of the record
// that created it: stable across processes that read the same topic.
func incarnationOf(partition int32, offset int64) int64 {
	return int64(partition)<<48 | offset
}

// applySegment applies one valid segments-topic entry. It returns the workspace whose
// rules changed, or "" if nothing changed (an identical definition, a name change
// only, or the deletion of an unknown segment).
func (r *rules) applySegment(e *globalEntry) string {
	old := r.segs[e.Key]
	ws, id, _ := strings.Cut(e.Key, "/")
	switch {
	case e.Def == nil && old == nil:
		return ""
	case e.Def == nil:
		delete(r.segs, e.Key)
		del := *old
		del.Deleted, del.Pos = true, stepPos(e.Partition, e.Offset)
		del.Def, del.Seg = nil, nil // a deletion needs neither
		r.history[e.Key] = append(r.history[e.Key], &del)
	case old != nil && old.RulesKey == e.Def.RulesKey():
		renamed := *old // the name may change without a new version
		renamed.Def = e.Def
		r.segs[e.Key] = &renamed
		if h := r.history[e.Key]; len(h) > 0 && h[len(h)-1] == old {
			h[len(h)-1] = &renamed
		}
		r.rebuild(ws)
		return ""
	default:
		seg, err := operators.Compile(e.Def)
		if err != nil { // ParseDefinition validated it: a compile error is a bug
			panic("compile validated definition " + e.Key + ": " + err.Error())
		}
		si := &segInfo{Key: e.Key, Workspace: ws, ID: id, Def: e.Def, Seg: seg, RulesKey: e.Def.RulesKey(), Version: 1,
			Incarnation: incarnationOf(e.Partition, e.Offset), Pos: stepPos(e.Partition, e.Offset)}
		if old != nil {
			si.Incarnation = old.Incarnation
			si.Version = old.Version + 1
		}
		r.segs[e.Key] = si
		r.history[e.Key] = append(r.history[e.Key], si)
	}
	r.rebuild(ws)
	return ws
}

// rebuild recompiles the RuleSet of workspace ws.
func (r *rules) rebuild(ws string) {
	var segs []*segInfo
	prefix := ws + "/"
	for k, s := range r.segs {
		if strings.HasPrefix(k, prefix) {
			segs = append(segs, s)
		}
	}
	if len(segs) == 0 {
		delete(r.ws, ws)
		return
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].ID < segs[j].ID })
	compiled := make([]*operators.Segment, len(segs))
	for i, s := range segs {
		compiled[i] = s.Seg
	}
	// Dependency order (segment references): ascending indexes evaluate every
	// segment after the ones it references.
	segs, compiled = dependencyOrder(segs, compiled)
	r.ws[ws] = &wsRules{rs: operators.NewRuleSet(compiled), segs: segs}
}

// applyCatalog applies one valid catalog entry.
func (r *rules) applyCatalog(e *globalEntry) {
	c := e.Catalog
	r.catalogMu.Lock()
	defer r.catalogMu.Unlock()
	key := c.Workspace + "/product/" + c.ProductID
	r.catHist[key] = append(r.catHist[key], catStep{Pos: stepPos(e.Partition, e.Offset), Collections: c.Collections})
	if len(r.catHist[key]) > keepCatalogSteps {
		r.catLong[key] = true
	}
	if c.Collections == nil {
		delete(r.catalog[c.Workspace], c.ProductID)
		return
	}
	if r.catalog[c.Workspace] == nil {
		r.catalog[c.Workspace] = map[string][]string{}
	}
	r.catalog[c.Workspace][c.ProductID] = c.Collections
}

// Collections implements state.Catalog.
func (r *rules) Collections(workspace, productID string) []string {
	r.catalogMu.RLock()
	defer r.catalogMu.RUnlock()
	return r.catalog[workspace][productID]
}

// collectionsBefore returns the collections of product key (workspace ws, id pid)
// just before its catalog record at position pos. Of a product whose history was
// pruned past pos, it returns the oldest kept mapping: the records in between
// collapse into it (see pruneCatalog).
func (r *rules) collectionsBefore(key string, pos int64) []string {
	r.catalogMu.RLock()
	defer r.catalogMu.RUnlock()
	h := r.catHist[key]
	i := sort.Search(len(h), func(i int) bool { return h[i].Pos >= pos })
	switch {
	case i > 0:
		return h[i-1].Collections
	case r.catPruned[key] && len(h) > 0:
		return h[0].Collections
	}
	return nil
}

// catalogAt is the catalog as a contact of a partition with pending catalog steps
// sees it: the latest mapping, except for the products with a step the contact
// has yet to reach, which have their mapping from before the first such step.
// Immutable once built; workers share it.
type catalogAt struct {
	r      *rules
	before map[string][]string // "<workspace>/product/<id>" → its collections then
	all    bool                // derive collections whether or not a rule reads them
}

// Collections implements state.Catalog.
func (c *catalogAt) Collections(workspace, productID string) []string {
	if cs, ok := c.before[workspace+"/product/"+productID]; ok {
		return cs
	}
	return c.r.Collections(workspace, productID)
}

// NeedsCollections implements state.CollectionsNeeder.
func (c *catalogAt) NeedsCollections(workspace string) bool {
	return c.all || c.r.NeedsCollections(workspace)
}

// newCatalogAt returns the catalog of a contact that has yet to reach steps.
func (r *rules) newCatalogAt(steps []state.CatalogStep, all bool) *catalogAt {
	c := &catalogAt{r: r, before: map[string][]string{}, all: all}
	for _, s := range steps {
		if _, ok := c.before[s.Product]; ok || s.Pos == 0 {
			continue // only the first step of a product counts; 0: an old scan of the latest mapping
		}
		c.before[s.Product] = r.collectionsBefore(s.Product, s.Pos)
	}
	return c
}
