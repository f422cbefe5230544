// Package deploytest checks the operational files under deploy/: the Prometheus rules
// (deploy/prometheus) and the Grafana dashboard (deploy/grafana). It has no non-test
// code; `go test ./deploy/deploytest/` runs the checks.
//
// What is checked:
//
//   - promtool (Debian package prometheus; scripts/ensure-tools.sh promtool) accepts
//     the rule file (`promtool check rules`), the rule unit tests pass
//     (`promtool test rules`), and every dashboard expression parses as PromQL.
//     Without promtool these tests skip locally and fail when CI=true.
//   - Every alert has a `for:`, a severity, summary and description annotations, and a
//     runbook_url link to a section that exists in deploy/prometheus/README.md; every alert
//     has a unit test where it fires and one where it does not.
//   - The dashboard is well formed: unique panel ids, grid positions inside the grid and
//     not overlapping, the ${datasource} variable on every panel, at least one query per
//     panel, and $job and $instance in every selector.
//   - Every metric the rules, their unit tests and the dashboard name is one this package
//     knows (knownMetrics in metrics_test.go), read the way its type allows (a
//     histogram through _bucket, _sum or _count), and every known segmentd metric has
//     a panel. The known metrics exist, with the same type: segmentd's own as
//     prometheus.XxxOpts{Name: ...} in the Go code (renaming one in processor/metrics.go
//     breaks this test), Pebble's by gathering state.Collector over an in-memory store,
//     franz-go's by registering kprom the way processor.New does, and the Go runtime's
//     by gathering client_golang's collectors. Metrics still being added are listed as
//     planned: their absence from the code is a note in the -v output, not a failure.
//   - And every metric they name is in a real scrape: the segmentd binary, built and
//     run on kfake, is fed a definition and events, its /metrics parsed; a Kafka error
//     counter, exported from the client's first error, must appear once the broker is
//     gone (scrape_test.go). A metric defined but never exported (a kprom histogram not
//     enabled) fails here.
//
// The rule files are read with go.yaml.in/yaml/v3 into typed structs (the rule file's
// schema is closed: an unknown key fails, as it fails Prometheus), the dashboard with
// encoding/json, and PromQL with a scanner that finds metric names (promql_test.go),
// so that the module needs no PromQL dependency; it rejects what it does not understand.
package deploytest
