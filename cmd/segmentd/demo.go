package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/internal/gen"
	"github.com/segmentd/segmentd/processor"
)

// runDemo feeds the embedded broker: the demo segment definitions, the history of a
// synthetic shop, then a live stream of events at rate per second until ctx ends.
func runDemo(ctx context.Context, brokers []string, topics processor.Topics, contacts int, rate float64, log *slog.Logger) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(10*time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	gcfg := gen.Config{Seed: 1, ContactsPerWorkspace: contacts}
	if err := gcfg.Validate(); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	// The processor creates the topics; wait until they exist.
	adm := kadm.NewClient(cl)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		td, err := adm.ListTopics(ctx, topics.Segments, topics.Catalog, topics.Events[0])
		if err == nil && td.Has(topics.Segments) && td.Has(topics.Catalog) && td.Has(topics.Events[0]) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	g := gen.New(gcfg)
	for _, r := range g.Catalog() {
		cl.Produce(ctx, &kgo.Record{Topic: topics.Catalog, Key: r.Key, Value: r.Value}, nil)
	}
	for _, def := range g.Segments() {
		log.Info("demo segment", "key", string(def.Key))
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topics.Segments, Key: def.Key, Value: def.Value}).FirstErr(); err != nil {
			return fmt.Errorf("produce demo segment: %w", err)
		}
	}
	topic := topics.Events[0]
	n := 0
	for r := range g.History() {
		cl.Produce(ctx, toKafka(topic, r), nil)
		n++
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	log.Info("demo history loaded", "events", n)
	if rate <= 0 {
		return nil
	}
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-tick.C:
			cl.Produce(ctx, toKafka(topic, g.Next(now)), nil)
		}
	}
}

func toKafka(topic string, r gen.Record) *kgo.Record {
	kr := &kgo.Record{Topic: topic, Key: r.Key, Value: r.Value}
	for _, h := range r.Headers {
		kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
	}
	return kr
}
