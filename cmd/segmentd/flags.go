package main

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// parseFlags parses args, then sets every flag not given on the command line from
// its environment variable SEGMENTD_<NAME> (dashes become underscores).
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || err != nil {
			return
		}
		name := envName(f.Name)
		if v, ok := os.LookupEnv(name); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("environment variable %s: %w", name, e)
			}
		}
	})
	return err
}

func envName(flagName string) string {
	return "SEGMENTD_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// listFlag is a comma-separated or repeated string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Get() any       { return []string(*l) }
func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// listValue is a comma-separated or repeated string flag bound to a slice that holds
// its default: the first Set replaces the default, later ones append.
type listValue struct {
	p   *[]string
	set bool
}

func (l *listValue) String() string {
	if l == nil || l.p == nil {
		return ""
	}
	return strings.Join(*l.p, ",")
}

func (l *listValue) Set(v string) error {
	if !l.set {
		*l.p, l.set = nil, true
	}
	return (*listFlag)(l.p).Set(v)
}

func (l *listValue) Get() any { return *l.p }

// intValue is an integer flag of a type the flag package lacks (int16, int32).
type intValue[T int16 | int32] struct{ p *T }

func (v intValue[T]) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.FormatInt(int64(*v.p), 10)
}

func (v intValue[T]) Set(s string) error {
	n, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		return err
	}
	if int64(T(n)) != n {
		return fmt.Errorf("%s is out of range", s)
	}
	*v.p = T(n)
	return nil
}

func (v intValue[T]) Get() any { return *v.p }

// kafkaFlags are the connection flags shared by every command.
type kafkaFlags struct {
	brokers       listFlag
	clientID      string
	saslMechanism string
	saslUser      string
	saslPassword  string
	saslPassFile  string
	tls           bool
	tlsCA         string
	tlsCert       string
	tlsKey        string
	tlsServerName string
	// embeddedAddr is where `run` without --brokers serves its embedded broker, and
	// what the other commands connect to without --brokers.
	embeddedAddr string
}

// defaultEmbeddedAddr is the default of --embedded-broker-addr.
const defaultEmbeddedAddr = "127.0.0.1:9092"

// seedBrokers returns --brokers, or the embedded broker of a local `segmentd run`
// (--embedded-broker-addr) when it is empty.
func (k *kafkaFlags) seedBrokers() []string {
	if len(k.brokers) == 0 {
		return []string{k.embeddedAddr}
	}
	return []string(k.brokers)
}

func (k *kafkaFlags) register(fs *flag.FlagSet) {
	fs.Var(&k.brokers, "brokers", "Kafka seed brokers, comma-separated (run: without it, an embedded in-memory broker)")
	fs.StringVar(&k.clientID, "client-id", "segmentd", "Kafka client id")
	fs.StringVar(&k.saslMechanism, "sasl-mechanism", "", "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (empty: no SASL)")
	fs.StringVar(&k.saslUser, "sasl-username", "", "SASL username")
	fs.StringVar(&k.saslPassword, "sasl-password", "", "SASL password (prefer --sasl-password-file or the environment)")
	fs.StringVar(&k.saslPassFile, "sasl-password-file", "", "file holding the SASL password")
	fs.BoolVar(&k.tls, "tls", false, "connect to Kafka with TLS (implied by --tls-ca or --tls-cert)")
	fs.StringVar(&k.tlsCA, "tls-ca", "", "PEM file of CA certificates to verify the brokers (default: system roots)")
	fs.StringVar(&k.tlsCert, "tls-cert", "", "PEM client certificate for mutual TLS")
	fs.StringVar(&k.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&k.tlsServerName, "tls-server-name", "", "server name to verify (default: the broker host)")
	fs.StringVar(&k.embeddedAddr, "embedded-broker-addr", defaultEmbeddedAddr, "address of the embedded in-memory broker: where run without --brokers serves it, "+
		"and what the other commands connect to without --brokers")
}

// options turns the flags into franz-go options.
func (k *kafkaFlags) options() ([]kgo.Opt, error) {
	opts := []kgo.Opt{kgo.ClientID(k.clientID)}
	if k.tls || k.tlsCA != "" || k.tlsCert != "" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: k.tlsServerName}
		if k.tlsCA != "" {
			pem, err := os.ReadFile(k.tlsCA)
			if err != nil {
				return nil, fmt.Errorf("read --tls-ca: %w", err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("--tls-ca %s holds no PEM certificate", k.tlsCA)
			}
		}
		if k.tlsCert != "" || k.tlsKey != "" {
			cert, err := tls.LoadX509KeyPair(k.tlsCert, k.tlsKey)
			if err != nil {
				return nil, fmt.Errorf("load --tls-cert/--tls-key: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if k.saslMechanism != "" {
		pass := k.saslPassword
		if k.saslPassFile != "" {
			b, err := os.ReadFile(k.saslPassFile)
			if err != nil {
				return nil, fmt.Errorf("read --sasl-password-file: %w", err)
			}
			pass = strings.TrimRight(string(b), "\r\n")
		}
		switch strings.ToUpper(k.saslMechanism) {
		case "PLAIN":
			opts = append(opts, kgo.SASL(plain.Auth{User: k.saslUser, Pass: pass}.AsMechanism()))
		case "SCRAM-SHA-256":
			opts = append(opts, kgo.SASL(scram.Auth{User: k.saslUser, Pass: pass}.AsSha256Mechanism()))
		case "SCRAM-SHA-512":
			opts = append(opts, kgo.SASL(scram.Auth{User: k.saslUser, Pass: pass}.AsSha512Mechanism()))
		default:
			return nil, fmt.Errorf("unknown --sasl-mechanism %q (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)", k.saslMechanism)
		}
	}
	return opts, nil
}

// newLogger builds the process logger from --log-level and --log-format.
func newLogger(level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("invalid --log-level %q: %w", level, err)
	}
	ho := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, ho)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, ho)), nil
	}
	return nil, fmt.Errorf("invalid --log-format %q (text or json)", format)
}

// contactCacheValue is --contact-cache: a count of contacts, 0 for none
// (processor.Config.ContactCache: 0 or negative for none).
type contactCacheValue struct{ p *int }

func (v contactCacheValue) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.Itoa(max(*v.p, 0))
}

func (v contactCacheValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return err
	}
	if n < 0 {
		return fmt.Errorf("%s: a count of contacts, 0 for none", s)
	}
	if n == 0 {
		n = -1
	}
	*v.p = n
	return nil
}

func (v contactCacheValue) Get() any { return *v.p }
