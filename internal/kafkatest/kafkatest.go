package kafkatest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/internal/testenv"
)

// Names of the brokers, as used for [Broker.Name], the subtests of [All] and
// SEGMENTD_TEST_BROKERS.
const (
	NameKfake = "kfake" // the in-process fake
	NameKafka = "kafka" // the real Apache Kafka broker
)

// Environment variables read by this package.
const (
	EnvTestKafka   = "SEGMENTD_TEST_KAFKA"   // host:port[,...] of an already-running real broker
	EnvTestBrokers = "SEGMENTD_TEST_BROKERS" // which brokers All runs against: kfake, kafka or both
)

// Broker is a Kafka broker that a test can talk to.
type Broker struct {
	// Name is NameKfake or NameKafka.
	Name string
	// Addrs are the bootstrap addresses (host:port).
	Addrs []string
	// Cluster is the fake cluster, for its control and fault-injection hooks; nil for
	// the real broker.
	Cluster *kfake.Cluster
}

// IsReal reports whether b is the real Apache Kafka broker.
func (b *Broker) IsReal() bool { return b.Name == NameKafka }

// Opts returns the options that point a kgo client at b, followed by opts.
func (b *Broker) Opts(opts ...kgo.Opt) []kgo.Opt {
	return append([]kgo.Opt{kgo.SeedBrokers(b.Addrs...)}, opts...)
}

// Client returns a kgo client for b, closed when the test ends.
func (b *Broker) Client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(b.Opts(opts...)...)
	if err != nil {
		t.Fatalf("kafkatest: new client for %s: %v", b.Name, err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// Admin returns an admin client for b, closed when the test ends.
func (b *Broker) Admin(t testing.TB) *kadm.Client {
	t.Helper()
	return kadm.NewClient(b.Client(t))
}

// Topic creates a topic named name plus a random suffix, with the given number of
// partitions (at least 1), replication factor 1 and configs (nil for none), waits until
// every partition has a leader, and returns the name. The topic is deleted when the test
// ends, unless the test failed (it is then left for a post-mortem).
func (b *Broker) Topic(t testing.TB, name string, partitions int, configs map[string]*string) string {
	t.Helper()
	topic := UniqueName(name)
	if partitions < 1 {
		partitions = 1
	}
	adm := b.Admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := adm.CreateTopic(ctx, int32(partitions), 1, configs, topic); err != nil {
		t.Fatalf("kafkatest: create topic %s (%d partitions) on %s: %v", topic, partitions, b.Name, err)
	}
	// CreateTopics returns once the controller has the topic; the broker learns it
	// (and its partition leaders) from the metadata log a moment later.
	for {
		ok, err := topicReady(ctx, adm, topic, partitions)
		if ok {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("kafkatest: topic %s on %s has no leaders after 30 s: %v", topic, b.Name, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kafkatest: test failed: keeping topic %s on %s %v", topic, b.Name, b.Addrs)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := adm.DeleteTopics(ctx, topic); err != nil {
			t.Logf("kafkatest: delete topic %s: %v", topic, err)
		}
	})
	return topic
}

func topicReady(ctx context.Context, adm *kadm.Client, topic string, partitions int) (bool, error) {
	tds, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return false, err
	}
	td, ok := tds[topic]
	if !ok {
		return false, errors.New("not in metadata")
	}
	if td.Err != nil {
		return false, td.Err
	}
	if len(td.Partitions) != partitions {
		return false, fmt.Errorf("%d of %d partitions in metadata", len(td.Partitions), partitions)
	}
	for _, p := range td.Partitions {
		if p.Err != nil || p.Leader < 0 {
			return false, fmt.Errorf("partition %d: leader %d, %v", p.Partition, p.Leader, p.Err)
		}
	}
	return true, nil
}

// CaughtUp reports whether group has committed, on every partition of ends, an offset
// at or past the end offset listed there (a partition with no records needs none). An
// error fetching the commits reports false, so that a caller polling it retries.
func CaughtUp(ctx context.Context, adm *kadm.Client, group string, ends kadm.ListedOffsets) bool {
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return false
	}
	done := true
	ends.Each(func(o kadm.ListedOffset) {
		c, ok := committed.Lookup(o.Topic, o.Partition)
		if o.Offset > 0 && (!ok || c.At < o.Offset) {
			done = false
		}
	})
	return done
}

// UniqueName returns prefix followed by "-" and 8 random hex digits, with any character
// Kafka does not allow in a topic name (anything but ASCII letters, digits, '.', '_'
// and '-') replaced by '-'. Use it for topics, consumer groups and transactional ids on
// the shared real broker.
func UniqueName(prefix string) string {
	var buf [4]byte
	if _, err := rand.Read(buf[:]); err != nil {
		panic(err)
	}
	clean := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '-'
	}, prefix)
	if len(clean) > 200 { // topic names are at most 249 characters
		clean = clean[:200]
	}
	return clean + "-" + hex.EncodeToString(buf[:])
}

// Kfake starts an in-process kfake cluster of one broker, closed when the test ends.
// It is configured like the real broker (no topic auto-creation, 1 partition by
// default, group session timeouts down to 1 s); opts are applied after these defaults
// and can override them.
func Kfake(t testing.TB, opts ...kfake.Opt) *Broker {
	t.Helper()
	all := append([]kfake.Opt{
		kfake.NumBrokers(1),
		kfake.DefaultNumPartitions(1),
		kfake.GroupMinSessionTimeout(time.Second),
	}, opts...)
	c, err := kfake.NewCluster(all...)
	if err != nil {
		t.Fatalf("kafkatest: start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return &Broker{Name: NameKfake, Addrs: c.ListenAddrs(), Cluster: c}
}

// Real returns the real Apache Kafka broker: the one named by SEGMENTD_TEST_KAFKA, or
// else the one that deploy/local-kafka/kafka.sh runs, started if need be (once per test
// binary). If it cannot be had, Real skips the test with the reason, or fails it when
// CI=true or when SEGMENTD_TEST_KAFKA names a broker that does not answer.
func Real(t testing.TB) *Broker {
	t.Helper()
	r := realBroker()
	if r.err != nil {
		if r.explicit {
			t.Fatalf("kafkatest: real Kafka broker unavailable: %v", r.err)
		}
		testenv.MissingTool(t, "a real Kafka broker", r.err.Error())
	}
	return &Broker{Name: NameKafka, Addrs: r.addrs}
}

// All runs fn as the subtests "kfake" and "kafka", against a fresh kfake cluster and
// against the real broker. SEGMENTD_TEST_BROKERS (a comma-separated list of kfake and
// kafka) chooses which; without it, `go test -short` runs only kfake.
func All(t *testing.T, fn func(t *testing.T, b *Broker)) {
	t.Helper()
	names, err := selectedBrokers(os.Getenv(EnvTestBrokers), testing.Short())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			var b *Broker
			if name == NameKfake {
				b = Kfake(t)
			} else {
				b = Real(t)
			}
			fn(t, b)
		})
	}
}

// RealSelected reports whether the real broker is one that [All] runs against: it is
// unless SEGMENTD_TEST_BROKERS leaves it out or, without that variable, under -short.
// Suites that need the real broker alone (the black-box and chaos tests) ask this before
// [Real]. A SEGMENTD_TEST_BROKERS that names no known broker fails the test.
func RealSelected(t testing.TB) bool {
	t.Helper()
	names, err := selectedBrokers(os.Getenv(EnvTestBrokers), testing.Short())
	if err != nil {
		t.Fatal(err)
	}
	return slices.Contains(names, NameKafka)
}

func selectedBrokers(env string, short bool) ([]string, error) {
	if strings.TrimSpace(env) == "" {
		if short {
			return []string{NameKfake}, nil
		}
		return []string{NameKfake, NameKafka}, nil
	}
	var names []string
	seen := map[string]bool{}
	for _, f := range strings.Split(env, ",") {
		f = strings.TrimSpace(f)
		switch f {
		case "":
			continue
		case NameKfake, NameKafka:
		default:
			return nil, fmt.Errorf("kafkatest: %s=%q: unknown broker %q (want %s, %s or both, comma-separated)",
				EnvTestBrokers, env, f, NameKfake, NameKafka)
		}
		if !seen[f] {
			seen[f] = true
			names = append(names, f)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("kafkatest: %s=%q names no broker", EnvTestBrokers, env)
	}
	return names, nil
}

// realResult is what starting (or finding) the real broker gave, once per test binary.
type realResult struct {
	addrs    []string
	explicit bool // from SEGMENTD_TEST_KAFKA
	err      error
}

var realBroker = sync.OnceValue(startReal)

func startReal() realResult {
	if env := strings.TrimSpace(os.Getenv(EnvTestKafka)); env != "" {
		addrs := splitAddrs(env)
		r := realResult{addrs: addrs, explicit: true}
		if err := ping(addrs); err != nil {
			r.err = fmt.Errorf("%s=%s does not answer: %w", EnvTestKafka, env, err)
		}
		return r
	}

	root, err := testenv.FindRepoRoot()
	if err != nil {
		return realResult{err: err}
	}
	script := filepath.Join(root, "deploy", "local-kafka", "kafka.sh")
	if _, err := os.Stat(script); err != nil {
		return realResult{err: fmt.Errorf("no broker script: %w", err)}
	}
	// The first run downloads Kafka (about 45 MB) and starts it.
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script, "up")
	cmd.Dir = root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	if runErr != nil {
		logPath := "?"
		if out, err := exec.Command("bash", script, "path").Output(); err == nil {
			logPath = strings.TrimSpace(string(out))
		}
		return realResult{err: fmt.Errorf("%s up: %v\nbroker log: %s\n%s", script, runErr, logPath, tail(stderr.String(), 60))}
	}
	addr := lastLine(stdout.String())
	if addr == "" {
		return realResult{err: fmt.Errorf("%s up printed no address; stderr:\n%s", script, tail(stderr.String(), 60))}
	}
	addrs := []string{addr}
	if err := ping(addrs); err != nil {
		return realResult{err: fmt.Errorf("broker at %s (from %s up) does not answer: %w", addr, script, err)}
	}
	return realResult{addrs: addrs}
}

// ping asks the broker for its metadata.
func ping(addrs []string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = kadm.NewClient(cl).BrokerMetadata(ctx)
	return err
}

func splitAddrs(s string) []string {
	var addrs []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	return addrs
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
