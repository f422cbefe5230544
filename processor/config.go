package processor

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/state"
)

// Topics names the topics of SPEC §3. The zero value means the defaults.
type Topics struct {
	Events     []string // default ["segmentd.events"]
	Segments   string   // default "segmentd.segments"
	Catalog    string   // default "segmentd.catalog"
	Membership string   // default "segmentd.membership"
	Changelog  string   // default "segmentd.changelog"
	DLQ        string   // default "segmentd.dlq"
}

func (t *Topics) ensureDefaults() {
	if len(t.Events) == 0 {
		t.Events = []string{"segmentd.events"}
	}
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&t.Segments, "segmentd.segments")
	def(&t.Catalog, "segmentd.catalog")
	def(&t.Membership, "segmentd.membership")
	def(&t.Changelog, "segmentd.changelog")
	def(&t.DLQ, "segmentd.dlq")
}

// Config configures a Processor. The zero value of every field means its default.
type Config struct {
	// Brokers are the Kafka seed brokers. Required.
	Brokers []string
	// KafkaOptions are extra client options (TLS, SASL, client id, logging), applied
	// to every client the processor creates.
	KafkaOptions []kgo.Opt
	// Group is the consumer group. Default "segmentd".
	Group string
	// TransactionalID identifies this process's producer; it must be unique per
	// process of the group and stable across its restarts. Default: Group + "-" +
	// InstanceID, or Group + "-" + a random suffix when InstanceID is empty.
	TransactionalID string
	// InstanceID is the static group instance id (optional).
	InstanceID string
	// Topics names the topics.
	Topics Topics
	// Partitions and ReplicationFactor for topics created at start. Defaults 6 and 1.
	// The changelog always gets the partition count of the first events topic.
	Partitions        int32
	ReplicationFactor int16
	// CommitInterval is the length of a commit window: the longest a processed event
	// waits before its transaction commits. Default 100ms.
	CommitInterval time.Duration
	// TransactionTimeout is the Kafka transaction timeout: how long the broker lets
	// the transaction of a crashed process stay open (read_committed consumers wait
	// that long behind it), and the bound on a window's produce and commit (half of
	// it). Default 10s, as Kafka Streams' exactly-once.
	TransactionTimeout time.Duration
	// MaxWindowRecords caps the input records of one window. After a window runs out
	// of time (half the TransactionTimeout) the next ones take half as many records,
	// doubling back after each commit. Default 10000.
	MaxWindowRecords int
	// BackfillChunk caps the contacts backfills and catalog scans evaluate per
	// window. Within it they run for what is left of the window's CommitInterval (at
	// least a quarter of it). Default 100000.
	BackfillChunk int
	// StaleDataGrace is how long the local data of a partition that moved to another
	// process is kept, in case it comes back (then only the changelog tail is
	// restored). Default 10m.
	StaleDataGrace time.Duration
	// ExclusionTag is the tag that excludes a contact from all segments. Default
	// "exclude_from_galantis".
	ExclusionTag string
	// MaxRecordBytes is the largest input value accepted. Default 1 MiB.
	MaxRecordBytes int
	// MaxContactBytes bounds a contact's encoded record (SPEC §4.4): older detail is
	// folded into aggregates past it (see state.Contact, "Bounded size"). At least
	// state.MinMaxContactBytes, at most 900 KiB (a changelog record must stay under
	// the brokers' default 1 MB). Default state.DefaultMaxContactBytes (256 KiB).
	MaxContactBytes int
	// ContactCache is how many decoded contacts the processor keeps across windows
	// (over all its partitions), so that the input of a contact written a moment
	// ago skips the store read and the decode; 0 or negative: none (the default:
	// end to end it cost more CPU in garbage collection than it saved, bench/RESULTS.md).
	ContactCache int
	// SegmentMemberMetrics exports segmentd_segment_members{workspace,segment}, the
	// members of each segment in the owned partitions. Off by default: one series per
	// segment can be many. Default false.
	SegmentMemberMetrics bool
	// NaiveEvaluation re-evaluates every segment of the workspace on every event
	// instead of only those an event can change. For benchmarks (the baseline of
	// incremental evaluation); outputs are the same. Default false.
	NaiveEvaluation bool
	// Store is the opened local state store. Required.
	Store *state.Store
	// Logger. Default slog.Default().
	Logger *slog.Logger
	// Registerer receives the processor's metrics. Default: a private registry.
	Registerer prometheus.Registerer
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// maxContactBytesLimit is the largest Config.MaxContactBytes: a changelog record
// (the contact's key and record) must fit what the producer and brokers accept.
const maxContactBytesLimit = 900 << 10

// Validate reports the first invalid setting.
func (c *Config) Validate() error {
	if len(c.Brokers) == 0 {
		return errors.New("no brokers configured")
	}
	if c.Store == nil {
		return errors.New("no state store configured")
	}
	if c.TransactionTimeout < 0 || (c.TransactionTimeout > 0 && c.TransactionTimeout < 2*max(c.CommitInterval, 100*time.Millisecond)) {
		return fmt.Errorf("transaction timeout %s is too short for commit interval %s", c.TransactionTimeout, c.CommitInterval)
	}
	if c.CommitInterval < 0 || c.MaxWindowRecords < 0 || c.BackfillChunk < 0 || c.MaxRecordBytes < 0 {
		return errors.New("negative limits are not allowed")
	}
	if c.MaxContactBytes != 0 && (c.MaxContactBytes < state.MinMaxContactBytes || c.MaxContactBytes > maxContactBytesLimit) {
		return fmt.Errorf("max contact bytes %d out of range [%d, %d]", c.MaxContactBytes, state.MinMaxContactBytes, maxContactBytesLimit)
	}
	if c.Partitions < 0 || c.ReplicationFactor < 0 {
		return fmt.Errorf("invalid topic settings: partitions %d, replication %d", c.Partitions, c.ReplicationFactor)
	}
	return nil
}

// Defaults returns the Config whose every setting is its default; Brokers, Store and
// the other required or injected fields (KafkaOptions, Logger, Registerer, Now) are
// left unset. The flags of `segmentd run` take their defaults from it, so that each
// default is written once, here.
func Defaults() Config {
	var c Config
	c.ensureSettingDefaults()
	return c
}

func (c *Config) ensureDefaults() {
	c.ensureSettingDefaults()
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Registerer == nil {
		c.Registerer = prometheus.NewRegistry()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// ensureSettingDefaults sets every unset setting to its default.
func (c *Config) ensureSettingDefaults() {
	if c.Group == "" {
		c.Group = "segmentd"
	}
	c.Topics.ensureDefaults()
	if c.Partitions == 0 {
		c.Partitions = 6
	}
	if c.ReplicationFactor == 0 {
		c.ReplicationFactor = 1
	}
	if c.CommitInterval == 0 {
		c.CommitInterval = 100 * time.Millisecond
	}
	if c.TransactionTimeout == 0 {
		c.TransactionTimeout = 10 * time.Second
	}
	if c.MaxWindowRecords == 0 {
		c.MaxWindowRecords = 10000
	}
	if c.BackfillChunk == 0 {
		c.BackfillChunk = 100000
	}
	if c.StaleDataGrace == 0 {
		c.StaleDataGrace = 10 * time.Minute
	}
	if c.ExclusionTag == "" {
		c.ExclusionTag = "exclude_from_galantis"
	}
	if c.MaxRecordBytes == 0 {
		c.MaxRecordBytes = 1 << 20
	}
	if c.MaxContactBytes == 0 {
		c.MaxContactBytes = state.DefaultMaxContactBytes
	}
}
