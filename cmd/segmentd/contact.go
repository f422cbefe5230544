package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/segmentd/segmentd/admin"
	"github.com/segmentd/segmentd/operators"
)

// newContactFlagSet returns the flags of `segmentd contact get`, bound to f.
func newContactFlagSet(f *clientFlags) *flag.FlagSet {
	return newClientFlagSet("segmentd contact get", f)
}

func contactGet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f clientFlags
	fs := newContactFlagSet(&f)
	pos, err := parseCommand(fs, args, stdout, 2, 2)
	if err != nil {
		return err
	}
	ws := strings.ToLower(pos[0])
	id, err := customerIDArg(fs, pos[1])
	if err != nil {
		return err
	}
	cl, err := f.api.client()
	if err != nil {
		return err
	}
	var v admin.Contact
	if _, err := cl.do(ctx, http.MethodGet, "/v1/workspaces/"+url.PathEscape(ws)+"/contacts/"+id, nil, &v); err != nil {
		return err
	}
	if f.json {
		return printJSON(stdout, &v)
	}
	printContact(stdout, &v)
	return nil
}

// customerIDArg reads a customer id argument: a number or a Shopify GID.
func customerIDArg(fs *flag.FlagSet, arg string) (string, error) {
	id := strings.TrimPrefix(arg, "gid://shopify/Customer/")
	if n, err := strconv.ParseInt(id, 10, 64); err != nil || n < 1 {
		return "", usagef(fs, "invalid customer id %q (a positive number or gid://shopify/Customer/N)", arg)
	}
	return id, nil
}

// printContact prints a readable summary of a contact.
func printContact(w io.Writer, v *admin.Contact) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, val string) {
		if val != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, val)
		}
	}
	deleted := ""
	if v.Deleted {
		deleted = " (deleted)"
	}
	fmt.Fprintf(tw, "%s/%d%s\tpartition %d, synced %s\n", v.Workspace, v.CustomerID, deleted, v.Partition, fmtTime(v.SyncedAt))
	row("name", strings.TrimSpace(v.Profile.FirstName+" "+v.Profile.LastName))
	row("email", v.Profile.Email)
	phone := v.Profile.Phone
	if v.Profile.PhoneE164 != "" && v.Profile.PhoneE164 != phone {
		phone += " (" + v.Profile.PhoneE164 + ")"
	}
	row("phone", phone)
	row("errors", strings.Join(v.Errors, ", "))
	row("orders", fmt.Sprintf("%d counted (%d stored, %d cancelled, %d test)", v.Orders.Counted, v.Orders.Total, v.Orders.Cancelled, v.Orders.Test))
	row("tags", strings.Join(v.Tags, ", "))
	row("lists", strings.Join(v.Lists, ", "))
	ms := make([]string, len(v.Memberships))
	for i, m := range v.Memberships {
		ms[i] = fmt.Sprintf("%s (v%d)", m.SegmentID, m.Version)
	}
	slices.Sort(ms)
	if len(ms) == 0 {
		ms = []string{"none"}
	}
	row("segments", strings.Join(ms, ", "))
	if !v.NextDue.IsZero() {
		row("next timer", fmtTime(v.NextDue))
	}
	names := make([]string, 0, len(v.Attributes))
	for k := range v.Attributes {
		names = append(names, k)
	}
	slices.Sort(names)
	fmt.Fprintln(tw, "attributes\t")
	for _, k := range names {
		fmt.Fprintf(tw, "  %s\t%s\n", k, fmtValue(v.Attributes[k]))
	}
	tw.Flush()
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

func fmtValue(v any) string {
	switch v := v.(type) {
	case []any:
		s := make([]string, len(v))
		for i, x := range v {
			s[i] = fmtValue(x)
		}
		return "[" + strings.Join(s, ", ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		s := make([]string, len(keys))
		for i, k := range keys {
			s[i] = k + ": " + fmtValue(v[k])
		}
		return "{" + strings.Join(s, ", ") + "}"
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case nil:
		return "null"
	}
	return fmt.Sprint(v)
}

// explainFlags are the flags of `segmentd contact explain`.
type explainFlags struct {
	clientFlags
	segment string
}

// newExplainFlagSet returns the flags of `segmentd contact explain`, bound to f.
func newExplainFlagSet(f *explainFlags) *flag.FlagSet {
	fs := newClientFlagSet("segmentd contact explain", &f.clientFlags)
	fs.StringVar(&f.segment, "segment", "", "id of the segment to explain (required)")
	return fs
}

func contactExplain(ctx context.Context, args []string, stdout, _ io.Writer) error {
	var f explainFlags
	fs := newExplainFlagSet(&f)
	pos, err := parseCommand(fs, args, stdout, 2, 2)
	if err != nil {
		return err
	}
	if f.segment == "" {
		return usagef(fs, "--segment is required")
	}
	id, err := customerIDArg(fs, pos[1])
	if err != nil {
		return err
	}
	cl, err := f.api.client()
	if err != nil {
		return err
	}
	var ex operators.Explanation
	path := "/v1/workspaces/" + url.PathEscape(strings.ToLower(pos[0])) + "/contacts/" + id + "/explain?segment=" + url.QueryEscape(f.segment)
	if _, err := cl.do(ctx, http.MethodGet, path, nil, &ex); err != nil {
		return err
	}
	if f.json {
		return printJSON(stdout, &ex)
	}
	printExplanation(stdout, strings.ToLower(pos[0])+"/"+id, &ex)
	return nil
}

// printExplanation prints an explanation group by group, a mark before each condition:
// + true, - false.
func printExplanation(w io.Writer, contact string, ex *operators.Explanation) {
	verdict := "does not match"
	if ex.Match {
		verdict = "matches"
	}
	fmt.Fprintf(w, "%s %s segment %s (at %s)\n", contact, verdict, ex.Segment, fmtTime(ex.Now))
	if ex.Excluded {
		fmt.Fprintln(w, "  the contact is excluded from every segment (exclusion tag)")
	}
	for i, g := range ex.Groups {
		fmt.Fprintf(w, "  group %d: %s\n", i+1, matchWord(g.Match))
		for _, c := range g.Conditions {
			mark := "-"
			if c.Match {
				mark = "+"
			}
			actual := "absent"
			switch member, isRef := c.Actual.(bool); {
			case c.Absent:
			case isRef && c.Field == "segment": // a segment reference: the membership
				actual = "not a member"
				if member {
					actual = "a member"
				}
			default:
				actual = fmtValue(jsonValue(c.Actual))
			}
			window := ""
			if len(c.InLastDays) > 0 {
				window = " in the last " + string(c.InLastDays) + " days"
			}
			fmt.Fprintf(w, "    %s %s %s %s%s (actual: %s)\n", mark, c.Field, c.Op, c.Value, window, actual)
			if c.WindowCount != nil {
				next := "none in the window"
				if c.NextChange != nil {
					next = "the earliest leaves it at " + fmtTime(*c.NextChange)
				}
				fmt.Fprintf(w, "        window: %d in it; %s\n", *c.WindowCount, next)
			}
		}
	}
}

func matchWord(m bool) string {
	if m {
		return "match"
	}
	return "no match"
}

// jsonValue is v as encoding/json decodes it into an any, for fmtValue.
func jsonValue(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	if json.Unmarshal(b, &out) != nil {
		return v
	}
	return out
}

// searchFlags are the flags of `segmentd contact search`.
type searchFlags struct {
	clientFlags
	limit int
}

// newSearchFlagSet returns the flags of `segmentd contact search`, bound to f.
func newSearchFlagSet(f *searchFlags) *flag.FlagSet {
	fs := newClientFlagSet("segmentd contact search", &f.clientFlags)
	fs.IntVar(&f.limit, "limit", 20, "most contacts to print (at most 200)")
	return fs
}

func contactSearch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f searchFlags
	fs := newSearchFlagSet(&f)
	pos, err := parseCommand(fs, args, stdout, 2, 2)
	if err != nil {
		return err
	}
	if f.limit < 1 {
		return usagef(fs, "--limit must be at least 1")
	}
	cl, err := f.api.client()
	if err != nil {
		return err
	}
	var res admin.SearchResponse
	q := url.Values{"q": {pos[1]}, "limit": {strconv.Itoa(f.limit)}}
	if _, err := cl.do(ctx, http.MethodGet, "/v1/workspaces/"+url.PathEscape(strings.ToLower(pos[0]))+"/contacts?"+q.Encode(), nil, &res); err != nil {
		return err
	}
	if f.json {
		return printJSON(stdout, &res)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tEMAIL\tPHONE\tNAME")
	for _, c := range res.Contacts {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", c.CustomerID, c.Email, c.Phone, strings.TrimSpace(c.FirstName+" "+c.LastName))
	}
	tw.Flush()
	fmt.Fprintf(stderr, "%d contacts; searched partitions %s\n", len(res.Contacts), joinInts(res.Partitions))
	return nil
}
