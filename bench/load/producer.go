package load

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Producer produces benchmark load. It owns one franz-go client: idempotent, acks=all,
// franz-go's default compression (snappy). Not safe for concurrent Preload/OpenLoop
// calls.
type Producer struct {
	cl *kgo.Client
}

// NewProducer returns a producer for brokers; opts are appended to its defaults.
func NewProducer(brokers []string, opts ...kgo.Opt) (*Producer, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ProducerBatchMaxBytes(1 << 20),
		kgo.MaxBufferedRecords(50_000),
		kgo.ProducerLinger(2 * time.Millisecond),
	}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("create producer: %w", err)
	}
	return &Producer{cl: cl}, nil
}

// Client returns the producer's client.
func (p *Producer) Client() *kgo.Client { return p.cl }

// Close flushes nothing and closes the client.
func (p *Producer) Close() { p.cl.Close() }

// PreloadStats describes a preload.
type PreloadStats struct {
	Records  int64
	Bytes    int64 // key and value bytes
	Duration time.Duration
}

// Rate returns records per second.
func (s PreloadStats) Rate() float64 {
	if s.Duration <= 0 {
		return 0
	}
	return float64(s.Records) / s.Duration.Seconds()
}

// Preload produces the records next returns, until it returns nil, as fast as the
// broker takes them, and waits until every one is acknowledged. It stops at the first
// produce error.
func (p *Producer) Preload(ctx context.Context, next func() *kgo.Record) (PreloadStats, error) {
	start := time.Now()
	var st PreloadStats
	var mu sync.Mutex
	var firstErr error
	var failed atomic.Bool
	promise := func(_ *kgo.Record, err error) {
		if err != nil && failed.CompareAndSwap(false, true) {
			mu.Lock()
			firstErr = err
			mu.Unlock()
		}
	}
	for ctx.Err() == nil && !failed.Load() {
		r := next()
		if r == nil {
			break
		}
		st.Records++
		st.Bytes += int64(len(r.Key) + len(r.Value))
		p.cl.Produce(ctx, r, promise)
	}
	if err := p.cl.Flush(ctx); err != nil {
		return st, fmt.Errorf("flush preload: %w", err)
	}
	st.Duration = time.Since(start)
	mu.Lock()
	defer mu.Unlock()
	if firstErr != nil {
		return st, fmt.Errorf("preload: %w", firstErr)
	}
	return st, ctx.Err()
}

// OpenLoopConfig configures an open-loop run.
type OpenLoopConfig struct {
	// Rate is the scheduled rate, records per second; Duration how long to produce.
	Rate     float64
	Duration time.Duration
	// Next returns the record scheduled at sched. OpenLoop sets its Timestamp to sched.
	Next func(sched time.Time) *kgo.Record
	// Sent, if not nil, is called with each record and its scheduled instant just
	// before it is produced.
	Sent func(sched time.Time, r *kgo.Record)
}

// OpenLoopStats describes an open-loop run. Lateness is how long after its scheduled
// instant a record was handed to the client: the producer falling behind shows here,
// never as a slower schedule.
type OpenLoopStats struct {
	Start     time.Time
	Rate      float64
	Scheduled int64
	Failed    int64
	LateP50   time.Duration
	LateP99   time.Duration
	LateMax   time.Duration
	Late10ms  int64 // records handed over more than 10 ms late
	AckP50    time.Duration
	AckP99    time.Duration // scheduled instant → broker acknowledgement
}

// OpenLoop produces cfg.Rate records per second for cfg.Duration on a fixed schedule:
// record i is due at start + i/Rate. It waits for the acknowledgements before
// returning.
func (p *Producer) OpenLoop(ctx context.Context, cfg OpenLoopConfig) (OpenLoopStats, error) {
	if cfg.Rate <= 0 || cfg.Duration <= 0 || cfg.Next == nil {
		return OpenLoopStats{}, errors.New("open loop: rate, duration and Next are required")
	}
	total := int64(cfg.Rate * cfg.Duration.Seconds())
	interval := float64(time.Second) / cfg.Rate
	st := OpenLoopStats{Start: time.Now().Add(20 * time.Millisecond), Rate: cfg.Rate}
	late := make([]time.Duration, 0, total)
	var ackMu sync.Mutex
	acks := make([]time.Duration, 0, total)
	var failed atomic.Int64
	promise := func(r *kgo.Record, err error) {
		if err != nil {
			failed.Add(1)
			return
		}
		d := time.Since(r.Timestamp)
		ackMu.Lock()
		acks = append(acks, d)
		ackMu.Unlock()
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for i := int64(0); i < total && ctx.Err() == nil; i++ {
		sched := st.Start.Add(time.Duration(float64(i) * interval))
		if d := time.Until(sched); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
			case <-timer.C:
			}
		}
		r := cfg.Next(sched)
		r.Timestamp = sched
		if cfg.Sent != nil {
			cfg.Sent(sched, r)
		}
		l := time.Since(sched)
		late = append(late, l)
		if l > 10*time.Millisecond {
			st.Late10ms++
		}
		p.cl.Produce(ctx, r, promise)
		st.Scheduled++
	}
	if err := p.cl.Flush(ctx); err != nil {
		return st, fmt.Errorf("flush open loop: %w", err)
	}
	st.Failed = failed.Load()
	st.LateP50, st.LateP99, st.LateMax = quantiles(late)
	ackMu.Lock()
	st.AckP50, st.AckP99, _ = quantiles(acks)
	ackMu.Unlock()
	return st, ctx.Err()
}

func quantiles(ds []time.Duration) (p50, p99, maxd time.Duration) {
	if len(ds) == 0 {
		return 0, 0, 0
	}
	slices.Sort(ds)
	q := func(f float64) time.Duration { return ds[min(len(ds)-1, int(f*float64(len(ds))))] }
	return q(0.50), q(0.99), ds[len(ds)-1]
}
