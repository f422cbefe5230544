package helmtest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/segmentd/segmentd/internal/testenv"
)

const (
	chartDir    = "deploy/helm/segmentd"
	allOptions  = "deploy/helmtest/testdata/all-options.yaml"
	alertsSrc   = "deploy/prometheus/segmentd-alerts.yaml"
	alertsCopy  = chartDir + "/files/segmentd-alerts.yaml"
	release     = "prod"
	namespace   = "shop"
	fullname    = "prod-segmentd" // <release>-<chart>
	dataMount   = "/var/lib/segmentd"
	nonRootUser = 65532
)

// template renders the chart with extra helm args (-f, --set) and parses the output.
func template(t *testing.T, args ...string) rendered {
	t.Helper()
	out, err := runHelm(t, append([]string{"template", release, chartDir,
		"--namespace", namespace, "--kube-version", kubeVersion}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	r, err := parseManifests(out)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestLint(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"defaults", nil},
		{"defaults strict", []string{"--strict"}},
		{"all options strict", []string{"--strict", "-f", allOptions}},
		{"demo strict", []string{"--strict", "--set-json", "kafka.brokers=[]", "--set", "demo.enabled=true"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"lint", chartDir, "--kube-version", kubeVersion}, tc.args...)
			out, err := runHelm(t, args...)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, "0 chart(s) failed") {
				t.Fatalf("helm lint:\n%s", out)
			}
			if strings.Contains(out, "[WARNING]") || strings.Contains(out, "[ERROR]") {
				t.Errorf("helm lint reports problems:\n%s", out)
			}
		})
	}
}

// checkStatefulSet checks what must hold whatever the values: the pod layout, its
// identity, probes, security and the Services and PDB around it.
func checkStatefulSet(t *testing.T, r rendered, httpPort int) (statefulSet, container) {
	t.Helper()
	var sts statefulSet
	r.one(t, "StatefulSet", &sts)
	if sts.Metadata.Name != fullname {
		t.Errorf("StatefulSet name %q, want %q", sts.Metadata.Name, fullname)
	}
	spec := sts.Spec
	if spec.PodManagementPolicy != "Parallel" {
		t.Errorf("podManagementPolicy %q, want Parallel", spec.PodManagementPolicy)
	}
	pod := spec.Template.Spec
	if !subset(spec.Selector.MatchLabels, spec.Template.Metadata.Labels) {
		t.Errorf("StatefulSet selector %v does not select its pods %v", spec.Selector.MatchLabels, spec.Template.Metadata.Labels)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	env := c.env(t)
	if !slices.Equal(c.Args[:1], []string{"run"}) {
		t.Errorf("args %q, want run first", c.Args)
	}

	// Identity: static group membership and the transactional id from the pod name.
	id := env["SEGMENTD_INSTANCE_ID"]
	if id.ValueFrom == nil || id.ValueFrom.FieldRef == nil || id.ValueFrom.FieldRef.FieldPath != "metadata.name" {
		t.Errorf("SEGMENTD_INSTANCE_ID is not the pod name from the downward API: %+v", id)
	}
	txn := env["SEGMENTD_TRANSACTIONAL_ID"].Value
	if !strings.HasSuffix(txn, "-$(SEGMENTD_INSTANCE_ID)") || strings.HasPrefix(txn, "-") {
		t.Errorf("SEGMENTD_TRANSACTIONAL_ID %q, want <prefix>-$(SEGMENTD_INSTANCE_ID)", txn)
	}
	// Kubernetes expands $(VAR) only from variables defined earlier in the list.
	if i, j := envIndex(c, "SEGMENTD_INSTANCE_ID"), envIndex(c, "SEGMENTD_TRANSACTIONAL_ID"); i < 0 || j < i {
		t.Errorf("SEGMENTD_INSTANCE_ID (at %d) must come before SEGMENTD_TRANSACTIONAL_ID (at %d)", i, j)
	}

	// State: the claim template mounted at the data dir.
	if len(spec.VolumeClaimTemplates) != 1 {
		t.Fatalf("%d volumeClaimTemplates, want 1", len(spec.VolumeClaimTemplates))
	}
	claim := spec.VolumeClaimTemplates[0]
	mounts := map[string]string{}
	for _, vm := range c.VolumeMounts {
		mounts[vm.MountPath] = vm.Name
	}
	if mounts[dataMount] != claim.Metadata.Name {
		t.Errorf("the claim template %q is not mounted at %s (mounts %v)", claim.Metadata.Name, dataMount, mounts)
	}
	if dir := env["SEGMENTD_DATA_DIR"].Value; dir != dataMount && !strings.HasPrefix(dir, dataMount+"/") {
		t.Errorf("SEGMENTD_DATA_DIR %q is not on the volume at %s", dir, dataMount)
	}
	if claim.Spec.Resources.Requests["storage"] == "" || !slices.Contains(claim.Spec.AccessModes, "ReadWriteOnce") {
		t.Errorf("claim template: storage %q, access modes %v", claim.Spec.Resources.Requests["storage"], claim.Spec.AccessModes)
	}

	// HTTP: bound to a non-loopback address, on the port the probes use.
	host, port, err := net.SplitHostPort(env["SEGMENTD_HTTP_ADDR"].Value)
	if err != nil {
		t.Fatalf("SEGMENTD_HTTP_ADDR: %v", err)
	}
	if ip := net.ParseIP(strings.Trim(host, "[]")); host == "localhost" || ip == nil || ip.IsLoopback() {
		t.Errorf("SEGMENTD_HTTP_ADDR binds %q; the kubelet and Prometheus need a non-loopback address", host)
	}
	if port != strconv.Itoa(httpPort) {
		t.Errorf("SEGMENTD_HTTP_ADDR port %s, want %d", port, httpPort)
	}
	portNames := map[string]int{}
	for _, p := range c.Ports {
		portNames[p.Name] = p.ContainerPort
	}
	if portNames["http"] != httpPort {
		t.Errorf("container port http = %d, want %d", portNames["http"], httpPort)
	}
	// The admin API on a port of its own (so that the NetworkPolicy can restrict it),
	// bound to a non-loopback address; the peers are asked there.
	adminPort := portNames["admin"]
	if adminPort == 0 || adminPort == httpPort {
		t.Errorf("container port admin = %d: the admin API needs a port apart from http (%d)", adminPort, httpPort)
	}
	if ahost, aport, err := net.SplitHostPort(env["SEGMENTD_ADMIN_ADDR"].Value); err != nil {
		t.Errorf("SEGMENTD_ADMIN_ADDR: %v", err)
	} else if aport != strconv.Itoa(adminPort) || ahost != host {
		t.Errorf("SEGMENTD_ADMIN_ADDR %q, want %s:<container port admin %d>", env["SEGMENTD_ADMIN_ADDR"].Value, host, adminPort)
	}
	if peers := env["SEGMENTD_PEERS"].Value; peers != "" {
		for _, p := range strings.Split(peers, ",") {
			if !strings.HasSuffix(p, ":"+strconv.Itoa(adminPort)) {
				t.Errorf("peer %s is not on the admin port %d", p, adminPort)
			}
		}
	}
	for name, tc := range map[string]struct {
		p    *probe
		path string
	}{
		"readinessProbe": {c.ReadinessProbe, "/readyz"},
		"livenessProbe":  {c.LivenessProbe, "/healthz"},
	} {
		if tc.p == nil || tc.p.HTTPGet == nil {
			t.Errorf("no HTTP %s", name)
			continue
		}
		if tc.p.HTTPGet.Path != tc.path {
			t.Errorf("%s path %q, want %q", name, tc.p.HTTPGet.Path, tc.path)
		}
		if got := probePort(tc.p, portNames); got != httpPort {
			t.Errorf("%s port %v is %d, want %d", name, tc.p.HTTPGet.Port, got, httpPort)
		}
	}

	// Shutdown, resources.
	if g := pod.TerminationGracePeriodSeconds; g == nil || *g < 30 {
		t.Errorf("terminationGracePeriodSeconds %v, want >= 30", g)
	}
	for _, res := range []string{"cpu", "memory"} {
		if c.Resources.Requests[res] == "" {
			t.Errorf("no %s request", res)
		}
	}
	if c.Resources.Limits["memory"] == "" {
		t.Errorf("no memory limit")
	}

	// Security: non-root 65532, read-only root, no escalation, no capabilities; only
	// the data volume and an emptyDir /tmp writable.
	psc, csc := pod.SecurityContext, c.SecurityContext
	if !isTrue(csc.RunAsNonRoot) && !isTrue(psc.RunAsNonRoot) {
		t.Errorf("runAsNonRoot is not set")
	}
	if u := firstInt(csc.RunAsUser, psc.RunAsUser); u != nonRootUser {
		t.Errorf("runAsUser %d, want %d", u, nonRootUser)
	}
	if psc.FSGroup == nil || *psc.FSGroup != nonRootUser {
		t.Errorf("fsGroup %v, want %d (the volume must be writable by the user)", psc.FSGroup, nonRootUser)
	}
	if !isTrue(csc.ReadOnlyRootFilesystem) {
		t.Errorf("readOnlyRootFilesystem is not true")
	}
	if csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
		t.Errorf("allowPrivilegeEscalation is not false")
	}
	if isTrue(csc.Privileged) {
		t.Errorf("privileged")
	}
	if !slices.Contains(csc.Capabilities.Drop, "ALL") || len(csc.Capabilities.Add) > 0 {
		t.Errorf("capabilities: drop %v add %v, want drop ALL, add none", csc.Capabilities.Drop, csc.Capabilities.Add)
	}
	vols := map[string]volume{}
	for _, v := range pod.Volumes {
		vols[v.Name] = v
	}
	for _, vm := range c.VolumeMounts {
		switch {
		case vm.Name == claim.Metadata.Name:
		case vm.MountPath == "/tmp" && vols[vm.Name].EmptyDir != nil:
		case vm.ReadOnly && vols[vm.Name].Secret != nil:
		default:
			t.Errorf("mount %s at %s: only the data volume and an emptyDir /tmp may be writable, the rest read-only Secrets", vm.Name, vm.MountPath)
		}
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("the pod mounts a service account token; segmentd does not use the Kubernetes API")
	}

	// Services: a headless one governing the StatefulSet, a regular one; both select
	// the pods and expose the http port.
	var headless, regular []service
	for _, s := range r.services(t) {
		if !subset(s.Spec.Selector, spec.Template.Metadata.Labels) {
			t.Errorf("Service %s selector %v does not select the pods", s.Metadata.Name, s.Spec.Selector)
		}
		if len(s.Spec.Ports) == 0 || (s.Spec.Ports[0].TargetPort != "http" && s.Spec.Ports[0].TargetPort != httpPort) {
			t.Errorf("Service %s ports %+v do not target the http port", s.Metadata.Name, s.Spec.Ports)
		}
		if !slices.ContainsFunc(s.Spec.Ports, func(p servicePort) bool { return p.Name == "admin" && p.TargetPort == "admin" }) {
			t.Errorf("Service %s ports %+v do not expose the admin port", s.Metadata.Name, s.Spec.Ports)
		}
		if s.Spec.ClusterIP == "None" {
			headless = append(headless, s)
		} else {
			regular = append(regular, s)
		}
	}
	if len(headless) != 1 || len(regular) != 1 {
		t.Fatalf("%d headless and %d regular Services, want 1 and 1", len(headless), len(regular))
	}
	if spec.ServiceName != headless[0].Metadata.Name {
		t.Errorf("serviceName %q is not the headless Service %q", spec.ServiceName, headless[0].Metadata.Name)
	}
	if !headless[0].Spec.PublishNotReadyAddresses {
		t.Errorf("the headless Service does not publish pods that are not ready (restoring pods lose their DNS names)")
	}

	var pdb podDisruptionBudget
	r.one(t, "PodDisruptionBudget", &pdb)
	if pdb.Spec.MaxUnavailable != 1 || pdb.Spec.MinAvailable != nil {
		t.Errorf("PDB maxUnavailable %v minAvailable %v, want 1 and unset", pdb.Spec.MaxUnavailable, pdb.Spec.MinAvailable)
	}
	if !subset(pdb.Spec.Selector.MatchLabels, spec.Template.Metadata.Labels) {
		t.Errorf("PDB selector %v does not select the pods", pdb.Spec.Selector.MatchLabels)
	}
	return sts, c
}

func TestDefaults(t *testing.T) {
	r := template(t)
	sts, c := checkStatefulSet(t, r, 8080)
	env := c.env(t)
	for name, want := range map[string]string{
		"SEGMENTD_BROKERS":            "kafka:9092",
		"SEGMENTD_GROUP":              "segmentd",
		"SEGMENTD_TRANSACTIONAL_ID":   "segmentd-$(SEGMENTD_INSTANCE_ID)",
		"SEGMENTD_DATA_DIR":           dataMount + "/data",
		"SEGMENTD_HTTP_ADDR":          "0.0.0.0:8080",
		"SEGMENTD_ADMIN_ADDR":         "0.0.0.0:8081",
		"SEGMENTD_EVENTS_TOPIC":       "segmentd.events",
		"SEGMENTD_EXCLUSION_TAG":      "exclude_from_galantis",
		"SEGMENTD_COMMIT_INTERVAL":    "100ms",
		"SEGMENTD_MAX_RECORD_BYTES":   "1048576",
		"SEGMENTD_MAX_CONTACT_BYTES":  "262144",
		"SEGMENTD_REPLICATION_FACTOR": "3",
		"SEGMENTD_LOG_FORMAT":         "json",
	} {
		if got := env[name].Value; got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	for _, name := range []string{"SEGMENTD_SASL_MECHANISM", "SEGMENTD_SASL_PASSWORD_FILE", "SEGMENTD_TLS",
		"SEGMENTD_TLS_CA", "SEGMENTD_TLS_CERT", "SEGMENTD_TLS_KEY", "SEGMENTD_ADMIN_TOKEN_FILE", "GOMEMLIMIT",
		"SEGMENTD_ADMIN_TLS_CERT", "SEGMENTD_ADMIN_TLS_KEY", "SEGMENTD_PEERS_CA"} {
		if e, ok := env[name]; ok {
			t.Errorf("%s = %q with nothing asking for it", name, e.Value)
		}
	}
	// Production manifests carry nothing of the demo.
	for _, name := range []string{"SEGMENTD_DEMO", "SEGMENTD_DEMO_CONTACTS", "SEGMENTD_DEMO_RATE", "SEGMENTD_EMBEDDED_BROKER_ADDR"} {
		if e, ok := env[name]; ok {
			t.Errorf("%s = %q rendered without demo.enabled", name, e.Value)
		}
	}
	if p := env["SEGMENTD_PEERS"].Value; !strings.HasPrefix(p, "http://") {
		t.Errorf("SEGMENTD_PEERS = %q, want http:// URLs without admin TLS", p)
	}
	for _, v := range sts.Spec.Template.Spec.Volumes {
		if v.Secret != nil {
			t.Errorf("Secret volume %s (%s) with nothing asking for it", v.Name, v.Secret.SecretName)
		}
	}
	if c.Image != "segmentd:"+chartAppVersion(t) {
		t.Errorf("image %q, want segmentd:<appVersion %s>", c.Image, chartAppVersion(t))
	}
	if sts.Spec.Replicas != 3 {
		t.Errorf("replicas %d, want 3", sts.Spec.Replicas)
	}
	if sc := sts.Spec.VolumeClaimTemplates[0].Spec.StorageClassName; sc != nil {
		t.Errorf("storageClassName %q, want unset (the cluster's default)", *sc)
	}
	for _, kind := range []string{"ServiceMonitor", "PrometheusRule"} {
		if n := len(r.all(kind)); n != 0 {
			t.Errorf("%d %s rendered though not enabled", n, kind)
		}
	}
	if n := len(r.all("ServiceAccount")); n != 1 {
		t.Errorf("%d ServiceAccounts, want 1", n)
	}
}

func TestAllOptions(t *testing.T) {
	r := template(t, "-f", allOptions)
	sts, c := checkStatefulSet(t, r, 9090)
	pod := sts.Spec.Template.Spec
	env := c.env(t)
	for name, want := range map[string]string{
		"SEGMENTD_BROKERS":            "b-1.kafka.example.com:9096,b-2.kafka.example.com:9096",
		"SEGMENTD_CLIENT_ID":          "segmentd-prod",
		"SEGMENTD_GROUP":              "segments-prod",
		"SEGMENTD_TRANSACTIONAL_ID":   "segments-prod-tx-$(SEGMENTD_INSTANCE_ID)",
		"SEGMENTD_HTTP_ADDR":          "0.0.0.0:9090",
		"SEGMENTD_ADMIN_ADDR":         "0.0.0.0:9443",
		"SEGMENTD_SASL_MECHANISM":     "SCRAM-SHA-512",
		"SEGMENTD_SASL_USERNAME":      "segmentd",
		"SEGMENTD_TLS":                "true",
		"SEGMENTD_TLS_SERVER_NAME":    "kafka.example.com",
		"SEGMENTD_EVENTS_TOPIC":       "shop.events,shop.events.backfill",
		"SEGMENTD_SEGMENTS_TOPIC":     "shop.segments",
		"SEGMENTD_CATALOG_TOPIC":      "shop.catalog",
		"SEGMENTD_MEMBERSHIP_TOPIC":   "shop.membership",
		"SEGMENTD_CHANGELOG_TOPIC":    "shop.changelog",
		"SEGMENTD_DLQ_TOPIC":          "shop.dlq",
		"SEGMENTD_PARTITIONS":         "12",
		"SEGMENTD_REPLICATION_FACTOR": "3",
		"SEGMENTD_COMMIT_INTERVAL":    "250ms",
		"SEGMENTD_EXCLUSION_TAG":      "no_marketing",
		"SEGMENTD_MAX_RECORD_BYTES":   "2097152",
		"SEGMENTD_MAX_CONTACT_BYTES":  "524288",
		"SEGMENTD_LOG_LEVEL":          "debug",
		"SEGMENTD_LOG_FORMAT":         "text",
		"GOMEMLIMIT":                  "1800MiB",
		"GODEBUG":                     "madvdontneed=1",
	} {
		if got := env[name].Value; got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}

	// Each *_FILE flag names a file projected, read-only, from the Secret and key the
	// values name.
	for name, want := range map[string][2]string{
		"SEGMENTD_SASL_PASSWORD_FILE": {"kafka-sasl", "sasl-password"},
		"SEGMENTD_TLS_CA":             {"kafka-ca", "ca.pem"},
		"SEGMENTD_TLS_CERT":           {"kafka-client", "client.pem"},
		"SEGMENTD_TLS_KEY":            {"kafka-client", "client-key.pem"},
		"SEGMENTD_ADMIN_TOKEN_FILE":   {"segmentd-admin", "bearer"},
		"SEGMENTD_ADMIN_TLS_CERT":     {"segmentd-admin-tls", "cert.pem"},
		"SEGMENTD_ADMIN_TLS_KEY":      {"segmentd-admin-tls", "key.pem"},
		"SEGMENTD_PEERS_CA":           {"segmentd-admin-ca", "ca.pem"},
	} {
		p := env[name].Value
		if !path.IsAbs(p) {
			t.Errorf("%s = %q, want an absolute path", name, p)
			continue
		}
		secret, key, ro, err := mountedFile(pod, c, p)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if secret != want[0] || key != want[1] || !ro {
			t.Errorf("%s = %s: Secret %s key %s (read-only %v), want Secret %s key %s read-only",
				name, p, secret, key, ro, want[0], want[1])
		}
		if strings.HasPrefix(p, dataMount+"/") || strings.HasPrefix(p, "/tmp/") {
			t.Errorf("%s = %s is on a writable volume", name, p)
		}
	}

	// With admin TLS, the peers are asked over https.
	for i, p := range strings.Split(env["SEGMENTD_PEERS"].Value, ",") {
		if want := fmt.Sprintf("https://%s-%d.%s.%s.svc:9443", fullname, i, sts.Spec.ServiceName, namespace); p != want {
			t.Errorf("peer %d = %q, want %q", i, p, want)
		}
	}

	if c.Image != "registry.example.com/segmentd:1.2.3" {
		t.Errorf("image %q", c.Image)
	}
	claim := sts.Spec.VolumeClaimTemplates[0]
	if sc := claim.Spec.StorageClassName; sc == nil || *sc != "fast-ssd" {
		t.Errorf("storageClassName %v, want fast-ssd", sc)
	}
	if s := claim.Spec.Resources.Requests["storage"]; s != "50Gi" {
		t.Errorf("storage %q, want 50Gi", s)
	}
	if g := *pod.TerminationGracePeriodSeconds; g != 90 {
		t.Errorf("terminationGracePeriodSeconds %d, want 90", g)
	}
	if c.Resources.Limits["cpu"] != "4" {
		t.Errorf("cpu limit %q, want 4", c.Resources.Limits["cpu"])
	}

	// ServiceMonitor: scrapes the headless Service (every pod, ready or not) on http.
	var sm serviceMonitor
	r.one(t, "ServiceMonitor", &sm)
	if sm.Metadata.Labels["release"] != "kube-prometheus-stack" {
		t.Errorf("ServiceMonitor labels %v lack serviceMonitor.labels", sm.Metadata.Labels)
	}
	var selected []string
	for _, s := range r.services(t) {
		if subset(sm.Spec.Selector.MatchLabels, s.Metadata.Labels) {
			selected = append(selected, s.Metadata.Name)
		}
	}
	if !slices.Equal(selected, []string{sts.Spec.ServiceName}) {
		t.Errorf("ServiceMonitor selects Services %v, want only the headless %s", selected, sts.Spec.ServiceName)
	}
	if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != "http" || sm.Spec.Endpoints[0].Path != "/metrics" {
		t.Errorf("ServiceMonitor endpoints %+v, want port http path /metrics", sm.Spec.Endpoints)
	}
	if sm.Spec.JobLabel != "app.kubernetes.io/name" {
		t.Errorf("ServiceMonitor jobLabel %q: the alerts select job=~\".*segmentd.*\"", sm.Spec.JobLabel)
	}

	// PrometheusRule: the chart's copy of the alert groups, then the additional ones.
	var pr prometheusRule
	r.one(t, "PrometheusRule", &pr)
	if pr.Metadata.Labels["release"] != "kube-prometheus-stack" {
		t.Errorf("PrometheusRule labels %v lack prometheusRule.labels", pr.Metadata.Labels)
	}
	var file struct {
		Groups []map[string]any `yaml:"groups"`
	}
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), alertsCopy))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &file); err != nil {
		t.Fatalf("%s: %v", alertsCopy, err)
	}
	if len(file.Groups) == 0 {
		t.Fatalf("%s has no groups", alertsCopy)
	}
	n := len(file.Groups)
	if len(pr.Spec.Groups) != n+1 {
		t.Fatalf("PrometheusRule has %d groups, want the %d of %s and 1 additional", len(pr.Spec.Groups), n, alertsCopy)
	}
	if !reflect.DeepEqual(pr.Spec.Groups[:n], file.Groups) {
		t.Errorf("PrometheusRule groups differ from %s", alertsCopy)
	}
	if pr.Spec.Groups[n]["name"] != "segmentd.site" {
		t.Errorf("additional group %v", pr.Spec.Groups[n]["name"])
	}
}

func TestDemo(t *testing.T) {
	r := template(t, "--set-json", "kafka.brokers=[]", "--set", "demo.enabled=true")
	_, c := checkStatefulSet(t, r, 8080)
	env := c.env(t)
	if env["SEGMENTD_DEMO"].Value != "true" {
		t.Errorf("SEGMENTD_DEMO = %q, want true", env["SEGMENTD_DEMO"].Value)
	}
	if e, ok := env["SEGMENTD_BROKERS"]; ok {
		t.Errorf("SEGMENTD_BROKERS = %q in demo mode (segmentd refuses --demo with --brokers)", e.Value)
	}
	for name, want := range map[string]string{"SEGMENTD_DEMO_CONTACTS": "3000", "SEGMENTD_DEMO_RATE": "20",
		"SEGMENTD_EMBEDDED_BROKER_ADDR": "127.0.0.1:9092"} {
		if got := env[name].Value; got != want {
			t.Errorf("%s = %q in demo mode, want %q", name, got, want)
		}
	}
}

// TestNetworkPolicy: on by default, the admin port admits only the release's own pods
// (the peers) and networkPolicy.admin.from, never everyone; the metrics and probe port
// admits networkPolicy.metrics.from, everyone when it is empty; every rule names its
// port (a rule without ports would open them all).
func TestNetworkPolicy(t *testing.T) {
	extraAdmin := map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": "marketing"}}}
	prometheus := map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": "monitoring"}}}
	for _, tc := range []struct {
		name        string
		args        []string
		adminExtra  []map[string]any
		metricsFrom []map[string]any // nil: open
	}{
		{"defaults", nil, nil, nil},
		{"all options", []string{"-f", allOptions}, nil, nil},
		{"restricted", []string{"--set-json", `networkPolicy.admin.from=[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"marketing"}}}]`,
			"--set-json", `networkPolicy.metrics.from=[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"monitoring"}}}]`},
			[]map[string]any{extraAdmin}, []map[string]any{prometheus}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := template(t, tc.args...)
			var sts statefulSet
			r.one(t, "StatefulSet", &sts)
			podLabels := sts.Spec.Template.Metadata.Labels
			var np networkPolicy
			r.one(t, "NetworkPolicy", &np)
			if !subset(np.Spec.PodSelector.MatchLabels, podLabels) {
				t.Errorf("NetworkPolicy selects %v, not the pods %v", np.Spec.PodSelector.MatchLabels, podLabels)
			}
			if !slices.Equal(np.Spec.PolicyTypes, []string{"Ingress"}) {
				t.Errorf("policyTypes %v, want [Ingress]", np.Spec.PolicyTypes)
			}
			rules := map[string][]map[string]any{}
			open := map[string]bool{}
			for _, rule := range np.Spec.Ingress {
				if len(rule.Ports) == 0 {
					t.Errorf("an ingress rule without ports admits every port: %+v", rule)
				}
				for _, p := range rule.Ports {
					port := fmt.Sprint(p.Port)
					if rule.From == nil {
						open[port] = true
					}
					rules[port] = append(rules[port], rule.From...)
				}
			}
			if open["admin"] {
				t.Fatal("the admin port admits every source")
			}
			// The release's own pods first, then admin.from, nothing else.
			admin := rules["admin"]
			if len(admin) != 1+len(tc.adminExtra) {
				t.Fatalf("admin port sources %v, want the release's pods and %v", admin, tc.adminExtra)
			}
			self := admin[0]
			sel, _ := self["podSelector"].(map[string]any)
			ml := map[string]string{}
			if m, ok := sel["matchLabels"].(map[string]any); ok {
				for k, v := range m {
					ml[k] = fmt.Sprint(v)
				}
			}
			if len(self) != 1 || !subset(ml, podLabels) || !subset(ml, np.Spec.PodSelector.MatchLabels) {
				t.Errorf("first admin source %v is not the release's pods (in its own namespace)", self)
			}
			if !reflect.DeepEqual(admin[1:], tc.adminExtra) && len(tc.adminExtra) > 0 {
				t.Errorf("admin sources %v, want also %v", admin[1:], tc.adminExtra)
			}
			switch {
			case tc.metricsFrom == nil && !open["http"]:
				t.Errorf("the metrics port is not open to all by default: %v", rules["http"])
			case tc.metricsFrom != nil && (open["http"] || !reflect.DeepEqual(rules["http"], tc.metricsFrom)):
				t.Errorf("metrics port sources %v (open %v), want %v", rules["http"], open["http"], tc.metricsFrom)
			}
			for port := range rules {
				if port != "admin" && port != "http" {
					t.Errorf("a rule for port %s, which the pods do not have", port)
				}
			}
		})
	}
	r := template(t, "--set", "networkPolicy.enabled=false")
	if n := len(r.all("NetworkPolicy")); n != 0 {
		t.Errorf("%d NetworkPolicies with networkPolicy.enabled=false", n)
	}
}

// TestRefusedValues: values that would deploy something broken fail the render, saying
// what is wrong.
func TestRefusedValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no brokers", []string{"--set-json", "kafka.brokers=[]"}, "kafka.brokers is empty"},
		{"demo with brokers", []string{"--set", "demo.enabled=true"}, "demo.enabled needs the embedded broker"},
		{"sasl without secret", []string{"--set", "kafka.sasl.mechanism=PLAIN,kafka.sasl.username=u"}, "kafka.sasl.passwordSecret.name"},
		{"sasl without user", []string{"--set", "kafka.sasl.mechanism=PLAIN,kafka.sasl.passwordSecret.name=s"}, "kafka.sasl.username"},
		{"sasl secret without mechanism", []string{"--set", "kafka.sasl.passwordSecret.name=s"}, "kafka.sasl.mechanism is empty"},
		{"unknown sasl mechanism", []string{"--set", "kafka.sasl.mechanism=GSSAPI"}, "/kafka/sasl/mechanism"},
		{"loopback http", []string{"--set", "http.bindAddress=127.0.0.1"}, "loopback"},
		{"admin on the http port", []string{"--set", "admin.port=8080"}, "admin.port equals http.port"},
		{"short grace period", []string{"--set", "terminationGracePeriodSeconds=10"}, "/terminationGracePeriodSeconds"},
		{"misspelt key", []string{"--set", "kafka.grup=x"}, "grup"},
		{"bad duration", []string{"--set", "processing.commitInterval=fast"}, "/processing/commitInterval"},
		{"bad log format", []string{"--set", "log.format=xml"}, "/log/format"},
		{"no events topic", []string{"--set-json", "topics.events=[]"}, "/topics/events"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runHelm(t, append([]string{"template", release, chartDir, "--kube-version", kubeVersion}, tc.args...)...)
			if err == nil {
				t.Fatalf("rendered; want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error does not say %q:\n%v", tc.want, err)
			}
		})
	}
}

// Flags of `segmentd run` the chart deliberately sets no variable for.
var flagsLeftOut = map[string]string{
	"sasl-password":          "a password in plain text in the pod spec: the chart mounts kafka.sasl.passwordSecret for --sasl-password-file",
	"admin-token":            "a token in plain text in the pod spec: the chart mounts admin.tokenSecret for --admin-token-file",
	"bench-naive-evaluation": "a benchmark baseline, never for production",
	"pprof":                  "profiling for someone diagnosing a pod (SEGMENTD_PPROF=true in extraEnv), not a setting",
}

// Variables the chart sets for flags `segmentd run` does not have yet.
var flagsPending = map[string]string{}

// TestRunFlagsHaveEnv holds the chart to `segmentd run`'s flags, read from the binary:
// each has its variable in some rendering, and each SEGMENTD_* variable is a flag.
func TestRunFlagsHaveEnv(t *testing.T) {
	flags := runFlags(t)
	set := map[string]bool{}
	for _, r := range []rendered{
		template(t),
		template(t, "-f", allOptions),
		template(t, "--set-json", "kafka.brokers=[]", "--set", "demo.enabled=true"),
	} {
		var sts statefulSet
		r.one(t, "StatefulSet", &sts)
		for _, e := range sts.Spec.Template.Spec.Containers[0].Env {
			set[e.Name] = true
		}
	}
	for _, f := range flags {
		if why, ok := flagsLeftOut[f]; ok {
			t.Logf("--%s: left out: %s", f, why)
			continue
		}
		if !set[envName(f)] {
			t.Errorf("--%s: the chart never sets %s; add a value for it (or list it in flagsLeftOut with the reason)", f, envName(f))
		}
	}
	isFlag := map[string]bool{}
	for _, f := range flags {
		isFlag[envName(f)] = true
	}
	for name := range set {
		if !strings.HasPrefix(name, "SEGMENTD_") || isFlag[name] {
			continue
		}
		flag := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(name, "SEGMENTD_"), "_", "-"))
		if why, ok := flagsPending[flag]; ok {
			t.Logf("%s: --%s is not a flag of segmentd run yet: %s", name, flag, why)
			continue
		}
		t.Errorf("the chart sets %s, but segmentd run has no flag --%s: segmentd would ignore it", name, flag)
	}
	for f := range flagsPending {
		if isFlag[envName(f)] {
			t.Logf("--%s is a flag now: remove it from flagsPending", f)
		}
	}
}

func envName(flag string) string {
	return "SEGMENTD_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// runFlags builds segmentd and returns the flags `segmentd run -h` lists.
func runFlags(t *testing.T) []string {
	t.Helper()
	bin := testenv.SegmentdBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	help := exec.CommandContext(ctx, bin, "run", "-h")
	help.Stdout, help.Stderr = &out, &out
	_ = help.Run()
	if !strings.Contains(out.String(), "Usage: segmentd run") {
		t.Fatalf("segmentd run -h printed no usage:\n%s", out.String())
	}
	var flags []string
	for _, m := range regexp.MustCompile(`(?m)^\s+--([a-z0-9][a-z0-9-]*)`).FindAllStringSubmatch(out.String(), -1) {
		flags = append(flags, m[1])
	}
	if len(flags) < 20 {
		t.Fatalf("found only %d flags in segmentd run -h:\n%s", len(flags), out.String())
	}
	return flags
}

// TestAlertsCopy: the chart's files/segmentd-alerts.yaml must be a byte copy of
// deploy/prometheus/segmentd-alerts.yaml (Helm cannot read files outside the chart).
func TestAlertsCopy(t *testing.T) {
	root := testenv.RepoRoot(t)
	src, err := os.ReadFile(filepath.Join(root, alertsSrc))
	if os.IsNotExist(err) {
		t.Fatalf("%s is missing: the chart embeds a copy of it", alertsSrc)
	}
	if err != nil {
		t.Fatal(err)
	}
	cp, err := os.ReadFile(filepath.Join(root, alertsCopy))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(src, cp) {
		t.Errorf("%s differs from %s; update the chart's copy:\n\tcp %s %s", alertsCopy, alertsSrc, alertsSrc, alertsCopy)
	}
}

// TestNotes renders NOTES.txt (helm template leaves it out) through a copy of the
// chart with one more template that includes it.
func TestNotes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "segmentd")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(testenv.RepoRoot(t), chartDir))); err != nil {
		t.Fatal(err)
	}
	const probe = `apiVersion: v1
kind: ConfigMap
metadata:
  name: notes
data:
  notes: {{ include (print .Template.BasePath "/NOTES.txt") . | quote }}
`
	if err := os.WriteFile(filepath.Join(dir, "templates", "zz-notes-probe.yaml"), []byte(probe), 0o644); err != nil {
		t.Fatal(err)
	}
	notes := func(args ...string) string {
		out, err := runHelm(t, append([]string{"template", release, dir, "--namespace", namespace,
			"--kube-version", kubeVersion, "--show-only", "templates/zz-notes-probe.yaml"}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		var cm struct {
			Data map[string]string `yaml:"data"`
		}
		if err := yaml.Unmarshal([]byte(out), &cm); err != nil {
			t.Fatal(err)
		}
		return cm.Data["notes"]
	}
	def := notes()
	for _, want := range []string{
		"kubectl -n shop get pods -l 'app.kubernetes.io/name=segmentd,app.kubernetes.io/instance=prod' -w",
		"kubectl -n shop rollout status statefulset/prod-segmentd",
		"logs -f -l",
		"port-forward pod/prod-segmentd-0 8080:8080",
		"prod-segmentd-<n>.prod-segmentd-headless.shop.svc",
		"segmentd tail --brokers kafka:9092",
		"kafka.brokers is the chart's default",
	} {
		if !strings.Contains(def, want) {
			t.Errorf("NOTES (defaults) lack %q:\n%s", want, def)
		}
	}
	all := notes("-f", filepath.Join(testenv.RepoRoot(t), allOptions))
	for _, want := range []string{"Secret segmentd-admin (key bearer)", "port-forward pod/prod-segmentd-0 9090:9090", "ServiceMonitor prod-segmentd"} {
		if !strings.Contains(all, want) {
			t.Errorf("NOTES (all options) lack %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "chart's default") {
		t.Errorf("NOTES warn about default brokers that were set:\n%s", all)
	}
	demo := notes("--set-json", "kafka.brokers=[]", "--set", "demo.enabled=true")
	if !strings.Contains(demo, "NOTHING IS DURABLE") {
		t.Errorf("NOTES (demo) do not say nothing is durable:\n%s", demo)
	}
}

// TestDockerfileMatchesChart: the image and the chart agree on the user, the data
// volume and the HTTP port (the Dockerfile cannot be built here: no Docker engine).
func TestDockerfileMatchesChart(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(b), "\\\n", " ")
	has := func(re string) []string {
		t.Helper()
		m := regexp.MustCompile(`(?m)` + re).FindStringSubmatch(text)
		if m == nil {
			t.Errorf("Dockerfile lacks %s", re)
		}
		return m
	}
	has(`^FROM\s.*golang:\$\{GO_VERSION\}\s+AS build`)
	has(`^ARG GO_VERSION=1\.26$`)
	has(`^FROM gcr\.io/distroless/static-debian12:nonroot$`)
	has(`CGO_ENABLED=0\s.*go build -trimpath .*-ldflags="-s -w -X main\.version=\$\{VERSION\} -X main\.revision=\$\{REVISION\}"`)
	has(`^ARG VERSION=dev$`) // the version stamped into the binary (segmentd version, segmentd_build_info)
	has(`^USER 65532:65532$`)
	has(`^ENTRYPOINT \["/segmentd"\]$`)
	has(`^CMD \["run"\]$`)
	if m := has(`^EXPOSE (\d+)$`); m != nil && m[1] != "8080" {
		t.Errorf("EXPOSE %s, want the chart's http.port 8080", m[1])
	}
	if m := has(`^VOLUME \["([^"]+)"\]$`); m != nil && m[1] != dataMount {
		t.Errorf("VOLUME %s, want the chart's persistence.mountPath %s", m[1], dataMount)
	}
	r := template(t)
	var sts statefulSet
	r.one(t, "StatefulSet", &sts)
	env := sts.Spec.Template.Spec.Containers[0].env(t)
	for _, name := range []string{"SEGMENTD_DATA_DIR", "SEGMENTD_HTTP_ADDR"} {
		if m := has(`\s` + name + `=(\S+)`); m != nil && m[1] != env[name].Value {
			t.Errorf("the image sets %s=%s, the chart %s", name, m[1], env[name].Value)
		}
	}
}

func chartAppVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), chartDir, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		APIVersion string `yaml:"apiVersion"`
		AppVersion string `yaml:"appVersion"`
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	if c.APIVersion != "v2" || c.AppVersion == "" {
		t.Fatalf("Chart.yaml: apiVersion %q appVersion %q, want v2 and a version", c.APIVersion, c.AppVersion)
	}
	return c.AppVersion
}

func envIndex(c container, name string) int {
	return slices.IndexFunc(c.Env, func(e envVar) bool { return e.Name == name })
}

func probePort(p *probe, named map[string]int) int {
	switch v := p.HTTPGet.Port.(type) {
	case int:
		return v
	case string:
		return named[v]
	}
	return 0
}

func isTrue(b *bool) bool { return b != nil && *b }

func firstInt(vs ...*int64) int64 {
	for _, v := range vs {
		if v != nil {
			return *v
		}
	}
	return -1
}
