package harness

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// PassthroughConfig configures the pass-through baseline.
type PassthroughConfig struct {
	Brokers         []string
	Group           string
	In, Out         string
	TransactionalID string
	// CommitInterval and MaxWindowRecords as segmentd's defaults: 100ms and 10000.
	CommitInterval   time.Duration
	MaxWindowRecords int
}

// RunPassthrough is the ceiling of the broker and the machine for an exactly-once
// consume→produce loop: it copies every record of In to Out with segmentd's
// transaction setup (GroupTransactSession, read_committed, the same commit window,
// fetch wait, linger and balancer) and no state at all. It runs until ctx is
// canceled.
func RunPassthrough(ctx context.Context, cfg PassthroughConfig) error {
	if cfg.CommitInterval <= 0 {
		cfg.CommitInterval = 100 * time.Millisecond
	}
	if cfg.MaxWindowRecords <= 0 {
		cfg.MaxWindowRecords = 10000
	}
	sess, err := kgo.NewGroupTransactSession(
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.In),
		kgo.TransactionalID(cfg.TransactionalID),
		kgo.TransactionTimeout(60*time.Second),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond),
		kgo.ProducerLinger(5*time.Millisecond),
	)
	if err != nil {
		return fmt.Errorf("passthrough: create session: %w", err)
	}
	defer sess.Close()
	var mu sync.Mutex
	var produceErr error
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			mu.Lock()
			produceErr = errors.Join(produceErr, err)
			mu.Unlock()
		}
	}
	copyAll := func(fs kgo.Fetches) int {
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			n++
			sess.Produce(ctx, &kgo.Record{Topic: cfg.Out, Key: r.Key, Value: r.Value, Headers: r.Headers}, promise)
		})
		return n
	}
	for ctx.Err() == nil {
		pctx, cancel := context.WithTimeout(ctx, cfg.CommitInterval)
		fs := sess.PollRecords(pctx, cfg.MaxWindowRecords)
		cancel()
		if fs.IsClientClosed() || ctx.Err() != nil {
			return nil
		}
		if fs.NumRecords() == 0 {
			continue
		}
		start := time.Now()
		if err := sess.Begin(); err != nil {
			return fmt.Errorf("passthrough: begin: %w", err)
		}
		n := copyAll(fs)
		deadline := start.Add(cfg.CommitInterval)
		for n > 0 && n < cfg.MaxWindowRecords && time.Now().Before(deadline) {
			pctx, cancel := context.WithDeadline(ctx, deadline)
			fs := sess.PollRecords(pctx, cfg.MaxWindowRecords-n)
			cancel()
			if ctx.Err() != nil {
				break
			}
			n += copyAll(fs)
		}
		if err := sess.Client().Flush(ctx); err != nil && ctx.Err() == nil {
			return fmt.Errorf("passthrough: flush: %w", err)
		}
		mu.Lock()
		failed := produceErr != nil
		produceErr = nil
		mu.Unlock()
		commit := kgo.TryCommit
		if failed || ctx.Err() != nil {
			commit = kgo.TryAbort
		}
		if _, err := sess.End(context.Background(), commit); err != nil {
			return fmt.Errorf("passthrough: end transaction: %w", err)
		}
	}
	return nil
}
