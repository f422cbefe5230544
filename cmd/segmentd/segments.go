package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.yaml.in/yaml/v3"

	"github.com/segmentd/segmentd/admin"
	"github.com/segmentd/segmentd/operators"
)

// applyHelp is the longer help of `segmentd segments apply`.
const applyHelp = `FILE is JSON or YAML: one definition, a list of definitions, or several YAML documents
("-" reads standard input). Every definition is validated first; if any is invalid,
none is applied. By default they are written through the admin API of a running
segmentd (--server); with --direct, produced straight to the segments topic (--brokers).

With --dry-run nothing is applied: for each definition the admin API (--server, also
with --direct) previews what replacing the segment by it would do, over every
partition: its members now, the contacts the definition matches, how many would enter
and leave, and the lowest customer ids of each (--sample); --json prints the previews
as JSON.
`

// fileList is a repeated -f flag.
type fileList []string

func (l *fileList) String() string     { return strings.Join(*l, ",") }
func (l *fileList) Set(v string) error { *l = append(*l, v); return nil }

// applyFlags are the flags of `segmentd segments apply`.
type applyFlags struct {
	api    apiFlags
	kafka  kafkaFlags
	files  fileList
	ws     string
	direct bool
	topic  string
	dryRun bool
	sample int
	json   bool
}

// newApplyFlagSet returns the flags of `segmentd segments apply`, bound to f.
func newApplyFlagSet(f *applyFlags) *flag.FlagSet {
	fs := newAPIFlagSet("segmentd segments apply", &f.api)
	f.kafka.register(fs)
	fs.Var(&f.files, "f", "definitions file, JSON or YAML (repeatable; - for standard input)")
	fs.StringVar(&f.ws, "workspace", "", "workspace of definitions that do not name one")
	fs.BoolVar(&f.direct, "direct", false, "produce to the segments topic with --brokers instead of calling the admin API")
	fs.StringVar(&f.topic, "segments-topic", "segmentd.segments", "segments topic (with --direct)")
	fs.BoolVar(&f.dryRun, "dry-run", false, "apply nothing: preview through the admin API what each definition would change")
	fs.IntVar(&f.sample, "sample", admin.DefaultSample, fmt.Sprintf("with --dry-run: customer ids shown of those entering and of those leaving (0 to %d)", admin.MaxSample))
	fs.BoolVar(&f.json, "json", false, "with --dry-run: print the previews as JSON")
	return fs
}

func segmentsApply(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f applyFlags
	fs := newApplyFlagSet(&f)
	if _, err := parseCommand(fs, args, stdout, 0, 0); err != nil {
		return err
	}
	if len(f.files) == 0 {
		return usagef(fs, "-f FILE is required")
	}
	if !f.dryRun && (f.json || f.sample != admin.DefaultSample) {
		return usagef(fs, "--json and --sample go with --dry-run")
	}
	if f.sample < 0 || f.sample > admin.MaxSample {
		return usagef(fs, "--sample must be from 0 to %d", admin.MaxSample)
	}
	var err error

	var defs []*sourcedDefinition
	for _, name := range f.files {
		var data []byte
		if name == "-" {
			data, err = io.ReadAll(os.Stdin)
		} else {
			data, err = os.ReadFile(name)
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		ds, err := readDefinitions(name, data, f.ws)
		if err != nil {
			return err
		}
		defs = append(defs, ds...)
	}
	if len(defs) == 0 {
		return errors.New("no definition in " + f.files.String())
	}
	if invalid := validateDefinitions(defs); len(invalid) > 0 {
		for _, e := range invalid {
			fmt.Fprintln(stderr, e)
		}
		return fmt.Errorf("%d of %d definitions are invalid; none applied", len(invalid), len(defs))
	}
	if f.dryRun {
		return applyDryRun(ctx, &f, defs, stdout, stderr)
	}
	if f.direct {
		return applyDirect(ctx, &f.kafka, f.topic, defs, stdout)
	}
	cl, err := f.api.client()
	if err != nil {
		return err
	}
	failed := 0
	for _, d := range defs {
		path := "/v1/workspaces/" + url.PathEscape(d.def.Workspace) + "/segments/" + url.PathEscape(d.def.ID)
		var put admin.PutResponse
		status, err := cl.do(ctx, http.MethodPut, path, d.json, &put)
		if err != nil {
			failed++
			fmt.Fprintf(stderr, "%s: %s: %v\n", d.where, d.def.Key(), err)
			continue
		}
		// created, updated or unchanged (an identical definition: nothing written).
		verb := put.Result
		if verb == "" { // a server from before results were reported
			verb = admin.ResultUpdated
			if status == http.StatusCreated {
				verb = admin.ResultCreated
			}
		}
		fmt.Fprintf(stdout, "%s %s\n", verb, d.def.Key())
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d definitions failed", failed, len(defs))
	}
	return nil
}

// dryRunPreview is one definition's preview, as --dry-run --json prints it.
type dryRunPreview struct {
	Workspace string `json:"workspace"`
	ID        string `json:"id"`
	admin.ChangePreviewResponse
}

// applyDryRun previews each definition through the admin API (POST
// …/segments/{id}:preview) and prints the previews; nothing is written.
func applyDryRun(ctx context.Context, f *applyFlags, defs []*sourcedDefinition, stdout, stderr io.Writer) error {
	cl, err := f.api.client()
	if err != nil {
		return err
	}
	var out []dryRunPreview
	var parts []int32
	failed := 0
	for _, d := range defs {
		p := dryRunPreview{Workspace: d.def.Workspace, ID: d.def.ID}
		path := segmentPath(d.def.Workspace, d.def.ID) + ":preview?sample=" + strconv.Itoa(f.sample)
		if _, err := cl.do(ctx, http.MethodPost, path, d.json, &p.ChangePreviewResponse); err != nil {
			failed++
			fmt.Fprintf(stderr, "%s: %s: %v\n", d.where, d.def.Key(), err)
			continue
		}
		out = append(out, p)
		parts = p.Partitions
		if !f.json {
			printPreview(stdout, &p)
		}
	}
	if f.json {
		if out == nil {
			out = []dryRunPreview{}
		}
		if err := printJSON(stdout, out); err != nil {
			return err
		}
	} else if failed < len(defs) {
		fmt.Fprintf(stderr, "dry run: nothing applied; counted over partitions %s\n", joinInts(parts))
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d previews failed; nothing applied", failed, len(defs))
	}
	return nil
}

// printPreview prints a preview in a few lines:
//
//	acme.myshopify.com/big: 10 members, 10 would match: 4 would enter, 4 would leave
//	  entering: 6, 7, 8, 9
//	  leaving: 17, 18 (2 of 4)
func printPreview(w io.Writer, p *dryRunPreview) {
	fmt.Fprintf(w, "%s/%s: %d members, %d would match: %d would enter, %d would leave\n",
		p.Workspace, p.ID, p.Members, p.Matching, p.WouldEnter, p.WouldLeave)
	sample := func(what string, ids []int64, n int64) {
		if len(ids) == 0 {
			return
		}
		s := make([]string, len(ids))
		for i, id := range ids {
			s[i] = strconv.FormatInt(id, 10)
		}
		fmt.Fprintf(w, "  %s: %s", what, strings.Join(s, ", "))
		if int64(len(ids)) < n {
			fmt.Fprintf(w, " (%d of %d)", len(ids), n)
		}
		fmt.Fprintln(w)
	}
	sample("entering", p.SampleEntering, p.WouldEnter)
	sample("leaving", p.SampleLeaving, p.WouldLeave)
}

// applyDirect produces the definitions to the segments topic, keyed <ws>/<id>.
func applyDirect(ctx context.Context, kf *kafkaFlags, topic string, defs []*sourcedDefinition, stdout io.Writer) error {
	brokers := kf.seedBrokers()
	kopts, err := kf.options()
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(append(kopts, kgo.SeedBrokers(brokers...), kgo.RequiredAcks(kgo.AllISRAcks()))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	recs := make([]*kgo.Record, len(defs))
	for i, d := range defs {
		recs[i] = &kgo.Record{Topic: topic, Key: []byte(d.def.Key()), Value: d.json}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("produce to %s: %w", topic, err)
	}
	for _, d := range defs {
		fmt.Fprintf(stdout, "written %s to %s\n", d.def.Key(), topic)
	}
	return nil
}

// sourcedDefinition is a definition read from a file: where it was, its JSON and,
// once valid, the parsed definition.
type sourcedDefinition struct {
	where string // e.g. "segments.yaml, document 2, item 1 (line 14)"
	json  []byte
	def   *operators.Definition
}

// validateDefinitions parses every definition and returns the errors, each naming
// where the definition is and the path of the problem. Two definitions of one
// segment are an error too.
func validateDefinitions(defs []*sourcedDefinition) []string {
	var errs []string
	seen := map[string]string{}
	for _, d := range defs {
		def, err := operators.ParseDefinition(d.json)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", d.where, err))
			continue
		}
		d.def = def
		d.json, _ = json.Marshal(def) // a parsed definition always marshals
		if first, ok := seen[def.Key()]; ok {
			errs = append(errs, fmt.Sprintf("%s: %s is defined again (first in %s)", d.where, def.Key(), first))
			continue
		}
		seen[def.Key()] = d.where
	}
	return errs
}

// readDefinitions reads the definitions of a JSON or YAML file: one definition, a
// list of them, or several YAML documents of either. A definition without a
// workspace gets ws, if not empty. Values are carried to JSON as written: numbers
// keep their digits, unquoted dates stay strings.
func readDefinitions(name string, data []byte, ws string) ([]*sourcedDefinition, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		docs = append(docs, &n)
	}
	var out []*sourcedDefinition
	for d, root := range docs {
		if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
			root = root.Content[0]
		}
		if root.Kind == 0 || root.Kind == yaml.DocumentNode || root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
			continue // an empty document
		}
		where := name
		if len(docs) > 1 {
			where = fmt.Sprintf("%s, document %d", name, d+1)
		}
		items := []*yaml.Node{root}
		list := root.Kind == yaml.SequenceNode
		if list {
			items = root.Content
		}
		for i, item := range items {
			w := where
			if list {
				w = fmt.Sprintf("%s, item %d", where, i+1)
			}
			item = resolveAlias(item)
			w += fmt.Sprintf(" (line %d)", item.Line)
			if item.Kind != yaml.MappingNode {
				return nil, fmt.Errorf("%s: a definition must be an object", w)
			}
			var b bytes.Buffer
			if err := writeDefinitionJSON(&b, item, ws); err != nil {
				return nil, fmt.Errorf("%s: %w", w, err)
			}
			out = append(out, &sourcedDefinition{where: w, json: b.Bytes()})
		}
	}
	return out, nil
}

// writeDefinitionJSON writes a definition mapping as JSON, adding "workspace": ws
// first when the mapping has none and ws is not empty.
func writeDefinitionJSON(b *bytes.Buffer, n *yaml.Node, ws string) error {
	hasWS := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "workspace" {
			hasWS = true
		}
	}
	if hasWS || ws == "" {
		return writeJSON(b, n)
	}
	b.WriteString(`{"workspace":`)
	writeString(b, ws)
	if len(n.Content) > 0 {
		b.WriteByte(',')
	}
	var rest bytes.Buffer
	if err := writeJSON(&rest, n); err != nil {
		return err
	}
	b.Write(rest.Bytes()[1:]) // without its "{"
	return nil
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// writeJSON writes a YAML node as JSON. Numbers keep their literal when it is a JSON
// number (so 500.10 stays 500.10 and big ids keep every digit); timestamps and other
// scalars that are not numbers, booleans or null become strings.
func writeJSON(b *bytes.Buffer, n *yaml.Node) error {
	n = resolveAlias(n)
	switch n.Kind {
	case yaml.MappingNode:
		b.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			k := resolveAlias(n.Content[i])
			if k.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: a key must be a string", k.Line)
			}
			writeString(b, k.Value)
			b.WriteByte(':')
			if err := writeJSON(b, n.Content[i+1]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeJSON(b, c); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case yaml.ScalarNode:
		return writeScalar(b, n)
	default:
		return fmt.Errorf("line %d: unsupported YAML node", n.Line)
	}
	return nil
}

func writeScalar(b *bytes.Buffer, n *yaml.Node) error {
	switch n.ShortTag() {
	case "!!null":
		b.WriteString("null")
	case "!!bool":
		var v bool
		if err := n.Decode(&v); err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		b.WriteString(strconv.FormatBool(v))
	case "!!int", "!!float":
		if isJSONNumber(n.Value) {
			b.WriteString(n.Value)
			return nil
		}
		if n.ShortTag() == "!!int" { // 0x1f, 0o17, 1_000, +5
			var v int64
			if err := n.Decode(&v); err != nil {
				return fmt.Errorf("line %d: %w", n.Line, err)
			}
			b.WriteString(strconv.FormatInt(v, 10))
			return nil
		}
		var v float64
		if err := n.Decode(&v); err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		s, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("line %d: %q is not a finite number", n.Line, n.Value)
		}
		b.Write(s)
	case "!!str", "!!timestamp", "!!binary":
		writeString(b, n.Value)
	default:
		return fmt.Errorf("line %d: unsupported YAML tag %s", n.Line, n.Tag)
	}
	return nil
}

func writeString(b *bytes.Buffer, s string) {
	q, _ := json.Marshal(s) // a string always marshals
	b.Write(q)
}

// isJSONNumber reports whether s is a number in JSON syntax.
func isJSONNumber(s string) bool {
	if s == "" || !(s[0] == '-' || s[0] >= '0' && s[0] <= '9') {
		return false
	}
	var n json.Number
	return json.Unmarshal([]byte(s), &n) == nil
}

// listFlags are the flags of `segmentd segments list`.
type listFlags struct {
	clientFlags
	ws string
}

// newListFlagSet returns the flags of `segmentd segments list`, bound to f.
func newListFlagSet(f *listFlags) *flag.FlagSet {
	fs := newClientFlagSet("segmentd segments list", &f.clientFlags)
	fs.StringVar(&f.ws, "workspace", "", "workspace (shop domain) whose segments to list")
	return fs
}

func segmentsList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f listFlags
	fs := newListFlagSet(&f)
	pos, err := parseCommand(fs, args, stdout, 0, 1)
	if err != nil {
		return err
	}
	switch {
	case f.ws == "" && len(pos) == 1:
		f.ws = pos[0]
	case f.ws == "":
		return usagef(fs, "missing the workspace: usage: segmentd segments list WORKSPACE [flags]")
	case len(pos) > 0:
		return usagef(fs, "the workspace is given twice: --workspace %s and %s", f.ws, pos[0])
	}
	cl, err := f.api.client()
	if err != nil {
		return err
	}
	var list admin.SegmentListResponse
	if _, err := cl.do(ctx, http.MethodGet, "/v1/workspaces/"+url.PathEscape(strings.ToLower(f.ws))+"/segments", nil, &list); err != nil {
		return err
	}
	if f.json {
		return printJSON(stdout, list)
	}
	var table bytes.Buffer
	tw := tabwriter.NewWriter(&table, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tVERSION\tMEMBERS\tUSES\tUSED BY\tNAME")
	for _, s := range list.Segments {
		members := strconv.FormatInt(s.Members, 10)
		if s.Backfilling {
			members += " (backfilling)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.Version, members, idList(s.References), idList(s.ReferencedBy), s.Name)
	}
	tw.Flush()
	for _, line := range strings.Split(strings.TrimSuffix(table.String(), "\n"), "\n") {
		fmt.Fprintln(stdout, strings.TrimRight(line, " ")) // no padding after the last column
	}
	fmt.Fprintf(stderr, "%d segments; members counted over partitions %s\n", len(list.Segments), joinInts(list.Partitions))
	return nil
}

func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func joinInts[T ~int32 | ~int64](xs []T) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.FormatInt(int64(x), 10)
	}
	return strings.Join(s, ",")
}

// newSegmentGetFlagSet returns the flags of `segmentd segments get`, bound to f.
func newSegmentGetFlagSet(f *clientFlags) *flag.FlagSet {
	return newClientFlagSet("segmentd segments get", f)
}

// segmentPath is the admin API path of segment id of workspace ws.
func segmentPath(ws, id string) string {
	return "/v1/workspaces/" + url.PathEscape(strings.ToLower(ws)) + "/segments/" + url.PathEscape(id)
}

func segmentsGet(ctx context.Context, args []string, stdout, _ io.Writer) error {
	var f clientFlags
	fs := newSegmentGetFlagSet(&f)
	pos, err := parseCommand(fs, args, stdout, 2, 2)
	if err != nil {
		return err
	}
	cl, err := f.api.client()
	if err != nil {
		return err
	}
	var seg admin.SegmentResponse
	if _, err := cl.do(ctx, http.MethodGet, segmentPath(pos[0], pos[1]), nil, &seg); err != nil {
		return err
	}
	if f.json {
		return printJSON(stdout, &seg)
	}
	members := strconv.FormatInt(seg.Members, 10)
	if seg.Backfilling {
		members += " (backfilling)"
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "segment\t%s/%s\n", seg.Workspace, seg.ID)
	if seg.Name != "" {
		fmt.Fprintf(tw, "name\t%s\n", seg.Name)
	}
	fmt.Fprintf(tw, "version\t%d\n", seg.Version)
	fmt.Fprintf(tw, "members\t%s, over partitions %s\n", members, joinInts(seg.Partitions))
	if len(seg.References) > 0 {
		fmt.Fprintf(tw, "uses\t%s\n", strings.Join(seg.References, ", "))
	}
	if len(seg.ReferencedBy) > 0 {
		fmt.Fprintf(tw, "used by\t%s\n", strings.Join(seg.ReferencedBy, ", "))
	}
	tw.Flush()
	fmt.Fprintln(stdout, "definition:")
	def, err := json.MarshalIndent(seg.Definition, "  ", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "  %s\n", def)
	return err
}

// newSegmentDeleteFlagSet returns the flags of `segmentd segments delete`, bound to f.
func newSegmentDeleteFlagSet(f *apiFlags) *flag.FlagSet {
	return newAPIFlagSet("segmentd segments delete", f)
}

func segmentsDelete(ctx context.Context, args []string, stdout, _ io.Writer) error {
	var f apiFlags
	fs := newSegmentDeleteFlagSet(&f)
	pos, err := parseCommand(fs, args, stdout, 2, 2)
	if err != nil {
		return err
	}
	cl, err := f.client()
	if err != nil {
		return err
	}
	var del admin.DeleteResponse
	if _, err := cl.do(ctx, http.MethodDelete, segmentPath(pos[0], pos[1]), nil, &del); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "deleted %s/%s\n", del.Workspace, del.ID)
	return err
}

// idList renders the segment ids of a dependency column: comma-separated, "-" for none.
func idList(ids []string) string {
	if len(ids) == 0 {
		return "-"
	}
	return strings.Join(ids, ",")
}
