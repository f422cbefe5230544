package admin

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/operators"
	"github.com/segmentd/segmentd/processor"
)

// Backend answers the read side of the API for the partitions this process owns. It
// is the query API of *processor.Processor (processor/query.go), in the processor's
// domain values; the handler renders them as the JSON views of views.go. Every method
// must be safe for concurrent use.
type Backend interface {
	// Ready reports whether the process has read the definitions and restored every
	// assigned partition.
	Ready() bool
	Segments(ctx context.Context, ws string) ([]processor.SegmentInfo, processor.Local, error)
	Segment(ctx context.Context, ws, id string) (processor.SegmentInfo, processor.Local, error)
	Members(ctx context.Context, ws, id string, after processor.MemberCursor, limit int) (ids []int64, next processor.MemberCursor, done bool, err error)
	Contact(ctx context.Context, ws string, customerID int64) (*processor.Contact, error)
	Explain(ctx context.Context, ws string, customerID int64, segmentID string) (*operators.Explanation, error)
	Preview(ctx context.Context, def *operators.Definition, sample int) (count int64, ids []int64, local processor.Local, err error)
	// PreviewChange compares def, meant to replace segment id of ws, with the
	// segment's current members; nothing is saved.
	PreviewChange(ctx context.Context, ws, id string, def *operators.Definition, sample int) (processor.ChangePreview, processor.Local, error)
	Search(ctx context.Context, ws, q string, limit int) ([]processor.ContactSummary, processor.Local, error)
	Estimate(ctx context.Context, ws string, include, exclude []processor.AudienceRef) (int64, processor.Local, error)
	// SyncSegments waits until the process has applied every record the segments
	// topic held when it was called; writes call it before deciding 201, 200 or 404.
	SyncSegments(ctx context.Context) error
	// WaitSegmentRecord waits until the process has applied the segments-topic
	// record at partition and offset; writes call it for the record they produced.
	WaitSegmentRecord(ctx context.Context, partition int32, offset int64) error
}

var _ Backend = (*processor.Processor)(nil)

// Producer writes definitions and tombstones to the segments topic. *kgo.Client is
// one; it must wait for all in-sync replicas (acks=all, kgo's default).
type Producer interface {
	ProduceSync(ctx context.Context, rs ...*kgo.Record) kgo.ProduceResults
}

// Defaults of Config.
const (
	DefaultSegmentsTopic  = "segmentd.segments"
	DefaultMaxBodyBytes   = 1 << 20
	DefaultRequestTimeout = 30 * time.Second
	DefaultPeerTimeout    = 10 * time.Second
)

// Limits of query parameters.
const (
	DefaultMembersLimit = 100
	MaxMembersLimit     = 1000
	DefaultSample       = 10
	MaxSample           = 1000
	DefaultSearchLimit  = 20
	MaxSearchLimit      = 200
)

// InstanceHeader is the response header carrying a handler's random instance id; a
// handler that finds its own id in a peer's answer skips that peer (itself).
const InstanceHeader = "X-Segmentd-Instance"

// Config configures a Handler. The zero value of every optional field means its
// default.
type Config struct {
	// Backend answers the reads. Required.
	Backend Backend
	// Producer writes to the segments topic (PUT, DELETE). Required.
	Producer Producer
	// SegmentsTopic is the topic PUT and DELETE write to. Default "segmentd.segments".
	SegmentsTopic string
	// Token is the bearer token every request must carry; empty means none. Without
	// one, the API is open on a loopback ListenAddr and locked (403) on any other.
	Token string
	// Tokens, if set, replaces Token and is called for each request, so that the
	// tokens can change while the process runs (a rotation): any token it returns is
	// accepted, and the first is the one sent to peers. It must return at least one.
	Tokens func() []string
	// ListenAddr is the host:port the HTTP server is bound to (e.g. the listener's
	// address). Default: treated as non-loopback, so a token is required.
	ListenAddr string
	// Peers are the base URLs (e.g. "http://segmentd-1.segmentd:8080") of the other
	// processes of the group, asked with ?local=true and merged. The process's own URL
	// may be among them: it is recognised and skipped.
	Peers []string
	// PeerClient makes the requests to peers. Default: an http.Client with a
	// DefaultPeerTimeout (10s) timeout.
	PeerClient *http.Client
	// MaxBodyBytes limits request bodies; larger ones are refused with 413. Default
	// 1 MiB.
	MaxBodyBytes int64
	// RequestTimeout bounds each request. Default 30s.
	RequestTimeout time.Duration
	// Logger receives one line per request (method, route pattern, status,
	// duration) and one audit line per write. Default slog.Default().
	Logger *slog.Logger
	// Registerer receives the admin API's metrics (requests by route pattern and
	// status code, durations). Nil: not exported.
	Registerer prometheus.Registerer
}

// Validate reports a configuration that cannot work.
func (c *Config) Validate() error {
	if c.Backend == nil {
		return errors.New("admin: Config.Backend is required")
	}
	if c.Producer == nil {
		return errors.New("admin: Config.Producer is required")
	}
	for _, p := range c.Peers {
		u, err := url.Parse(p)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("admin: peer %q is not an http:// or https:// base URL", p)
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("admin: peer %q has a query or fragment", p)
		}
	}
	if c.MaxBodyBytes < 0 || c.RequestTimeout < 0 {
		return errors.New("admin: negative MaxBodyBytes or RequestTimeout")
	}
	return nil
}

func (c *Config) ensureDefaults() {
	if c.SegmentsTopic == "" {
		c.SegmentsTopic = DefaultSegmentsTopic
	}
	if c.PeerClient == nil {
		c.PeerClient = &http.Client{Timeout: DefaultPeerTimeout}
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	peers := make([]string, len(c.Peers))
	for i, p := range c.Peers {
		peers[i] = strings.TrimRight(p, "/")
	}
	c.Peers = peers
}

// Handler serves the admin API under /v1. It is safe for concurrent use and starts
// no goroutine of its own beyond those of a request (peer calls, waited for before
// the request returns).
type Handler struct {
	cfg      Config
	mux      *http.ServeMux
	instance string       // random id, sent in InstanceHeader
	auth     authMode     // how requests are authenticated
	selfPeer atomic.Int64 // index in Config.Peers of this process's own URL, -1 until seen
	// writing serializes the writes (PUT, DELETE) of this handler: each reads the
	// segments topic, decides and writes before the next one reads.
	writing chan struct{}
	m       *metrics
	// verbs: the mux paths that also serve custom methods ("…/segments/{id}" serves
	// "…/segments/{id}:preview"), with their verbs (routes.go).
	verbs map[string][]string
}

// New returns the handler of cfg.
func New(cfg Config) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.ensureDefaults()
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("admin: instance id: %w", err)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux(), instance: hex.EncodeToString(id[:]), writing: make(chan struct{}, 1), m: m}
	h.selfPeer.Store(-1)
	h.initAuth()
	h.register()
	return h, nil
}

// Locked reports whether the API refuses every request because it listens on a
// non-loopback address without a token. The caller should say so at start.
func (h *Handler) Locked() bool { return h.auth == authLocked }

// route is one endpoint: what the mux serves and openapi.yaml describes.
type route struct {
	method  string
	path    string // the OpenAPI path, which is also the ServeMux pattern's but for a custom method (routes.go)
	handler http.HandlerFunc
	ready   bool // needs Backend.Ready()
}

func (h *Handler) routes() []route {
	const ws = "/v1/workspaces/{ws}"
	return []route{
		{"GET", "/v1/openapi.yaml", h.openAPI, false},
		{"GET", ws + "/segments", h.listSegments, true},
		{"GET", ws + "/segments/{id}", h.getSegment, true},
		{"PUT", ws + "/segments/{id}", h.putSegment, true},
		{"DELETE", ws + "/segments/{id}", h.deleteSegment, true},
		{"POST", ws + "/segments:validate", h.validateSegment, false},
		{"POST", ws + "/segments:preview", h.previewSegment, true},
		{"POST", ws + "/segments/{id}:preview", h.previewChange, true},
		{"GET", ws + "/segments/{id}/members", h.members, true},
		{"GET", ws + "/contacts", h.searchContacts, true},
		{"GET", ws + "/contacts/{customer_id}", h.getContact, true},
		{"GET", ws + "/contacts/{customer_id}/explain", h.explain, true},
		{"POST", ws + "/audiences:estimate", h.estimate, true},
	}
}

// ServeHTTP authenticates the request, limits its body and duration, routes it and
// logs it.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusWriter{ResponseWriter: w}
	rec.Header().Set(InstanceHeader, h.instance)
	rec.Header().Set("Cache-Control", "no-store")
	pattern := h.routeOf(r)
	defer func() {
		d := time.Since(start)
		h.m.observe(pattern, rec.code(), d)
		// Reads that succeed are the bulk of the traffic (dashboards, peers' fan-out):
		// they log at debug; writes and failures at info.
		level := slog.LevelInfo
		if r.Method == http.MethodGet && rec.code() < 500 {
			level = slog.LevelDebug
		}
		h.cfg.Logger.LogAttrs(r.Context(), level, "admin request",
			slog.String("method", r.Method), slog.String("route", pattern),
			slog.Int("status", rec.code()), slog.Duration("duration", d))
	}()
	if !h.authenticate(rec, r) {
		return
	}
	if r.Body != nil {
		r.Body = http.MaxBytesReader(rec, r.Body, h.cfg.MaxBodyBytes)
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.RequestTimeout)
	defer cancel()
	h.mux.ServeHTTP(rec, r.WithContext(ctx))
}

// needReady answers 503 while the backend is not ready.
func (h *Handler) needReady(fn http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !h.cfg.Backend.Ready() {
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusServiceUnavailable, "not ready: reading definitions or restoring partitions")
			return
		}
		fn(w, r)
	}
}

//go:embed openapi.yaml
var openAPIYAML []byte

func (h *Handler) openAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	w.Write(openAPIYAML)
}

// statusWriter records the status code written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) code() int {
	if s.status == 0 {
		return http.StatusOK
	}
	return s.status
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// audit logs a write that took effect: what, by which client (the connection's
// address; with a token, whoever holds it), the workspace and the segment. The
// definition itself is not logged.
func (h *Handler) audit(r *http.Request, what, ws, id string, attrs ...slog.Attr) {
	attrs = append([]slog.Attr{slog.String("action", what), slog.String("client", clientAddr(r)),
		slog.String("workspace", ws), slog.String("segment", id)}, attrs...)
	h.cfg.Logger.LogAttrs(r.Context(), slog.LevelInfo, "admin write", attrs...)
}

// clientAddr is the host of the request's remote address.
func clientAddr(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}
