package processor

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/internal/kafkatest"
	"github.com/segmentd/segmentd/state"
)

// The metamorphic suite (after Pebble's metamorphic package): one generated input
// stream (metamorphic_gen_test.go) runs through the processor under many
// configurations — commit windows of 1, 7 and unlimited records, naive and
// incremental evaluation, backfill chunks of 1 and unlimited, 1, 3 and 6 partitions,
// kills before a commit or between a commit and its store batch, with the local
// state kept or lost, two processes sharing the group, definitions read one at a
// time or all at once — and every configuration must produce the same membership and
// dead-letter records, byte for byte, for every contact key, in the same order.
//
// The stream is phased so that its output is a function of the input alone: events
// and definitions travel on different topics, whose relative order Kafka does not
// define. Each phase moves the test clock (fixed within the phase) and waits until
// every due timer fired, produces the phase's definitions and catalog records and
// waits until every partition applied them (backfills and scans done), then produces
// the phase's events and waits until they are consumed and committed. The catalog
// records of a phase are applied before its definitions, for the same reason.
//
// Transition ids hash the contact's dense id, which is assigned per partition in the
// order contacts first appear there, so they differ between partition counts. The
// dense id cannot be dropped from the hash: it is what tells the lives of a contact
// apart (a deleted contact re-created later starts its membership counters afresh,
// with a new dense id), and nothing else in the record tells the lives apart for
// good (the deletion fence is forgotten after TombstoneTTL). So ids
// are compared between configurations with the same partition count, and masked
// across partition counts.
//
// Seeds are random per run and printed; SEGMENTD_METAMORPHIC_SEED=<seed> reruns one,
// SEGMENTD_METAMORPHIC_DURATION=30m loops over fresh seeds until the time is up (make
// metamorphic).

const (
	envMetamorphicSeed     = "SEGMENTD_METAMORPHIC_SEED"
	envMetamorphicDuration = "SEGMENTD_METAMORPHIC_DURATION"
	envMetamorphicConfigs  = "SEGMENTD_METAMORPHIC_CONFIGS" // names of the configurations to compare with the reference
	envMetamorphicGen      = "SEGMENTD_METAMORPHIC_GEN"     // generator options to turn on (mmGenFlags)
)

// mmConfig is one way of running a program.
type mmConfig struct {
	Name          string
	Partitions    int32
	WindowRecords int  // Config.MaxWindowRecords; 0 = unlimited
	BackfillChunk int  // Config.BackfillChunk; 0 = unlimited
	Naive         bool // Config.NaiveEvaluation
	ContactCache  int  // Config.ContactCache; 0 = the default (on), -1 = off
	Kills         bool // kill the processor at random points and restart it
	Procs         int  // processes sharing the group (default 1)
	// PaceGlobals produces a phase's definitions and catalog records one at a
	// time, each applied everywhere before the next, instead of all at once (then
	// read in one poll): SPEC §6 "Order of definitions" makes every version take
	// effect in topic order whatever the batching.
	PaceGlobals bool
}

func (c mmConfig) String() string { return c.Name }

// mmConfigs are the configurations of one seed; the first is the reference the
// others are compared with. long adds combinations.
func mmConfigs(long bool) []mmConfig {
	cs := []mmConfig{
		{Name: "p3-unlimited", Partitions: 3},
		{Name: "p3-window1", Partitions: 3, WindowRecords: 1, PaceGlobals: true},
		{Name: "p3-window7", Partitions: 3, WindowRecords: 7},
		{Name: "p3-naive", Partitions: 3, Naive: true},
		{Name: "p3-chunk1", Partitions: 3, BackfillChunk: 1},
		{Name: "p3-kills", Partitions: 3, WindowRecords: 7, Kills: true},
		{Name: "p3-two-procs", Partitions: 3, Procs: 2},
		{Name: "p1", Partitions: 1, PaceGlobals: true},
		// The contact cache off, and of one contact (evicted by every other one).
		{Name: "p3-cache", Partitions: 3, ContactCache: 20000},
		{Name: "p3-window7-kills-cache1", Partitions: 3, WindowRecords: 7, Kills: true, ContactCache: 1},
		{Name: "p6-two-procs-kills", Partitions: 6, WindowRecords: 7, Procs: 2, Kills: true},
	}
	if long {
		cs = append(cs,
			mmConfig{Name: "p6", Partitions: 6},
			mmConfig{Name: "p3-window1-naive-chunk1", Partitions: 3, WindowRecords: 1, BackfillChunk: 1, Naive: true},
			mmConfig{Name: "p1-window7-chunk1-kills", Partitions: 1, WindowRecords: 7, BackfillChunk: 1, Kills: true},
		)
	}
	return cs
}

// mmRealConfigs run on the real broker (slower: group joins take seconds).
func mmRealConfigs() []mmConfig {
	return []mmConfig{
		{Name: "p3-unlimited", Partitions: 3},
		{Name: "p3-window7-two-procs-kills", Partitions: 3, WindowRecords: 7, Procs: 2, Kills: true},
		{Name: "p6-chunk1-paced", Partitions: 6, BackfillChunk: 1, PaceGlobals: true},
	}
}

func mmGenFor(long bool) mmGenOptions {
	if long {
		return mmGenOptions{Phases: 10, EventsPerPhase: 150, Contacts: 10, SameSegmentTwice: true, BatchCatalog: true, long: true}
	}
	return mmGenOptions{Phases: 6, EventsPerPhase: 80, Contacts: 6, SameSegmentTwice: true, BatchCatalog: true}
}

// TestMetamorphic runs a random seed (or SEGMENTD_METAMORPHIC_SEED) through every
// configuration, on kfake and on the real broker; with SEGMENTD_METAMORPHIC_DURATION
// it loops over fresh seeds until that time is up.
func TestMetamorphic(t *testing.T) {
	var seeds []uint64
	if s := os.Getenv(envMetamorphicSeed); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", envMetamorphicSeed, s, err)
		}
		seeds = []uint64{seed}
	}
	var duration time.Duration
	if s := os.Getenv(envMetamorphicDuration); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("%s=%q: %v", envMetamorphicDuration, s, err)
		}
		duration = d
	}
	long := duration > 0
	if len(seeds) == 0 && !long {
		// One seed for both brokers, whose reference outputs are compared too.
		seeds = []uint64{rand.Uint64() >> 1} // printable as a positive int64 too
	}
	refs := map[uint64]*mmOutput{}
	only := map[string]bool{}
	if s := os.Getenv(envMetamorphicConfigs); s != "" {
		for _, name := range strings.Split(s, ",") {
			only[strings.TrimSpace(name)] = true
		}
	}
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		configs := mmConfigs(long)
		if b.IsReal() {
			configs = mmRealConfigs()
		} else if testing.Short() && !long {
			configs = slices.DeleteFunc(configs, func(c mmConfig) bool {
				return c.Name != "p3-unlimited" && c.Name != "p3-window1" && c.Name != "p3-kills" && c.Name != "p1"
			})
		}
		if len(only) > 0 {
			// The reference first, then the named ones.
			configs = slices.DeleteFunc(configs[1:], func(c mmConfig) bool { return !only[c.Name] })
			configs = append([]mmConfig{mmConfigs(long)[0]}, configs...)
		}
		gen := mmGenFor(long)
		if err := gen.setFlags(os.Getenv(envMetamorphicGen)); err != nil {
			t.Fatalf("%s: %v", envMetamorphicGen, err)
		}
		if !long {
			runMetamorphicSeed(t, b, seeds[0], gen, configs, refs)
			return
		}
		deadline := time.Now().Add(duration)
		for i := 0; ; i++ {
			seed := rand.Uint64() >> 1 // printable as a positive int64 too
			if i == 0 && len(seeds) > 0 {
				seed = seeds[0]
			}
			if !runMetamorphicSeed(t, b, seed, gen, configs, refs) {
				return
			}
			if time.Now().After(deadline) {
				t.Logf("%d seeds passed", i+1)
				return
			}
		}
	})
}

// runMetamorphicSeed runs the program of seed under every configuration and
// compares their outputs. It reports whether they all agreed.
//
// refs holds the reference output of each seed already run on another broker: the
// reference configuration (the same on both) must give the same output on each.
func runMetamorphicSeed(t *testing.T, b *kafkatest.Broker, seed uint64, gen mmGenOptions, configs []mmConfig, refs map[uint64]*mmOutput) bool {
	ok := t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
		t.Logf("metamorphic seed %d", seed)
		var current mmConfig
		t.Cleanup(func() {
			if !t.Failed() {
				return
			}
			only := ""
			if current.Name != configs[0].Name {
				only = fmt.Sprintf("%s=%s ", envMetamorphicConfigs, current.Name)
			}
			if gen.long {
				// The long generator and configurations, for this seed only.
				only += envMetamorphicDuration + "=1s "
			}
			t.Logf("reproduce with: %s=%d %s%sSEGMENTD_TEST_BROKERS=%s go test ./processor -run 'TestMetamorphic$' -count=1 -v",
				envMetamorphicSeed, seed, only, gen.envString(), b.Name)
		})
		prog := generate(seed, gen)
		var ref *mmOutput
		var refCfg mmConfig
		for i, cfg := range configs {
			current = cfg
			out := runProgram(t, b, prog, cfg, seed+uint64(i))
			if t.Failed() {
				return
			}
			if ref == nil {
				ref, refCfg = out, cfg
				t.Logf("%s (the reference): %s", cfg, out.summary())
				if other := refs[seed]; other != nil {
					compareOutputs(t, mmConfig{Name: cfg.Name + "-other-broker", Partitions: cfg.Partitions}, other, cfg, out)
					t.Logf("%s: compared with the same configuration on the other broker", cfg)
				}
				refs[seed] = out
				continue
			}
			compareOutputs(t, refCfg, ref, cfg, out)
			if t.Failed() {
				return
			}
		}
	})
	return ok
}

// mmOutput is what a run produced: per contact key (or other input key), its
// membership records (value) and apart its dead letters (value and headers), in topic
// order.
type mmOutput struct {
	byKey       map[string][]string
	memberships int
	deadLetters int
}

// summary counts the records by reason and dead-letter reason.
func (o *mmOutput) summary() string {
	counts := map[string]int{}
	for k, vs := range o.byKey {
		for _, v := range vs {
			if strings.HasPrefix(k, "membership ") {
				if m := transitionReason.FindStringSubmatch(v); m != nil {
					counts["reason "+m[1]]++
				}
			} else if m := deadLetterReason.FindStringSubmatch(v); m != nil {
				counts["dead letter "+m[1]]++
			}
		}
	}
	names := make([]string, 0, len(counts))
	for n := range counts {
		names = append(names, n)
	}
	sort.Strings(names)
	var sb strings.Builder
	fmt.Fprintf(&sb, "%d membership records, %d dead letters over %d keys:", o.memberships, o.deadLetters, len(o.byKey))
	for _, n := range names {
		fmt.Fprintf(&sb, " %s=%d", n, counts[n])
	}
	return sb.String()
}

var (
	transitionReason = regexp.MustCompile(`"reason":"([a-z]+)"`)
	deadLetterReason = regexp.MustCompile(`segmentd-error="([a-z0-9_]+)"`)
)

var transitionIDField = regexp.MustCompile(`"id":"[0-9a-f-]{36}"`)

func compareOutputs(t *testing.T, refCfg mmConfig, ref *mmOutput, cfg mmConfig, out *mmOutput) {
	t.Helper()
	mask := refCfg.Partitions != cfg.Partitions
	norm := func(s string) string {
		if mask {
			return transitionIDField.ReplaceAllString(s, `"id":"*"`)
		}
		return s
	}
	keys := map[string]bool{}
	for k := range ref.byKey {
		keys[k] = true
	}
	for k := range out.byKey {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	bad := 0
	for _, k := range sorted {
		a, b := ref.byKey[k], out.byKey[k]
		na, nb := make([]string, len(a)), make([]string, len(b))
		for i := range a {
			na[i] = norm(a[i])
		}
		for i := range b {
			nb[i] = norm(b[i])
		}
		if slices.Equal(na, nb) {
			continue
		}
		bad++
		if bad > 3 {
			continue
		}
		t.Errorf("%s: %s and %s differ (ids masked: %v)\n%s", k, refCfg, cfg, mask, lineDiff(refCfg.Name, na, cfg.Name, nb))
	}
	if bad > 0 {
		t.Errorf("%s vs %s: %d of %d keys differ", refCfg, cfg, bad, len(sorted))
	}
}

// lineDiff shows two sequences from their first difference.
func lineDiff(an string, a []string, bn string, b []string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "  first %d records equal\n", i)
	for j := i; j < len(a) && j < i+6; j++ {
		fmt.Fprintf(&sb, "  %s[%d]: %s\n", an, j, a[j])
	}
	if len(a) > i+6 {
		fmt.Fprintf(&sb, "  %s: ... %d more\n", an, len(a)-i-6)
	}
	for j := i; j < len(b) && j < i+6; j++ {
		fmt.Fprintf(&sb, "  %s[%d]: %s\n", bn, j, b[j])
	}
	if len(b) > i+6 {
		fmt.Fprintf(&sb, "  %s: ... %d more\n", bn, len(b)-i-6)
	}
	return sb.String()
}

// mmRun is one run of a program under one configuration.
type mmRun struct {
	t      *testing.T
	b      *kafkatest.Broker
	cfg    mmConfig
	rng    *rand.Rand
	topics Topics
	group  string
	prod   *kgo.Client
	adm    *kadm.Client

	clock struct {
		sync.Mutex
		now time.Time
	}
	procs []*mmProc
	nSeg  int // records produced to the segments topic
	nCat  int
	kills map[string]int // by crash point and whether the store was kept

	out struct {
		sync.Mutex
		byKey       map[string][]string
		sentinels   map[string]bool // "topic/partition" whose sentinel arrived
		memberships int
		deadLetters int
	}
}

// mmProc is one process of the group, restarted after each simulated kill.
type mmProc struct {
	i      int
	txnID  string
	store  *state.Store
	proc   *Processor
	cancel context.CancelFunc
	done   chan error
	crash  *mmCrasher
}

// mmCrasher makes a processor crash at the at-th window that reaches its commit,
// before or after the commit.
type mmCrasher struct {
	mu      sync.Mutex
	windows int
	at      int
	point   string
	fired   string // the point of the last crash
}

func (c *mmCrasher) arm(at int, point string) {
	c.mu.Lock()
	c.windows, c.at, c.point = 0, at, point
	c.mu.Unlock()
}

func (c *mmCrasher) hook(point string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if point == "before-commit" {
		c.windows++
	}
	if c.at > 0 && c.windows == c.at && point == c.point {
		c.at, c.fired = 0, point
		return true
	}
	return false
}

func (c *mmCrasher) lastFired() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fired
}

func (r *mmRun) now() time.Time {
	r.clock.Lock()
	defer r.clock.Unlock()
	return r.clock.now
}

func runProgram(t *testing.T, b *kafkatest.Broker, prog *mmProgram, cfg mmConfig, rngSeed uint64) *mmOutput {
	t.Helper()
	start := time.Now()
	if cfg.Procs == 0 {
		cfg.Procs = 1
	}
	r := &mmRun{t: t, b: b, cfg: cfg, rng: rand.New(rand.NewPCG(rngSeed, 17)), kills: map[string]int{}}
	r.clock.now = prog.Start
	r.out.byKey = map[string][]string{}
	r.out.sentinels = map[string]bool{}
	name := "mm-" + cfg.Name
	compact := "compact"
	n := int(cfg.Partitions)
	r.topics = Topics{
		Events:     []string{b.Topic(t, name+"-events", n, nil)},
		Segments:   b.Topic(t, name+"-segments", 1, map[string]*string{"cleanup.policy": &compact}),
		Catalog:    b.Topic(t, name+"-catalog", 1, map[string]*string{"cleanup.policy": &compact}),
		Membership: b.Topic(t, name+"-membership", n, nil),
		Changelog:  b.Topic(t, name+"-changelog", n, map[string]*string{"cleanup.policy": &compact}),
		DLQ:        b.Topic(t, name+"-dlq", n, nil),
	}
	r.group = kafkatest.UniqueName("g-" + name)
	var err error
	// A linger makes the records of one produce call to one partition a single
	// record batch, which the processor's readers then fetch in one piece: the
	// definitions or catalog records of a phase are read together in every run.
	r.prod, err = kgo.NewClient(kgo.SeedBrokers(b.Addrs...), kgo.ProducerLinger(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer r.prod.Close()
	r.adm = kadm.NewClient(r.prod)
	stopConsumer := r.consume()
	defer stopConsumer()

	for i := 0; i < cfg.Procs; i++ {
		p := &mmProc{i: i, txnID: r.group + "-" + strconv.Itoa(i), store: r.newStore(), crash: &mmCrasher{}}
		r.procs = append(r.procs, p)
		r.start(p)
	}
	defer r.stopAll()
	r.waitIdle("start")

	for i, ph := range prog.Phases {
		if t.Failed() {
			return nil
		}
		r.clock.Lock()
		r.clock.now = r.clock.now.Add(ph.Advance)
		r.clock.Unlock()
		r.maybeArmKill()
		r.waitIdle(fmt.Sprintf("phase %d: timers", i))
		// The catalog first, then the definitions: the two topics have no
		// relative order of their own.
		for _, topic := range []mmTopic{mmCatalog, mmSegments} {
			var recs []mmRecord
			for _, rec := range ph.Globals {
				if rec.Topic == topic {
					recs = append(recs, rec)
				}
			}
			if cfg.PaceGlobals || (topic == mmCatalog && !prog.Options.BatchCatalog) {
				for j := range recs {
					r.produce(recs[j : j+1])
					r.waitIdle(fmt.Sprintf("phase %d: global record %d", i, j))
				}
				continue
			}
			r.produce(recs)
			if topic == mmCatalog {
				r.waitIdle(fmt.Sprintf("phase %d: catalog", i))
			}
		}
		r.maybeArmKill()
		r.waitIdle(fmt.Sprintf("phase %d: definitions and catalog", i))
		r.produce(ph.Events)
		r.maybeArmKill()
		r.waitIdle(fmt.Sprintf("phase %d: events", i))
	}
	if t.Failed() {
		return nil
	}
	r.waitSentinels()
	r.stopAll()
	r.out.Lock()
	defer r.out.Unlock()
	kills := ""
	if cfg.Kills {
		kills = fmt.Sprintf(", kills %v", r.kills)
	}
	t.Logf("%s: %d membership records, %d dead letters%s, %s", cfg, r.out.memberships, r.out.deadLetters, kills, time.Since(start).Round(time.Millisecond))
	if cfg.Kills && len(r.kills) == 0 {
		t.Errorf("%s: no kill happened", cfg)
	}
	return &mmOutput{byKey: r.out.byKey, memberships: r.out.memberships, deadLetters: r.out.deadLetters}
}

func (r *mmRun) newStore() *state.Store {
	store, err := state.Open(r.t.TempDir(), state.Options{InMemory: true})
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { store.Close() })
	return store
}

func (r *mmRun) start(p *mmProc) {
	orUnlimited := func(n int) int {
		if n == 0 {
			return 1 << 30
		}
		return n
	}
	proc, err := New(Config{
		Brokers:          r.b.Addrs,
		Group:            r.group,
		TransactionalID:  p.txnID,
		Topics:           r.topics,
		Partitions:       r.cfg.Partitions,
		CommitInterval:   20 * time.Millisecond,
		MaxWindowRecords: orUnlimited(r.cfg.WindowRecords),
		BackfillChunk:    orUnlimited(r.cfg.BackfillChunk),
		NaiveEvaluation:  r.cfg.Naive,
		ContactCache:     r.cfg.ContactCache,
		Store:            p.store,
		Logger:           testLogger(r.t),
		Now:              r.now,
	})
	if err != nil {
		r.t.Fatal(err)
	}
	proc.crashAt = p.crash.hook
	ctx, cancel := context.WithCancel(context.Background())
	p.proc, p.cancel, p.done = proc, cancel, make(chan error, 1)
	go func() { p.done <- proc.Run(ctx) }()
}

func (r *mmRun) stopAll() {
	for _, p := range r.procs {
		if p.cancel == nil {
			continue
		}
		p.cancel()
		select {
		case err := <-p.done:
			if err != nil && !errors.Is(err, errCrashed) {
				r.t.Errorf("process %d stopped with error: %v", p.i, err)
			}
		case <-time.After(30 * time.Second):
			r.t.Errorf("process %d did not stop within 30s", p.i)
		}
		p.cancel = nil
	}
}

// maybeArmKill arms, in a configuration with kills, a crash of a random process at
// one of its next windows, before or after its commit.
func (r *mmRun) maybeArmKill() {
	if !r.cfg.Kills || r.rng.IntN(3) == 0 {
		return
	}
	p := r.procs[r.rng.IntN(len(r.procs))]
	p.crash.arm(1+r.rng.IntN(4), []string{"before-commit", "after-commit"}[r.rng.IntN(2)])
}

// restartCrashed restarts the processes that crashed: on their store, or (every
// other time at random) on an empty one, as a process whose disk was lost.
func (r *mmRun) restartCrashed() {
	for _, p := range r.procs {
		select {
		case err := <-p.done:
			if !errors.Is(err, errCrashed) {
				r.t.Fatalf("process %d stopped: %v", p.i, err)
			}
			p.cancel()
			kind := p.crash.lastFired() + "/store-kept"
			if r.rng.IntN(2) == 0 {
				p.store = r.newStore()
				kind = p.crash.lastFired() + "/store-lost"
			}
			r.kills[kind]++
			r.start(p)
		default:
		}
	}
}

// produce sends records to their topics, in order, and waits for the acks.
func (r *mmRun) produce(recs []mmRecord) {
	r.t.Helper()
	if len(recs) == 0 {
		return
	}
	krs := make([]*kgo.Record, len(recs))
	for i, rec := range recs {
		kr := &kgo.Record{Key: []byte(rec.Key), Value: rec.Value, Headers: rec.Headers}
		switch rec.Topic {
		case mmEvents:
			kr.Topic = r.topics.Events[0]
		case mmSegments:
			kr.Topic = r.topics.Segments
			r.nSeg++
		case mmCatalog:
			kr.Topic = r.topics.Catalog
			r.nCat++
		}
		krs[i] = kr
	}
	if err := r.prod.ProduceSync(context.Background(), krs...).FirstErr(); err != nil {
		r.t.Fatal(err)
	}
}

// waitIdle waits until the events topic is consumed and committed, and every
// process has read every global record, applied it to every partition it owns (no
// backfill or catalog scan left), fired every due timer, and the processes own every
// partition between them. Crashed processes are restarted meanwhile.
func (r *mmRun) waitIdle(what string) {
	r.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var why string
	for stable := 0; stable < 2; {
		if time.Now().After(deadline) {
			r.t.Fatalf("%s: %s not idle after 90s: %s", r.cfg, what, why)
		}
		r.restartCrashed()
		why = r.idle()
		if why == "" {
			stable++
		} else {
			stable = 0
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// idle returns why the run is not idle, or "".
func (r *mmRun) idle() string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	owned := map[int32]int{}
	for _, p := range r.procs {
		var why string
		var parts []int32
		err := p.proc.inLoop(ctx, func() {
			parts = p.proc.sortedPartitions()
			why = p.proc.idleWhy(r.nSeg, r.nCat)
		})
		if err != nil {
			return fmt.Sprintf("process %d: %v", p.i, err)
		}
		if why != "" {
			return fmt.Sprintf("process %d: %s", p.i, why)
		}
		for _, id := range parts {
			owned[id]++
		}
	}
	for id := int32(0); id < r.cfg.Partitions; id++ {
		if owned[id] != 1 {
			return fmt.Sprintf("partition %d owned by %d processes", id, owned[id])
		}
	}
	ends, err := r.adm.ListEndOffsets(ctx, r.topics.Events[0])
	if err != nil {
		return err.Error()
	}
	committed, err := r.adm.FetchOffsets(ctx, r.group)
	if err != nil {
		return err.Error()
	}
	var lag string
	ends.Each(func(o kadm.ListedOffset) {
		c, ok := committed.Lookup(o.Topic, o.Partition)
		at := int64(0)
		if ok {
			at = c.At
		}
		if at < o.Offset && lag == "" {
			lag = fmt.Sprintf("events partition %d committed at %d of %d", o.Partition, at, o.Offset)
		}
	})
	return lag
}

// idleWhy (on the loop) says what work the processor has left, or "".
func (p *Processor) idleWhy(nSeg, nCat int) string {
	seg, cat := p.logs.counts()
	switch {
	case !p.Ready():
		return "not ready"
	case seg < nSeg || cat < nCat:
		return fmt.Sprintf("read %d of %d definitions, %d of %d catalog records", seg, nSeg, cat, nCat)
	case p.segCursor < seg || p.catCursor < cat:
		return "global records not applied"
	case len(p.reconcile) > 0:
		return "partitions to reconcile"
	case p.backfillsPending() > 0:
		return fmt.Sprintf("%d backfills pending", p.backfillsPending())
	case p.timers.due(p.cfg.Now()):
		return "timers due"
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.mu.handoff) > 0 {
		return "assignment changes pending"
	}
	return ""
}

// consume reads the membership and dead-letter topics (read_committed) into
// r.out. It returns its stop function.
func (r *mmRun) consume() func() {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(r.b.Addrs...),
		kgo.ConsumeTopics(r.topics.Membership, r.topics.DLQ),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(50*time.Millisecond),
	)
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for ctx.Err() == nil {
			cl.PollFetches(ctx).EachRecord(func(rec *kgo.Record) {
				r.out.Lock()
				defer r.out.Unlock()
				if len(rec.Headers) == 1 && rec.Headers[0].Key == "mm-sentinel" {
					r.out.sentinels[rec.Topic+"/"+strconv.Itoa(int(rec.Partition))] = true
					return
				}
				// The two topics are compared apart: their relative order is not
				// defined.
				key := "membership " + string(rec.Key)
				var v strings.Builder
				v.Write(rec.Value)
				if rec.Topic == r.topics.DLQ {
					key = "dead letters " + string(rec.Key)
					r.out.deadLetters++
					for _, h := range rec.Headers {
						fmt.Fprintf(&v, " %s=%q", h.Key, h.Value)
					}
				} else {
					r.out.memberships++
				}
				r.out.byKey[key] = append(r.out.byKey[key], v.String())
			})
		}
	}()
	return func() { cancel(); <-stopped; cl.Close() }
}

// waitSentinels writes a sentinel record to every partition of the output topics
// and waits until the consumer read them all: read_committed, it then has every
// committed output before them.
func (r *mmRun) waitSentinels() {
	r.t.Helper()
	var recs []*kgo.Record
	for _, topic := range []string{r.topics.Membership, r.topics.DLQ} {
		for p := int32(0); p < r.cfg.Partitions; p++ {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: []byte("sentinel"),
				Headers: []kgo.RecordHeader{{Key: "mm-sentinel", Value: []byte("1")}}})
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.b.Addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		r.t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		r.t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		r.out.Lock()
		n := len(r.out.sentinels)
		r.out.Unlock()
		if n == len(recs) {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s: %d of %d output sentinels read after 30s", r.cfg, n, len(recs))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
