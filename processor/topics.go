package processor

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ensureTopics creates the topics of SPEC §3 that do not exist, and checks that the
// changelog has as many partitions as the events topics.
func ensureTopics(ctx context.Context, cfg *Config) error {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(cfg.Brokers...)}, cfg.KafkaOptions...)...)
	if err != nil {
		return fmt.Errorf("create admin client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	compact := "compact"
	compacted := map[string]*string{"cleanup.policy": &compact}
	create := func(topic string, partitions int32, configs map[string]*string) error {
		resp, err := adm.CreateTopic(ctx, partitions, cfg.ReplicationFactor, configs, topic)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", topic, err)
		}
		if err == nil {
			cfg.Logger.Info("created topic", "topic", topic, "partitions", partitions)
		}
		return nil
	}
	for _, t := range cfg.Topics.Events {
		if err := create(t, cfg.Partitions, nil); err != nil {
			return err
		}
	}
	details, err := adm.ListTopics(ctx, cfg.Topics.Events...)
	if err != nil {
		return fmt.Errorf("describe events topics: %w", err)
	}
	var n int32 = -1
	for _, t := range cfg.Topics.Events {
		d, ok := details[t]
		if !ok || d.Err != nil {
			return fmt.Errorf("describe events topic %s: %v", t, d.Err)
		}
		if n >= 0 && int32(len(d.Partitions)) != n {
			return fmt.Errorf("events topics are not co-partitioned: %s has %d partitions, expected %d", t, len(d.Partitions), n)
		}
		n = int32(len(d.Partitions))
	}
	if err := create(cfg.Topics.Changelog, n, compacted); err != nil {
		return err
	}
	for _, t := range []string{cfg.Topics.Segments, cfg.Topics.Catalog} {
		if err := create(t, 1, compacted); err != nil {
			return err
		}
	}
	for _, t := range []string{cfg.Topics.Membership, cfg.Topics.DLQ} {
		if err := create(t, cfg.Partitions, nil); err != nil {
			return err
		}
	}
	cd, err := adm.ListTopics(ctx, cfg.Topics.Changelog)
	if err != nil {
		return fmt.Errorf("describe changelog topic: %w", err)
	}
	if got := int32(len(cd[cfg.Topics.Changelog].Partitions)); got != n {
		return fmt.Errorf("changelog topic %s has %d partitions but the events topics have %d: they must match", cfg.Topics.Changelog, got, n)
	}
	return nil
}
