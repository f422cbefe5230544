package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sync"
)

// maxPeerBody bounds what is read of a peer's answer.
const maxPeerBody = 32 << 20

// peerReply is a peer's answer to one request.
type peerReply struct {
	peer   string
	status int
	body   []byte
	self   bool  // the peer is this process: ignore the reply
	err    error // transport error
}

// failed reports whether the reply is neither usable nor ignorable: a transport
// error, or a status other than 200 (and other than 404 when notFoundOK).
func (p *peerReply) failed(notFoundOK bool) bool {
	if p.self {
		return false
	}
	return p.err != nil || !(p.status == http.StatusOK || notFoundOK && p.status == http.StatusNotFound)
}

// writePeerError answers 502 naming the peer and what went wrong.
func writePeerError(w http.ResponseWriter, p *peerReply) {
	msg := ""
	if p.err != nil {
		msg = p.err.Error()
	} else {
		var eb errorBody
		if json.Unmarshal(p.body, &eb) == nil && eb.Error != "" {
			msg = fmt.Sprintf("%d %s", p.status, eb.Error)
		} else {
			msg = fmt.Sprintf("status %d", p.status)
		}
	}
	writeErrorBody(w, http.StatusBadGateway, errorBody{Error: "peer " + p.peer + ": " + msg, Peer: p.peer})
}

// callPeer asks peer i the request r's path with query (plus local=true) and body.
func (h *Handler) callPeer(ctx context.Context, i int, r *http.Request, query url.Values, body []byte) peerReply {
	peer := h.cfg.Peers[i]
	reply := peerReply{peer: peer}
	if h.selfPeer.Load() == int64(i) {
		reply.self = true
		return reply
	}
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	q.Set("local", "true")
	u := peer + r.URL.EscapedPath() + "?" + q.Encode()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, u, rd)
	if err != nil {
		reply.err = err
		return reply
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	// The processes of a group share one token: send ours, else the caller's.
	if tokens := h.tokens(); len(tokens) > 0 {
		req.Header.Set("Authorization", "Bearer "+tokens[0])
	} else if a := r.Header.Get("Authorization"); a != "" {
		req.Header.Set("Authorization", a)
	}
	resp, err := h.cfg.PeerClient.Do(req)
	if err != nil {
		reply.err = err
		return reply
	}
	defer resp.Body.Close()
	if resp.Header.Get(InstanceHeader) == h.instance {
		h.selfPeer.Store(int64(i))
		reply.self = true
		return reply
	}
	reply.status = resp.StatusCode
	reply.body, err = io.ReadAll(io.LimitReader(resp.Body, maxPeerBody))
	if err != nil {
		reply.err = fmt.Errorf("read answer: %w", err)
	}
	return reply
}

// fanOut asks every peer concurrently and returns their replies in peer order.
func (h *Handler) fanOut(r *http.Request, query url.Values, body []byte) []peerReply {
	replies := make([]peerReply, len(h.cfg.Peers))
	var wg sync.WaitGroup
	for i := range h.cfg.Peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replies[i] = h.callPeer(r.Context(), i, r, query, body)
		}()
	}
	wg.Wait()
	return replies
}

// gather fans out and decodes every usable reply with decode; on the first failed
// peer it answers 502 and returns false.
func gather[T any](h *Handler, w http.ResponseWriter, r *http.Request, query url.Values, body []byte) ([]T, bool) {
	var out []T
	for _, p := range h.fanOut(r, query, body) {
		if p.self {
			continue
		}
		if p.failed(false) {
			writePeerError(w, &p)
			return nil, false
		}
		var v T
		if err := json.Unmarshal(p.body, &v); err != nil {
			p.err = fmt.Errorf("undecodable answer: %w", err)
			writePeerError(w, &p)
			return nil, false
		}
		out = append(out, v)
	}
	return out, true
}

// firstFound fans out and decodes into v the first 200 answer in peer order. It
// reports found=false when every peer answered 404; on a failed peer without any
// 200 it answers 502 and returns ok=false.
func firstFound(h *Handler, w http.ResponseWriter, r *http.Request, v any) (found, ok bool) {
	replies := h.fanOut(r, r.URL.Query(), nil)
	for _, p := range replies {
		if !p.self && p.err == nil && p.status == http.StatusOK {
			if err := json.Unmarshal(p.body, v); err != nil {
				p.err = fmt.Errorf("undecodable answer: %w", err)
				writePeerError(w, &p)
				return false, false
			}
			return true, true
		}
	}
	for _, p := range replies {
		if p.failed(true) {
			writePeerError(w, &p)
			return false, false
		}
	}
	return false, true
}

// unionPartitions merges partition lists, sorted and without duplicates.
func unionPartitions(lists ...[]int32) []int32 {
	out := []int32{}
	for _, l := range lists {
		out = append(out, l...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
