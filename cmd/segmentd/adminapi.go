package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/admin"
	"github.com/segmentd/segmentd/processor"
)

// envAdminToken holds the admin API token when no --admin-token-file is given.
const envAdminToken = "SEGMENTD_ADMIN_TOKEN"

// loadAdminToken returns the admin API token: the first line of file if given (the
// current token; see readTokens), else $SEGMENTD_ADMIN_TOKEN, else "".
func loadAdminToken(file string) (string, error) {
	if file == "" {
		return strings.TrimSpace(os.Getenv(envAdminToken)), nil
	}
	tokens, err := readTokens(file)
	if err != nil {
		return "", err
	}
	return tokens[0], nil
}

// newAdminAPI builds the admin API handler of `segmentd run` and the producer it
// writes definitions with (closed by the caller). Its metrics go to reg.
func newAdminAPI(f *runFlags, brokers []string, kopts []kgo.Opt, proc *processor.Processor, reg prometheus.Registerer, log *slog.Logger) (*admin.Handler, *kgo.Client, error) {
	acfg := admin.Config{Backend: proc, SegmentsTopic: proc.Topics().Segments,
		ListenAddr: f.adminListenAddr(), Peers: f.peers, Logger: log, Registerer: reg}
	if f.adminTokenFile != "" {
		tf, err := newTokenFile(f.adminTokenFile, log)
		if err != nil {
			return nil, nil, err
		}
		acfg.Tokens = tf.Tokens
	} else {
		acfg.Token = strings.TrimSpace(os.Getenv(envAdminToken))
	}
	pc, err := peerClient(f.peersCA)
	if err != nil {
		return nil, nil, fmt.Errorf("--peers-ca: %w", err)
	}
	acfg.PeerClient = pc
	prod, err := kgo.NewClient(append(kopts, kgo.SeedBrokers(brokers...),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0))...)
	if err != nil {
		return nil, nil, fmt.Errorf("admin API producer: %w", err)
	}
	acfg.Producer = prod
	h, err := admin.New(acfg)
	if err != nil {
		prod.Close()
		return nil, nil, err
	}
	if h.Locked() {
		log.Warn("admin API disabled: " + acfg.ListenAddr + " is not a loopback address and no admin token is set; " +
			"/v1 answers 403. Set --admin-token-file or " + envAdminToken + " to use it.")
	}
	return h, prod, nil
}

// The commands that talk to a running segmentd's admin API share their flags: how to
// reach the API (apiFlags, on every one of them, through newAPIFlagSet) and, for those
// that print its answer, --json (clientFlags, through newClientFlagSet). A command adds
// its own flags to the set these return.

// clientFlags are the shared flags of an admin API command that prints a readable
// answer or, with --json, the API's JSON.
type clientFlags struct {
	api  apiFlags
	json bool
}

// newClientFlagSet returns the flag set of the admin API command name ("segmentd
// contact get") with the shared flags bound to f.
func newClientFlagSet(name string, f *clientFlags) *flag.FlagSet {
	fs := newAPIFlagSet(name, &f.api)
	fs.BoolVar(&f.json, "json", false, "print the API's JSON answer")
	return fs
}

// newAPIFlagSet returns the flag set of the admin API command name with the flags
// that reach the API bound to f.
func newAPIFlagSet(name string, f *apiFlags) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	f.register(fs)
	return fs
}

// apiFlags are the flags of the commands that talk to a running segmentd's admin API.
type apiFlags struct {
	server    string
	token     string
	tokenFile string
	serverCA  string
	timeout   time.Duration
}

func (a *apiFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&a.server, "server", "http://127.0.0.1:8080", "base URL of a running segmentd's HTTP server")
	fs.StringVar(&a.token, "admin-token", "", "bearer token of the admin API (prefer "+envAdminToken+" or --admin-token-file)")
	fs.StringVar(&a.tokenFile, "admin-token-file", "", "file holding the bearer token of the admin API")
	fs.StringVar(&a.serverCA, "server-ca", "", "PEM file of CA certificates to verify an https:// --server (default: system roots)")
	fs.DurationVar(&a.timeout, "timeout", 30*time.Second, "timeout of each request")
}

// client returns an admin API client for the flags.
func (a *apiFlags) client() (*apiClient, error) {
	token := a.token
	if a.tokenFile != "" {
		var err error
		if token, err = loadAdminToken(a.tokenFile); err != nil {
			return nil, err
		}
	}
	base := strings.TrimRight(a.server, "/")
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return nil, fmt.Errorf("--server %q is not an http:// or https:// URL", a.server)
	}
	hc := &http.Client{Timeout: a.timeout}
	if a.serverCA != "" {
		pc, err := peerClient(a.serverCA)
		if err != nil {
			return nil, fmt.Errorf("--server-ca: %w", err)
		}
		hc.Transport = pc.Transport
	}
	return &apiClient{base: base, token: token, http: hc}, nil
}

// apiClient calls the admin API.
type apiClient struct {
	base  string
	token string
	http  *http.Client
}

// apiError is an error answer of the admin API.
type apiError struct {
	Status int
	Msg    string
	Path   string // of an invalid definition
}

func (e *apiError) Error() string {
	switch e.Status {
	case http.StatusUnauthorized:
		return e.Msg + " (pass --admin-token-file or set " + envAdminToken + ")"
	}
	return fmt.Sprintf("%d %s: %s", e.Status, http.StatusText(e.Status), e.Msg)
}

// do sends a request with a JSON body (if not nil), decodes a 2xx answer into out
// (if not nil) and returns its status; an error answer is an *apiError.
func (c *apiClient) do(ctx context.Context, method, path string, body []byte, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("admin API at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("read answer of %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var eb struct {
			Error string `json:"error"`
			Path  string `json:"path"`
		}
		if json.Unmarshal(b, &eb) != nil || eb.Error == "" {
			eb.Error = strings.TrimSpace(string(b))
		}
		return resp.StatusCode, &apiError{Status: resp.StatusCode, Msg: eb.Error, Path: eb.Path}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode answer of %s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// parseArgs parses flags that may come before, between or after the positional
// arguments, then fills unset flags from the environment (see parseFlags).
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			pos = append(pos, rest...) // everything after "--" is positional
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	return pos, parseFlags(fs, nil)
}
