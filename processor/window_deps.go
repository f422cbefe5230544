package processor

import (
	"context"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/events"
	"github.com/segmentd/segmentd/state"
)

// windowDeps is everything a window works with besides its own overlay: the rules
// as of the window, the partitions it may touch, a reader of the store, the timer
// heap, a sink for the records it produces, a clock and its metrics. The Processor
// builds one per window (Processor.newWindowDeps); a test builds one with a record list
// as the sink and no Kafka at all. Nothing here changes during the window except the
// timer heap (popped by fireTimers) and, after the commit, the partitions
// (window.committed).
type windowDeps struct {
	rules *rules               // fixed for the window once applyGlobalsToRules ran
	parts map[int32]*partition // the owned partitions, as of the last commit
	store storeReader
	// timers is the loop's heap of armed timers: fireTimers pops the due ones,
	// committed arms the records whose NextDue changed.
	timers *timers
	sink   recordSink
	clock  func() time.Time
	m      *metrics
	opts   windowOptions
	// quarantine: contacts whose input is dead-lettered (bound.go). Read only.
	quarantine map[string]quarantined
	// cand is the evaluation's scratch list of candidate segments, kept across
	// windows.
	cand *[]int
	// refWork is evalSegments' scratch list of segments to evaluate through
	// references (references.go), kept across windows.
	refWork *[]int
	// attrBuf is the list of attribute changes, kept across windows: a window takes
	// it (newWindow) and gives it back cleared once it applied them (committed).
	attrBuf *[]attrDelta
	// prepBuf is the list of the preparations of a poll (prepare.go), kept across
	// polls: each prepared record holds a decoded event and two Attrs.
	prepBuf *[]prepared
	// cache holds decoded contacts across windows (contactcache.go; nil: off). The
	// window reads it; only committed and the loop between windows change it.
	cache *contactCache
}

// windowOptions are the settings of Config a window reads.
type windowOptions struct {
	topics          Topics
	exclusionTag    string
	maxContactBytes int
	naive           bool // Config.NaiveEvaluation
	commitInterval  time.Duration
	backfillChunk   int
	decode          events.Options
	logger          *slog.Logger
}

// storeReader is what a window reads of the store: contacts, by key and dense id, and
// scans of a partition's contacts and timers. Writes go to a batch (window.flush).
type storeReader interface {
	Contact(p int32, key string, c *state.Contact) error
	ContactKeyByDense(p int32, dense uint32) (string, error)
	ScanContactEncodings(p int32, prefix, after string, fn func(key, val []byte) (bool, error)) error
	ContactEncodings(p int32, keys []string, fn func(key string, val []byte) (bool, error)) error
	ScanTimers(p int32, after, until time.Time, fn func(due time.Time, key string) bool) error
}

// recordSink takes the records a window produces (transitions, dead letters,
// changelog records): the group session's transaction, or a test's list. promise is
// called once the record is produced or has failed.
type recordSink interface {
	Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error))
}

// newWindowDeps returns the dependencies of the next window of the loop.
func (p *Processor) newWindowDeps() windowDeps {
	return windowDeps{
		rules:      p.rules,
		parts:      p.parts,
		store:      p.cfg.Store,
		timers:     &p.timers,
		sink:       p.sess,
		clock:      p.cfg.Now,
		m:          p.m,
		opts:       windowOptionsOf(&p.cfg),
		quarantine: p.quarantine,
		cand:       &p.cand,
		refWork:    &p.refWork,
		attrBuf:    &p.attrBuf,
		prepBuf:    &p.prepBuf,
		cache:      p.cache,
	}
}

func windowOptionsOf(cfg *Config) windowOptions {
	return windowOptions{
		topics:          cfg.Topics,
		exclusionTag:    cfg.ExclusionTag,
		maxContactBytes: cfg.MaxContactBytes,
		naive:           cfg.NaiveEvaluation,
		commitInterval:  cfg.CommitInterval,
		backfillChunk:   cfg.BackfillChunk,
		decode:          events.Options{MaxRecordBytes: cfg.MaxRecordBytes},
		logger:          cfg.Logger,
	}
}
