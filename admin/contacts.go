package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/segmentd/segmentd/operators"
	"github.com/segmentd/segmentd/processor"
)

// SearchResponse is the answer of GET …/contacts?q=.
type SearchResponse struct {
	Contacts   []ContactSummary `json:"contacts"`
	Partitions []int32          `json:"partitions"`
}

// EstimateRequest is the body of POST …/audiences:estimate.
type EstimateRequest struct {
	Include []AudienceRef `json:"include"`
	Exclude []AudienceRef `json:"exclude,omitempty"`
}

// EstimateResponse is its answer: contacts in any of include and none of exclude,
// with consent "yes" and not excluded, each once.
type EstimateResponse struct {
	Count      int64   `json:"count"`
	Partitions []int32 `json:"partitions"`
}

func (h *Handler) getContact(w http.ResponseWriter, r *http.Request) {
	ws, ok := workspace(w, r)
	if !ok {
		return
	}
	cid, ok := customerID(w, r)
	if !ok {
		return
	}
	c, err := h.cfg.Backend.Contact(r.Context(), ws, cid)
	if err == nil {
		writeJSON(w, http.StatusOK, contactView(c))
		return
	}
	if !errors.Is(err, processor.ErrNotFound) || h.isLocal(r) {
		writeBackendError(w, r, err, fmt.Sprintf("contact %d of workspace %s", cid, ws))
		return
	}
	var peer Contact
	found, ok := firstFound(h, w, r, &peer)
	switch {
	case !ok:
	case found:
		writeJSON(w, http.StatusOK, &peer)
	default:
		writeBackendError(w, r, processor.ErrNotFound, fmt.Sprintf("contact %d of workspace %s", cid, ws))
	}
}

func (h *Handler) explain(w http.ResponseWriter, r *http.Request) {
	ws, ok := workspace(w, r)
	if !ok {
		return
	}
	cid, ok := customerID(w, r)
	if !ok {
		return
	}
	seg := r.URL.Query().Get("segment")
	if seg == "" {
		writeError(w, http.StatusBadRequest, "the query parameter segment (a segment id) is required")
		return
	}
	ex, err := h.cfg.Backend.Explain(r.Context(), ws, cid, seg)
	if err == nil {
		writeJSON(w, http.StatusOK, ex)
		return
	}
	if !errors.Is(err, processor.ErrNotFound) {
		writeBackendError(w, r, err, "explanation")
		return
	}
	if h.isLocal(r) {
		h.explainNotFound(w, r, ws, cid, seg)
		return
	}
	var peer operators.Explanation
	found, ok := firstFound(h, w, r, &peer)
	switch {
	case !ok:
	case found:
		writeJSON(w, http.StatusOK, &peer)
	default:
		h.explainNotFound(w, r, ws, cid, seg)
	}
}

// explainNotFound answers 404 naming what an explanation lacks: the segment, if the
// workspace has none of that id (every process knows every segment), else the contact.
func (h *Handler) explainNotFound(w http.ResponseWriter, r *http.Request, ws string, cid int64, seg string) {
	_, _, err := h.cfg.Backend.Segment(r.Context(), ws, seg)
	switch {
	case errors.Is(err, processor.ErrNotFound):
		writeBackendError(w, r, err, fmt.Sprintf("segment %q of workspace %s", seg, ws))
	case err != nil:
		writeBackendError(w, r, err, "explanation")
	default:
		writeBackendError(w, r, processor.ErrNotFound, fmt.Sprintf("contact %d of workspace %s", cid, ws))
	}
}

// missingSegment returns the first segment of refs the workspace does not have, or ""
// (lists are never missing: an unknown list has no members).
func (h *Handler) missingSegment(r *http.Request, ws string, refs ...[]AudienceRef) string {
	for _, rs := range refs {
		for _, ref := range rs {
			if ref.Segment == "" {
				continue
			}
			if _, _, err := h.cfg.Backend.Segment(r.Context(), ws, ref.Segment); errors.Is(err, processor.ErrNotFound) {
				return ref.Segment
			}
		}
	}
	return ""
}

func (h *Handler) searchContacts(w http.ResponseWriter, r *http.Request) {
	ws, ok := workspace(w, r)
	if !ok {
		return
	}
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if q == "" {
		writeError(w, http.StatusBadRequest, "the query parameter q (part of a name, email or phone) is required")
		return
	}
	limit, ok := intParam(w, r, "limit", DefaultSearchLimit, 1, MaxSearchLimit)
	if !ok {
		return
	}
	found, local, err := h.cfg.Backend.Search(r.Context(), ws, q, limit)
	if err != nil {
		writeBackendError(w, r, err, "search")
		return
	}
	resp := SearchResponse{Contacts: contactSummaries(found), Partitions: unionPartitions(local.Partitions)}
	if !h.isLocal(r) {
		peers, ok := gather[SearchResponse](h, w, r, url.Values{"q": {q}, "limit": {strconv.Itoa(limit)}}, nil)
		if !ok {
			return
		}
		for _, p := range peers {
			resp.Contacts = append(resp.Contacts, p.Contacts...)
			resp.Partitions = unionPartitions(resp.Partitions, p.Partitions)
		}
	}
	slices.SortFunc(resp.Contacts, func(a, b ContactSummary) int {
		switch {
		case a.CustomerID < b.CustomerID:
			return -1
		case a.CustomerID > b.CustomerID:
			return 1
		}
		return 0
	})
	resp.Contacts = slices.CompactFunc(resp.Contacts, func(a, b ContactSummary) bool { return a.CustomerID == b.CustomerID })
	if len(resp.Contacts) > limit {
		resp.Contacts = resp.Contacts[:limit]
	}
	if resp.Contacts == nil {
		resp.Contacts = []ContactSummary{}
	}
	writeJSON(w, http.StatusOK, resp)
}

func (h *Handler) estimate(w http.ResponseWriter, r *http.Request) {
	ws, ok := workspace(w, r)
	if !ok {
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var req EstimateRequest
	if err := decodeStrict(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid estimate request: %v", err)
		return
	}
	if err := req.validate(); err != nil {
		writeError(w, http.StatusBadRequest, "invalid estimate request: %v", err)
		return
	}
	count, local, err := h.cfg.Backend.Estimate(r.Context(), ws, audienceRefs(req.Include), audienceRefs(req.Exclude))
	if err != nil {
		what := "estimate"
		if errors.Is(err, processor.ErrNotFound) {
			what = "a segment of the estimate"
			if id := h.missingSegment(r, ws, req.Include, req.Exclude); id != "" {
				what = fmt.Sprintf("segment %q of workspace %s", id, ws)
			}
		}
		writeBackendError(w, r, err, what)
		return
	}
	resp := EstimateResponse{Count: count, Partitions: unionPartitions(local.Partitions)}
	if !h.isLocal(r) {
		norm, err := json.Marshal(req)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "encode request: %v", err)
			return
		}
		peers, ok := gather[EstimateResponse](h, w, r, nil, norm)
		if !ok {
			return
		}
		for _, p := range peers {
			resp.Count += p.Count
			resp.Partitions = unionPartitions(resp.Partitions, p.Partitions)
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

// maxAudienceRefs bounds the references of one estimate.
const maxAudienceRefs = 100

func (e *EstimateRequest) validate() error {
	if len(e.Include) == 0 {
		return errors.New("include: at least one segment or list is required")
	}
	if len(e.Include)+len(e.Exclude) > maxAudienceRefs {
		return fmt.Errorf("at most %d segments and lists in all", maxAudienceRefs)
	}
	check := func(name string, refs []AudienceRef) error {
		for i, ref := range refs {
			if (ref.Segment == "") == (ref.List == "") {
				return fmt.Errorf(`%s[%d]: exactly one of "segment" and "list" is required`, name, i)
			}
		}
		return nil
	}
	if err := check("include", e.Include); err != nil {
		return err
	}
	return check("exclude", e.Exclude)
}
