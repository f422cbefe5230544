package main

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentd/segmentd/internal/kafkatest"
)

// closedAddr is a local address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestToolsFailFast: tail and import against a broker that is not there, or a topic
// that does not exist, report it within seconds in one line naming the broker or the
// topic, and fail with exit status 1 (tail used to wait in silence, import to hang).
func TestToolsFailFast(t *testing.T) {
	file := filepath.Join(t.TempDir(), "customers.jsonl")
	if err := os.WriteFile(file, []byte(`{"id":1,"updated_at":"2024-01-01T00:00:00Z"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	down := closedAddr(t)
	kafkatest.All(t, func(t *testing.T, b *kafkatest.Broker) {
		brokers := strings.Join(b.Addrs, ",")
		missing := kafkatest.UniqueName("missing-topic")
		for _, tc := range []struct {
			name string
			run  func(context.Context) error
			want []string
		}{
			{"tail, broker down", func(ctx context.Context) error {
				return tailCommand(ctx, []string{"--brokers", down}, io.Discard, io.Discard)
			}, []string{"cannot reach Kafka broker " + down}},
			{"tail, no topic", func(ctx context.Context) error {
				return tailCommand(ctx, []string{"--brokers", brokers, "--membership-topic", missing}, io.Discard, io.Discard)
			}, []string{`topic "` + missing + `" does not exist`, brokers}},
			{"import, broker down", func(ctx context.Context) error {
				return importCommand(ctx, []string{"--brokers", down, "--shop", "acme.myshopify.com", file}, io.Discard, new(strings.Builder))
			}, []string{"cannot reach Kafka broker " + down}},
			{"import, no topic", func(ctx context.Context) error {
				return importCommand(ctx, []string{"--brokers", brokers, "--shop", "acme.myshopify.com", "--events-topic", missing, file}, io.Discard, new(strings.Builder))
			}, []string{`topic "` + missing + `" does not exist`, brokers}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
				defer cancel()
				start := time.Now()
				err := tc.run(ctx)
				took := time.Since(start)
				if err == nil {
					t.Fatalf("no error after %s", took.Round(time.Millisecond))
				}
				if took > connectTimeout+5*time.Second {
					t.Errorf("reported after %s, want within seconds", took.Round(time.Millisecond))
				}
				msg := err.Error()
				for _, w := range tc.want {
					if !strings.Contains(msg, w) {
						t.Errorf("error %q does not name %q", msg, w)
					}
				}
				if strings.Contains(msg, "\n") {
					t.Errorf("error %q: want one line", msg)
				}
				if got := exitCode(err); got != 1 {
					t.Errorf("exit status %d, want 1 (a runtime failure)", got)
				}
			})
		}
	})
}
