package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/processor"
	"github.com/segmentd/segmentd/state"
)

// runFlags are the flags of `segmentd run`. Those that configure the processor are
// bound to the fields of proc (processorFlags); the others are listed in otherRunFlags.
type runFlags struct {
	kafka    kafkaFlags
	proc     processor.Config // the settings processorFlags binds, from processor.Defaults
	dataDir  string
	httpAddr string
	pprof    bool
	cacheMB  int
	demo     bool
	// Demo feeder (demo.go).
	demoContacts int
	demoRate     float64
	logLevel     string
	logFormat    string
	// Admin API (adminapi.go).
	adminTokenFile string
	peers          listFlag
	// HTTP servers (httpserver.go).
	adminAddr    string
	adminTLSCert string
	adminTLSKey  string
	peersCA      string
}

// processorFlags binds a flag to each setting of processor.Config that has one, with
// the processor's default: a new setting is one line here (TestEveryRunFlagReachesConfig
// checks that each flag changes the Config).
func processorFlags(fs *flag.FlagSet, c *processor.Config) {
	fs.StringVar(&c.Group, "group", c.Group, "Kafka consumer group shared by the processes of one deployment")
	fs.StringVar(&c.InstanceID, "instance-id", c.InstanceID, "static group membership id, stable per process (e.g. the pod name)")
	fs.StringVar(&c.TransactionalID, "transactional-id", c.TransactionalID, "Kafka transactional id, unique per process and stable across its restarts (default: <group>-<instance-id>, else derived from the host and data dir)")
	fs.Var(&listValue{p: &c.Topics.Events}, "events-topic", "input events topic(s), comma-separated or repeated")
	fs.StringVar(&c.Topics.Segments, "segments-topic", c.Topics.Segments, "segment definitions topic")
	fs.StringVar(&c.Topics.Catalog, "catalog-topic", c.Topics.Catalog, "product catalog topic")
	fs.StringVar(&c.Topics.Membership, "membership-topic", c.Topics.Membership, "output topic of membership transitions")
	fs.StringVar(&c.Topics.Changelog, "changelog-topic", c.Topics.Changelog, "internal state changelog topic")
	fs.StringVar(&c.Topics.DLQ, "dlq-topic", c.Topics.DLQ, "dead-letter topic")
	fs.StringVar(&c.ExclusionTag, "exclusion-tag", c.ExclusionTag, "tag that excludes a contact from every segment")
	fs.Var(intValue[int32]{&c.Partitions}, "partitions", "partitions of topics created at start")
	fs.Var(intValue[int16]{&c.ReplicationFactor}, "replication-factor", "replication factor of topics created at start")
	fs.DurationVar(&c.CommitInterval, "commit-interval", c.CommitInterval, "commit window: longest an event waits for its transaction to commit")
	fs.DurationVar(&c.TransactionTimeout, "transaction-timeout", c.TransactionTimeout, "Kafka transaction timeout: how long a crashed process's open transaction can hold back read_committed consumers (at least twice --commit-interval)")
	fs.IntVar(&c.MaxRecordBytes, "max-record-bytes", c.MaxRecordBytes, "largest input record value accepted; larger ones are dead-lettered")
	fs.IntVar(&c.MaxContactBytes, "max-contact-bytes", c.MaxContactBytes, "bound of a contact's encoded state: older orders, messages and delivery ids are folded into aggregates past it (README: Bounded contact state)")
	fs.Var(contactCacheValue{&c.ContactCache}, "contact-cache", "decoded contacts kept in memory across commit windows (over all partitions), so that events of a contact written a moment ago skip the store read and decode; 0 disables (README: Sizing)")
	fs.BoolVar(&c.SegmentMemberMetrics, "segment-member-metrics", c.SegmentMemberMetrics, "export segmentd_segment_members per workspace and segment (one series per segment)")
	fs.BoolVar(&c.NaiveEvaluation, "bench-naive-evaluation", c.NaiveEvaluation, benchmarksOnly+"re-evaluate every segment on every event (the baseline of incremental evaluation)")
}

// otherRunFlags are the flags of `segmentd run` that do not set a field of
// processor.Config through processorFlags, and what they configure instead.
var otherRunFlags = map[string]string{
	"brokers":              "Config.Brokers, or the embedded broker when empty",
	"embedded-broker-addr": "the embedded broker (Config.Brokers when --brokers is empty)",
	"client-id":            "Config.KafkaOptions (kafkaFlags.options)",
	"sasl-mechanism":       "Config.KafkaOptions",
	"sasl-username":        "Config.KafkaOptions",
	"sasl-password":        "Config.KafkaOptions",
	"sasl-password-file":   "Config.KafkaOptions",
	"tls":                  "Config.KafkaOptions",
	"tls-ca":               "Config.KafkaOptions",
	"tls-cert":             "Config.KafkaOptions",
	"tls-key":              "Config.KafkaOptions",
	"tls-server-name":      "Config.KafkaOptions",
	"data-dir":             "the state store (and the derived transactional id)",
	"pebble-cache-mb":      "the state store",
	"http-addr":            "the HTTP server",
	"pprof":                "the HTTP server (/debug/pprof/)",
	"admin-token-file":     "the admin API",
	"peers":                "the admin API",
	"admin-addr":           "the HTTP servers (the admin API's own listener)",
	"admin-tls-cert":       "the HTTP servers (TLS of the admin API's listener)",
	"admin-tls-key":        "the HTTP servers (TLS of the admin API's listener)",
	"peers-ca":             "the admin API (its client to the peers)",
	"demo":                 "the demo feeder",
	"demo-contacts":        "the demo feeder",
	"demo-rate":            "the demo feeder",
	"log-level":            "the logger",
	"log-format":           "the logger",
}

// newRunFlagSet returns the flags of `segmentd run`, bound to f.
func newRunFlagSet(f *runFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("segmentd run", flag.ContinueOnError)
	f.proc = processor.Defaults()
	f.kafka.register(fs)
	processorFlags(fs, &f.proc)
	fs.StringVar(&f.dataDir, "data-dir", "./segmentd-data", "directory of the local Pebble state")
	fs.StringVar(&f.httpAddr, "http-addr", "127.0.0.1:8080", "address of the HTTP server (/metrics, /healthz, /readyz, admin API)")
	fs.BoolVar(&f.pprof, "pprof", false, "serve Go's runtime profiles (CPU, heap, goroutines: net/http/pprof) under /debug/pprof/ on --http-addr, for diagnosis")
	fs.IntVar(&f.cacheMB, "pebble-cache-mb", 256, "Pebble block cache in MiB: decoded contact records kept in memory (part of the RSS)")
	fs.BoolVar(&f.demo, "demo", false, "with the embedded broker: load a synthetic shop, demo segments and a live event stream")
	fs.IntVar(&f.demoContacts, "demo-contacts", 3000, "contacts of the demo shop")
	fs.Float64Var(&f.demoRate, "demo-rate", 20, "live demo events per second")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&f.adminTokenFile, "admin-token-file", "", "file holding the admin API's bearer token (default: $"+envAdminToken+"); "+
		"one token per line, the first current, any accepted (a rotation); re-read when it changes; "+
		"required to use the admin API on a non-loopback address")
	fs.Var(&f.peers, "peers", "base URLs of the other processes' admin APIs, comma-separated (e.g. http://segmentd-1:8080, "+
		"or https:// with --admin-tls-cert); the admin API asks them and merges their answers")
	fs.StringVar(&f.adminAddr, "admin-addr", "", "address of the admin API's own HTTP server, apart from /metrics and the probes "+
		"(default: served on --http-addr)")
	fs.StringVar(&f.adminTLSCert, "admin-tls-cert", "", "PEM certificate (chain) of the HTTP server that serves the admin API: "+
		"it then serves HTTPS; re-read when the file changes")
	fs.StringVar(&f.adminTLSKey, "admin-tls-key", "", "PEM private key of --admin-tls-cert")
	fs.StringVar(&f.peersCA, "peers-ca", "", "PEM file of CA certificates to verify the peers' https:// admin APIs (default: system roots)")
	return fs
}

// processorConfig is the one place where the flags become the processor's Config: the
// settings bound by processorFlags, plus what run has built (brokers, the embedded
// one's when --brokers is empty; the Kafka client options; the store, logger and
// metrics registry).
func (f *runFlags) processorConfig(brokers []string, embedded bool, kopts []kgo.Opt, store *state.Store, log *slog.Logger, reg prometheus.Registerer) processor.Config {
	cfg := f.proc
	cfg.Brokers = brokers
	cfg.KafkaOptions = kopts
	cfg.Store = store
	cfg.Logger = log
	cfg.Registerer = reg
	if cfg.TransactionalID == "" && cfg.InstanceID == "" && !embedded {
		cfg.TransactionalID = stableTransactionalID(cfg.Group, f.dataDir)
	}
	return cfg
}

func runCommand(ctx context.Context, args []string, stdout, _ io.Writer) error {
	var f runFlags
	fs := newRunFlagSet(&f)
	if _, err := parseCommand(fs, args, stdout, 0, 0); err != nil {
		return err
	}
	log, err := newLogger(f.logLevel, f.logFormat)
	if err != nil {
		return usageError{cmd: fs.Name(), err: err}
	}
	slog.SetDefault(log)
	kopts, err := f.kafka.options()
	if err != nil {
		return err
	}

	brokers := []string(f.kafka.brokers)
	embedded := len(brokers) == 0
	if f.demo && !embedded {
		return usagef(fs, "--demo only works with the embedded broker (without --brokers)")
	}
	if embedded {
		cluster, err := startEmbeddedBroker(f.kafka.embeddedAddr)
		if err != nil {
			return err
		}
		defer cluster.Close()
		brokers = cluster.ListenAddrs()
		log.Warn("NOTHING IS DURABLE: no --brokers given, so segmentd runs on an embedded in-memory " +
			"Kafka-protocol broker at " + brokers[0] + " and keeps its state in memory. Everything is " +
			"lost when it stops. Use --brokers to run on a real Kafka cluster.")
	}

	store, err := state.Open(f.dataDir, state.Options{InMemory: embedded, Logger: log, CacheSize: int64(f.cacheMB) << 20})
	if err != nil {
		return err
	}
	defer store.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		state.NewCollector(store), newBuildInfoMetric(currentBuild()))
	cfg := f.processorConfig(brokers, embedded, kopts, store, log, reg)
	proc, err := processor.New(cfg)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	api, apiProducer, err := newAdminAPI(&f, brokers, kopts, proc, reg, log)
	if err != nil {
		return err
	}
	defer apiProducer.Close()
	servers, err := newHTTPServers(&f, opsHandler(reg, proc), api, log)
	if err != nil {
		return err
	}
	serveHTTP(ctx, cancel, &wg, servers, log)

	if f.demo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := runDemo(ctx, brokers, proc.Topics(), f.demoContacts, f.demoRate, log); err != nil && ctx.Err() == nil {
				log.Error("demo feeder stopped", "err", err)
			}
		}()
		tailCmd := "go run ./cmd/segmentd tail"
		if brokers[0] != defaultEmbeddedAddr {
			tailCmd += " --embedded-broker-addr " + brokers[0]
		}
		fmt.Fprintf(os.Stderr, "\n  Demo: a synthetic shop of %d contacts and 4 segments is loading.\n"+
			"  Watch the transitions in another terminal with either of:\n"+
			"      %s\n"+
			"      kcat -C -b %s -t %s -X isolation.level=read_committed -f '%%k %%h %%s\\n'\n"+
			"  Metrics: http://%s/metrics\n\n", f.demoContacts, tailCmd, brokers[0], proc.Topics().Membership, servers[0].ln.Addr())
	}
	return proc.Run(ctx)
}

// startEmbeddedBroker starts the in-memory broker of `run` without --brokers on addr
// (--embedded-broker-addr; port 0 picks a free one).
func startEmbeddedBroker(addr string) (*kfake.Cluster, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("invalid --embedded-broker-addr %q: %w", addr, err)
	}
	// kfake listens on 127.0.0.1:<port>; listen on addr instead (it advertises the
	// listener's address to clients).
	listen := func(network, _ string) (net.Listener, error) { return net.Listen(network, addr) }
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.ListenFn(listen))
	if err != nil {
		return nil, fmt.Errorf("start the embedded broker on --embedded-broker-addr %s: %w "+
			"(another segmentd run may hold it: choose a free address with --embedded-broker-addr, or use --brokers)", addr, err)
	}
	return cluster, nil
}

// opsHandler serves /metrics, /healthz and /readyz.
func opsHandler(reg *prometheus.Registry, proc *processor.Processor) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !proc.Ready() {
			http.Error(w, "not ready: reading definitions or restoring partitions", http.StatusServiceUnavailable)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if !proc.BrokerReachable(ctx) {
			http.Error(w, "not ready: no Kafka broker reachable", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	return mux
}

// stableTransactionalID derives a transactional id that stays the same across
// restarts of the process on the same host and data dir, so that a restarted process
// fences and aborts the open transaction of its killed predecessor at once (with a
// random id, read_committed consumers would wait for that transaction to time out).
func stableTransactionalID(group, dataDir string) string {
	host, _ := os.Hostname()
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		abs = dataDir
	}
	sum := sha256.Sum256([]byte(host + "\x00" + abs))
	return group + "-" + hex.EncodeToString(sum[:6])
}
