package events

import (
	"bytes"
	"encoding/json"
	"errors"

	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/govalues/decimal"
)

// The data-driven test files testdata/*.txt, read by cockroachdb/datadriven, hold cases
// like
//
//	# comment
//	case <name>
//	key acme.myshopify.com/1          (no argument: no key)
//	header X-Shopify-Topic: customers/create
//	timestamp 2024-01-02T03:04:05Z    (record timestamp)
//	file webhooks/customers_create.json   or   value {"inline": "json"}   or   value-nil
//	catalog                           (decode with DecodeCatalog)
//	----
//	<expected output: the rendered event or entry, or "error: <reason>: <detail>">
//
// separated by blank lines. Run `go test ./events -run TestDataDriven -rewrite` to
// regenerate the outputs after a deliberate change, and review the diff.
//
// Every events case that decodes (or is a guest order) is also decoded in the other form
// (a forwarded webhook rewrapped as an envelope, an envelope unwrapped into a webhook with
// headers) and must give the same output.

// ddCase is one case: its name, its position (file:line) and the directive lines that
// make its record.
type ddCase struct {
	name      string
	pos       string
	directive []string
}

func caseOf(t testing.TB, d *datadriven.TestData) ddCase {
	t.Helper()
	if d.Cmd != "case" {
		t.Fatalf("%s: %q: want \"case <name>\"", d.Pos, d.Cmd)
	}
	c := ddCase{name: strings.TrimPrefix(d.FullCmd(), "case "), pos: d.Pos}
	if d.Input != "" {
		c.directive = strings.Split(d.Input, "\n")
	}
	return c
}

// readCases returns the cases of a test file (for the fuzz tests' seed corpus).
func readCases(t testing.TB, path string) []ddCase {
	t.Helper()
	var cases []ddCase
	datadriven.RunTestAny(t, path, func(t testing.TB, d *datadriven.TestData) string {
		cases = append(cases, caseOf(t, d))
		return d.Expected
	})
	return cases
}

// buildRecord turns directives into a record; catalog reports the catalog directive.
func buildRecord(t testing.TB, c ddCase) (r *Record, catalog bool) {
	t.Helper()
	r = &Record{Value: []byte{}}
	for _, d := range c.directive {
		cmd, arg, _ := strings.Cut(d, " ")
		switch cmd {
		case "key":
			if arg != "" {
				r.Key = []byte(arg)
			}
		case "header":
			name, value, ok := strings.Cut(arg, ": ")
			if !ok {
				name, value = strings.TrimSuffix(arg, ":"), ""
			}
			r.Headers = append(r.Headers, Header{Key: name, Value: []byte(value)})
		case "timestamp":
			ts, err := time.Parse(time.RFC3339Nano, arg)
			if err != nil {
				t.Fatalf("%s: %v", c.pos, err)
			}
			r.Timestamp = ts
		case "file":
			b, err := os.ReadFile(filepath.Join("testdata", arg))
			if err != nil {
				t.Fatalf("%s: %v", c.pos, err)
			}
			r.Value = b
		case "value":
			r.Value = []byte(arg)
		case "value-nil":
			r.Value = nil
		case "catalog":
			catalog = true
		case "":
		default:
			if !strings.HasPrefix(cmd, "#") {
				t.Fatalf("%s: unknown directive %q", c.pos, d)
			}
		}
	}
	return r, catalog
}

func TestDataDriven(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
				c := caseOf(t, d)
				r, catalog := buildRecord(t, c)
				if catalog {
					e, err := DecodeCatalog(r)
					return renderCatalog(e, err)
				}
				ev, err := Decode(r, nil)
				got := renderResult(ev, err)
				if ev != nil || errors.Is(err, ErrGuestOrder) {
					if other := otherForm(t, r); other != nil {
						ev2, err2 := Decode(other, nil)
						if got2 := renderResult(ev2, err2); got2 != got {
							t.Errorf("%s: %s: the other form decodes differently:\n%s\nwant (first form):\n%s",
								c.pos, c.name, got2, got)
						}
					}
				}
				return got
			})
		})
	}
}

// otherForm returns r in the other form, or nil if r is not clearly in one form.
func otherForm(t *testing.T, r *Record) *Record {
	t.Helper()
	h, _ := readHeaders(r.Headers)
	var env struct {
		Topic      *string
		Shop       *string
		ID         json.RawMessage
		OccurredAt json.RawMessage `json:"occurred_at"`
		Payload    json.RawMessage
	}
	_ = json.Unmarshal(r.Value, &env)
	other := &Record{Key: r.Key, Timestamp: r.Timestamp}
	for _, hd := range r.Headers {
		if n := strings.ToLower(hd.Key); strings.HasSuffix(n, "event-id") || strings.HasSuffix(n, "api-version") {
			other.Headers = append(other.Headers, hd)
		}
	}
	switch {
	case env.Topic != nil && env.Payload != nil: // Form B → A
		other.Headers = append(other.Headers,
			Header{"X-Shopify-Topic", []byte(*env.Topic)},
			Header{"X-Shopify-Shop-Domain", []byte(*env.Shop)})
		if len(env.ID) > 0 && string(env.ID) != "null" {
			other.Headers = append(other.Headers, Header{"X-Shopify-Webhook-Id", []byte(strings.Trim(string(env.ID), `"`))})
		}
		if len(env.OccurredAt) > 0 && string(env.OccurredAt) != "null" {
			other.Headers = append(other.Headers, Header{"X-Shopify-Triggered-At", []byte(strings.Trim(string(env.OccurredAt), `"`))})
		}
		other.Value = env.Payload
	case h.hasTopic: // Form A → B
		var b bytes.Buffer
		fmt.Fprintf(&b, `{"topic":%q,"shop":%q`, h.topic, h.shop)
		if len(h.webhookID) > 0 {
			fmt.Fprintf(&b, `,"id":%q`, h.webhookID)
		}
		if len(h.triggeredAt) > 0 {
			fmt.Fprintf(&b, `,"occurred_at":%q`, h.triggeredAt)
		}
		fmt.Fprintf(&b, `,"payload":%s}`, r.Value)
		other.Value = b.Bytes()
	default:
		return nil
	}
	return other
}

func renderResult(ev *Event, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	var b strings.Builder
	renderValue(&b, "", reflect.ValueOf(*ev))
	return strings.TrimSuffix(b.String(), "\n")
}

func renderCatalog(e *CatalogEntry, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	var b strings.Builder
	renderValue(&b, "", reflect.ValueOf(*e))
	if e.Collections == nil {
		b.WriteString("tombstone\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

var (
	timeType    = reflect.TypeOf(time.Time{})
	decimalType = reflect.TypeOf(decimal.Decimal{})
	optType     = reflect.TypeOf(OptString{})
	optTimeType = reflect.TypeOf(OptTime{})
)

// renderValue writes the non-zero fields of v as "path: value" lines, in field order.
// OptString and OptTime fields show as "absent" only by their absence, "null" when cleared.
func renderValue(b *strings.Builder, path string, v reflect.Value) {
	join := func(name string) string {
		name = snake(name)
		if path == "" {
			return name
		}
		return path + "." + name
	}
	switch {
	case v.Type() == timeType:
		if t := v.Interface().(time.Time); !t.IsZero() {
			fmt.Fprintf(b, "%s: %s\n", path, t.Format(time.RFC3339Nano))
		}
		return
	case v.Type() == decimalType:
		fmt.Fprintf(b, "%s: %s\n", path, v.Interface().(decimal.Decimal))
		return
	case v.Type() == optType:
		if o := v.Interface().(OptString); o.Present {
			if o.Value == "" {
				fmt.Fprintf(b, "%s: null\n", path)
			} else {
				fmt.Fprintf(b, "%s: %q\n", path, o.Value)
			}
		}
		return
	case v.Type() == optTimeType:
		if o := v.Interface().(OptTime); o.Present {
			if o.Value.IsZero() {
				fmt.Fprintf(b, "%s: null\n", path)
			} else {
				fmt.Fprintf(b, "%s: %s\n", path, o.Value.Format(time.RFC3339Nano))
			}
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			renderValue(b, join(v.Type().Field(i).Name), v.Field(i))
		}
	case reflect.Pointer:
		if !v.IsNil() {
			fmt.Fprintf(b, "%s: set\n", path)
			renderValue(b, path, v.Elem())
		}
	case reflect.Slice:
		if v.IsNil() {
			return
		}
		if v.Type().Elem().Kind() == reflect.String {
			fmt.Fprintf(b, "%s: %q\n", path, v.Interface())
			return
		}
		fmt.Fprintf(b, "%s: %d items\n", path, v.Len())
		for i := 0; i < v.Len(); i++ {
			renderValue(b, path+"["+strconv.Itoa(i)+"]", v.Index(i))
		}
	case reflect.String:
		if v.String() != "" {
			fmt.Fprintf(b, "%s: %q\n", path, v.String())
		}
	case reflect.Bool:
		if v.Bool() {
			fmt.Fprintf(b, "%s: true\n", path)
		}
	default:
		if !v.IsZero() {
			fmt.Fprintf(b, "%s: %v\n", path, v.Interface())
		}
	}
}

// snake turns a Go field name into snake case: CustomerID → customer_id.
func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		upper := 'A' <= r && r <= 'Z'
		if upper && i > 0 {
			prevLower := s[i-1] >= 'a' && s[i-1] <= 'z'
			nextLower := i+1 < len(s) && s[i+1] >= 'a' && s[i+1] <= 'z'
			if prevLower || nextLower {
				b.WriteByte('_')
			}
		}
		if upper {
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
