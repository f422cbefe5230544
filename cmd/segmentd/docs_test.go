package main

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/segmentd/segmentd/events"
	"github.com/segmentd/segmentd/operators"
	"github.com/segmentd/segmentd/processor"
)

// The contract, docs/SPEC.md, is kept in step with the code by two kinds of marked
// sections:
//
//   - generated: <!-- BEGIN GENERATED name --> … <!-- END GENERATED name -->, written
//     from the code (flag sets, the rule language's field table, the admin routes of
//     admin/openapi.yaml). `go test ./cmd/segmentd -run TestDocs -update` rewrites them;
//     without -update the test fails when the file is not what the code generates.
//   - checked: <!-- BEGIN CHECKED name --> … <!-- END CHECKED name -->, prose tables
//     written by hand whose first column must name exactly the code's set (dead-letter
//     reasons, operators, fields with their values, event topics): the test fails when
//     the code has one the table lacks, or the table names one the code does not have.
var updateDocs = flag.Bool("update", false, "rewrite the generated sections of docs/SPEC.md")

const (
	specPath    = "../../docs/SPEC.md"
	openAPIPath = "../../admin/openapi.yaml"
)

func TestDocsGenerated(t *testing.T) {
	doc := readFile(t, specPath)
	want := doc
	for _, g := range generatedSections(t) {
		var err error
		if want, err = replaceSection(want, "GENERATED", g.name, g.body); err != nil {
			t.Fatal(err)
		}
	}
	if want == doc {
		return
	}
	if *updateDocs {
		if err := os.WriteFile(specPath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote the generated sections of %s", specPath)
		return
	}
	t.Errorf("%s is out of date with the code: run go test ./cmd/segmentd -run TestDocs -update\n%s",
		specPath, firstDifference(doc, want))
}

func TestDocsDeadLetterReasons(t *testing.T) {
	var want []string
	for _, r := range processor.DeadLetterReasons() {
		want = append(want, string(r))
	}
	checkNames(t, "reasons", want)
}

func TestDocsOperators(t *testing.T) {
	checkNames(t, "operators", operators.Operators())
}

func TestDocsFieldValues(t *testing.T) {
	var want []string
	for _, f := range operators.Fields() {
		want = append(want, f.Field)
	}
	checkNames(t, "field-values", want)
}

func TestDocsEventTopics(t *testing.T) {
	var want []string
	for name := range events.TopicNames() {
		want = append(want, name)
	}
	doc := readFile(t, specPath)
	got := append(firstColumnNames(t, doc, "shopify-topics"), firstColumnNames(t, doc, "messaging-topics")...)
	compareNames(t, "event topics (shopify-topics, messaging-topics)", got, want)
}

// TestDocsCommands: docs/SPEC.md §8 and the README list every command.
func TestDocsCommands(t *testing.T) {
	for _, path := range []string{specPath, "../../README.md"} {
		doc := readFile(t, path)
		for _, c := range commands() {
			first, rest, _ := strings.Cut(c.name, " ")
			if !strings.Contains(doc, "segmentd "+c.name) && !regexp.MustCompile(`segmentd `+first+` [a-z|]*\b`+rest+`\b`).MatchString(doc) {
				t.Errorf("%s does not list the command %q", path, c.name)
			}
		}
	}
}

// TestDocsChecksFail: the checks catch a name added to the code without documentation,
// and a documented name that the code does not have.
func TestDocsChecksFail(t *testing.T) {
	doc := "<!-- BEGIN CHECKED x -->\n| a | b |\n|---|---|\n| `one`, `two` | text `not_a_name` |\n| `three` | |\n<!-- END CHECKED x -->\n"
	got, err := tableNames(doc, "x")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"one", "two", "three"}) {
		t.Fatalf("names %q", got)
	}
	if missing, extra := diffNames(got, []string{"one", "two", "three", "four"}); !slices.Equal(missing, []string{"four"}) || len(extra) != 0 {
		t.Errorf("a new name: missing %q extra %q", missing, extra)
	}
	if missing, extra := diffNames(got, []string{"one", "two"}); len(missing) != 0 || !slices.Equal(extra, []string{"three"}) {
		t.Errorf("a removed name: missing %q extra %q", missing, extra)
	}
	// A generated section follows the flag set: a new flag changes it.
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.String("alpha", "1", "the alpha flag")
	before := flagTable(fs, nil)
	fs.Bool("beta", false, "the beta flag")
	if after := flagTable(fs, nil); after == before || !strings.Contains(after, "| `--beta` | `SEGMENTD_BETA` | `false` | the beta flag |") {
		t.Errorf("flag table ignores a new flag:\n%s", after)
	}
	if _, err := replaceSection("no markers", "GENERATED", "x", "body"); err == nil {
		t.Error("a missing section is not an error")
	}
}

// generated is the body of one generated section.
type generated struct {
	name string
	body string
}

func generatedSections(t *testing.T) []generated {
	t.Helper()
	kafka := flag.NewFlagSet("kafka", flag.ContinueOnError)
	new(kafkaFlags).register(kafka)
	api := flag.NewFlagSet("api", flag.ContinueOnError)
	new(apiFlags).register(api)
	skipKafka := names(kafka)
	skipBoth := append(names(kafka), names(api)...)
	return []generated{
		{"flags kafka", flagTable(kafka, nil)},
		{"flags api-client", flagTable(api, nil)},
		{"flags run", flagTable(newRunFlagSet(&runFlags{}), skipKafka)},
		{"flags import", flagTable(newImportFlagSet(&importFlags{}), skipKafka)},
		{"flags tail", flagTable(newTailFlagSet(&tailFlags{}), skipKafka)},
		{"flags segments-apply", flagTable(newApplyFlagSet(&applyFlags{}), skipBoth)},
		{"flags segments-list", flagTable(newListFlagSet(&listFlags{}), skipBoth)},
		{"flags contact-get", flagTable(newContactFlagSet(&clientFlags{}), skipBoth)},
		{"flags segments-get", flagTable(newSegmentGetFlagSet(&clientFlags{}), skipBoth)},
		{"flags contact-explain", flagTable(newExplainFlagSet(&explainFlags{}), skipBoth)},
		{"flags contact-search", flagTable(newSearchFlagSet(&searchFlags{}), skipBoth)},
		{"flags audience-estimate", flagTable(newEstimateFlagSet(&estimateFlags{}), skipBoth)},
		{"fields", fieldTable()},
		{"routes", routeTable(t)},
	}
}

func names(fs *flag.FlagSet) []string {
	var out []string
	fs.VisitAll(func(f *flag.Flag) { out = append(out, f.Name) })
	return out
}

// flagTable is the Markdown table of the flags of fs, except those in skip.
func flagTable(fs *flag.FlagSet, skip []string) string {
	var b strings.Builder
	b.WriteString("| flag | environment | default | meaning |\n|---|---|---|---|\n")
	fs.VisitAll(func(f *flag.Flag) {
		if slices.Contains(skip, f.Name) {
			return
		}
		def := "`" + f.DefValue + "`"
		if f.DefValue == "" {
			def = ""
		}
		dash := "--"
		if len(f.Name) == 1 {
			dash = "-"
		}
		fmt.Fprintf(&b, "| `%s%s` | `%s` | %s | %s |\n", dash, f.Name, envName(f.Name), def, cell(f.Usage))
	})
	return b.String()
}

// fieldTable is the table of fields and the operators each allows.
func fieldTable() string {
	var b strings.Builder
	b.WriteString("| field | operators |\n|---|---|\n")
	for _, f := range operators.Fields() {
		ops := make([]string, len(f.Ops))
		for i, o := range f.Ops {
			ops[i] = "`" + o + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s |\n", f.Field, strings.Join(ops, ", "))
	}
	return b.String()
}

// routeTable is the table of the admin API's operations, in the order of
// admin/openapi.yaml (which admin's own test keeps equal to the routes the handler
// serves).
func routeTable(t *testing.T) string {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(readFile(t, openAPIPath)), &doc); err != nil {
		t.Fatalf("%s: %v", openAPIPath, err)
	}
	paths := mappingValue(doc.Content[0], "paths")
	if paths == nil {
		t.Fatalf("%s has no paths", openAPIPath)
	}
	var b strings.Builder
	b.WriteString("| method and path | what |\n|---|---|\n")
	for i := 0; i+1 < len(paths.Content); i += 2 {
		path, item := paths.Content[i].Value, paths.Content[i+1]
		for j := 0; j+1 < len(item.Content); j += 2 {
			method := item.Content[j].Value
			switch method {
			case "get", "put", "post", "delete", "patch":
			default:
				continue // parameters, summary…
			}
			var op struct {
				Summary string `yaml:"summary"`
			}
			if err := item.Content[j+1].Decode(&op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			fmt.Fprintf(&b, "| `%s %s` | %s |\n", strings.ToUpper(method), path, cell(op.Summary))
		}
	}
	return b.String()
}

// mappingValue returns the value of key in the YAML mapping node m, or nil.
func mappingValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// cell makes s safe in a Markdown table cell.
func cell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
}

// replaceSection replaces the body of the marked section kind/name of doc.
func replaceSection(doc, kind, name, body string) (string, error) {
	begin := "<!-- BEGIN " + kind + " " + name + " -->\n"
	end := "<!-- END " + kind + " " + name + " -->"
	i := strings.Index(doc, begin)
	j := strings.Index(doc, end)
	if i < 0 || j < i {
		return "", fmt.Errorf("docs/SPEC.md has no section %q…%q", strings.TrimSpace(begin), end)
	}
	return doc[:i+len(begin)] + body + doc[j:], nil
}

// checkNames compares the names in the first column of the checked section with want.
func checkNames(t *testing.T, section string, want []string) {
	t.Helper()
	compareNames(t, section, firstColumnNames(t, readFile(t, specPath), section), want)
}

func compareNames(t *testing.T, what string, got, want []string) {
	t.Helper()
	missing, extra := diffNames(got, want)
	for _, n := range missing {
		t.Errorf("docs/SPEC.md (%s) does not document %q, which the code has", what, n)
	}
	for _, n := range extra {
		t.Errorf("docs/SPEC.md (%s) documents %q, which the code does not have", what, n)
	}
}

// diffNames returns the names of want missing from got, and those of got not in want.
func diffNames(got, want []string) (missing, extra []string) {
	for _, n := range want {
		if !slices.Contains(got, n) {
			missing = append(missing, n)
		}
	}
	for _, n := range got {
		if !slices.Contains(want, n) {
			extra = append(extra, n)
		}
	}
	return missing, extra
}

func firstColumnNames(t *testing.T, doc, section string) []string {
	t.Helper()
	got, err := tableNames(doc, section)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

var codeSpan = regexp.MustCompile("`([^`]+)`")

// tableNames returns the code spans of the first column of the table rows in the
// checked section name of doc (header and separator rows excluded).
func tableNames(doc, name string) ([]string, error) {
	begin := "<!-- BEGIN CHECKED " + name + " -->"
	end := "<!-- END CHECKED " + name + " -->"
	i := strings.Index(doc, begin)
	j := strings.Index(doc, end)
	if i < 0 || j < i {
		return nil, fmt.Errorf("docs/SPEC.md has no section %q…%q", begin, end)
	}
	var out []string
	rows := 0
	for _, line := range strings.Split(doc[i+len(begin):j], "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		if rows++; rows <= 2 {
			continue // header and separator
		}
		first, _, _ := strings.Cut(strings.TrimPrefix(line, "|"), "|")
		for _, m := range codeSpan.FindAllStringSubmatch(first, -1) {
			out = append(out, m[1])
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("docs/SPEC.md section %q names nothing", name)
	}
	return out, nil
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// firstDifference describes the first line where got and want differ.
func firstDifference(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) && i < len(w); i++ {
		if g[i] != w[i] {
			return fmt.Sprintf("line %d:\n  have: %s\n  want: %s", i+1, g[i], w[i])
		}
	}
	return fmt.Sprintf("lengths differ: %d and %d lines", len(g), len(w))
}
