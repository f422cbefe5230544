package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
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

	"github.com/segmentd/segmentd/processor"
	"github.com/segmentd/segmentd/state"
)

// embeddedAddr is where `segmentd run` without --brokers serves its in-memory broker.
const embeddedAddr = "127.0.0.1:9092"

type runFlags struct {
	kafka           kafkaFlags
	dataDir         string
	group           string
	instanceID      string
	transactionalID string
	events          listFlag
	segments        string
	catalog         string
	membership      string
	changelog       string
	dlq             string
	exclusionTag    string
	httpAddr        string
	partitions      int
	replication     int
	commitInterval  time.Duration
	maxRecordBytes  int
	maxContactBytes int
	naive           bool
	txnTimeout      time.Duration
	cacheMB         int
	memberMetrics   bool
	demo            bool
	demoContacts    int
	demoRate        float64
	logLevel        string
	logFormat       string
	// Admin API (adminapi.go).
	adminTokenFile string
	peers          listFlag
}

func runCommand(ctx context.Context, args []string) error {
	var f runFlags
	fs := flag.NewFlagSet("segmentd run", flag.ContinueOnError)
	f.kafka.register(fs)
	fs.StringVar(&f.dataDir, "data-dir", "./segmentd-data", "directory of the local Pebble state")
	fs.StringVar(&f.group, "group", "segmentd", "Kafka consumer group shared by the processes of one deployment")
	fs.StringVar(&f.instanceID, "instance-id", "", "static group membership id, stable per process (e.g. the pod name)")
	fs.StringVar(&f.transactionalID, "transactional-id", "", "Kafka transactional id, unique per process and stable across its restarts (default: <group>-<instance-id>, else derived from the host and data dir)")
	fs.Var(&f.events, "events-topic", "input events topic(s), comma-separated or repeated (default segmentd.events)")
	fs.StringVar(&f.segments, "segments-topic", "segmentd.segments", "segment definitions topic")
	fs.StringVar(&f.catalog, "catalog-topic", "segmentd.catalog", "product catalog topic")
	fs.StringVar(&f.membership, "membership-topic", "segmentd.membership", "output topic of membership transitions")
	fs.StringVar(&f.changelog, "changelog-topic", "segmentd.changelog", "internal state changelog topic")
	fs.StringVar(&f.dlq, "dlq-topic", "segmentd.dlq", "dead-letter topic")
	fs.StringVar(&f.exclusionTag, "exclusion-tag", "exclude_from_galantis", "tag that excludes a contact from every segment")
	fs.StringVar(&f.httpAddr, "http-addr", "127.0.0.1:8080", "address of the HTTP server (/metrics, /healthz, /readyz, admin API)")
	fs.IntVar(&f.partitions, "partitions", 6, "partitions of topics created at start")
	fs.IntVar(&f.replication, "replication-factor", 1, "replication factor of topics created at start")
	fs.DurationVar(&f.commitInterval, "commit-interval", 100*time.Millisecond, "commit window: longest an event waits for its transaction to commit")
	fs.DurationVar(&f.txnTimeout, "transaction-timeout", 10*time.Second, "Kafka transaction timeout: how long a crashed process's open transaction can hold back read_committed consumers")
	fs.IntVar(&f.cacheMB, "pebble-cache-mb", 256, "Pebble block cache in MiB: decoded contact records kept in memory (part of the RSS)")
	fs.IntVar(&f.maxRecordBytes, "max-record-bytes", 1<<20, "largest input record value accepted; larger ones are dead-lettered")
	fs.IntVar(&f.maxContactBytes, "max-contact-bytes", state.DefaultMaxContactBytes, "bound of a contact's encoded state: older orders, messages and delivery ids are folded into aggregates past it (README: Bounded contact state)")
	fs.BoolVar(&f.memberMetrics, "segment-member-metrics", false, "export segmentd_segment_members per workspace and segment (one series per segment)")
	fs.BoolVar(&f.naive, "bench-naive-evaluation", false, "benchmarks only: re-evaluate every segment on every event (the baseline of incremental evaluation)")
	fs.BoolVar(&f.demo, "demo", false, "with the embedded broker: load a synthetic shop, demo segments and a live event stream")
	fs.IntVar(&f.demoContacts, "demo-contacts", 3000, "contacts of the demo shop")
	fs.Float64Var(&f.demoRate, "demo-rate", 20, "live demo events per second")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&f.adminTokenFile, "admin-token-file", "", "file holding the admin API's bearer token (default: $"+envAdminToken+"); "+
		"required to use the admin API when --http-addr is not a loopback address")
	fs.Var(&f.peers, "peers", "base URLs of the other processes' HTTP servers, comma-separated (e.g. http://segmentd-1:8080); "+
		"the admin API asks them and merges their answers")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log, err := newLogger(f.logLevel, f.logFormat)
	if err != nil {
		return err
	}
	slog.SetDefault(log)
	kopts, err := f.kafka.options()
	if err != nil {
		return err
	}

	brokers := []string(f.kafka.brokers)
	embedded := len(brokers) == 0
	if f.demo && !embedded {
		return errors.New("--demo only works with the embedded broker (without --brokers)")
	}
	if embedded {
		cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(9092))
		if err != nil {
			return fmt.Errorf("start embedded broker on %s: %w", embeddedAddr, err)
		}
		defer cluster.Close()
		brokers = cluster.ListenAddrs()
		log.Warn("NOTHING IS DURABLE: no --brokers given, so segmentd runs on an embedded in-memory " +
			"Kafka-protocol broker at " + embeddedAddr + " and keeps its state in memory. Everything is " +
			"lost when it stops. Use --brokers to run on a real Kafka cluster.")
	}

	store, err := state.Open(f.dataDir, state.Options{InMemory: embedded, Logger: log, CacheSize: int64(f.cacheMB) << 20})
	if err != nil {
		return err
	}
	defer store.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		state.NewCollector(store))
	cfg := processor.Config{
		Brokers:         brokers,
		KafkaOptions:    kopts,
		Group:           f.group,
		InstanceID:      f.instanceID,
		TransactionalID: f.transactionalID,
		Topics: processor.Topics{
			Events: f.events, Segments: f.segments, Catalog: f.catalog,
			Membership: f.membership, Changelog: f.changelog, DLQ: f.dlq,
		},
		Partitions:           int32(f.partitions),
		ReplicationFactor:    int16(f.replication),
		CommitInterval:       f.commitInterval,
		ExclusionTag:         f.exclusionTag,
		MaxRecordBytes:       f.maxRecordBytes,
		MaxContactBytes:      f.maxContactBytes,
		NaiveEvaluation:      f.naive,
		SegmentMemberMetrics: f.memberMetrics,
		Store:                store,
		Logger:               log,
		Registerer:           reg,
	}
	if cfg.TransactionalID == "" && cfg.InstanceID == "" && !embedded {
		cfg.TransactionalID = stableTransactionalID(f.group, f.dataDir)
	}
	proc, err := processor.New(cfg)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	api, apiProducer, err := newAdminAPI(&f, brokers, kopts, proc, log)
	if err != nil {
		return err
	}
	defer apiProducer.Close()
	srv, ln, err := newHTTPServer(f.httpAddr, reg, proc, api)
	if err != nil {
		return err
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "err", err)
			cancel()
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Info("http server listening", "addr", ln.Addr().String())

	if f.demo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := runDemo(ctx, brokers, proc.Topics(), f.demoContacts, f.demoRate, log); err != nil && ctx.Err() == nil {
				log.Error("demo feeder stopped", "err", err)
			}
		}()
		fmt.Fprintf(os.Stderr, "\n  Demo: a synthetic shop of %d contacts and 4 segments is loading.\n"+
			"  Watch the transitions in another terminal with either of:\n"+
			"      go run ./cmd/segmentd tail\n"+
			"      kcat -C -b %s -t %s -X isolation.level=read_committed -f '%%k %%h %%s\\n'\n"+
			"  Metrics: http://%s/metrics\n\n", f.demoContacts, embeddedAddr, proc.Topics().Membership, ln.Addr())
	}
	return proc.Run(ctx)
}

func newHTTPServer(addr string, reg *prometheus.Registry, proc *processor.Processor, api http.Handler) (*http.Server, net.Listener, error) {
	mux := http.NewServeMux()
	mux.Handle("/v1/", api) // the admin API (package admin)
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
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen on --http-addr %s: %w", addr, err)
	}
	return &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute}, ln, nil
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
