package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The Kafka Streams peer (issue 16): bench/peers/kstreams, run beside a segmentd on the
// same live events and on definitions restricted to the peer's rule subset.

// peerFields are the fields of the rule language the peer implements (every operator
// of each); see bench/peers/kstreams/README.md.
var peerFields = map[string]bool{
	"orders_count": true, "total_spent": true, "country": true, "language": true,
	"consent_status": true, "tag": true, "purchased_brand": true,
}

// errNoJava says why the phase cannot run on this machine.
var errNoJava = errors.New("the kstreams phase needs Java 17 and Maven (java and mvn on PATH) to build bench/peers/kstreams; skipped")

// peerJar returns the peer's runnable jar: cfg.KStreamsJar, else built with mvn.
func (r *run) peerJar(ctx context.Context) (string, error) {
	if r.cfg.KStreamsJar != "" {
		return r.cfg.KStreamsJar, nil
	}
	if _, err := exec.LookPath("java"); err != nil {
		return "", errNoJava
	}
	if _, err := exec.LookPath("mvn"); err != nil {
		return "", errNoJava
	}
	dir := filepath.Join(r.cfg.Repo, "bench", "peers", "kstreams")
	r.logf("kstreams: building the peer with mvn in %s", dir)
	cmd := exec.CommandContext(ctx, "mvn", "-q", "-B", "package")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("mvn package in bench/peers/kstreams: %w: %s", err, lastLines(string(out), 20))
	}
	return filepath.Join(dir, "target", "kstreams-peer.jar"), nil
}

func lastLines(s string, n int) string {
	ls := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(ls[max(0, len(ls)-n):], "\n")
}

// subsetDefinitions returns the run's definitions (demo and random) with every
// condition outside the peer's subset (its fields, without windows) dropped, and groups or segments left empty
// dropped, as segments-topic records of topic.
func (r *run) subsetDefinitions(topic string) ([]*kgo.Record, error) {
	type cond = map[string]any
	var out []*kgo.Record
	var values [][]byte
	for _, s := range r.g.Segments() {
		values = append(values, s.Value)
	}
	for _, s := range r.segments {
		values = append(values, s.Value)
	}
	for _, v := range values {
		var d struct {
			Workspace string `json:"workspace"`
			ID        string `json:"id"`
			Name      string `json:"name"`
			Groups    []struct {
				Conditions []cond `json:"conditions"`
			} `json:"groups"`
		}
		if err := json.Unmarshal(v, &d); err != nil {
			return nil, fmt.Errorf("definition %s: %w", v, err)
		}
		type group struct {
			Conditions []cond `json:"conditions"`
		}
		var groups []group
		for _, g := range d.Groups {
			var keep []cond
			for _, c := range g.Conditions {
				if _, windowed := c["in_last_days"]; windowed {
					continue // windows are outside the peer's subset
				}
				if f, _ := c["field"].(string); peerFields[f] {
					keep = append(keep, c)
				}
			}
			if len(keep) > 0 {
				groups = append(groups, group{keep})
			}
		}
		if len(groups) == 0 {
			continue
		}
		val, err := json.Marshal(map[string]any{"workspace": d.Workspace, "id": d.ID, "name": d.Name, "groups": groups})
		if err != nil {
			return nil, err
		}
		out = append(out, &kgo.Record{Topic: topic, Key: []byte(d.Workspace + "/" + d.ID), Value: val})
	}
	return out, nil
}

// kstreams runs the peer phase: segmentd and the peer, each from the first live
// offset with empty state, over the same preloaded live events and subset
// definitions; then the differential check of their transitions; then, if the
// latency phase is on, each one's open-loop latency at LatencyFraction of its own
// maximum.
func (r *run) kstreams(ctx context.Context) error {
	jar, err := r.peerJar(ctx)
	if errors.Is(err, errNoJava) {
		r.note("%v", err)
		return nil
	}
	if err != nil {
		return err
	}
	seg, err := r.topic(ctx, "kstreams.segments", 1, true)
	if err != nil {
		return err
	}
	recs, err := r.subsetDefinitions(seg)
	if err != nil {
		return err
	}
	if err := r.prod.Client().ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("produce the subset definitions: %w", err)
	}
	p := &Peer{Segments: len(recs)}
	r.res.KStreams = p
	r.logf("kstreams: %d segments restricted to the peer's subset", len(recs))

	sd := r.segmentd("subset", r.events, seg, r.catTopic, r.cfg.Partitions, false)
	sd.kind = "segmentd-subset"
	ks, err := r.peer(ctx, jar, seg)
	if err != nil {
		return err
	}
	for _, s := range []*sut{sd, ks} {
		if err := r.adm.commit(ctx, s.group, r.events, r.endHistory); err != nil {
			return err
		}
	}

	// The live events, one system at a time (the other stopped).
	r.logf("kstreams: segmentd on the subset, live events")
	if p.Segmentd, err = r.throughput(ctx, sd, "live"); err != nil {
		return fmt.Errorf("segmentd on the subset: %w", err)
	}
	r.logThroughput(p.Segmentd)
	if _, err := sd.stop(); err != nil {
		r.note("stopping segmentd (subset): %v", err)
	}
	r.logf("kstreams: Kafka Streams peer, live events")
	if p.KStreams, err = r.throughput(ctx, ks, "live"); err != nil {
		return fmt.Errorf("kafka streams peer: %w", err)
	}
	r.logThroughput(p.KStreams)
	if p.KStreams.EventsPerSecond > 0 {
		p.Ratio = p.Segmentd.EventsPerSecond / p.KStreams.EventsPerSecond
	}
	// The peer keeps running (its JIT warm) for its latency run; every input it read
	// is committed, and so are its outputs.
	p.SegmentdDiskBytes, p.KStreamsDiskBytes = dirSize(sd.dataDir), dirSize(ks.dataDir)

	// The differential check, on the outputs of the same events.
	p.Diff, err = r.differential(ctx, sd.membership, ks.membership)
	if err != nil {
		return fmt.Errorf("differential check: %w", err)
	}
	r.logf("kstreams: differential check: %d transitions from segmentd, %d from the peer, %d (contact, segment) pairs differ",
		p.Diff.Segmentd, p.Diff.KStreams, p.Diff.Differing)
	var diffErr error
	if p.Diff.Differing > 0 {
		diffErr = fmt.Errorf("differential check: %d of %d (contact, segment) pairs have different transitions, e.g. %s",
			p.Diff.Differing, p.Diff.Pairs, strings.Join(p.Diff.Examples, "; "))
	}
	if r.cfg.skip(PhaseLatency) {
		r.stopPeer(ks)
		return diffErr
	}

	// Latency at LatencyFraction of each one's own maximum: the peer first, still
	// running and warm; then segmentd, restarted at the end of the events topic (the
	// peer's open-loop events are not its load) once it has caught up.
	lat := func(s *sut, max float64) (*Latency, error) {
		rate := r.cfg.LatencyFraction * max
		r.logf("kstreams: %s latency, open loop at %.0f events/s for %s", s.kind, rate, r.cfg.LatencyDuration)
		l, err := r.latency(ctx, s, rate)
		if err != nil {
			return nil, fmt.Errorf("%s latency: %w", s.kind, err)
		}
		r.logf("kstreams: %s latency p50 %.1f ms, p99 %.1f ms", s.kind, l.P50, l.P99)
		return l, nil
	}
	p.KStreamsLatency, err = lat(ks, p.KStreams.EventsPerSecond)
	r.stopPeer(ks)
	if err != nil {
		return errors.Join(diffErr, err)
	}
	if err := r.skipToEnd(ctx, sd.group); err != nil {
		return errors.Join(diffErr, err)
	}
	if err := sd.start(); err != nil {
		return errors.Join(diffErr, err)
	}
	defer func() {
		if _, err := sd.stop(); err != nil {
			r.note("stopping segmentd (subset): %v", err)
		}
	}()
	if err := r.waitStarted(ctx, sd); err != nil {
		return errors.Join(diffErr, err)
	}
	if p.SegmentdLatency, err = lat(sd, p.Segmentd.EventsPerSecond); err != nil {
		return errors.Join(diffErr, err)
	}
	return diffErr
}

// stopPeer stops the peer; the JVM's exit status after SIGTERM (143) is no error.
func (r *run) stopPeer(ks *sut) {
	if _, err := ks.stop(); err != nil && !strings.Contains(err.Error(), "exit status 143") {
		r.note("stopping the kstreams peer: %v", err)
	}
}

// skipToEnd commits group's offsets at the end of the events topic. A stopped member
// may linger in the group until its session times out (Kafka Streams does not always
// leave on close), and the broker refuses the commit meanwhile: retry for 90 s.
func (r *run) skipToEnd(ctx context.Context, group string) error {
	deadline := time.Now().Add(90 * time.Second)
	for {
		end, err := r.adm.endOffsets(ctx, r.events)
		if err == nil {
			err = r.adm.commit(ctx, group, r.events, end)
		}
		if err == nil || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// waitStarted waits until s has caught up with its input (up to two minutes), so that
// an open loop measures a running system, not its start-up.
func (r *run) waitStarted(ctx context.Context, s *sut) error {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if err := s.exitErr(); err != nil {
			return err
		}
		end, err1 := r.adm.endOffsets(ctx, s.events)
		cm, err2 := r.adm.committed(ctx, s.group, s.events)
		if err1 == nil && err2 == nil && remaining(end, cm) == 0 && time.Since(s.started) > 5*time.Second {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s did not start within 2 minutes", s.name)
}

// peer returns (without starting it) the Kafka Streams peer reading the events and
// the segments topic seg.
func (r *run) peer(ctx context.Context, jar, seg string) (*sut, error) {
	base := r.prefix + ".kstreams"
	out, err := r.topic(ctx, "kstreams.membership", int32(r.cfg.Partitions), false)
	if err != nil {
		return nil, err
	}
	s := &sut{kind: "kstreams", group: base, events: r.events, membership: out,
		dataDir: filepath.Join(r.work, "data", "kstreams"), partitions: r.cfg.Partitions}
	// Kafka Streams names its changelog after the application id and the store.
	r.topics = append(r.topics, base+"-contacts-changelog")
	s.child = &child{name: "kstreams", bin: "java", logPath: filepath.Join(r.work, "logs", "kstreams.log"), args: []string{
		"-Xms256m", "-Xmx512m", "-XX:+UseG1GC", "-jar", jar,
		"--bootstrap", strings.Join(r.cfg.Brokers, ","), "--application-id", base,
		"--events", r.events, "--segments", seg, "--membership", out, "--state-dir", s.dataDir,
		"--threads", "2", "--commit-interval-ms", fmt.Sprint(r.cfg.CommitInterval.Milliseconds()),
	}}
	r.systems = append(r.systems, s)
	return s, nil
}

// differential reads both membership topics (read_committed) and compares, per
// (contact, segment), the sequence of transition types, ignoring ids, times,
// versions and reasons.
func (r *run) differential(ctx context.Context, a, b string) (*Diff, error) {
	seqA, nA, err := r.transitions(ctx, a)
	if err != nil {
		return nil, err
	}
	seqB, nB, err := r.transitions(ctx, b)
	if err != nil {
		return nil, err
	}
	d := compareTransitions(seqA, seqB)
	d.Segmentd, d.KStreams = nA, nB
	return d, nil
}

// compareTransitions compares two systems' transition sequences per (contact,
// segment) and keeps up to 10 examples of differences, in key order.
func compareTransitions(a, b map[string]string) *Diff {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	slices.Sort(sorted)
	d := &Diff{Pairs: len(sorted)}
	for _, k := range sorted {
		if a[k] != b[k] {
			d.Differing++
			if len(d.Examples) < 10 {
				d.Examples = append(d.Examples, fmt.Sprintf("%s: segmentd %q, kstreams %q", k, a[k], b[k]))
			}
		}
	}
	return d
}

// transitions reads a membership topic to its end: per "<contact key> <segment>",
// the types in order as a string of + (added) and - (removed), and the count.
func (r *run) transitions(ctx context.Context, topic string) (map[string]string, int, error) {
	end, err := r.adm.endOffsets(ctx, topic)
	if err != nil {
		return nil, 0, err
	}
	offs := map[int32]kgo.Offset{}
	left := map[int32]int64{}
	for p, o := range end {
		offs[p] = kgo.NewOffset().AtStart()
		if o > 0 {
			left[p] = o
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.cfg.Brokers...), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offs}), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		return nil, 0, err
	}
	defer cl.Close()
	seq := map[string]string{}
	n := 0
	var v struct {
		Type      string `json:"type"`
		SegmentID string `json:"segment_id"`
	}
	// A transactional topic ends with a commit marker that is never returned: a
	// partition is done when a record at or after end-2 came, or after 5 s of quiet.
	quiet := time.Now()
	cctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for len(left) > 0 && time.Since(quiet) < 5*time.Second {
		pctx, pcancel := context.WithTimeout(cctx, time.Second)
		fs := cl.PollFetches(pctx)
		pcancel()
		if cctx.Err() != nil {
			return nil, 0, fmt.Errorf("reading %s: %w", topic, cctx.Err())
		}
		fs.EachRecord(func(rec *kgo.Record) {
			quiet = time.Now()
			if rec.Offset >= left[rec.Partition]-2 {
				delete(left, rec.Partition)
			}
			v.Type, v.SegmentID = "", ""
			if json.Unmarshal(rec.Value, &v) != nil {
				return
			}
			k := string(rec.Key) + " " + v.SegmentID
			switch v.Type {
			case "UserAddedToSegment":
				seq[k] += "+"
			case "UserRemovedFromSegment":
				seq[k] += "-"
			default:
				return
			}
			n++
		})
	}
	return seq, n, nil
}

// dirSize is the bytes of the regular files under dir.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
