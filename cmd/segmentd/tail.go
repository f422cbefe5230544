package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// tailFlags are the flags of `segmentd tail`.
type tailFlags struct {
	kafka     kafkaFlags
	topic     string
	fromStart bool
	since     string
	offset    int64
	segments  listFlag
	raw       bool
}

// newTailFlagSet returns the flags of `segmentd tail`, bound to f.
func newTailFlagSet(f *tailFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("segmentd tail", flag.ContinueOnError)
	f.kafka.register(fs)
	fs.StringVar(&f.topic, "membership-topic", "segmentd.membership", "membership topic to follow")
	fs.BoolVar(&f.fromStart, "from-beginning", false, "print the whole topic, not only new transitions")
	fs.StringVar(&f.since, "since", "", "start at the transitions written at or after a time: RFC 3339 (2026-12-01T00:00:00Z) or a duration ago (1h)")
	fs.Int64Var(&f.offset, "offset", 0, "start each partition at this offset; negative: that many records before its end")
	fs.Var(&f.segments, "segment", "print only the transitions of these segments: ID or WORKSPACE/ID (comma-separated or repeated)")
	fs.BoolVar(&f.raw, "json", false, "print each record's JSON value unchanged")
	return fs
}

// startOffset is where tail starts reading each partition, from --from-beginning,
// --since and --offset (at most one of them); by default, at the end.
func (f *tailFlags) startOffset(fs *flag.FlagSet, now time.Time) (kgo.Offset, error) {
	var given []string
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "from-beginning", "since", "offset":
			if fl.Name != "from-beginning" || f.fromStart {
				given = append(given, "--"+fl.Name)
			}
		}
	})
	switch {
	case len(given) > 1:
		return kgo.Offset{}, usagef(fs, "%s: give at most one", strings.Join(given, " and "))
	case f.fromStart:
		return kgo.NewOffset().AtStart(), nil
	case slices.Contains(given, "--offset") && f.offset >= 0:
		return kgo.NewOffset().At(f.offset), nil
	case slices.Contains(given, "--offset"):
		return kgo.NewOffset().AtEnd().Relative(f.offset), nil
	case f.since != "":
		t, err := parseSince(f.since, now)
		if err != nil {
			return kgo.Offset{}, usagef(fs, "--since: %w", err)
		}
		return kgo.NewOffset().AfterMilli(t.UnixMilli()), nil
	}
	return kgo.NewOffset().AtEnd(), nil
}

// parseSince reads --since: an RFC 3339 time, or a duration before now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time (2026-12-01T00:00:00Z) nor a positive duration (90m, 1h)", s)
	}
	return now.Add(-d), nil
}

// membershipRecord is the part of a membership record that tail reads.
type membershipRecord struct {
	Type           string          `json:"type"`
	Workspace      string          `json:"workspace"`
	SegmentID      string          `json:"segment_id"`
	SegmentVersion int64           `json:"segment_version"`
	CustomerID     int64           `json:"customer_id"`
	OccurredAt     time.Time       `json:"occurred_at"`
	Reason         string          `json:"reason"`
	Cause          json.RawMessage `json:"cause"`
}

// wanted reports whether a transition of segment ws/id passes --segment.
func (f *tailFlags) wanted(ws, id string) bool {
	if len(f.segments) == 0 {
		return true
	}
	return slices.Contains(f.segments, id) || slices.Contains(f.segments, ws+"/"+id)
}

func tailCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f tailFlags
	fs := newTailFlagSet(&f)
	if _, err := parseCommand(fs, args, stdout, 0, 0); err != nil {
		return err
	}
	start, err := f.startOffset(fs, time.Now())
	if err != nil {
		return err
	}
	brokers := f.kafka.seedBrokers()
	kopts, err := f.kafka.options()
	if err != nil {
		return err
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
		return err
	}
	fmt.Fprintf(stderr, "following %s on %v (read_committed); Ctrl-C to stop\n", f.topic, brokers)
	for {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		fetches.EachError(func(t string, p int32, err error) {
			fmt.Fprintf(stderr, "fetch %s[%d]: %v\n", t, p, err)
		})
		fetches.EachRecord(func(r *kgo.Record) {
			var t membershipRecord
			if err := json.Unmarshal(r.Value, &t); err != nil {
				if f.raw && len(f.segments) == 0 {
					fmt.Fprintf(stdout, "%s\n", r.Value) // unchanged, as --json says
				} else {
					fmt.Fprintf(stdout, "unreadable record: %s\n", r.Value)
				}
				return
			}
			if !f.wanted(t.Workspace, t.SegmentID) {
				return
			}
			if f.raw {
				fmt.Fprintf(stdout, "%s\n", r.Value)
				return
			}
			printTransition(stdout, &t)
		})
	}
}

// printTransition prints one membership record as a human-readable line.
func printTransition(w io.Writer, t *membershipRecord) {
	sign := "+"
	if t.Type == "UserRemovedFromSegment" {
		sign = "-"
	}
	fmt.Fprintf(w, "%s %s %-28s v%-3d %s/%d  %s %s\n", t.OccurredAt.Local().Format("15:04:05.000"), sign,
		t.SegmentID, t.SegmentVersion, t.Workspace, t.CustomerID, t.Reason, t.Cause)
}
