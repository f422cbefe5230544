package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/segmentd/segmentd/admin"
)

// estimateHelp is the longer help of `segmentd audience estimate`.
const estimateHelp = `REF is segment:ID or list:ID. The count is of the contacts in any of the included
segments and lists and in none of the excluded, with consent_status "yes" and not
excluded by the exclusion tag, each counted once.
`

// estimateFlags are the flags of `segmentd audience estimate`.
type estimateFlags struct {
	clientFlags
	include listFlag
	exclude listFlag
}

// newEstimateFlagSet returns the flags of `segmentd audience estimate`, bound to f.
func newEstimateFlagSet(f *estimateFlags) *flag.FlagSet {
	fs := newClientFlagSet("segmentd audience estimate", &f.clientFlags)
	fs.Var(&f.include, "include", "segments and lists of the audience: segment:ID or list:ID, comma-separated or repeated (required)")
	fs.Var(&f.exclude, "exclude", "segments and lists whose contacts are left out: segment:ID or list:ID, comma-separated or repeated")
	return fs
}

// audienceRefs reads segment:ID and list:ID references.
func audienceRefs(fs *flag.FlagSet, flagName string, refs []string) ([]admin.AudienceRef, error) {
	out := make([]admin.AudienceRef, 0, len(refs))
	for _, r := range refs {
		kind, id, ok := strings.Cut(r, ":")
		switch {
		case ok && id != "" && kind == "segment":
			out = append(out, admin.AudienceRef{Segment: id})
		case ok && id != "" && kind == "list":
			out = append(out, admin.AudienceRef{List: id})
		default:
			return nil, usagef(fs, "--%s %q: want segment:ID or list:ID", flagName, r)
		}
	}
	return out, nil
}

func audienceEstimate(ctx context.Context, args []string, stdout, _ io.Writer) error {
	var f estimateFlags
	fs := newEstimateFlagSet(&f)
	pos, err := parseCommand(fs, args, stdout, 1, 1)
	if err != nil {
		return err
	}
	if len(f.include) == 0 {
		return usagef(fs, "--include is required")
	}
	var req admin.EstimateRequest
	if req.Include, err = audienceRefs(fs, "include", f.include); err != nil {
		return err
	}
	if req.Exclude, err = audienceRefs(fs, "exclude", f.exclude); err != nil {
		return err
	}
	body, err := json.Marshal(&req)
	if err != nil {
		return err
	}
	cl, err := f.api.client()
	if err != nil {
		return err
	}
	var res admin.EstimateResponse
	if _, err := cl.do(ctx, http.MethodPost, "/v1/workspaces/"+url.PathEscape(strings.ToLower(pos[0]))+"/audiences:estimate", body, &res); err != nil {
		return err
	}
	if f.json {
		return printJSON(stdout, &res)
	}
	_, err = fmt.Fprintf(stdout, "%d contacts (partitions %s)\n", res.Count, joinInts(res.Partitions))
	return err
}
