// Package helmtest tests the Helm chart in deploy/helm/segmentd and the Dockerfile
// beside it. It has no code of its own: the tests render the chart with the real helm
// binary and check the rendered Kubernetes objects.
//
// What the tests hold the chart to:
//
//   - helm lint, plain and --strict, passes with the default values and with
//     testdata/all-options.yaml (every option on: SASL, TLS, admin token, ServiceMonitor,
//     PrometheusRule).
//   - The StatefulSet runs its pods in parallel (podManagementPolicy Parallel) under a
//     headless Service, mounts its volumeClaimTemplate at the data dir, and gives each pod
//     its own name as static group instance id (downward API) and as the stem of its
//     transactional id; probes hit /readyz and /healthz on the port of --http-addr,
//     which binds a non-loopback address; the grace period is at least 30s; the pod runs
//     as non-root 65532 with a read-only root filesystem, no privilege escalation and no
//     capabilities, and only the data volume and a /tmp emptyDir are writable; resources
//     are set; a PodDisruptionBudget allows one pod down. The admin API has a container
//     port of its own (--admin-addr), exposed by both Services, where the peers are asked
//     (over https with admin TLS).
//   - The NetworkPolicy (on by default) admits to the admin port only the release's
//     pods and networkPolicy.admin.from, to the metrics port networkPolicy.metrics.from
//     (anyone when empty), and every rule names its port.
//   - Default (production) values render no demo variable (--demo, --demo-contacts,
//     --demo-rate, --embedded-broker-addr); demo.enabled renders them.
//   - Every flag of `segmentd run` (read from the built binary's -h) has its
//     SEGMENTD_<FLAG> environment variable in the rendered pod, but for the ones listed
//     as deliberately left out; and every SEGMENTD_* variable the chart sets names a real
//     flag, so a misspelt one (silently ignored by segmentd) fails the test.
//   - Secrets are mounted, read-only, exactly when their values name them, and the
//     *_FILE flags point at the mounted files. ServiceMonitor and PrometheusRule exist only
//     when enabled; the PrometheusRule carries the groups of
//     deploy/prometheus/segmentd-alerts.yaml, and the chart's copy in files/ must equal
//     that source.
//   - Values the schema or the templates refuse fail the render with a message.
//   - The Dockerfile agrees with the chart: user 65532, data volume, HTTP port.
//
// Getting helm: $SEGMENTD_HELM if set; else helm on PATH if it is Helm 3 or newer; else
// the cached build in <user cache dir>/segmentd/helm-<helmVersion>/bin (by default
// ~/.cache/segmentd/...), built there once with `go install helm.sh/helm/v3/cmd/helm@<helmVersion>`
// from the Go module proxy (about two minutes). When helm cannot be had the tests skip,
// saying why, except under CI=true, where they fail. With -short they do not build
// helm, and skip when it is not already there.
package helmtest
