package main

import (
	"context"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// freeAddr returns a 127.0.0.1 address whose port was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// runInBackground runs `segmentd run` with args until the test ends and waits until
// url answers 200.
func runInBackground(t *testing.T, url string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runCommand(ctx, append(args, "--log-level", "error")) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("segmentd run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("segmentd run did not stop")
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-done:
			t.Fatalf("segmentd run stopped: %v", err)
		default:
		}
		if status, _ := httpGet(url, ""); status == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not 200 after 30s", url)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestEmbeddedBrokerAddr: `run` without --brokers serves its embedded broker on
// --embedded-broker-addr (it was always 127.0.0.1:9092), and the client commands
// connect there without --brokers, given the flag or its environment variable.
func TestEmbeddedBrokerAddr(t *testing.T) {
	kafkaAddr, httpAddr := freeAddr(t), freeAddr(t)
	runInBackground(t, "http://"+httpAddr+"/readyz",
		"--embedded-broker-addr", kafkaAddr, "--http-addr", httpAddr, "--data-dir", t.TempDir())

	t.Setenv("SEGMENTD_EMBEDDED_BROKER_ADDR", kafkaAddr)
	var f tailFlags
	if err := parseFlags(newTailFlagSet(&f), nil); err != nil {
		t.Fatal(err)
	}
	if got := f.kafka.seedBrokers(); !slices.Equal(got, []string{kafkaAddr}) {
		t.Fatalf("tail without --brokers connects to %v, want [%s]", got, kafkaAddr)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(f.kafka.seedBrokers()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := checkKafka(ctx, cl, f.kafka.seedBrokers(), f.topic); err != nil {
		t.Fatalf("the embedded broker at %s: %v", kafkaAddr, err)
	}
}

// TestEmbeddedBrokerAddrBusy: a busy --embedded-broker-addr fails the start at once,
// naming the flag.
func TestEmbeddedBrokerAddrBusy(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	addr := busy.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = runCommand(ctx, []string{"--embedded-broker-addr", addr, "--http-addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--log-level", "error"})
	if err == nil || !strings.Contains(err.Error(), "--embedded-broker-addr "+addr) || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("run on a busy --embedded-broker-addr: %v, want an error naming the flag, %s and the busy address", err, addr)
	}
}
