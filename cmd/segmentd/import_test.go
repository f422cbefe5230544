package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/internal/kafkatest"
	"github.com/segmentd/segmentd/internal/testseed"
)

// writeImportFile writes a JSON Lines export of 100,000 records, as the Admin API
// exports customers and orders, shuffled, with blank lines, invalid records and guest
// orders. It returns the path and what the import must make of it, which does not
// depend on the random order: the seed is fresh at each run (logged, and replayed with
// SEGMENTD_TEST_SEED=<seed>), with no fixed seed besides, as one import takes seconds.
type importExpect struct {
	customers, orders int
	rejected          map[string]int
}

func writeImportFile(t *testing.T) (string, importExpect) {
	t.Helper()
	rng := rand.New(rand.NewPCG(testseed.Seeds(t, nil, 1)[0], 7))
	var lines []string
	add := func(n int, f func(i int) string) {
		for i := range n {
			lines = append(lines, f(i))
		}
	}
	ts := func(i int) string {
		return time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute).Format(time.RFC3339)
	}
	// Customer ids in the three accepted forms, some beyond 2^53.
	cid := func(i int) (string, int64) {
		id := int64(7_000_000_000 + i)
		if i%1000 == 0 {
			id = 9_007_199_254_740_993 + int64(i) // > 2^53: must not go through a float
		}
		switch i % 3 {
		case 1:
			return strconv.Quote(strconv.FormatInt(id, 10)), id
		case 2:
			return strconv.Quote("gid://shopify/Customer/" + strconv.FormatInt(id, 10)), id
		}
		return strconv.FormatInt(id, 10), id
	}
	const customers = 30_000
	add(customers, func(i int) string {
		id, _ := cid(i)
		return fmt.Sprintf(`{"id":%s,"email":"c%d@example.com","first_name":"Ana","last_name":"López","phone":"+5215512345%03d","created_at":%q,"updated_at":%q,"default_address":{"country_code":"MX"},"tags":"vip, wholesale","orders_count":2,"total_spent":"120.50"}`,
			id, i, i%1000, ts(i), ts(i+1))
	})
	add(200, func(i int) string { // invalid customer ids; the last has none (missing_field, as the processor says)
		return []string{`{"id":"abc","email":"x@example.com"}`, `{"id":0}`, `{"id":"gid://shopify/Order/5"}`, `{"email":"no-id@example.com"}`}[i%4]
	})
	const orders = 66_000
	add(orders, func(i int) string {
		id, _ := cid(rng.IntN(customers))
		return fmt.Sprintf(`{"id":%d,"order_number":%d,"customer":{"id":%s,"email":"c@example.com"},"created_at":%q,"updated_at":%q,"test":false,"total_price":"%d.99","currency":"MXN","line_items":[{"product_id":%d,"vendor":"Acme","price":"10.00","quantity":1}]}`,
			5_000_000_000+i, 1000+i, id, ts(i), ts(i), 10+i%90, 800+i%50)
	})
	add(2000, func(i int) string { // guest checkouts
		return fmt.Sprintf(`{"id":%d,"order_number":%d,"customer":null,"created_at":%q,"total_price":"5.00","line_items":[]}`, 6_000_000_000+i, i, ts(i))
	})
	add(1000, func(i int) string { // guest checkouts without the key
		return fmt.Sprintf(`{"id":%d,"line_items":[{"product_id":1,"price":"1.00","quantity":1}]}`, 6_100_000_000+i)
	})
	add(300, func(i int) string {
		return fmt.Sprintf(`{"id":%d,"line_items":[],"customer":"c%d"}`, 6_200_000_000+i, i)
	})
	add(200, func(i int) string {
		return fmt.Sprintf(`{"id":%d,"line_items":[],"customer":{"id":-5}}`, 6_300_000_000+i)
	})
	add(300, func(i int) string { return []string{`{"id":1,`, `not json`, `{"id":1}}`}[i%3] })
	if len(lines) != 100_000 {
		t.Fatalf("generated %d lines", len(lines))
	}
	rng.Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
	var b bytes.Buffer
	for i, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
		if i%10_000 == 0 {
			b.WriteString("\n  \n") // blank lines are skipped, not rejected
		}
	}
	path := filepath.Join(t.TempDir(), "export.jsonl")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, importExpect{customers: customers, orders: orders,
		rejected: map[string]int{"guest_order": 3000, "invalid_id": 350, "missing_field": 50, "wrong_type": 300, "invalid_json": 300}}
}

func TestImport100k(t *testing.T) {
	path, want := writeImportFile(t)
	b := kafkatest.Kfake(t)
	topic := b.Topic(t, "events", 3, nil)
	var stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := importCommand(ctx, []string{"--brokers", strings.Join(b.Addrs, ","), "--shop", " Acme.MyShopify.com ",
		"--events-topic", topic, "--progress-interval", "1ms", path}, io.Discard, &stderr)
	if err != nil {
		t.Fatalf("import: %v\n%s", err, stderr.String())
	}
	out := stderr.String()

	// The summary: produced counts and rejected counts by reason.
	produced := want.customers + want.orders
	rejected := 0
	for _, n := range want.rejected {
		rejected += n
	}
	summary := fmt.Sprintf("produced %d events to %s (%d customers, %d orders); rejected %d records\n", produced, topic, want.customers, want.orders, rejected)
	if !strings.Contains(out, summary) {
		t.Errorf("no summary %q in:\n%s", summary, tailLines(out, 20))
	}
	for reason, n := range want.rejected {
		if !regexp.MustCompile(`(?m)^ +` + strconv.Itoa(n) + `  ` + reason + `$`).MatchString(out) {
			t.Errorf("no count %d %s in:\n%s", n, reason, tailLines(out, 20))
		}
	}
	// Progress lines, since stderr is not a terminal: periodic, one per line.
	progress := regexp.MustCompile(`(?m)^import `+regexp.QuoteMeta(path)+`: [0-9.]+%, [0-9]+ produced, [0-9]+ rejected, [0-9]+/s$`).FindAllString(out, -1)
	if len(progress) < 2 {
		t.Errorf("%d progress lines in:\n%s", len(progress), tailLines(out, 20))
	}
	if strings.Contains(out, "\r") || !strings.Contains(out, "import done in ") {
		t.Errorf("terminal progress or no end line:\n%s", tailLines(out, 20))
	}

	// The records: Form B envelopes keyed <workspace>/<customer id> (SPEC §2).
	cl := b.Client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	byTopic := map[string]int{}
	deliveries := map[string]bool{}
	n := 0
	for n < produced {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records", n, produced)
		}
		fs.EachRecord(func(r *kgo.Record) {
			n++
			var env struct {
				Topic      string `json:"topic"`
				Shop       string `json:"shop"`
				ID         string `json:"id"`
				OccurredAt string `json:"occurred_at"`
				Payload    struct {
					ID       json.RawMessage `json:"id"`
					Customer struct {
						ID json.RawMessage `json:"id"`
					} `json:"customer"`
				}
			}
			if err := json.Unmarshal(r.Value, &env); err != nil {
				t.Fatalf("record %s: %v", r.Value, err)
			}
			raw := env.Payload.ID
			if env.Topic == "orders/create" {
				raw = env.Payload.Customer.ID
			}
			id, ok := customerID(raw)
			if !ok || string(r.Key) != "acme.myshopify.com/"+id || env.Shop != "acme.myshopify.com" {
				t.Fatalf("key %s for %s payload %s", r.Key, env.Topic, raw)
			}
			if !strings.HasPrefix(env.ID, "import:"+env.Topic+":") || deliveries[env.ID] || env.OccurredAt == "" {
				t.Fatalf("delivery id %q (seen %v), occurred_at %q", env.ID, deliveries[env.ID], env.OccurredAt)
			}
			deliveries[env.ID] = true
			byTopic[env.Topic]++
		})
	}
	if byTopic["customers/update"] != want.customers || byTopic["orders/create"] != want.orders || len(byTopic) != 2 {
		t.Fatalf("records by topic: %v", byTopic)
	}
	// Nothing more than produced.
	extra, cancelExtra := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancelExtra()
	if fs := cl.PollFetches(extra); fs.NumRecords() > 0 {
		t.Fatalf("%d records more than the %d produced", fs.NumRecords(), produced)
	}
}

// A customer id beyond 2^53 keeps every digit in the key.
func TestImportBigID(t *testing.T) {
	im := &importer{ws: "acme.myshopify.com", rejected: map[string]int{}}
	rec, reason := im.convert([]byte(`{"id":"gid://shopify/Customer/9007199254740993","updated_at":"2024-01-01T00:00:00Z"}`))
	if rec == nil || string(rec.Key) != "acme.myshopify.com/9007199254740993" {
		t.Fatalf("%v %q", rec, reason)
	}
	if _, reason := im.convert([]byte(`{"id":1,"line_items":[],"customer":null}`)); !strings.HasPrefix(reason, "guest_order:") {
		t.Fatalf("guest order: %q", reason)
	}
}

func tailLines(s string, n int) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestImportValidatesRecords: import checks each record with the processor's decoder,
// so a record the processor would dead-letter is rejected in the summary, by reason and
// with its file and line, and not produced; and --shop follows the workspace rule.
func TestImportValidatesRecords(t *testing.T) {
	b := kafkatest.Kfake(t)
	topic := b.Topic(t, "events", 1, nil)
	lines := []string{
		`{"id":1,"email":"a@example.com","updated_at":"2024-01-01T00:00:00Z"}`,               // 1: valid
		`{"id":2,"email":5,"updated_at":"2024-01-01T00:00:00Z"}`,                             // 2: wrong_type
		`{"id":3,"updated_at":"yesterday"}`,                                                  // 3: invalid_timestamp
		`{"id":10,"order_number":1,"customer":{"id":1},"total_price":"abc","line_items":[]}`, // 4: wrong_type
		`{"id":11,"order_number":2,"customer":{"id":1},"created_at":"2024-01-02T00:00:00Z","total_price":"5.00","line_items":[{"product_id":1,"price":"5.00","quantity":1}]}`, // 5: valid
		`{"id":4,"email_marketing_consent":{"state":"maybe"},"updated_at":"2024-01-01T00:00:00Z"}`,                                                                            // 6: invalid_enum
	}
	path := filepath.Join(t.TempDir(), "export.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	if err := importCommand(ctx, []string{"--brokers", strings.Join(b.Addrs, ","), "--shop", "acme.myshopify.com",
		"--events-topic", topic, path}, io.Discard, &stderr); err != nil {
		t.Fatalf("import: %v\n%s", err, stderr.String())
	}
	out := stderr.String()
	if want := "produced 2 events to " + topic + " (1 customers, 1 orders); rejected 4 records\n"; !strings.Contains(out, want) {
		t.Errorf("no summary %q in:\n%s", want, out)
	}
	for _, want := range []string{
		`(?m)^ +2  wrong_type$`,
		`(?m)^ +` + regexp.QuoteMeta(path) + `:2: wrong_type: payload\.email: `,
		`(?m)^ +` + regexp.QuoteMeta(path) + `:4: wrong_type: payload\.total_price: `,
		`(?m)^ +1  invalid_timestamp$`,
		`(?m)^ +` + regexp.QuoteMeta(path) + `:3: invalid_timestamp: occurred_at: `,
		`(?m)^ +1  invalid_enum$`,
		`(?m)^ +` + regexp.QuoteMeta(path) + `:6: invalid_enum: payload\.email_marketing_consent`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("no line matching %s in:\n%s", want, out)
		}
	}
	cl := b.Client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	var got []string
	for len(got) < 2 && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got = append(got, string(r.Key)) })
	}
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancelShort()
	cl.PollFetches(short).EachRecord(func(r *kgo.Record) { got = append(got, string(r.Key)) })
	if strings.Join(got, " ") != "acme.myshopify.com/1 acme.myshopify.com/1" {
		t.Errorf("produced records keyed %q, want only the two valid ones", got)
	}

	// A shop that is not a shop domain is refused before anything is produced.
	for _, shop := range []string{"acme.myshopify.com:8080", "..", "<script>", "acme_shop.example.com"} {
		stderr.Reset()
		err := importCommand(ctx, []string{"--brokers", strings.Join(b.Addrs, ","), "--shop", shop, "--events-topic", topic, path}, io.Discard, &stderr)
		if err == nil || !strings.Contains(err.Error(), "is not a shop domain") || exitCode(err) != 2 {
			t.Errorf("--shop %q: error %v (exit %d), want a usage error naming the rule", shop, err, exitCode(err))
		}
	}
	again, cancelAgain := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancelAgain()
	if fs := cl.PollFetches(again); fs.NumRecords() > 0 {
		t.Errorf("%d records produced with invalid --shop values", fs.NumRecords())
	}
}
