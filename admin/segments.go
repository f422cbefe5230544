package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/operators"
	"github.com/segmentd/segmentd/processor"
)

// SegmentResponse is the answer of GET …/segments/{id}: the segment, its member count
// over the partitions listed.
type SegmentResponse struct {
	Segment
	Partitions []int32 `json:"partitions"`
}

// SegmentListResponse is the answer of GET …/segments.
type SegmentListResponse struct {
	Workspace  string    `json:"workspace"`
	Segments   []Segment `json:"segments"`
	Partitions []int32   `json:"partitions"`
}

// PreviewResponse is the answer of POST …/segments:preview.
type PreviewResponse struct {
	Count      int64   `json:"count"`
	Sample     []int64 `json:"sample"`
	Partitions []int32 `json:"partitions"`
}

// ValidateResponse is the answer of POST …/segments:validate for a valid definition.
type ValidateResponse struct {
	Valid      bool                  `json:"valid"`
	Definition *operators.Definition `json:"definition"`
}

// DeleteResponse is the answer of DELETE …/segments/{id}.
type DeleteResponse struct {
	Workspace string `json:"workspace"`
	ID        string `json:"id"`
	Deleted   bool   `json:"deleted"`
}

// unsavedID stands in for the id of a definition given to validate or preview without
// one.
const unsavedID = "unsaved"

func (h *Handler) listSegments(w http.ResponseWriter, r *http.Request) {
	ws, ok := workspace(w, r)
	if !ok {
		return
	}
	segs, local, err := h.cfg.Backend.Segments(r.Context(), ws)
	if err != nil {
		writeBackendError(w, r, err, "segments")
		return
	}
	resp := SegmentListResponse{Workspace: ws, Segments: segmentViews(segs), Partitions: unionPartitions(local.Partitions)}
	if !h.isLocal(r) {
		peers, ok := gather[SegmentListResponse](h, w, r, nil, nil)
		if !ok {
			return
		}
		byID := map[string]int{}
		for i := range resp.Segments {
			byID[resp.Segments[i].ID] = i
		}
		for _, p := range peers {
			for _, s := range p.Segments {
				if i, ok := byID[s.ID]; ok {
					mergeSegment(&resp.Segments[i], &s)
					continue
				}
				byID[s.ID] = len(resp.Segments)
				resp.Segments = append(resp.Segments, s)
			}
			resp.Partitions = unionPartitions(resp.Partitions, p.Partitions)
		}
	}
	if resp.Segments == nil {
		resp.Segments = []Segment{}
	}
	slices.SortFunc(resp.Segments, func(a, b Segment) int { return strings.Compare(a.ID, b.ID) })
	writeJSON(w, http.StatusOK, resp)
}

// mergeSegment adds a peer's view of a segment to ours: members are summed; a newer
// version (the peer read the topic further) wins the definition.
func mergeSegment(dst, src *Segment) {
	dst.Members += src.Members
	dst.Backfilling = dst.Backfilling || src.Backfilling
	if src.Version > dst.Version {
		dst.Version, dst.Definition, dst.Name = src.Version, src.Definition, src.Name
		dst.References, dst.ReferencedBy = src.References, src.ReferencedBy
		dst.Backfilling = true // the processes disagree: not settled yet
	} else if src.Version < dst.Version {
		dst.Backfilling = true
	}
}

func (h *Handler) getSegment(w http.ResponseWriter, r *http.Request) {
	ws, ok := workspace(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	seg, local, err := h.cfg.Backend.Segment(r.Context(), ws, id)
	if err != nil {
		writeBackendError(w, r, err, fmt.Sprintf("segment %q", id))
		return
	}
	resp := SegmentResponse{Segment: segmentView(seg), Partitions: unionPartitions(local.Partitions)}
	if !h.isLocal(r) {
		peers, ok := gather[SegmentResponse](h, w, r, nil, nil)
		if !ok {
			return
		}
		for _, p := range peers {
			mergeSegment(&resp.Segment, &p.Segment)
			resp.Partitions = unionPartitions(resp.Partitions, p.Partitions)
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

// parseBodyDefinition reads a definition from the body, filling "workspace" with ws
// and "id" with id when the body lacks them, and checks that they match. On failure
// it has answered (400 with the path, or 413).
// An empty id (validate, preview) fills in a placeholder id and checks none.
func parseBodyDefinition(w http.ResponseWriter, r *http.Request, ws, id string, validate bool) (*operators.Definition, bool) {
	body, ok := readBody(w, r)
	if !ok {
		return nil, false
	}
	var def *operators.Definition
	var err error
	if id == "" {
		def, err = parseDefinition(body, ws, unsavedID, false)
	} else {
		def, err = parseDefinition(body, ws, id, true)
	}
	if err != nil {
		writeInvalid(w, err, validate)
		return nil, false
	}
	return def, true
}

// parseDefinition parses and validates a definition for the workspace ws and the
// segment id (SPEC §6): a "workspace" or "id" the document lacks is taken from ws and
// id; a workspace it has must match ws (case-insensitively), and, with checkID, an id
// it has must match id. Errors are *operators.ValidationError naming the path.
func parseDefinition(body []byte, ws, id string, checkID bool) (*operators.Definition, error) {
	def, err := operators.ParseDefinition(fillKeys(body, ws, id))
	if err != nil {
		return nil, err
	}
	if def.Workspace != strings.ToLower(ws) {
		return nil, &operators.ValidationError{Path: "workspace",
			Msg: fmt.Sprintf("%q does not match the workspace %q of the URL", def.Workspace, strings.ToLower(ws))}
	}
	if checkID && def.ID != id {
		return nil, &operators.ValidationError{Path: "id", Msg: fmt.Sprintf("%q does not match the segment id %q of the URL", def.ID, id)}
	}
	return def, nil
}

// fillKeys inserts "workspace": ws and "id": id at the start of the JSON object body
// when it lacks them. Anything that is not a JSON object is
// returned unchanged, for ParseDefinition to report.
func fillKeys(body []byte, ws, id string) []byte {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return body
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(trimmed, &top) != nil {
		return body
	}
	var fields []string
	if _, ok := top["workspace"]; !ok {
		fields = append(fields, `"workspace":`+quote(ws))
	}
	if _, ok := top["id"]; !ok {
		fields = append(fields, `"id":`+quote(id))
	}
	if len(fields) == 0 {
		return body
	}
	rest := trimmed[1:]
	var b bytes.Buffer
	b.WriteByte('{')
	b.WriteString(strings.Join(fields, ","))
	if r := bytes.TrimLeft(rest, " \t\r\n"); len(r) > 0 && r[0] != '}' {
		b.WriteByte(',')
	}
	b.Write(rest)
	return b.Bytes()
}

func quote(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}

// Results of a PUT (PutResponse.Result).
const (
	ResultCreated   = "created"   // 201: the segment did not exist
	ResultUpdated   = "updated"   // 200: the definition replaced a different one
	ResultUnchanged = "unchanged" // 200: the same definition was already live; nothing written
)

// PutResponse is the answer of PUT …/segments/{id}: the definition as written, what
// the write did and the segment's version once this process has applied it.
type PutResponse struct {
	*operators.Definition
	Result  string `json:"result"`
	Version int64  `json:"segment_version"`
}

// Writes follow the segments topic, not this process's view of it at the time of the
// request: a write first waits until the process has applied everything the topic
// holds (Backend.SyncSegments), then decides (201 or 200, 404), writes, and waits
// until the process has applied its own record (Backend.WaitSegmentRecord), so that
// the answer and every later request to this process see it. Writes of one handler
// are serialized. The waits are bounded by the request's timeout.

// lockWrites takes the handler's write lock; on failure (the request ended first) it
// has answered.
func (h *Handler) lockWrites(w http.ResponseWriter, r *http.Request) (unlock func(), ok bool) {
	select {
	case h.writing <- struct{}{}:
		return func() { <-h.writing }, true
	case <-r.Context().Done():
		writeError(w, http.StatusGatewayTimeout, "timed out waiting for another write to the segments topic to finish; try again")
		return nil, false
	}
}

// syncSegments waits until this process has applied the whole segments topic; on
// failure it has answered 503 or 504.
func (h *Handler) syncSegments(w http.ResponseWriter, r *http.Request) bool {
	err := h.cfg.Backend.SyncSegments(r.Context())
	if err == nil {
		return true
	}
	switch {
	case errors.Is(err, processor.ErrNotReady):
		writeBackendError(w, r, err, "segments topic")
	case r.Context().Err() != nil:
		writeError(w, http.StatusGatewayTimeout, "timed out reading the segments topic %s up to its end before the write; nothing written; try again",
			h.cfg.SegmentsTopic)
	default:
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "cannot read the segments topic %s up to its end; nothing written: %v", h.cfg.SegmentsTopic, err)
	}
	return false
}

// awaitApplied waits until this process has applied the record it produced; on
// failure it has answered 503 or 504, saying that the record is written.
func (h *Handler) awaitApplied(w http.ResponseWriter, r *http.Request, rec *kgo.Record) bool {
	err := h.cfg.Backend.WaitSegmentRecord(r.Context(), rec.Partition, rec.Offset)
	if err == nil {
		return true
	}
	what := fmt.Sprintf("written to the segments topic %s (partition %d, offset %d)", h.cfg.SegmentsTopic, rec.Partition, rec.Offset)
	if r.Context().Err() != nil {
		writeError(w, http.StatusGatewayTimeout, "%s, but this process has not applied it within the request timeout; it takes effect once read", what)
		return false
	}
	writeError(w, http.StatusServiceUnavailable, "%s, but this process cannot confirm it applied it: %v", what, err)
	return false
}

func (h *Handler) putSegment(w http.ResponseWriter, r *http.Request) {
	ws, ok := workspace(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	def, ok := parseBodyDefinition(w, r, ws, id, false)
	if !ok {
		return
	}
	value, err := json.Marshal(def)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "encode definition: %v", err)
		return
	}
	unlock, ok := h.lockWrites(w, r)
	if !ok {
		return
	}
	defer unlock()
	if !h.syncSegments(w, r) {
		return
	}
	if !h.checkReferences(w, r, def, false) {
		return
	}
	old, _, err := h.cfg.Backend.Segment(r.Context(), ws, id)
	result := ResultUpdated
	switch {
	case errors.Is(err, processor.ErrNotFound):
		result = ResultCreated
	case err != nil:
		writeBackendError(w, r, err, fmt.Sprintf("segment %q", id))
		return
	case old.Definition != nil:
		if was, err := json.Marshal(old.Definition); err == nil && bytes.Equal(was, value) {
			result = ResultUnchanged // SPEC §6: re-sending an identical definition changes nothing
		}
	}
	version := old.Version
	if result != ResultUnchanged {
		rec, ok := h.produce(w, r, def.Key(), value)
		if !ok || !h.awaitApplied(w, r, rec) {
			return
		}
		seg, _, err := h.cfg.Backend.Segment(r.Context(), ws, id)
		if err != nil {
			// Applied, then deleted or replaced by another writer meanwhile.
			writeBackendError(w, r, err, fmt.Sprintf("segment %q", id))
			return
		}
		version = seg.Version
	}
	h.audit(r, "put segment", ws, id, slog.String("result", result))
	w.Header().Set("Location", "/v1/workspaces/"+url.PathEscape(ws)+"/segments/"+url.PathEscape(id))
	status := http.StatusOK
	if result == ResultCreated {
		status = http.StatusCreated
	}
	writeJSON(w, status, PutResponse{Definition: def, Result: result, Version: version})
}

func (h *Handler) deleteSegment(w http.ResponseWriter, r *http.Request) {
	ws, ok := workspace(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	unlock, ok := h.lockWrites(w, r)
	if !ok {
		return
	}
	defer unlock()
	if !h.syncSegments(w, r) {
		return
	}
	if _, _, err := h.cfg.Backend.Segment(r.Context(), ws, id); err != nil {
		writeBackendError(w, r, err, fmt.Sprintf("segment %q", id))
		return
	}
	rec, ok := h.produce(w, r, ws+"/"+id, nil)
	if !ok || !h.awaitApplied(w, r, rec) {
		return
	}
	h.audit(r, "delete segment", ws, id)
	writeJSON(w, http.StatusAccepted, DeleteResponse{Workspace: ws, ID: id, Deleted: true})
}

// produce writes one record to the segments topic and waits for its acknowledgement;
// it returns the record with its partition and offset. On failure it has answered 503
// (504 when the request timed out).
func (h *Handler) produce(w http.ResponseWriter, r *http.Request, key string, value []byte) (*kgo.Record, bool) {
	rec := &kgo.Record{Topic: h.cfg.SegmentsTopic, Key: []byte(key), Value: value}
	if err := h.cfg.Producer.ProduceSync(r.Context(), rec).FirstErr(); err != nil {
		if r.Context().Err() != nil {
			writeError(w, http.StatusGatewayTimeout, "timed out writing to the segments topic %s; the write may or may not take effect", h.cfg.SegmentsTopic)
			return nil, false
		}
		writeError(w, http.StatusServiceUnavailable, "write to the segments topic %s: %v", h.cfg.SegmentsTopic, err)
		return nil, false
	}
	return rec, true
}

func (h *Handler) validateSegment(w http.ResponseWriter, r *http.Request) {
	ws, ok := workspace(w, r)
	if !ok {
		return
	}
	def, ok := parseBodyDefinition(w, r, ws, "", true)
	if !ok || !h.checkReferences(w, r, def, true) {
		return
	}
	writeJSON(w, http.StatusOK, ValidateResponse{Valid: true, Definition: def})
}

// checkReferences checks def's segment references against the definitions in force
// of its workspace, as this process has applied them (SPEC §6: no cycle, no chain
// deeper than operators.MaxReferenceDepth). On failure it has answered (400 naming
// the condition and the cycle, or the backend's error).
func (h *Handler) checkReferences(w http.ResponseWriter, r *http.Request, def *operators.Definition, validate bool) bool {
	if len(def.References()) == 0 {
		return true
	}
	segs, _, err := h.cfg.Backend.Segments(r.Context(), def.Workspace)
	if err != nil {
		writeBackendError(w, r, err, "segments")
		return false
	}
	inForce := make([]*operators.Definition, 0, len(segs))
	for _, s := range segs {
		inForce = append(inForce, s.Definition)
	}
	if err := operators.CheckReferences(def, inForce); err != nil {
		writeInvalid(w, err, validate)
		return false
	}
	return true
}

func (h *Handler) previewSegment(w http.ResponseWriter, r *http.Request) {
	ws, ok := workspace(w, r)
	if !ok {
		return
	}
	sample, ok := intParam(w, r, "sample", DefaultSample, 0, MaxSample)
	if !ok {
		return
	}
	def, ok := parseBodyDefinition(w, r, ws, "", false)
	if !ok {
		return
	}
	count, ids, local, err := h.cfg.Backend.Preview(r.Context(), def, sample)
	if err != nil {
		writeBackendError(w, r, err, "preview")
		return
	}
	resp := PreviewResponse{Count: count, Sample: ids, Partitions: unionPartitions(local.Partitions)}
	if !h.isLocal(r) {
		body, err := json.Marshal(def)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "encode definition: %v", err)
			return
		}
		peers, ok := gather[PreviewResponse](h, w, r, url.Values{"sample": {strconv.Itoa(sample)}}, body)
		if !ok {
			return
		}
		for _, p := range peers {
			resp.Count += p.Count
			resp.Sample = append(resp.Sample, p.Sample...)
			resp.Partitions = unionPartitions(resp.Partitions, p.Partitions)
		}
	}
	slices.Sort(resp.Sample)
	resp.Sample = slices.Compact(resp.Sample)
	if len(resp.Sample) > sample {
		resp.Sample = resp.Sample[:sample]
	}
	if resp.Sample == nil {
		resp.Sample = []int64{}
	}
	writeJSON(w, http.StatusOK, resp)
}

// ChangePreviewResponse is the answer of POST …/segments/{id}:preview: the effect of
// replacing segment id by the posted definition. Members are the segment's current
// members (0 when it does not exist), Matching the contacts the posted definition
// matches, WouldEnter those matching and not members, WouldLeave those members and
// not matching; the samples are the lowest customer ids of each, ascending.
type ChangePreviewResponse struct {
	Members        int64   `json:"members"`
	Matching       int64   `json:"matching"`
	WouldEnter     int64   `json:"would_enter"`
	WouldLeave     int64   `json:"would_leave"`
	SampleEntering []int64 `json:"sample_entering"`
	SampleLeaving  []int64 `json:"sample_leaving"`
	Partitions     []int32 `json:"partitions"`
}

// previewChange answers what replacing segment {id} by the posted definition would
// do, over every partition; nothing is written. The definition is validated as a PUT
// of it would be (400 with the path).
func (h *Handler) previewChange(w http.ResponseWriter, r *http.Request) {
	ws, ok := workspace(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	sample, ok := intParam(w, r, "sample", DefaultSample, 0, MaxSample)
	if !ok {
		return
	}
	def, ok := parseBodyDefinition(w, r, ws, id, false)
	if !ok {
		return
	}
	cp, local, err := h.cfg.Backend.PreviewChange(r.Context(), ws, id, def, sample)
	if err != nil {
		writeBackendError(w, r, err, "preview")
		return
	}
	resp := ChangePreviewResponse{Members: cp.Members, Matching: cp.Matching, WouldEnter: cp.WouldEnter, WouldLeave: cp.WouldLeave,
		SampleEntering: cp.SampleEntering, SampleLeaving: cp.SampleLeaving, Partitions: unionPartitions(local.Partitions)}
	if !h.isLocal(r) {
		body, err := json.Marshal(def)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "encode definition: %v", err)
			return
		}
		peers, ok := gather[ChangePreviewResponse](h, w, r, url.Values{"sample": {strconv.Itoa(sample)}}, body)
		if !ok {
			return
		}
		for _, p := range peers {
			resp.Members += p.Members
			resp.Matching += p.Matching
			resp.WouldEnter += p.WouldEnter
			resp.WouldLeave += p.WouldLeave
			resp.SampleEntering = append(resp.SampleEntering, p.SampleEntering...)
			resp.SampleLeaving = append(resp.SampleLeaving, p.SampleLeaving...)
			resp.Partitions = unionPartitions(resp.Partitions, p.Partitions)
		}
	}
	resp.SampleEntering = lowestIDs(resp.SampleEntering, sample)
	resp.SampleLeaving = lowestIDs(resp.SampleLeaving, sample)
	writeJSON(w, http.StatusOK, resp)
}

// lowestIDs returns the n lowest of ids, ascending and without duplicates, never nil.
func lowestIDs(ids []int64, n int) []int64 {
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) > n {
		ids = ids[:n]
	}
	if ids == nil {
		ids = []int64{}
	}
	return ids
}
