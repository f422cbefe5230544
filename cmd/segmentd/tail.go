package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// tailFlags are the flags of `segmentd tail`.
type tailFlags struct {
	kafka     kafkaFlags
	topic     string
	fromStart bool
	raw       bool
}

// newTailFlagSet returns the flags of `segmentd tail`, bound to f.
func newTailFlagSet(f *tailFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("segmentd tail", flag.ContinueOnError)
	f.kafka.register(fs)
	fs.StringVar(&f.topic, "membership-topic", "segmentd.membership", "membership topic to follow")
	fs.BoolVar(&f.fromStart, "from-beginning", false, "print the whole topic, not only new transitions")
	fs.BoolVar(&f.raw, "json", false, "print each record's JSON value unchanged")
	return fs
}

func tailCommand(ctx context.Context, args []string) error {
	var f tailFlags
	fs := newTailFlagSet(&f)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	brokers := f.kafka.seedBrokers()
	kopts, err := f.kafka.options()
	if err != nil {
		return err
	}
	start := kgo.NewOffset().AtEnd()
	if f.fromStart {
		start = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(append(kopts,
		kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(f.topic),
		kgo.ConsumeResetOffset(start),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := checkKafka(ctx, cl, brokers, f.topic); err != nil {
		return failure{err}
	}
	fmt.Fprintf(os.Stderr, "following %s on %v (read_committed); Ctrl-C to stop\n", f.topic, brokers)
	for {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		fetches.EachError(func(t string, p int32, err error) {
			fmt.Fprintf(os.Stderr, "fetch %s[%d]: %v\n", t, p, err)
		})
		fetches.EachRecord(func(r *kgo.Record) {
			if f.raw {
				fmt.Printf("%s\n", r.Value)
				return
			}
			printTransition(os.Stdout, r.Value)
		})
	}
}

// printTransition prints one membership record as a human-readable line.
func printTransition(w io.Writer, value []byte) {
	var t struct {
		Type           string          `json:"type"`
		Workspace      string          `json:"workspace"`
		SegmentID      string          `json:"segment_id"`
		SegmentVersion int64           `json:"segment_version"`
		CustomerID     int64           `json:"customer_id"`
		OccurredAt     time.Time       `json:"occurred_at"`
		Reason         string          `json:"reason"`
		Cause          json.RawMessage `json:"cause"`
	}
	if err := json.Unmarshal(value, &t); err != nil {
		fmt.Fprintf(w, "unreadable record: %s\n", value)
		return
	}
	sign := "+"
	if t.Type == "UserRemovedFromSegment" {
		sign = "-"
	}
	fmt.Fprintf(w, "%s %s %-28s v%-3d %s/%d  %s %s\n", t.OccurredAt.Local().Format("15:04:05.000"), sign,
		t.SegmentID, t.SegmentVersion, t.Workspace, t.CustomerID, t.Reason, t.Cause)
}
