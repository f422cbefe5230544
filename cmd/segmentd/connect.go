package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// connectTimeout bounds how long tail and import wait for the brokers to answer and
// name their topics before they give up with an error.
const connectTimeout = 10 * time.Second

// checkKafka fails fast, within connectTimeout, unless a broker of brokers answers and
// every topic exists: tail would otherwise wait in silence and import hang until killed.
func checkKafka(ctx context.Context, cl *kgo.Client, brokers []string, topics ...string) error {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	at := strings.Join(brokers, ",")
	if err := cl.Ping(ctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %s", connectTimeout)
		}
		return fmt.Errorf("cannot reach Kafka broker %s: %w", at, err)
	}
	details, err := kadm.NewClient(cl).ListTopics(ctx, topics...)
	if err != nil {
		return fmt.Errorf("read the metadata of %s from Kafka broker %s: %w", strings.Join(topics, ", "), at, err)
	}
	for _, topic := range topics {
		d, ok := details[topic]
		switch {
		case !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition):
			return fmt.Errorf("topic %q does not exist on Kafka broker %s", topic, at)
		case d.Err != nil:
			return fmt.Errorf("topic %q on Kafka broker %s: %w", topic, at, d.Err)
		}
	}
	return nil
}
