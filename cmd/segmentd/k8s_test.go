package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"github.com/segmentd/segmentd/internal/testenv"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/internal/kafkatest"
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
	go func() { done <- runCommand(ctx, append(args, "--log-level", "error"), io.Discard, io.Discard) }()
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
			done <- err // for the cleanup
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
	err = runCommand(ctx, []string{"--embedded-broker-addr", addr, "--http-addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--log-level", "error"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--embedded-broker-addr "+addr) || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("run on a busy --embedded-broker-addr: %v, want an error naming the flag, %s and the busy address", err, addr)
	}
}

// TestAdminAddr: with --admin-addr the admin API has its own listener, and the one of
// --http-addr serves only /metrics and the probes (a NetworkPolicy can then tell them
// apart).
func TestAdminAddr(t *testing.T) {
	adminAddr := freeAddr(t)
	s := startSegmentd(t, kafkatest.Kfake(t), "127.0.0.1", "--admin-addr", adminAddr)
	segments := "/v1/workspaces/" + cliWS + "/segments"
	for url, want := range map[string]int{
		s.base + "/metrics":                http.StatusOK,
		s.base + "/healthz":                http.StatusOK,
		s.base + segments:                  http.StatusNotFound,
		"http://" + adminAddr + segments:   http.StatusOK,
		"http://" + adminAddr + "/metrics": http.StatusNotFound,
		"http://" + adminAddr + "/readyz":  http.StatusNotFound,
	} {
		if status, body := httpGet(url, ""); status != want {
			t.Errorf("GET %s: %d %s, want %d", url, status, body, want)
		}
	}
	if _, _, err := cli(t, "segments", "list", cliWS, "--server", "http://"+adminAddr); err != nil {
		t.Errorf("segments list --server <admin-addr>: %v", err)
	}
}

// testCA is a certificate authority made for a test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "segmentd test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue writes a server certificate for 127.0.0.1 with serial to certFile and keyFile.
func (ca *testCA) issue(t *testing.T, serial int64, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "segmentd"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	// The key first: a reload between the two writes sees a mismatched pair and
	// keeps the previous one.
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestAdminTLSAndTokenRotation: the admin API's listener serves HTTPS with
// --admin-tls-cert/--admin-tls-key and picks up a renewed certificate without a
// restart; the peers are asked over https, verified with --peers-ca; a token written
// to --admin-token-file takes effect without a restart, the old one accepted while
// both are in the file.
func TestAdminTLSAndTokenRotation(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	certFile, keyFile, caFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), filepath.Join(dir, "ca.crt")
	ca.issue(t, 100, certFile, keyFile)
	if err := os.WriteFile(caFile, ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	tokenFile := writeFile(t, "token", "token-one\n")
	adminAddr := freeAddr(t)
	base := "https://" + adminAddr
	startSegmentd(t, kafkatest.Kfake(t), "127.0.0.1", "--admin-addr", adminAddr,
		"--admin-tls-cert", certFile, "--admin-tls-key", keyFile, "--admin-token-file", tokenFile,
		"--peers", base, "--peers-ca", caFile)

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.pem)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true}}
	// get answers the status of a list request with token, and the serial of the
	// server's certificate.
	get := func(token string) (int, int64, string) {
		req, _ := http.NewRequest("GET", base+"/v1/workspaces/"+cliWS+"/segments", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return 0, 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.TLS.PeerCertificates[0].SerialNumber.Int64(), string(b)
	}
	// The list fans out to the peer (itself, over https): 200 means the peer call
	// verified the certificate with --peers-ca and sent the token.
	if status, serial, body := get("token-one"); status != http.StatusOK || serial != 100 {
		t.Fatalf("https admin API with the token: %d (certificate %d) %s", status, serial, body)
	}
	if status, _ := httpGet("http://"+adminAddr+"/v1/workspaces/"+cliWS+"/segments", "token-one"); status == http.StatusOK {
		t.Fatal("the admin API answers plain http with --admin-tls-cert")
	}
	// The CLI verifies the server with --server-ca, and fails without it (the test CA
	// is in no system roots).
	if _, _, err := cli(t, "segments", "list", cliWS, "--server", base, "--admin-token", "token-one", "--server-ca", caFile); err != nil {
		t.Errorf("segments list over https with --server-ca: %v", err)
	}
	if _, _, err := cli(t, "segments", "list", cliWS, "--server", base, "--admin-token", "token-one"); err == nil {
		t.Error("segments list over https trusted a certificate of an unknown CA")
	}

	// Rotation: new token first, the old one still accepted.
	if err := os.WriteFile(tokenFile, []byte("token-two\ntoken-one\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the new token accepted", func() (bool, string) {
		status, _, body := get("token-two")
		return status == http.StatusOK, fmt.Sprint(status, body)
	})
	if status, _, body := get("token-one"); status != http.StatusOK {
		t.Fatalf("the old token during the rotation: %d %s", status, body)
	}
	if err := os.WriteFile(tokenFile, []byte("token-two\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the old token refused", func() (bool, string) {
		status, _, body := get("token-one")
		return status == http.StatusForbidden, fmt.Sprint(status, body)
	})
	if status, _, body := get("token-two"); status != http.StatusOK {
		t.Fatalf("the new token after the rotation: %d %s", status, body)
	}

	// A renewed certificate is served without a restart.
	ca.issue(t, 101, certFile, keyFile)
	testenv.Eventually(t, "the renewed certificate served", func() (bool, string) {
		status, serial, body := get("token-two")
		return status == http.StatusOK && serial == 101, fmt.Sprint(status, " certificate ", serial, " ", body)
	})
}

// TestAdminTLSFlags: the certificate and its key go together, and a certificate that
// does not load fails the start.
func TestAdminTLSFlags(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	ca.issue(t, 1, certFile, keyFile)
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"cert without key": {[]string{"--admin-tls-cert", certFile}, "--admin-tls-key"},
		"key as cert":      {[]string{"--admin-tls-cert", keyFile, "--admin-tls-key", keyFile}, "--admin-tls-cert"},
		"bad peers CA":     {[]string{"--peers-ca", keyFile}, "--peers-ca"},
	} {
		err := runCommand(context.Background(), append([]string{"--brokers", "127.0.0.1:1", "--data-dir", t.TempDir(),
			"--http-addr", "127.0.0.1:0", "--log-level", "error"}, tc.args...), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %s", name, err, tc.want)
		}
	}
}
