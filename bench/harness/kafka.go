package harness

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// admin wraps the harness's admin client.
type admin struct {
	cl  *kgo.Client
	adm *kadm.Client
}

func newAdmin(brokers []string) (*admin, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, fmt.Errorf("admin client: %w", err)
	}
	return &admin{cl: cl, adm: kadm.NewClient(cl)}, nil
}

func (a *admin) close() { a.cl.Close() }

// createTopic creates a topic (replication 1) and waits until every partition has a
// leader.
func (a *admin) createTopic(ctx context.Context, name string, partitions int32, compact bool) error {
	var configs map[string]*string
	if compact {
		c := "compact"
		configs = map[string]*string{"cleanup.policy": &c}
	}
	resp, err := a.adm.CreateTopic(ctx, partitions, 1, configs, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create topic %s: %w", name, err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		tds, err := a.adm.ListTopics(ctx, name)
		if err == nil {
			td, ok := tds[name]
			if ok && td.Err == nil && len(td.Partitions) == int(partitions) {
				ready := true
				for _, p := range td.Partitions {
					if p.Err != nil || p.Leader < 0 {
						ready = false
					}
				}
				if ready {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("topic %s has no leaders after 60 s", name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// endOffsets returns the high watermark of every partition of topic.
func (a *admin) endOffsets(ctx context.Context, topic string) (map[int32]int64, error) {
	lo, err := a.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	out := map[int32]int64{}
	var ferr error
	lo.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			ferr = o.Err
		}
		out[o.Partition] = o.Offset
	})
	if ferr != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", topic, ferr)
	}
	return out, nil
}

// committed returns the offsets group committed on topic (0 for a partition without
// a commit).
func (a *admin) committed(ctx context.Context, group, topic string) (map[int32]int64, error) {
	// A new group's coordinator may not be ready yet (COORDINATOR_NOT_AVAILABLE,
	// COORDINATOR_LOAD_IN_PROGRESS): retriable errors are retried for a while.
	deadline := time.Now().Add(30 * time.Second)
	resp, err := a.adm.FetchOffsetsForTopics(ctx, group, topic)
	for err != nil && kerr.IsRetriable(err) && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(200 * time.Millisecond)
		resp, err = a.adm.FetchOffsetsForTopics(ctx, group, topic)
	}
	if err != nil {
		return nil, fmt.Errorf("committed offsets of %s: %w", group, err)
	}
	out := map[int32]int64{}
	var ferr error
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Topic != topic {
			return
		}
		if o.Err != nil {
			ferr = o.Err
		}
		out[o.Partition] = max(o.At, 0)
	})
	return out, ferr
}

// commit commits offsets for a group that has no members (to start a consumer in
// the middle of a topic).
func (a *admin) commit(ctx context.Context, group, topic string, offs map[int32]int64) error {
	var os kadm.Offsets
	for p, o := range offs {
		os.Add(kadm.Offset{Topic: topic, Partition: p, At: o, LeaderEpoch: -1})
	}
	resp, err := a.adm.CommitOffsets(ctx, group, os)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return fmt.Errorf("commit offsets for %s: %w", group, err)
	}
	return nil
}

// deleteTopics deletes topics, ignoring those that do not exist.
func (a *admin) deleteTopics(ctx context.Context, names ...string) error {
	if len(names) == 0 {
		return nil
	}
	resp, err := a.adm.DeleteTopics(ctx, names...)
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range resp {
		if r.Err != nil && !errors.Is(r.Err, kerr.UnknownTopicOrPartition) {
			errs = append(errs, fmt.Errorf("delete %s: %w", r.Topic, r.Err))
		}
	}
	return errors.Join(errs...)
}

func total(m map[int32]int64) int64 {
	var t int64
	for _, v := range m {
		t += v
	}
	return t
}

// remaining returns Σ max(end − committed, 0).
func remaining(end, committed map[int32]int64) int64 {
	var t int64
	for p, e := range end {
		if d := e - committed[p]; d > 0 {
			t += d
		}
	}
	return t
}

// DeleteTopics deletes every topic whose name starts with prefix (the topics of a run
// kept with Config.Keep; Results.Topics names the prefix) and returns their names.
func DeleteTopics(ctx context.Context, brokers []string, prefix string) ([]string, error) {
	if prefix == "" {
		return nil, errors.New("no prefix")
	}
	a, err := newAdmin(brokers)
	if err != nil {
		return nil, err
	}
	defer a.close()
	tds, err := a.adm.ListTopics(ctx)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, t := range tds.Names() {
		if len(t) >= len(prefix) && t[:len(prefix)] == prefix {
			names = append(names, t)
		}
	}
	return names, a.deleteTopics(ctx, names...)
}
