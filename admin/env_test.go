package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/internal/kafkatest"
)

const ws = "acme.myshopify.com"

// env is one admin handler over a fake backend, with a kfake segments topic that the
// fake world follows (sync), as the processor follows the real one.
type env struct {
	t        *testing.T
	broker   *kafkatest.Broker
	topic    string
	prod     *kgo.Client
	cons     *kgo.Client
	world    *world
	backend  *fakeBackend
	h        *Handler
	srv      *httptest.Server
	token    string
	logs     *lockedBuffer
	mu       sync.Mutex // held while following the topic
	consumed int64      // next offset of the segments topic to apply
}

type envOpt func(*Config)

func newEnv(t *testing.T, opts ...envOpt) *env {
	t.Helper()
	e := &env{t: t, broker: kafkatest.Kfake(t), world: newWorld(3), logs: &lockedBuffer{}}
	e.topic = e.broker.Topic(t, "segments", 1, nil)
	e.prod = e.broker.Client(t, kgo.ProducerLinger(0))
	e.cons = e.broker.Client(t, kgo.ConsumeTopics(e.topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(50*time.Millisecond))
	e.world.addContacts(ws, 1, 30)
	e.world.addContacts("other.myshopify.com", 1, 5)
	e.backend = &fakeBackend{w: e.world, owned: []int32{0, 1, 2}, follow: e.follow}
	cfg := Config{Backend: e.backend, Producer: e.prod, SegmentsTopic: e.topic, ListenAddr: "127.0.0.1:8080",
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	for _, o := range opts {
		o(&cfg)
	}
	e.token = cfg.Token
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	return e
}

// sync applies every record of the segments topic to the world.
func (e *env) sync() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.follow(ctx); err != nil {
		e.t.Fatal(err)
	}
}

// follow applies every record of the segments topic up to its end to the world.
func (e *env) follow(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	ends, err := kadm.NewClient(e.prod).ListEndOffsets(ctx, e.topic)
	if err != nil {
		return err
	}
	end, _ := ends.Lookup(e.topic, 0)
	for e.consumed < end.Offset {
		fs := e.cons.PollFetches(ctx)
		if ctx.Err() != nil {
			return fmt.Errorf("sync: consumed %d of %d: %w", e.consumed, end.Offset, ctx.Err())
		}
		var errs []error
		fs.EachRecord(func(r *kgo.Record) {
			e.consumed = r.Offset + 1
			if err := e.world.applyRecord(string(r.Key), r.Value); err != nil {
				errs = append(errs, fmt.Errorf("segments topic record %s: %w", r.Key, err))
			}
		})
		if err := errors.Join(errs...); err != nil {
			return err
		}
	}
	return nil
}

// put stores a definition straight in the world (no Kafka).
func (e *env) put(id, def string) {
	e.t.Helper()
	if err := e.world.applyRecord(ws+"/"+id, []byte(def)); err != nil {
		e.t.Fatal(err)
	}
}

// reply is an HTTP answer.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("answer is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

func (r reply) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode answer: %v: %s", err, r.body)
	}
}

// do sends a request with e's token (if any).
func (e *env) do(method, path, body string) reply {
	e.t.Helper()
	return doURL(e.t, e.srv.URL, method, path, body, e.token)
}

func doURL(t *testing.T, base, method, path, body, token string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

func wantStatus(t *testing.T, what string, r reply, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d: %s", what, r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); r.status != http.StatusNoContent && !strings.HasPrefix(ct, "application/") {
		t.Fatalf("%s: Content-Type %q", what, ct)
	}
}

// lockedBuffer is a log destination that tests read while handlers write.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *lockedBuffer) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(b)
}

func (w *lockedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
