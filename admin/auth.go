package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"strings"
)

// authMode is how a Handler authenticates requests.
type authMode uint8

const (
	authOpen   authMode = iota // loopback address, no token: no authentication
	authToken                  // a bearer token is required
	authLocked                 // non-loopback address without a token: every request is refused
)

func (h *Handler) initAuth() {
	switch {
	case h.cfg.Token != "" || h.cfg.Tokens != nil:
		h.auth = authToken
	case IsLoopback(h.cfg.ListenAddr):
		h.auth = authOpen
	default:
		h.auth = authLocked
	}
}

// authenticate checks the request's credentials and answers 401 or 403 if they do
// not do; it reports whether the request may proceed.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request) bool {
	switch h.auth {
	case authOpen:
		// Without a token the API trusts whoever can connect to the loopback address.
		// A web page can make a browser connect there too, under a name of its own
		// that resolves to 127.0.0.1 (DNS rebinding): only loopback names are served.
		if !IsLoopback(r.Host) {
			writeError(w, http.StatusForbidden, "Host %q is not a loopback name: without an admin token the admin API answers only "+
				"requests addressed to localhost, 127.0.0.1 or [::1] (a guard against DNS rebinding); "+
				"use one of those, or set --admin-token-file or SEGMENTD_ADMIN_TOKEN", r.Host)
			return false
		}
		return true
	case authLocked:
		writeError(w, http.StatusForbidden, "admin API disabled: segmentd listens on a non-loopback address and has no admin token "+
			"(set --admin-token-file or SEGMENTD_ADMIN_TOKEN)")
		return false
	}
	token, ok := bearerToken(r.Header.Get("Authorization"))
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="segmentd"`)
		writeError(w, http.StatusUnauthorized, "missing bearer token: send Authorization: Bearer <token>")
		return false
	}
	if !h.tokenMatches(token) {
		writeError(w, http.StatusForbidden, "invalid bearer token")
		return false
	}
	return true
}

// tokens returns the accepted tokens, the one to send to peers first (none when the
// API has no token).
func (h *Handler) tokens() []string {
	if h.cfg.Tokens != nil {
		return h.cfg.Tokens()
	}
	if h.cfg.Token != "" {
		return []string{h.cfg.Token}
	}
	return nil
}

// tokenMatches compares token with each accepted one in constant time: both are
// hashed first, so that neither their content nor their length shows in the timing.
func (h *Handler) tokenMatches(token string) bool {
	got := sha256.Sum256([]byte(token))
	match := 0
	for _, want := range h.tokens() {
		if want == "" {
			continue
		}
		sum := sha256.Sum256([]byte(want))
		match |= subtle.ConstantTimeCompare(got[:], sum[:])
	}
	return match == 1
}

// bearerToken returns the token of an "Authorization: Bearer <token>" header value
// (the scheme is case-insensitive, RFC 7235).
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// IsLoopback reports whether the listen address addr ("host:port", or a bare host)
// accepts connections from this machine only: "localhost", or an IP address that is
// a loopback address. An empty host, 0.0.0.0 or :: (every interface), a host name or
// an unparseable address is not loopback.
func IsLoopback(addr string) bool {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	if i := strings.IndexByte(host, '%'); i >= 0 { // zone, e.g. ::1%lo
		host = host[:i]
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
