package harness

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// restoreLog measures the span of overlapping partition restores, not their sum, and
// reads both of slog's duration encodings.
func TestRestoreLogSpan(t *testing.T) {
	path := filepath.Join(t.TempDir(), "segmentd.log")
	log := `{"time":"2026-11-22T10:00:00Z","level":"INFO","msg":"partition assigned"}
{"time":"2026-11-22T10:00:03Z","level":"INFO","msg":"restored partition","partition":0,"took":3000000000}
{"time":"2026-11-22T10:00:04Z","level":"INFO","msg":"restored partition","partition":1,"took":"3s"}
{"time":"2026-11-22T10:00:06Z","level":"INFO","msg":"replayed partition changelog","partition":2,"took":9000000000}
{"time":"2026-11-22T10:00:07Z","level":"INFO","msg":"restored partition","partition":2,"took":3000000000}
`
	if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	span, n := restoreLog(path, 0)
	if n != 3 || span != 7*time.Second {
		t.Fatalf("restoreLog = %s over %d lines, want 7s over 3", span, n)
	}
	skip := int64(len(`{"time":"2026-11-22T10:00:00Z","level":"INFO","msg":"partition assigned"}` + "\n"))
	if span, n := restoreLog(path, skip); n != 3 || span != 7*time.Second {
		t.Fatalf("from an offset: %s over %d lines", span, n)
	}
}
