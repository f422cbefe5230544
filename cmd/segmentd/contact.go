package main

import (
	"context"
	"errors"
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

	"github.com/segmentd/segmentd/processor"
)

const contactUsage = `Usage:
  segmentd contact get [flags] WORKSPACE CUSTOMER_ID   a contact's profile, attributes and memberships
`

func contactCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, contactUsage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "get":
		return contactGet(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, contactUsage)
		return nil
	}
	fmt.Fprint(stderr, contactUsage)
	return fmt.Errorf("unknown contact command %q", args[0])
}

// contactFlags are the flags of `segmentd contact get`.
type contactFlags struct {
	api  apiFlags
	json bool
}

// newContactFlagSet returns the flags of `segmentd contact get`, bound to f.
func newContactFlagSet(f *contactFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("segmentd contact get", flag.ContinueOnError)
	f.api.register(fs)
	fs.BoolVar(&f.json, "json", false, "print the API's JSON answer")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: segmentd contact get [flags] WORKSPACE CUSTOMER_ID")
		fs.PrintDefaults()
	}
	return fs
}

func contactGet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f contactFlags
	fs := newContactFlagSet(&f)
	fs.SetOutput(stderr)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		fs.Usage()
		return errors.New("contact get needs WORKSPACE and CUSTOMER_ID")
	}
	ws := strings.ToLower(pos[0])
	id := strings.TrimPrefix(pos[1], "gid://shopify/Customer/")
	if n, err := strconv.ParseInt(id, 10, 64); err != nil || n < 1 {
		return fmt.Errorf("invalid customer id %q", pos[1])
	}
	cl, err := f.api.client()
	if err != nil {
		return err
	}
	var v processor.ContactView
	if _, err := cl.do(ctx, http.MethodGet, "/v1/workspaces/"+url.PathEscape(ws)+"/contacts/"+id, nil, &v); err != nil {
		return err
	}
	if f.json {
		return printJSON(stdout, &v)
	}
	printContact(stdout, &v)
	return nil
}

// printContact prints a readable summary of a contact.
func printContact(w io.Writer, v *processor.ContactView) {
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
