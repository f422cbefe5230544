package processor

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/internal/kafkatest"
	"github.com/segmentd/segmentd/state"
)

// harness runs one Processor against a broker with uniquely named topics, a
// test-controlled clock, and a read_committed consumer of its outputs.
type harness struct {
	t      testing.TB
	b      *kafkatest.Broker
	cfg    Config
	proc   *Processor
	prod   *kgo.Client
	cancel context.CancelFunc
	done   chan error

	clock struct {
		sync.Mutex
		now time.Time
	}
	out struct {
		sync.Mutex
		membership []outRecord
		dlq        []outRecord
	}
	consumer *kgo.Client
}

// outRecord is one record read from the membership or dead-letter topic.
type outRecord struct {
	Key     string
	Headers map[string]string
	Value   []byte
	T       transitionJSON // membership records only
}

type transitionJSON struct {
	Type           string          `json:"type"`
	ID             string          `json:"id"`
	Workspace      string          `json:"workspace"`
	SegmentID      string          `json:"segment_id"`
	SegmentVersion int64           `json:"segment_version"`
	CustomerID     int64           `json:"customer_id"`
	OccurredAt     string          `json:"occurred_at"`
	Reason         string          `json:"reason"`
	Cause          json.RawMessage `json:"cause"`
}

// short renders a transition compactly for exact comparisons:
// "+segment customer reason cause".
func (r outRecord) short() string {
	sign := "+"
	if r.T.Type == TypeRemoved {
		sign = "-"
	}
	return fmt.Sprintf("%s%s %d v%d %s %s", sign, r.T.SegmentID, r.T.CustomerID, r.T.SegmentVersion, r.T.Reason, r.T.Cause)
}

type harnessOpt func(*Config)

func newHarness(t testing.TB, b *kafkatest.Broker, opts ...harnessOpt) *harness {
	t.Helper()
	h := &harness{t: t, b: b, done: make(chan error, 1)}
	h.clock.now = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	store := emptyStore(t)
	suffix := strings.ReplaceAll(strings.ToLower(t.Name()), "/", "-")
	const partitions = 3
	topic := func(name string, n int) string { return b.Topic(t, name+"-"+suffix, n, nil) }
	compact := "compact"
	h.cfg = Config{
		Brokers: b.Addrs,
		Group:   kafkatest.UniqueName("g-" + suffix),
		Topics: Topics{
			Events:     []string{topic("events", partitions)},
			Segments:   b.Topic(t, "segments-"+suffix, 1, map[string]*string{"cleanup.policy": &compact}),
			Catalog:    b.Topic(t, "catalog-"+suffix, 1, map[string]*string{"cleanup.policy": &compact}),
			Membership: topic("membership", partitions),
			Changelog:  b.Topic(t, "changelog-"+suffix, partitions, map[string]*string{"cleanup.policy": &compact}),
			DLQ:        topic("dlq", partitions),
		},
		Partitions:     partitions,
		CommitInterval: 20 * time.Millisecond,
		Store:          store,
		Logger:         testLogger(t),
		Now:            h.now,
	}
	for _, o := range opts {
		o(&h.cfg)
	}
	var err error
	h.prod, err = kgo.NewClient(kgo.SeedBrokers(b.Addrs...), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.prod.Close)
	h.start()
	h.consume()
	return h
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("SEGMENTD_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

func (h *harness) now() time.Time {
	h.clock.Lock()
	defer h.clock.Unlock()
	return h.clock.now
}

// advance moves the test clock forward.
func (h *harness) advance(d time.Duration) {
	h.clock.Lock()
	h.clock.now = h.clock.now.Add(d)
	h.clock.Unlock()
}

func (h *harness) start() {
	proc, err := New(h.cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	h.proc = proc
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- proc.Run(ctx) }()
	h.t.Cleanup(h.stop)
	deadline := time.Now().Add(30 * time.Second)
	for !proc.Ready() || len(*proc.owned.Load()) < int(h.cfg.Partitions) {
		if time.Now().After(deadline) {
			h.t.Fatal("processor not ready after 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("processor stopped with error: %v", err)
		}
	case <-time.After(30 * time.Second):
		h.t.Error("processor did not stop within 30s")
	}
	h.cancel = nil
}

func (h *harness) consume() {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(h.b.Addrs...),
		kgo.ConsumeTopics(h.cfg.Topics.Membership, h.cfg.Topics.DLQ),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(50*time.Millisecond),
	)
	if err != nil {
		h.t.Fatal(err)
	}
	h.consumer = cl
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	h.t.Cleanup(func() { cancel(); <-stopped; cl.Close() })
	go func() {
		defer close(stopped)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			fs.EachRecord(func(r *kgo.Record) {
				o := outRecord{Key: string(r.Key), Value: r.Value, Headers: map[string]string{}}
				for _, hd := range r.Headers {
					o.Headers[hd.Key] = string(hd.Value)
				}
				h.out.Lock()
				if r.Topic == h.cfg.Topics.Membership {
					if err := json.Unmarshal(r.Value, &o.T); err != nil {
						h.t.Errorf("membership record is not JSON: %s", r.Value)
					}
					h.out.membership = append(h.out.membership, o)
				} else {
					h.out.dlq = append(h.out.dlq, o)
				}
				h.out.Unlock()
			})
		}
	}()
}

// produce sends one record to the (first) events topic and waits for the ack.
func (h *harness) produce(key string, value []byte, headers ...string) {
	h.t.Helper()
	r := &kgo.Record{Topic: h.cfg.Topics.Events[0], Key: []byte(key), Value: value}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: headers[i], Value: []byte(headers[i+1])})
	}
	if err := h.prod.ProduceSync(context.Background(), r).FirstErr(); err != nil {
		h.t.Fatal(err)
	}
}

// envelope produces a Form B event.
func (h *harness) envelope(key, topic, shop, id string, payload string) {
	h.t.Helper()
	v := fmt.Sprintf(`{"topic":%q,"shop":%q,"id":%q,"payload":%s}`, topic, shop, id, payload)
	if id == "" {
		v = fmt.Sprintf(`{"topic":%q,"shop":%q,"payload":%s}`, topic, shop, payload)
	}
	h.produce(key, []byte(v))
}

// webhook produces a Form A event.
func (h *harness) webhook(key, topic, shop, webhookID, body string) {
	h.t.Helper()
	hs := []string{"X-Shopify-Topic", topic, "X-Shopify-Shop-Domain", shop}
	if webhookID != "" {
		hs = append(hs, "X-Shopify-Webhook-Id", webhookID)
	}
	h.produce(key, []byte(body), hs...)
}

func (h *harness) putSegment(ws, id, def string) {
	h.t.Helper()
	var value []byte
	if def != "" {
		value = []byte(def)
	}
	r := &kgo.Record{Topic: h.cfg.Topics.Segments, Key: []byte(ws + "/" + id), Value: value}
	if err := h.prod.ProduceSync(context.Background(), r).FirstErr(); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) putCatalog(ws, product, value string) {
	h.t.Helper()
	r := &kgo.Record{Topic: h.cfg.Topics.Catalog, Key: []byte(ws + "/product/" + product)}
	if value != "" {
		r.Value = []byte(value)
	}
	if err := h.prod.ProduceSync(context.Background(), r).FirstErr(); err != nil {
		h.t.Fatal(err)
	}
}

// waitTransitions waits until n more membership records than `from` arrived and
// returns them (sorted for determinism when several arrive in one window).
func (h *harness) waitTransitions(from, n int) []outRecord {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		h.out.Lock()
		got := len(h.out.membership)
		if got >= from+n {
			recs := append([]outRecord(nil), h.out.membership[from:]...)
			h.out.Unlock()
			return recs
		}
		h.out.Unlock()
		if time.Now().After(deadline) {
			h.out.Lock()
			all := append([]outRecord(nil), h.out.membership[from:]...)
			h.out.Unlock()
			h.t.Fatalf("waited 20s for %d transitions, got %d: %v", n, got-from, shorts(all))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// expect asserts that exactly the transitions want (in short form, any order) follow
// the first `from` ones, and that nothing more arrives shortly after. It returns the
// new total.
func (h *harness) expect(from int, want ...string) int {
	h.t.Helper()
	got := h.waitTransitions(from, len(want))
	time.Sleep(150 * time.Millisecond) // let any extra output show up
	h.out.Lock()
	got = append([]outRecord(nil), h.out.membership[from:]...)
	h.out.Unlock()
	gs := shorts(got)
	ws := append([]string(nil), want...)
	sort.Strings(gs)
	sort.Strings(ws)
	if strings.Join(gs, "\n") != strings.Join(ws, "\n") {
		h.t.Fatalf("transitions after #%d:\n got: %s\nwant: %s", from, strings.Join(gs, "\n      "), strings.Join(ws, "\n      "))
	}
	return from + len(want)
}

func shorts(rs []outRecord) []string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = r.short()
	}
	return s
}

// waitDLQ waits for n dead letters after from.
func (h *harness) waitDLQ(from, n int) []outRecord {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		h.out.Lock()
		got := len(h.out.dlq)
		if got >= from+n {
			recs := append([]outRecord(nil), h.out.dlq[from:]...)
			h.out.Unlock()
			return recs
		}
		h.out.Unlock()
		if time.Now().After(deadline) {
			h.t.Fatalf("waited 20s for %d dead letters, got %d", n, got-from)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// emptyStore opens a new in-memory store, closed when the test ends.
func emptyStore(t testing.TB) *state.Store {
	t.Helper()
	store, err := state.Open(t.TempDir(), state.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

// restartOnEmptyStore stops the processor and starts it again on an empty store, as a
// process whose disk was lost: everything must come back from the changelog.
func (h *harness) restartOnEmptyStore() {
	h.t.Helper()
	h.stop()
	h.cfg.Store = emptyStore(h.t)
	h.start()
}

// restartMidway waits until at least first of the total membership records expected
// after index k are out, fails the test if all of them already are (the restart would
// prove nothing), and then restarts the processor on an empty store.
func (h *harness) restartMidway(k, first, total int) {
	h.t.Helper()
	h.waitTransitions(k, first)
	h.out.Lock()
	got := len(h.out.membership) - k
	h.out.Unlock()
	if got >= total {
		h.t.Fatalf("the sequence was over (%d of %d transitions) before the restart", got, total)
	}
	h.restartOnEmptyStore()
}
