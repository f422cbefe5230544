package harness

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/bench/load"
)

// backfillModeNames are the values of segmentd_backfill_contacts_total's mode label.
var backfillModeNames = []string{"algebra", "scan"}

// modeDeltas returns, per backfill mode, the growth of the counter name from m0 to
// m1. A segmentd without the mode label has none.
func modeDeltas(m0, m1 metrics, name string) map[string]float64 {
	var out map[string]float64
	for _, mode := range backfillModeNames {
		if !m1.has(name) {
			continue
		}
		d := m1.sum(name, "mode", mode) - m0.sum(name, "mode", mode)
		if d != 0 || m1.sum(name, "mode", mode) != 0 {
			if out == nil {
				out = map[string]float64{}
			}
			out[mode] = d
		}
	}
	return out
}

// backfillModes describes the path the backfills between m0 and m1 took, from the
// metrics and the steps log.
func backfillModes(m0, m1 metrics, steps map[string]int) BackfillModes {
	bm := BackfillModes{
		ContactsByMode: modeDeltas(m0, m1, "segmentd_backfill_contacts_total"),
		ReadByMode:     modeDeltas(m0, m1, "segmentd_backfill_contacts_read_total"),
		StepsByMode:    steps,
	}
	var used []string
	for _, mode := range backfillModeNames {
		if steps[mode] > 0 || (len(steps) == 0 && bm.ContactsByMode[mode] > 0) {
			used = append(used, mode)
		}
	}
	bm.Mode = strings.Join(used, "+")
	return bm
}

// String renders the modes for the report: "algebra (12 steps; 0 contacts read of
// 39135 passed)".
func (bm BackfillModes) String() string {
	if bm.Mode == "" && len(bm.ContactsByMode) == 0 && len(bm.StepsByMode) == 0 {
		return "mode unknown (no mode label in the metrics, no step log lines)"
	}
	var parts []string
	for _, mode := range backfillModeNames {
		steps, passed, read := bm.StepsByMode[mode], bm.ContactsByMode[mode], bm.ReadByMode[mode]
		if steps == 0 && passed == 0 && read == 0 {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s: %d partition steps, %.0f contacts passed, %.0f read from the store", mode, steps, passed, read))
	}
	mode := bm.Mode
	if mode == "" {
		mode = "none"
	}
	if len(parts) == 0 {
		return mode
	}
	return mode + " (" + strings.Join(parts, "; ") + ")"
}

// backfillLog follows segmentd's JSON log for the backfill lines of the segments
// keep accepts: "segment backfilled" (a partition finished a segment) and "segment
// step backfilled" (a partition finished a step, with its mode).
type backfillLog struct {
	keep  func(segment string) bool
	done  map[string]map[int64]bool // segment key → partitions done
	pairs int
	steps map[string]int // mode → steps
	last  time.Time      // of the latest "segment backfilled" line
	off   int64
}

func newBackfillLog(from int64, keep func(string) bool) *backfillLog {
	return &backfillLog{keep: keep, done: map[string]map[int64]bool{}, steps: map[string]int{}, off: from}
}

// read consumes the complete lines written since the last read.
func (b *backfillLog) read(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Seek(b.off, io.SeekStart); err != nil {
		return err
	}
	b.off += b.consume(f)
	return nil
}

// consume reads lines from r and returns the bytes of the complete ones (a last line
// without its newline is left for the next read).
func (b *backfillLog) consume(r io.Reader) int64 {
	br := bufio.NewReaderSize(r, 1<<20)
	var n int64
	for {
		line, err := br.ReadBytes('\n')
		if err != nil { // io.EOF: an incomplete line, if any, is read again next time
			return n
		}
		n += int64(len(line))
		if !bytes.Contains(line, []byte("backfilled")) {
			continue
		}
		var v struct {
			Time      time.Time `json:"time"`
			Msg       string    `json:"msg"`
			Segment   string    `json:"segment"`
			Partition int64     `json:"partition"`
			Mode      string    `json:"mode"`
		}
		if json.Unmarshal(line, &v) != nil || (b.keep != nil && !b.keep(v.Segment)) {
			continue
		}
		switch v.Msg {
		case "segment backfilled":
			ps := b.done[v.Segment]
			if ps == nil {
				ps = map[int64]bool{}
				b.done[v.Segment] = ps
			}
			if !ps[v.Partition] {
				ps[v.Partition] = true
				b.pairs++
			}
			if v.Time.After(b.last) {
				b.last = v.Time
			}
		case "segment step backfilled":
			if v.Mode != "" {
				b.steps[v.Mode]++
			}
		}
	}
}

// complete returns the segments done in at least partitions partitions.
func (b *backfillLog) complete(partitions int) int {
	n := 0
	for _, ps := range b.done {
		if len(ps) >= partitions {
			n++
		}
	}
	return n
}

// burstDefinitions draws n new definitions spread evenly over wss (the first n mod
// len(wss) shops get one more), with the deck of the run's random segments.
func burstDefinitions(wss []string, n int, seed uint64) ([]load.Segment, error) {
	if n <= 0 || len(wss) == 0 {
		return nil, nil
	}
	per := (n + len(wss) - 1) / len(wss)
	all, err := load.Definitions(load.DefinitionConfig{Workspaces: wss, PerWorkspace: per, Seed: seed, IDPrefix: "burst"})
	if err != nil {
		return nil, err
	}
	// all is per shop, per consecutive; take round by round so that every shop gets
	// n/len(wss) or one more.
	out := make([]load.Segment, 0, n)
	for i := 0; i < per && len(out) < n; i++ {
		for w := range wss {
			if len(out) == n {
				break
			}
			out = append(out, all[w*per+i])
		}
	}
	return out, nil
}

// definitions produces Config.BurstDefinitions new definitions at once and times
// segmentd until every one is backfilled in every partition and
// segmentd_backfills_pending stays 0. A timeout is a result, not an error.
func (r *run) definitions(ctx context.Context, s *sut) (*Definitions, error) {
	wss := r.g.Workspaces()
	segs, err := burstDefinitions(wss, r.cfg.BurstDefinitions, uint64(r.cfg.Seed)+7)
	if err != nil {
		return nil, err
	}
	keys := make(map[string]bool, len(segs))
	recs := make([]*kgo.Record, len(segs))
	for i, sg := range segs {
		keys[string(sg.Key)] = true
		recs[i] = &kgo.Record{Topic: r.segTopic, Key: sg.Key, Value: sg.Value}
	}
	shops := map[string]bool{}
	contacts := 0
	for _, sg := range segs {
		if !shops[sg.Workspace] {
			shops[sg.Workspace] = true
			contacts += r.wsContacts[sg.Workspace]
		}
	}
	d := &Definitions{Definitions: len(segs), Workspaces: len(shops), Contacts: contacts, Partitions: s.partitions,
		TimeoutSeconds: r.cfg.BurstTimeout.Seconds()}
	m0, err := s.scrape(ctx)
	if err != nil {
		return nil, err
	}
	cpu0, _ := s.cpu()
	bl := newBackfillLog(fileSize(s.logPath), func(seg string) bool { return keys[seg] })
	r.logf("definitions: %d new definitions over %d shops (%d contacts), produced at once", len(segs), len(shops), contacts)
	t0 := time.Now()
	if err := r.prod.Client().ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return nil, fmt.Errorf("produce definitions: %w", err)
	}
	d.ProduceSeconds = time.Since(t0).Seconds()
	want := len(segs) * s.partitions
	const hold = time.Second // pending must stay 0 this long
	var doneAt, logged time.Time
	var m metrics
	for {
		if err := s.exitErr(); err != nil {
			return nil, err
		}
		now := time.Now()
		if err := bl.read(s.logPath); err != nil {
			return nil, fmt.Errorf("read segmentd's log: %w", err)
		}
		mm, err := s.scrape(ctx)
		if err == nil {
			m = mm
			pending := m.sum("segmentd_backfills_pending")
			switch {
			case bl.pairs < want || pending > 0:
				doneAt = time.Time{}
			case doneAt.IsZero():
				doneAt = now
			}
			if !doneAt.IsZero() && now.Sub(doneAt) >= hold {
				break
			}
			if now.Sub(logged) >= 10*time.Second {
				logged = now
				r.logf("definitions: %d of %d backfilled in every partition, %d of %d (partition, segment) pairs, %.0f pending, after %s",
					bl.complete(s.partitions), len(segs), bl.pairs, want, pending, now.Sub(t0).Round(time.Second))
			}
		}
		if now.Sub(t0) > r.cfg.BurstTimeout {
			d.TimedOut = true
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	cpu1, _ := s.cpu()
	d.Backfilled, d.Segments = bl.pairs, bl.complete(s.partitions)
	d.PendingAtEnd = m.sum("segmentd_backfills_pending")
	if d.TimedOut {
		d.Seconds = r.cfg.BurstTimeout.Seconds()
		d.DefinitionsPerSecond = float64(d.Segments) / d.Seconds
		r.note("definitions: timed out after %s, %.0f backfills pending (%d of %d definitions backfilled in every partition)",
			r.cfg.BurstTimeout, d.PendingAtEnd, d.Segments, d.Definitions)
	} else {
		d.Seconds = doneAt.Sub(t0).Seconds()
		d.DefinitionsPerSecond = float64(d.Definitions) / d.Seconds
	}
	d.CPUSeconds = (cpu1 - cpu0).Seconds()
	d.Transitions = m.sum("segmentd_transitions_total", "reason", "definition") - m0.sum("segmentd_transitions_total", "reason", "definition")
	d.RSSBytes = m.sum("process_resident_memory_bytes")
	d.BackfillModes = backfillModes(m0, m, bl.steps)
	return d, nil
}

// previewRoutes are the routes of the preview phase, in the order they are asked.
var previewRoutes = []string{
	"POST /v1/workspaces/{ws}/segments:preview",
	"POST /v1/workspaces/{ws}/segments/{id}:preview",
	"POST /v1/workspaces/{ws}/audiences:estimate",
}

// checkPreview checks the body of a 200 answer of route and returns the count it
// answers: count, or matching for a change preview.
func checkPreview(route string, body []byte) (int64, error) {
	var v map[string]json.RawMessage
	if err := json.Unmarshal(body, &v); err != nil {
		return 0, fmt.Errorf("not a JSON object: %w", err)
	}
	num := func(k string) (int64, error) {
		raw, ok := v[k]
		if !ok {
			return 0, fmt.Errorf("no %q", k)
		}
		var n int64
		if err := json.Unmarshal(raw, &n); err != nil || n < 0 {
			return 0, fmt.Errorf("%q is %s, not a count", k, raw)
		}
		return n, nil
	}
	ids := func(k string) error {
		raw, ok := v[k]
		if !ok {
			return fmt.Errorf("no %q", k)
		}
		var xs []int64
		if err := json.Unmarshal(raw, &xs); err != nil || xs == nil {
			return fmt.Errorf("%q is %s, not a list of ids", k, raw)
		}
		if !slices.IsSorted(xs) {
			return fmt.Errorf("%q is not sorted", k)
		}
		return nil
	}
	switch route {
	case previewRoutes[0]:
		c, err := num("count")
		if err != nil {
			return 0, err
		}
		return c, ids("sample")
	case previewRoutes[1]:
		var n [4]int64
		for i, k := range []string{"members", "matching", "would_enter", "would_leave"} {
			var err error
			if n[i], err = num(k); err != nil {
				return 0, err
			}
		}
		members, matching, enter, leave := n[0], n[1], n[2], n[3]
		if matching-enter != members-leave || enter > matching || leave > members {
			return 0, fmt.Errorf("inconsistent counts: members %d, matching %d, would_enter %d, would_leave %d", members, matching, enter, leave)
		}
		if err := ids("sample_entering"); err != nil {
			return 0, err
		}
		return matching, ids("sample_leaving")
	case previewRoutes[2]:
		return num("count")
	}
	return 0, fmt.Errorf("unknown route %q", route)
}

// estimateBody draws an audience of 1–3 included and 0–1 excluded segments of ids.
func estimateBody(rng *rand.Rand, ids []string) []byte {
	type ref struct {
		Segment string `json:"segment"`
	}
	var req struct {
		Include []ref `json:"include"`
		Exclude []ref `json:"exclude,omitempty"`
	}
	perm := rng.Perm(len(ids))
	inc := min(len(ids), 1+rng.IntN(3))
	for _, i := range perm[:inc] {
		req.Include = append(req.Include, ref{ids[i]})
	}
	if inc < len(ids) && rng.IntN(2) == 0 {
		req.Exclude = append(req.Exclude, ref{ids[perm[inc]]})
	}
	b, _ := json.Marshal(req)
	return b
}

// withoutID returns the definition JSON def without its "id", which the change
// preview takes from its URL.
func withoutID(def []byte) ([]byte, error) {
	var v map[string]json.RawMessage
	if err := json.Unmarshal(def, &v); err != nil {
		return nil, err
	}
	delete(v, "id")
	return json.Marshal(v)
}

// preview times Config.PreviewRequests requests to each preview route over the
// largest shop, one at a time, each with a new random definition (the estimate: a
// random audience of the shop's segments).
func (r *run) preview(ctx context.Context, s *sut) (*Preview, error) {
	ws, contacts := r.largestShop()
	k := r.cfg.PreviewRequests
	defs, err := load.Definitions(load.DefinitionConfig{Workspaces: []string{ws}, PerWorkspace: k, Seed: uint64(r.cfg.Seed) + 13, IDPrefix: "preview"})
	if err != nil {
		return nil, err
	}
	var existing []string // the shop's segments, for change previews and estimates
	for _, sg := range r.segments {
		if sg.Workspace == ws {
			existing = append(existing, sg.ID)
		}
	}
	for _, rec := range r.g.Segments() {
		if w, id, ok := strings.Cut(string(rec.Key), "/"); ok && w == ws {
			existing = append(existing, id)
		}
	}
	if len(existing) == 0 {
		return nil, fmt.Errorf("no segments in %s", ws)
	}
	rng := rand.New(rand.NewPCG(uint64(r.cfg.Seed), 0x9e))
	client := &http.Client{Timeout: time.Minute}
	base := "http://" + s.httpAddr + "/v1/workspaces/" + url.PathEscape(ws)
	type acc struct {
		lats   []time.Duration
		counts []int64
		errors int
		first  string
	}
	accs := make([]acc, len(previewRoutes))
	r.logf("preview: %d requests to each of %d routes over %s (%d contacts)", k, len(previewRoutes), ws, contacts)
	for i := range k {
		for ri, route := range previewRoutes {
			var path string
			var body []byte
			switch ri {
			case 0:
				path, body = base+"/segments:preview", defs[i].Value
			case 1:
				id := existing[i%len(existing)]
				if body, err = withoutID(defs[i].Value); err != nil {
					return nil, err
				}
				path = base + "/segments/" + url.PathEscape(id) + ":preview"
			case 2:
				path, body = base+"/audiences:estimate", estimateBody(rng, existing)
			}
			a := &accs[ri]
			t0 := time.Now()
			code, resp, err := postJSON(ctx, client, path, body)
			el := time.Since(t0)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			a.lats = append(a.lats, el)
			var n int64
			if err == nil && code != http.StatusOK {
				err = fmt.Errorf("status %d: %s", code, bytes.TrimSpace(resp[:min(len(resp), 300)]))
			}
			if err == nil {
				n, err = checkPreview(route, resp)
			}
			if err != nil {
				a.errors++
				if a.first == "" {
					a.first = err.Error()
				}
				continue
			}
			a.counts = append(a.counts, n)
		}
	}
	p := &Preview{Workspace: ws, Contacts: contacts}
	for ri, route := range previewRoutes {
		a := accs[ri]
		e := PreviewEndpoint{Route: route, Requests: len(a.lats), Errors: a.errors, FirstError: a.first}
		e.P50Ms, e.P99Ms, e.MaxMs, e.MeanMs = latencySummary(a.lats)
		if len(a.counts) > 0 {
			e.MinCount, e.MaxCount = slices.Min(a.counts), slices.Max(a.counts)
		}
		if e.Errors > 0 {
			r.note("preview: %d of %d requests to %s failed; the first: %s", e.Errors, e.Requests, route, e.FirstError)
		}
		p.Endpoints = append(p.Endpoints, e)
	}
	return p, nil
}

// latencySummary returns the p50, p99, max and mean of lats in milliseconds (the
// quantiles by rank: the value at ⌊q·n⌋ of the sorted sample); NaN without samples.
func latencySummary(lats []time.Duration) (p50, p99, maxMs, mean float64) {
	if len(lats) == 0 {
		return math.NaN(), math.NaN(), math.NaN(), math.NaN()
	}
	s := slices.Clone(lats)
	slices.Sort(s)
	q := func(f float64) float64 { return ms(s[min(len(s)-1, int(f*float64(len(s))))]) }
	var tot time.Duration
	for _, d := range s {
		tot += d
	}
	return q(0.5), q(0.99), ms(s[len(s)-1]), ms(tot) / float64(len(s))
}

// postJSON posts body and returns the status and the whole response body.
func postJSON(ctx context.Context, c *http.Client, u string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("read the answer: %w", err)
	}
	return resp.StatusCode, b, nil
}
