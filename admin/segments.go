package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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
	processor.SegmentInfo
	Partitions []int32 `json:"partitions"`
}

// SegmentListResponse is the answer of GET …/segments.
type SegmentListResponse struct {
	Workspace  string                  `json:"workspace"`
	Segments   []processor.SegmentInfo `json:"segments"`
	Partitions []int32                 `json:"partitions"`
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
	resp := SegmentListResponse{Workspace: ws, Segments: segs, Partitions: unionPartitions(local.Partitions)}
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
		resp.Segments = []processor.SegmentInfo{}
	}
	slices.SortFunc(resp.Segments, func(a, b processor.SegmentInfo) int { return strings.Compare(a.ID, b.ID) })
	writeJSON(w, http.StatusOK, resp)
}

// mergeSegment adds a peer's view of a segment to ours: members are summed; a newer
// version (the peer read the topic further) wins the definition.
func mergeSegment(dst, src *processor.SegmentInfo) {
	dst.Members += src.Members
	dst.Backfilling = dst.Backfilling || src.Backfilling
	if src.Version > dst.Version {
		dst.Version, dst.Definition, dst.Name = src.Version, src.Definition, src.Name
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
	resp := SegmentResponse{SegmentInfo: seg, Partitions: unionPartitions(local.Partitions)}
	if !h.isLocal(r) {
		peers, ok := gather[SegmentResponse](h, w, r, nil, nil)
		if !ok {
			return
		}
		for _, p := range peers {
			mergeSegment(&resp.SegmentInfo, &p.SegmentInfo)
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
	_, _, err := h.cfg.Backend.Segment(r.Context(), ws, id)
	created := errors.Is(err, processor.ErrNotFound)
	if err != nil && !created {
		writeBackendError(w, r, err, "segment")
		return
	}
	value, err := json.Marshal(def)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "encode definition: %v", err)
		return
	}
	if !h.produce(w, r, def.Key(), value) {
		return
	}
	w.Header().Set("Location", "/v1/workspaces/"+url.PathEscape(ws)+"/segments/"+url.PathEscape(id))
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, def)
}

func (h *Handler) deleteSegment(w http.ResponseWriter, r *http.Request) {
	ws, ok := workspace(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if _, _, err := h.cfg.Backend.Segment(r.Context(), ws, id); err != nil {
		writeBackendError(w, r, err, fmt.Sprintf("segment %q", id))
		return
	}
	if !h.produce(w, r, ws+"/"+id, nil) {
		return
	}
	writeJSON(w, http.StatusAccepted, DeleteResponse{Workspace: ws, ID: id, Deleted: true})
}

// produce writes one record to the segments topic and waits for its acknowledgement;
// on failure it has answered 503.
func (h *Handler) produce(w http.ResponseWriter, r *http.Request, key string, value []byte) bool {
	rec := &kgo.Record{Topic: h.cfg.SegmentsTopic, Key: []byte(key), Value: value}
	if err := h.cfg.Producer.ProduceSync(r.Context(), rec).FirstErr(); err != nil {
		writeError(w, http.StatusServiceUnavailable, "write to the segments topic %s: %v", h.cfg.SegmentsTopic, err)
		return false
	}
	return true
}

func (h *Handler) validateSegment(w http.ResponseWriter, r *http.Request) {
	ws, ok := workspace(w, r)
	if !ok {
		return
	}
	def, ok := parseBodyDefinition(w, r, ws, "", true)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, ValidateResponse{Valid: true, Definition: def})
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
