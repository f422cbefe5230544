package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/events"
)

// importFlags are the flags of `segmentd import`.
type importFlags struct {
	kafka kafkaFlags
	shop  string
	topic string
	every time.Duration
}

// newImportFlagSet returns the flags of `segmentd import`, bound to f.
func newImportFlagSet(f *importFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("segmentd import", flag.ContinueOnError)
	f.kafka.register(fs)
	fs.StringVar(&f.shop, "shop", "", "shop domain of the records, e.g. acme.myshopify.com (required)")
	fs.StringVar(&f.topic, "events-topic", "segmentd.events", "events topic to produce to")
	fs.DurationVar(&f.every, "progress-interval", 2*time.Second, "interval of progress lines when stderr is not a terminal")
	return fs
}

// importCommand loads a shop's existing customers and orders (JSON Lines, one object
// per line as the Admin API exports them) by producing them as Form B events, so
// that history from before the stream counts (SPEC §8). Its help goes to stdout, its
// progress and summary to stderr.
func importCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f importFlags
	fs := newImportFlagSet(&f)
	files, err := parseCommand(fs, args, stdout, 1, -1)
	if err != nil {
		return err
	}
	if f.shop == "" {
		return usagef(fs, "--shop is required")
	}
	// The workspace rule of the events (and of the admin API): a record of any other shop
	// would be dead-lettered invalid_id.
	ws, ok := events.ParseWorkspace(strings.TrimSpace(f.shop))
	if !ok {
		return usagef(fs, "--shop %q is not a shop domain (dot-separated labels of letters, digits and inner hyphens, e.g. acme.myshopify.com)", f.shop)
	}
	brokers := f.kafka.seedBrokers()
	kopts, err := f.kafka.options()
	if err != nil {
		return err
	}
	// A record not delivered within the timeout fails the import instead of hanging it.
	cl, err := kgo.NewClient(append(kopts, kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(f.topic),
		kgo.RecordDeliveryTimeout(deliveryTimeout))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := checkKafka(ctx, cl, brokers, f.topic); err != nil {
		return err
	}

	im := &importer{ws: ws, rejected: map[string]int{}, examples: map[string][]string{}, now: time.Now()}
	var produced, failed atomic.Int64
	var produceErr atomic.Value
	prog := newProgress(stderr, f.every)
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("open %s: %w", path, err)
		}
		st, _ := f.Stat()
		prog.file(path, st.Size())
		r := bufio.NewReaderSize(f, 1<<20)
		line := 0
		var read int64
		for {
			b, err := r.ReadBytes('\n')
			read += int64(len(b))
			if len(strings.TrimSpace(string(b))) > 0 {
				line++
				rec, reason := im.convert(b)
				if rec == nil {
					code, _, _ := strings.Cut(reason, ":") // counted by reason code, shown with detail
					im.rejected[code]++
					if len(im.examples[code]) < examplesPerReason {
						im.examples[code] = append(im.examples[code], fmt.Sprintf("%s:%d: %s", path, line, reason))
					}
				} else {
					cl.Produce(ctx, rec, func(_ *kgo.Record, err error) {
						if err != nil {
							failed.Add(1)
							produceErr.CompareAndSwap(nil, err)
							return
						}
						produced.Add(1)
					})
				}
				prog.update(read, produced.Load(), im.total())
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				f.Close()
				return fmt.Errorf("read %s: %w", path, err)
			}
			if ctx.Err() != nil {
				f.Close()
				return ctx.Err()
			}
		}
		f.Close()
	}
	if err := cl.Flush(ctx); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	prog.done(produced.Load(), im.total())
	fmt.Fprintf(stderr, "produced %d events to %s (%d customers, %d orders); rejected %d records\n",
		produced.Load(), f.topic, im.customers, im.orders, im.total())
	reasons := make([]string, 0, len(im.rejected))
	for r := range im.rejected {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		fmt.Fprintf(stderr, "  %6d  %s\n", im.rejected[r], r)
		for _, ex := range im.examples[r] {
			fmt.Fprintf(stderr, "          %s\n", ex)
		}
		if more := im.rejected[r] - len(im.examples[r]); more > 0 {
			fmt.Fprintf(stderr, "          and %d more\n", more)
		}
	}
	if n := failed.Load(); n > 0 {
		return fmt.Errorf("%d events failed to produce to %s on %s: %v", n, f.topic, strings.Join(brokers, ","), produceErr.Load())
	}
	return nil
}

// deliveryTimeout bounds how long import waits for a record to be produced (retries
// included): a broker lost in the middle of an import fails it instead of hanging it.
const deliveryTimeout = time.Minute

// examplesPerReason is how many rejected records of each reason the summary names by
// file and line.
const examplesPerReason = 3

type importer struct {
	ws                string
	now               time.Time // the record time the validation assumes
	customers, orders int
	rejected          map[string]int      // by reason code
	examples          map[string][]string // by reason code: "file:line: reason: detail"
}

func (im *importer) total() int {
	n := 0
	for _, c := range im.rejected {
		n += c
	}
	return n
}

// convert turns one exported object into a Form B event record, or returns a
// rejection reason "<code>: <detail>". Each record is checked by the processor's own
// decoder (events.Decode), so what it would dead-letter is rejected here, with the same
// reason code, and not produced.
func (im *importer) convert(line []byte) (*kgo.Record, string) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(line, &obj); err != nil {
		return nil, "invalid_json: " + firstLine(err.Error())
	}
	_, hasItems := obj["line_items"]
	_, hasOrderNumber := obj["order_number"]
	isOrder := hasItems || hasOrderNumber
	// The contact key; the decoder checks the payload's customer id against it.
	topic := "customers/update"
	cid, _ := customerID(obj["id"])
	if isOrder {
		topic = "orders/create"
		var cust struct {
			ID json.RawMessage `json:"id"`
		}
		cid = ""
		if json.Unmarshal(obj["customer"], &cust) == nil {
			cid, _ = customerID(cust.ID)
		}
	}
	objID := strings.Trim(string(obj["id"]), `"`)
	updated := strings.Trim(string(obj["updated_at"]), `"`)
	// A deterministic delivery id: importing the same file twice applies it once.
	delivery := "import:" + topic + ":" + objID + ":" + updated
	env := map[string]any{"topic": topic, "shop": im.ws, "id": delivery, "payload": json.RawMessage(line)}
	if updated != "" && updated != "null" {
		env["occurred_at"] = updated
	}
	val, err := json.Marshal(env)
	if err != nil {
		return nil, "invalid_json: " + err.Error()
	}
	rec := &kgo.Record{Key: []byte(im.ws + "/" + cid), Value: val}
	if _, err := events.Decode(&events.Record{Key: rec.Key, Value: rec.Value, Timestamp: im.now}, nil); err != nil {
		var e *events.Error
		switch {
		case errors.Is(err, events.ErrGuestOrder):
			return nil, "guest_order: order without a customer"
		case errors.As(err, &e):
			return nil, string(e.Reason) + ": " + e.Detail
		}
		return nil, "invalid: " + err.Error()
	}
	if isOrder {
		im.orders++
	} else {
		im.customers++
	}
	return rec, ""
}

// customerID reads a customer id given as a number, a numeric string or a gid.
func customerID(raw json.RawMessage) (string, bool) {
	s := strings.TrimSpace(string(raw))
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", false
		}
		s = strings.TrimPrefix(s, "gid://shopify/Customer/")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return "", false
	}
	return strconv.FormatInt(n, 10), true
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// progress shows import progress: a redrawn line on a terminal, periodic lines
// otherwise.
type progress struct {
	w     io.Writer
	tty   bool
	every time.Duration
	last  time.Time
	name  string
	size  int64
	start time.Time
}

func newProgress(w io.Writer, every time.Duration) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		st, err := f.Stat()
		tty = err == nil && st.Mode()&os.ModeCharDevice != 0
	}
	return &progress{w: w, tty: tty, every: every, start: time.Now()}
}

func (p *progress) file(name string, size int64) { p.name, p.size = name, size }

func (p *progress) update(read, produced int64, rejected int) {
	interval := p.every
	if p.tty {
		interval = 100 * time.Millisecond
	}
	if time.Since(p.last) < interval {
		return
	}
	p.last = time.Now()
	pct := 100.0
	if p.size > 0 {
		pct = 100 * float64(read) / float64(p.size)
	}
	rate := float64(produced) / time.Since(p.start).Seconds()
	if p.tty {
		bar := strings.Repeat("#", int(pct/5)) + strings.Repeat(".", 20-int(pct/5))
		fmt.Fprintf(p.w, "\r%s [%s] %5.1f%%  %d produced  %d rejected  %.0f/s ", p.name, bar, pct, produced, rejected, rate)
	} else {
		fmt.Fprintf(p.w, "import %s: %.1f%%, %d produced, %d rejected, %.0f/s\n", p.name, pct, produced, rejected, rate)
	}
}

func (p *progress) done(produced int64, rejected int) {
	if p.tty {
		fmt.Fprintln(p.w)
	}
	fmt.Fprintf(p.w, "import done in %s\n", time.Since(p.start).Round(time.Millisecond))
}
