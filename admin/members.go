package admin

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/segmentd/segmentd/processor"
)

// MembersResponse is a page of GET …/segments/{id}/members. NextCursor is absent on
// the last page.
type MembersResponse struct {
	Workspace  string  `json:"workspace"`
	SegmentID  string  `json:"segment_id"`
	Members    []int64 `json:"members"`
	NextCursor string  `json:"next_cursor,omitempty"`
}

// membersCursor is the decoded opaque cursor: the source (0 = this process, i = the
// i-th peer) and the position inside it.
type membersCursor struct {
	Source int       `json:"s"`
	After  memberPos `json:"a"`
}

func encodeCursor(c membersCursor) string {
	b, _ := json.Marshal(c) // ints always marshal
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (membersCursor, error) {
	var c membersCursor
	if s == "" {
		return c, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return c, errors.New("invalid cursor")
	}
	if err := decodeStrict(b, &c); err != nil || c.Source < 0 || c.After.Partition < 0 {
		return c, errors.New("invalid cursor")
	}
	return c, nil
}

// members pages through a segment's members: this process's partitions first, then
// each peer's in order. The order is stable (by partition, then by the order the
// partition assigned its contacts), not by customer id. A cursor is only meaningful
// to the process that issued it.
func (h *Handler) members(w http.ResponseWriter, r *http.Request) {
	ws, ok := workspace(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	limit, ok := intParam(w, r, "limit", DefaultMembersLimit, 1, MaxMembersLimit)
	if !ok {
		return
	}
	cur, err := decodeCursor(r.URL.Query().Get("cursor"))
	sources := 1
	if !h.isLocal(r) {
		sources += len(h.cfg.Peers)
	}
	if err != nil || cur.Source >= sources {
		writeError(w, http.StatusBadRequest, "invalid cursor: pass back the next_cursor of a previous page, to the same process")
		return
	}
	resp := MembersResponse{Workspace: ws, SegmentID: id, Members: []int64{}}
	for s := cur.Source; s < sources; s++ {
		after := processor.MemberCursor{}
		if s == cur.Source {
			after = processor.MemberCursor(cur.After)
		}
		want := limit - len(resp.Members)
		var ids []int64
		var next processor.MemberCursor
		var done bool
		if s == 0 {
			ids, next, done, err = h.cfg.Backend.Members(r.Context(), ws, id, after, want)
			if err != nil {
				writeBackendError(w, r, err, fmt.Sprintf("segment %q", id))
				return
			}
		} else {
			ids, next, done, ok = h.peerMembers(w, r, s-1, after, want)
			if !ok {
				return
			}
		}
		resp.Members = append(resp.Members, ids...)
		if !done {
			resp.NextCursor = encodeCursor(membersCursor{Source: s, After: memberPos(next)})
			break
		}
		if len(resp.Members) >= limit {
			if s+1 < sources {
				resp.NextCursor = encodeCursor(membersCursor{Source: s + 1})
			}
			break
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

// peerMembers asks peer i for up to limit members after its position after; on
// failure it has answered 502.
func (h *Handler) peerMembers(w http.ResponseWriter, r *http.Request, i int, after processor.MemberCursor, limit int) (ids []int64, next processor.MemberCursor, done, ok bool) {
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if after != (processor.MemberCursor{}) {
		q.Set("cursor", encodeCursor(membersCursor{After: memberPos(after)}))
	}
	p := h.callPeer(r.Context(), i, r, q, nil)
	if p.self {
		return nil, next, true, true
	}
	if p.failed(false) {
		writePeerError(w, &p)
		return nil, next, false, false
	}
	var page MembersResponse
	err := json.Unmarshal(p.body, &page)
	var c membersCursor
	if err == nil {
		c, err = decodeCursor(page.NextCursor)
	}
	if err != nil || c.Source != 0 {
		p.err = fmt.Errorf("undecodable members page")
		writePeerError(w, &p)
		return nil, next, false, false
	}
	return page.Members, processor.MemberCursor(c.After), page.NextCursor == "", true
}
