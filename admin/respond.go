package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/segmentd/segmentd/events"
	"github.com/segmentd/segmentd/operators"
	"github.com/segmentd/segmentd/processor"
)

// errorBody is the body of every error answer.
type errorBody struct {
	Error string `json:"error"`
	// Path is the JSON path an invalid definition's error names ("" for the document).
	Path *string `json:"path,omitempty"`
	// Valid is false in answers of segments:validate.
	Valid *bool `json:"valid,omitempty"`
	// Peer is the peer that failed (502).
	Peer string `json:"peer,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "encode response: %v", err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
	w.Write([]byte("\n"))
}

func writeError(w http.ResponseWriter, status int, format string, args ...any) {
	writeErrorBody(w, status, errorBody{Error: fmt.Sprintf(format, args...)})
}

func writeErrorBody(w http.ResponseWriter, status int, body errorBody) {
	b, _ := json.Marshal(body) // strings and pointers to them always marshal
	w.Header().Set("Content-Type", "application/json")
	w.Header().Del("Content-Length")
	w.WriteHeader(status)
	w.Write(b)
	w.Write([]byte("\n"))
}

// writeInvalid answers 400 for an invalid definition, with the path its error names.
func writeInvalid(w http.ResponseWriter, err error, validate bool) {
	body := errorBody{Error: err.Error()}
	var ve *operators.ValidationError
	path := ""
	if errors.As(err, &ve) {
		path = ve.Path
	}
	body.Path = &path
	if validate {
		f := false
		body.Valid = &f
	}
	writeErrorBody(w, http.StatusBadRequest, body)
}

// writeBackendError maps an error of the Backend to a status.
func writeBackendError(w http.ResponseWriter, r *http.Request, err error, what string) {
	switch {
	case errors.Is(err, processor.ErrNotFound):
		writeError(w, http.StatusNotFound, "%s not found", what)
	case errors.Is(err, processor.ErrInvalid):
		writeError(w, http.StatusBadRequest, "%v", err)
	case errors.Is(err, processor.ErrNotReady):
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "not ready: reading definitions or restoring partitions")
	case errors.Is(err, context.DeadlineExceeded) && r.Context().Err() != nil:
		writeError(w, http.StatusGatewayTimeout, "timed out")
	case errors.Is(err, context.Canceled):
		writeError(w, http.StatusServiceUnavailable, "request canceled")
	default:
		writeError(w, http.StatusInternalServerError, "%s: %v", what, err)
	}
}

// readBody reads the whole (size-limited) JSON body; on failure it has answered 415
// (a Content-Type other than JSON), 413, 408 (the body did not arrive within the
// server's read timeout) or 400.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			writeError(w, http.StatusUnsupportedMediaType, "Content-Type %q is not supported: send application/json "+
				"(with curl: -H 'Content-Type: application/json')", ct)
			return nil, false
		}
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		var netErr net.Error
		switch {
		case errors.As(err, &tooLarge):
			writeError(w, http.StatusRequestEntityTooLarge, "request body larger than %d bytes", tooLarge.Limit)
		case errors.As(err, &netErr) && netErr.Timeout():
			// The error names the connection's addresses: not for the caller.
			w.Header().Set("Connection", "close")
			writeError(w, http.StatusRequestTimeout, "request body not received within the server's read timeout")
		default:
			writeError(w, http.StatusBadRequest, "request body could not be read (%s)", bodyErrorKind(err))
		}
		return nil, false
	}
	return b, true
}

// bodyErrorKind describes a failed body read without the connection's addresses that
// a network error names.
func bodyErrorKind(err error) string {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "it ended early"
	case errors.Is(err, context.Canceled):
		return "the request was canceled"
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return "connection error"
	}
	return err.Error()
}

// decodeStrict decodes a JSON body into v, refusing unknown fields and trailing data.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

// intParam parses an optional integer query parameter in [lo, hi]; on failure it
// has answered 400.
func intParam(w http.ResponseWriter, r *http.Request, name string, def, lo, hi int) (int, bool) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		writeError(w, http.StatusBadRequest, "%s must be an integer from %d to %d", name, lo, hi)
		return 0, false
	}
	return n, true
}

// workspace returns the lower-cased {ws} path value, which must be a shop domain by
// the rule events are held to (events.ParseWorkspace: an event of any other shop is
// dead-lettered invalid_id); on another it has answered 400.
func workspace(w http.ResponseWriter, r *http.Request) (string, bool) {
	ws, ok := events.ParseWorkspace(r.PathValue("ws"))
	if !ok {
		writeError(w, http.StatusBadRequest, "invalid workspace %q in the URL: a shop domain such as acme.myshopify.com "+
			"(labels of letters, digits and inner hyphens separated by dots; no port, path or other characters)", r.PathValue("ws"))
		return "", false
	}
	return ws, true
}

// customerID parses the {customer_id} path value: 1 … 2^63−1; on failure it has
// answered 400.
func customerID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	s := r.PathValue("customer_id")
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 || strings.HasPrefix(s, "+") {
		writeError(w, http.StatusBadRequest, "invalid customer id in the URL: an integer from 1 to 2^63-1")
		return 0, false
	}
	return n, true
}

// isLocal reports whether the request asks for this process's partitions only.
func (h *Handler) isLocal(r *http.Request) bool {
	return len(h.cfg.Peers) == 0 || r.URL.Query().Get("local") == "true"
}
