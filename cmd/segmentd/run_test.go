package main

import (
	"flag"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/segmentd/segmentd/processor"
)

// comparableConfig is cfg without the fields that hold functions or handles, which
// reflect.DeepEqual cannot compare (they are not set from flags).
func comparableConfig(cfg processor.Config) processor.Config {
	cfg.KafkaOptions, cfg.Logger, cfg.Registerer, cfg.Now, cfg.Store = nil, nil, nil, nil, nil
	return cfg
}

// otherValue returns a value of f's type that differs from its default.
func otherValue(t *testing.T, f *flag.Flag) string {
	g, ok := f.Value.(flag.Getter)
	if !ok {
		t.Fatalf("flag --%s: its value is not a flag.Getter; give it a Get method", f.Name)
	}
	switch v := g.Get().(type) {
	case bool:
		return fmt.Sprint(!v)
	case time.Duration:
		return (2*v + 3*time.Second).String()
	case int, int16, int32, int64, uint, uint64:
		return fmt.Sprint(reflect.ValueOf(v).Convert(reflect.TypeFor[int64]()).Int() + 7)
	case float64:
		return fmt.Sprint(v + 1.5)
	case string:
		return v + "-other"
	case []string:
		return "other-a,other-b"
	default:
		t.Fatalf("flag --%s: no other value for a %T; add a case", f.Name, v)
	}
	return ""
}

// TestEveryRunFlagReachesConfig: each flag of `segmentd run` given a value other than
// its default changes the processor.Config that run builds, unless otherRunFlags says
// what it configures instead (--transaction-timeout used to be read and ignored).
func TestEveryRunFlagReachesConfig(t *testing.T) {
	build := func(args ...string) processor.Config {
		t.Helper()
		var f runFlags
		fs := newRunFlagSet(&f)
		fs.SetOutput(new(strings.Builder))
		if err := fs.Parse(args); err != nil {
			t.Fatalf("parse %q: %v", args, err)
		}
		return comparableConfig(f.processorConfig([]string{"broker:9092"}, false, nil, nil, nil, nil))
	}
	defaults := build()
	want := comparableConfig(processor.Defaults())
	want.Brokers = defaults.Brokers
	want.TransactionalID = defaults.TransactionalID // derived from the host and data dir
	if !reflect.DeepEqual(defaults, want) {
		t.Errorf("the defaults of the flags are not processor.Defaults():\n got %+v\nwant %+v", defaults, want)
	}

	var f runFlags
	fs := newRunFlagSet(&f)
	seen := map[string]bool{}
	fs.VisitAll(func(fl *flag.Flag) {
		seen[fl.Name] = true
		value := otherValue(t, fl)
		got := build("--" + fl.Name + "=" + value)
		_, other := otherRunFlags[fl.Name]
		switch changed := !reflect.DeepEqual(got, defaults); {
		case !changed && !other:
			t.Errorf("--%s=%s does not reach processor.Config: bind it in processorFlags, or list what it configures in otherRunFlags", fl.Name, value)
		case changed && other && fl.Name != "data-dir":
			t.Errorf("--%s changes processor.Config but is listed in otherRunFlags", fl.Name)
		}
	})
	for name := range otherRunFlags {
		if !seen[name] {
			t.Errorf("otherRunFlags lists --%s, which is not a flag of segmentd run", name)
		}
	}
}

// TestTransactionTimeoutFlag: --transaction-timeout and its environment variable (set
// by the Helm chart) set the processor's transaction timeout.
func TestTransactionTimeoutFlag(t *testing.T) {
	const env = "SEGMENTD_TRANSACTION_TIMEOUT"
	t.Setenv(env, "") // restored when the test ends
	for _, tc := range []struct {
		args []string
		env  string
		want time.Duration
	}{
		{nil, "", processor.Defaults().TransactionTimeout},
		{[]string{"--transaction-timeout", "45s"}, "", 45 * time.Second},
		{nil, "30s", 30 * time.Second},
		{[]string{"--transaction-timeout=20s"}, "30s", 20 * time.Second},
	} {
		os.Unsetenv(env)
		if tc.env != "" {
			os.Setenv(env, tc.env)
		}
		var f runFlags
		if err := parseFlags(newRunFlagSet(&f), tc.args); err != nil {
			t.Fatal(err)
		}
		if got := f.processorConfig([]string{"b:9092"}, false, nil, nil, nil, nil).TransactionTimeout; got != tc.want {
			t.Errorf("args %q, env %q: TransactionTimeout %s, want %s", tc.args, tc.env, got, tc.want)
		}
	}
}

// TestListAndIntFlags: a list flag's first value replaces its default and later ones
// add to it; int16 and int32 flags reject what does not fit.
func TestListAndIntFlags(t *testing.T) {
	var f runFlags
	fs := newRunFlagSet(&f)
	fs.SetOutput(new(strings.Builder))
	if err := fs.Parse([]string{"--events-topic", "a,b", "--events-topic", "c"}); err != nil {
		t.Fatal(err)
	}
	if got := f.proc.Topics.Events; !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Errorf("events topics %q, want [a b c]", got)
	}
	for _, arg := range []string{"--replication-factor=40000", "--partitions=3000000000", "--partitions=x"} {
		fs := newRunFlagSet(&runFlags{})
		fs.SetOutput(new(strings.Builder))
		if err := fs.Parse([]string{arg}); err == nil {
			t.Errorf("%s accepted", arg)
		}
	}
}
