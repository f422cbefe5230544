package deploytest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/internal/kafkatest"
	"github.com/segmentd/segmentd/internal/testenv"
)

// scrapeVersion is the version the scrape test stamps into the binary it runs, to
// find it again in segmentd_build_info.
const scrapeVersion = "v0.0.0-deploytest"

// TestDashboardAndAlertsMatchScrape runs the segmentd binary (stamped the way `make
// build` does) on kfake, feeds it a definition, events, a guest order and a bad record,
// calls the admin API, scrapes /metrics and checks that every metric a dashboard panel,
// a dashboard variable or a rule reads is in the scrape with the type they read it as.
// knownMetrics says what a metric should be; this says what a running segmentd exports
// (kprom's histograms, for one, are exported only when enabled).
func TestDashboardAndAlertsMatchScrape(t *testing.T) {
	root := testenv.RepoRoot(t)
	bin, err := testenv.BuildSegmentd(context.Background(), root, t.TempDir(), "-ldflags", "-X main.version="+scrapeVersion)
	if err != nil {
		t.Fatal(err)
	}

	// What the dashboard and the rules read.
	wanted := map[string][]string{} // metric → where
	panels, variables := dashboardExprs(t, loadDashboard(t))
	rules := loadRules(t)
	records := recordNames(rules)
	for where, expr := range panels {
		for _, s := range checkExprMetrics(t, "dashboard "+where, expr, nil) {
			wanted[s.Metric] = append(wanted[s.Metric], "dashboard "+where)
		}
	}
	for where, expr := range variables {
		for _, s := range checkExprMetrics(t, "dashboard "+where, expr, nil) {
			wanted[s.Metric] = append(wanted[s.Metric], "dashboard "+where)
		}
	}
	for _, r := range rules {
		for _, s := range checkExprMetrics(t, r.name(), r.Expr, records) {
			wanted[s.Metric] = append(wanted[s.Metric], "rule "+r.name())
		}
	}
	delete(wanted, "up") // written by Prometheus for each target, not by segmentd
	if len(wanted) < 10 {
		t.Fatalf("found only %d metrics in the dashboard and the rules", len(wanted))
	}

	b := kafkatest.Kfake(t)
	brokers := strings.Join(b.Addrs, ",")
	httpAddr, err := testenv.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	var logs testenv.SyncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.Command(bin, "run", "--brokers", brokers, "--http-addr", httpAddr, "--data-dir", t.TempDir(),
		"--group", kafkatest.UniqueName("deploytest"), "--partitions", "2", "--commit-interval", "50ms", "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("segmentd log:\n%s", logs.String())
		}
	}()
	base := "http://" + httpAddr
	waitFor(t, ctx, exited, "segmentd ready", func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	// Traffic: a definition through the admin API, contacts and orders (one a guest
	// checkout), a record that is dead-lettered.
	const ws = "acme.myshopify.com"
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, base+"/v1/workspaces/"+ws+"/segments/big",
		strings.NewReader(`{"name":"Big spenders","groups":[{"conditions":[{"field":"total_spent","op":"gt","value":50}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT segment: %s %s", resp.Status, body)
	}
	cl := b.Client(t, kgo.DefaultProduceTopic("segmentd.events"))
	var recs []*kgo.Record
	for i := 1; i <= 20; i++ {
		key := fmt.Sprintf("%s/%d", ws, i)
		recs = append(recs,
			&kgo.Record{Key: []byte(key), Value: []byte(fmt.Sprintf(
				`{"topic":"customers/update","shop":%q,"payload":{"id":%d,"email":"c%d@example.com","updated_at":"2024-01-01T00:00:00Z"}}`, ws, i, i))},
			&kgo.Record{Key: []byte(key), Value: []byte(fmt.Sprintf(
				`{"topic":"orders/create","shop":%q,"payload":{"id":%d,"customer":{"id":%d},"created_at":"2024-01-02T00:00:00Z","total_price":"%d.00","line_items":[]}}`, ws, 1000+i, i, 10*i))})
	}
	recs = append(recs,
		&kgo.Record{Key: []byte(ws + "/1"), Value: []byte(fmt.Sprintf(
			`{"topic":"orders/create","shop":%q,"payload":{"id":5000,"customer":null,"total_price":"1.00","line_items":[]}}`, ws))},
		&kgo.Record{Key: []byte(ws + "/1"), Value: []byte(`not json`)})
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	// Scrape until everything wanted is there (vectors appear with their first child),
	// the error counters aside.
	var families map[string]*dto.MetricFamily
	missing := func(skipErrorCounters bool) []string {
		var out []string
		for _, name := range sortedKeys(wanted) {
			if _, onError := onFirstError[name]; onError && skipErrorCounters {
				continue
			}
			if f, ok := families[name]; !ok || len(f.GetMetric()) == 0 {
				out = append(out, name)
			}
		}
		return out
	}
	scrapeUntil := func(skipErrorCounters bool, d time.Duration) []string {
		deadline := time.Now().Add(d)
		for {
			families = scrapeMetrics(t, ctx, base+"/metrics")
			if m := missing(skipErrorCounters); len(m) == 0 || time.Now().After(deadline) {
				return m
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	for _, name := range scrapeUntil(true, 45*time.Second) {
		t.Errorf("%s: not in the scrape of a running segmentd after traffic, but read by %s", name, strings.Join(wanted[name], "; "))
	}
	kinds := map[dto.MetricType]metricKind{dto.MetricType_COUNTER: counter, dto.MetricType_GAUGE: gauge,
		dto.MetricType_HISTOGRAM: histogram, dto.MetricType_SUMMARY: summary}
	checkKinds := func() {
		for _, name := range sortedKeys(wanted) {
			f, ok := families[name]
			if ok && kinds[f.GetType()] != knownMetrics[name].kind {
				t.Errorf("%s: a %s in the scrape, read as a %s", name, kinds[f.GetType()], knownMetrics[name].kind)
			}
		}
	}
	checkKinds()
	// The build is the stamped one.
	if f := families["segmentd_build_info"]; f == nil || len(f.GetMetric()) != 1 || labelValue(f.GetMetric()[0], "version") != scrapeVersion ||
		f.GetMetric()[0].GetGauge().GetValue() != 1 {
		t.Errorf("segmentd_build_info: %v, want one series of version %s, value 1", f, scrapeVersion)
	}

	// The Kafka error counters appear with their first error: take the broker away (the
	// process gives up a few seconds later, so scrape while it is still there).
	b.Cluster.Close()
	var needed []string
	for _, name := range sortedKeys(wanted) {
		if why, onError := onFirstError[name]; onError && why == "" {
			needed = append(needed, name)
		}
	}
	absent := func() []string {
		var out []string
		for _, name := range needed {
			if f := families[name]; f == nil || len(f.GetMetric()) == 0 {
				out = append(out, name)
			}
		}
		return out
	}
	for deadline := time.Now().Add(15 * time.Second); len(absent()) > 0 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		if f, err := tryScrape(ctx, base+"/metrics"); err == nil {
			families = f
		} else {
			t.Logf("scrape once the broker is gone: %v", err)
			break
		}
	}
	for _, name := range absent() {
		t.Errorf("%s: not in the scrape once the broker is gone, but read by %s", name, strings.Join(wanted[name], "; "))
	}
	checkKinds()
}

// onFirstError are the metrics that a client exports from its first error of their
// kind: absent from a healthy scrape, they must appear once the broker is gone, unless
// a reason says why the test cannot provoke them (their names are then checked by
// TestKafkaClientMetrics, from kprom's own registration).
var onFirstError = map[string]string{
	"segmentd_kafka_connect_errors_total": "",
	"segmentd_kafka_read_errors_total":    "",
	"segmentd_kafka_write_errors_total":   "a write error needs a connection that breaks while a request is written; closing the broker breaks reads and dials",
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// scrapeMetrics fetches and parses a /metrics page (Prometheus text format).
func scrapeMetrics(t *testing.T, ctx context.Context, url string) map[string]*dto.MetricFamily {
	t.Helper()
	families, err := tryScrape(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	return families
}

func tryScrape(ctx context.Context, url string) (map[string]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("parse the scrape of %s: %w", url, err)
	}
	return families, nil
}

// waitFor polls cond until it holds; the test fails if the process exits or ctx ends.
func waitFor(t *testing.T, ctx context.Context, exited <-chan error, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case err := <-exited:
			t.Fatalf("waiting for %s: segmentd exited: %v", what, err)
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
