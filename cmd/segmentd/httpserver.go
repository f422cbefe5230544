package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/segmentd/segmentd/admin"
)

// reloadCheckInterval is how often a file read at start (the admin token, the TLS
// certificate) is checked for a change: at most once per interval, on use.
const reloadCheckInterval = time.Second

// fileStamp identifies a version of a file by its modification time and size. A
// Kubernetes Secret volume replaces its files by a new symlink target, which changes both.
type fileStamp struct {
	mod  time.Time
	size int64
}

func statFile(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{fi.ModTime(), fi.Size()}, nil
}

// readTokens reads an admin token file: one token per line, blank lines ignored. The
// first is the current token (sent to peers); the others are accepted too, so that a
// token can be rotated without a restart: write "new\nold", wait until every process
// has read it, then write "new".
func readTokens(file string) ([]string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read --admin-token-file: %w", err)
	}
	var tokens []string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		if strings.ContainsAny(line, " \t") {
			return nil, fmt.Errorf("--admin-token-file %s must hold one token per line", file)
		}
		tokens = append(tokens, line)
	}
	if len(tokens) == 0 {
		return nil, fmt.Errorf("--admin-token-file %s holds no token", file)
	}
	return tokens, nil
}

// tokenFile is the admin token of --admin-token-file, re-read when the file changes
// (checked at most once per reloadCheckInterval, on use). A file that cannot be read
// or holds no token keeps the previous tokens and logs a warning.
type tokenFile struct {
	path string
	log  *slog.Logger

	mu      sync.Mutex
	tokens  []string
	stamp   fileStamp
	checked time.Time
}

func newTokenFile(path string, log *slog.Logger) (*tokenFile, error) {
	stamp, err := statFile(path)
	if err != nil {
		return nil, fmt.Errorf("read --admin-token-file: %w", err)
	}
	tokens, err := readTokens(path)
	if err != nil {
		return nil, err
	}
	return &tokenFile{path: path, log: log, tokens: tokens, stamp: stamp, checked: time.Now()}, nil
}

// Tokens returns the accepted tokens, the current one first (admin.Config.Tokens).
func (t *tokenFile) Tokens() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if time.Since(t.checked) < reloadCheckInterval {
		return t.tokens
	}
	t.checked = time.Now()
	stamp, err := statFile(t.path)
	if err != nil {
		t.log.Warn("admin token file unreadable; keeping the previous token", "file", t.path, "err", err)
		return t.tokens
	}
	if stamp == t.stamp {
		return t.tokens
	}
	tokens, err := readTokens(t.path)
	if err != nil {
		t.log.Warn("admin token file changed but is not valid; keeping the previous token", "err", err)
		return t.tokens
	}
	t.tokens, t.stamp = tokens, stamp
	t.log.Info("admin token file reloaded", "file", t.path, "tokens", len(tokens))
	return t.tokens
}

// certFile is the TLS certificate of --admin-tls-cert and --admin-tls-key, re-read
// when either file changes (checked at most once per reloadCheckInterval, on a
// handshake), so that a renewed certificate is served without a restart.
type certFile struct {
	certPath, keyPath string
	log               *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	stamps  [2]fileStamp
	checked time.Time
}

func newCertFile(certPath, keyPath string, log *slog.Logger) (*certFile, error) {
	c := &certFile{certPath: certPath, keyPath: keyPath, log: log}
	stamps, cert, err := c.load()
	if err != nil {
		return nil, err
	}
	c.stamps, c.cert, c.checked = stamps, cert, time.Now()
	return c, nil
}

func (c *certFile) load() ([2]fileStamp, *tls.Certificate, error) {
	var stamps [2]fileStamp
	for i, p := range []string{c.certPath, c.keyPath} {
		s, err := statFile(p)
		if err != nil {
			return stamps, nil, fmt.Errorf("load --admin-tls-cert/--admin-tls-key: %w", err)
		}
		stamps[i] = s
	}
	cert, err := tls.LoadX509KeyPair(c.certPath, c.keyPath)
	if err != nil {
		return stamps, nil, fmt.Errorf("load --admin-tls-cert/--admin-tls-key: %w", err)
	}
	return stamps, &cert, nil
}

// GetCertificate is the tls.Config hook.
func (c *certFile) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.checked) < reloadCheckInterval {
		return c.cert, nil
	}
	c.checked = time.Now()
	s0, err0 := statFile(c.certPath)
	s1, err1 := statFile(c.keyPath)
	if err0 != nil || err1 != nil || [2]fileStamp{s0, s1} == c.stamps {
		return c.cert, nil
	}
	stamps, cert, err := c.load()
	if err != nil {
		// Mid-update (the certificate written, not yet the key): try again later.
		c.log.Warn("TLS certificate changed but does not load; serving the previous one", "err", err)
		return c.cert, nil
	}
	c.stamps, c.cert = stamps, cert
	c.log.Info("TLS certificate reloaded", "file", c.certPath)
	return c.cert, nil
}

// peerClient returns an HTTP client that verifies https servers with the CA bundle
// caFile (nil, the default client, when caFile is empty): the admin API's client to
// its peers (--peers-ca), and the transport of the CLI's (--server-ca).
func peerClient(caFile string) (*http.Client, error) {
	if caFile == "" {
		return nil, nil // admin's default
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	return &http.Client{Timeout: admin.DefaultPeerTimeout, Transport: tr}, nil
}

// adminListenAddr is where the admin API is served: --admin-addr, else --http-addr.
func (f *runFlags) adminListenAddr() string {
	if f.adminAddr == "" {
		return f.httpAddr
	}
	return f.adminAddr
}

// httpServer is one listener of `segmentd run` and what it serves.
type httpServer struct {
	name string // the flag of its address, for messages
	srv  *http.Server
	ln   net.Listener
}

// newHTTPServers returns the HTTP servers of `segmentd run`: on --http-addr /metrics,
// /healthz and /readyz (and /debug/pprof/ with --pprof), plus the admin API unless --admin-addr names another address,
// where it is then served alone. The admin API's listener uses TLS with
// --admin-tls-cert and --admin-tls-key when they are given.
func newHTTPServers(f *runFlags, metrics http.Handler, api http.Handler, log *slog.Logger) ([]httpServer, error) {
	if (f.adminTLSCert == "") != (f.adminTLSKey == "") {
		return nil, errors.New("--admin-tls-cert and --admin-tls-key go together")
	}
	var tc *tls.Config
	if f.adminTLSCert != "" {
		cf, err := newCertFile(f.adminTLSCert, f.adminTLSKey, log)
		if err != nil {
			return nil, err
		}
		tc = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: cf.GetCertificate}
	}
	separate := f.adminAddr != "" && f.adminAddr != f.httpAddr
	mux := http.NewServeMux()
	mux.Handle("/", metrics)
	if f.pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index) // heap, goroutine, allocs... by name
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	var servers []httpServer
	if !separate {
		mux.Handle("/v1/", api)
	}
	httpTLS := tc // the admin API is served here too
	if separate {
		httpTLS = nil
	}
	s, err := listenHTTP("--http-addr", f.httpAddr, mux, httpTLS)
	if err != nil {
		return nil, err
	}
	servers = append(servers, s)
	if separate {
		amux := http.NewServeMux()
		amux.Handle("/v1/", api)
		s, err := listenHTTP("--admin-addr", f.adminAddr, amux, tc)
		if err != nil {
			servers[0].ln.Close()
			return nil, err
		}
		servers = append(servers, s)
	}
	return servers, nil
}

func listenHTTP(flagName, addr string, h http.Handler, tc *tls.Config) (httpServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return httpServer{}, fmt.Errorf("listen on %s %s: %w", flagName, addr, err)
	}
	if tc != nil {
		ln = tls.NewListener(ln, tc)
	}
	return httpServer{name: flagName, ln: ln, srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute}}, nil
}

// serveHTTP serves each server until ctx ends (then shuts it down); a server that
// fails cancels the run. The goroutines are counted in wg.
func serveHTTP(ctx context.Context, cancel context.CancelFunc, wg *sync.WaitGroup, servers []httpServer, log *slog.Logger) {
	for _, s := range servers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("http server", "addr", s.name, "err", err)
				cancel()
			}
		}()
		go func() {
			defer wg.Done()
			<-ctx.Done()
			sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer scancel()
			_ = s.srv.Shutdown(sctx)
		}()
		log.Info("http server listening", "flag", s.name, "addr", s.ln.Addr().String())
	}
}
