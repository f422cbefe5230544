package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"
)

// command is one command of segmentd: its words ("segments apply"), what it is called
// with and does, its flags and how it runs. commands lists them all; the top-level
// usage, each command's --help, the shell completion and docs/SPEC.md's flag tables are
// generated from it.
type command struct {
	name    string // "run", "segments apply"
	args    string // what follows the name in its synopsis: "-f FILE [-f FILE...] [flags]"
	summary string
	long    string               // more help, printed by --help after the synopsis
	flags   func() *flag.FlagSet // a fresh flag set of the command (nil: none)
	words   []string             // the values its positional arguments take, for completion (nil: files)
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands are segmentd's commands, in the order the usage lists them.
func commands() []command {
	return []command{
		{name: "run", args: "[flags]", summary: "run the processor (embedded broker without --brokers)",
			flags: func() *flag.FlagSet { return newRunFlagSet(&runFlags{}) }, run: runCommand},
		{name: "import", args: "--shop DOMAIN [flags] FILE...", summary: "load Shopify customers and orders (JSON Lines) as events",
			flags: func() *flag.FlagSet { return newImportFlagSet(&importFlags{}) }, run: importCommand},
		{name: "tail", args: "[flags]", summary: "follow the membership topic and print transitions",
			flags: func() *flag.FlagSet { return newTailFlagSet(&tailFlags{}) }, run: tailCommand},
		{name: "segments apply", args: "-f FILE [-f FILE...] [flags]", summary: "validate, then create or replace segments (JSON or YAML)",
			long:  applyHelp,
			flags: func() *flag.FlagSet { return newApplyFlagSet(&applyFlags{}) }, run: segmentsApply},
		{name: "segments list", args: "WORKSPACE [flags]", summary: "list a workspace's segments with member counts and dependencies",
			flags: func() *flag.FlagSet { return newListFlagSet(&listFlags{}) }, run: segmentsList},
		{name: "segments get", args: "WORKSPACE ID [flags]", summary: "show a segment: its definition, version and member count",
			flags: func() *flag.FlagSet { return newSegmentGetFlagSet(&clientFlags{}) }, run: segmentsGet},
		{name: "segments delete", args: "WORKSPACE ID [flags]", summary: "delete a segment",
			flags: func() *flag.FlagSet { return newSegmentDeleteFlagSet(&apiFlags{}) }, run: segmentsDelete},
		{name: "contact get", args: "WORKSPACE CUSTOMER_ID [flags]", summary: "show a contact's profile, attributes and memberships",
			flags: func() *flag.FlagSet { return newContactFlagSet(&clientFlags{}) }, run: contactGet},
		{name: "contact explain", args: "WORKSPACE CUSTOMER_ID --segment ID [flags]", summary: "why a contact matches a segment or not, condition by condition",
			flags: func() *flag.FlagSet { return newExplainFlagSet(&explainFlags{}) }, run: contactExplain},
		{name: "contact search", args: "WORKSPACE QUERY [flags]", summary: "find contacts by part of a name, email or phone",
			flags: func() *flag.FlagSet { return newSearchFlagSet(&searchFlags{}) }, run: contactSearch},
		{name: "audience estimate", args: "WORKSPACE --include REF,... [--exclude REF,...] [flags]", summary: "count the contacts of an audience of segments and lists",
			long:  estimateHelp,
			flags: func() *flag.FlagSet { return newEstimateFlagSet(&estimateFlags{}) }, run: audienceEstimate},
		{name: "completion", args: "bash|zsh", summary: "print a shell completion script",
			long:  completionHelp,
			flags: newCompletionFlagSet, words: []string{"bash", "zsh"}, run: completionCommand},
		{name: "version", summary: "print the version, VCS revision and Go version (also --version)",
			flags: newVersionFlagSet, run: versionRun},
	}
}

func newVersionFlagSet() *flag.FlagSet {
	return flag.NewFlagSet("segmentd version", flag.ContinueOnError)
}

// versionRun is `segmentd version`.
func versionRun(_ context.Context, args []string, stdout, _ io.Writer) error {
	if _, err := parseCommand(newVersionFlagSet(), args, stdout, 0, 0); err != nil {
		return err
	}
	return versionCommand(stdout)
}

// findCommand returns the command named name.
func findCommand(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// groups are the first words of the commands that have several words ("segments").
func groups() []string {
	var out []string
	for _, c := range commands() {
		if g, _, ok := strings.Cut(c.name, " "); ok && !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

// run runs the command named by the first words of args.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		printUsage(stderr, "")
		return usageError{cmd: "segmentd"} // the usage says it all
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 { // segmentd help segments apply
			return run(ctx, append(args[1:], "--help"), stdout, stderr)
		}
		printUsage(stdout, "")
		return nil
	case "--version", "-version":
		return versionCommand(stdout)
	}
	if c, ok := findCommand(args[0]); ok {
		return c.run(ctx, args[1:], stdout, stderr)
	}
	if !slices.Contains(groups(), args[0]) {
		return usageError{cmd: "segmentd", err: fmt.Errorf("unknown command %q", args[0])}
	}
	group := args[0]
	if len(args) == 1 {
		printUsage(stderr, group)
		return usageError{cmd: "segmentd " + group}
	}
	switch args[1] {
	case "help", "-h", "-help", "--help":
		printUsage(stdout, group)
		return nil
	}
	if c, ok := findCommand(group + " " + args[1]); ok {
		return c.run(ctx, args[2:], stdout, stderr)
	}
	return usageError{cmd: "segmentd " + group, err: fmt.Errorf("unknown command %q", group+" "+args[1])}
}

// printUsage prints the commands (of group, if not empty) with their summaries.
func printUsage(w io.Writer, group string) {
	if group == "" {
		fmt.Fprint(w, "segmentd keeps customer segments of Shopify stores up to date from Kafka.\n\n"+
			"Usage: segmentd COMMAND [arguments] [flags]\n\nCommands:\n")
	} else {
		fmt.Fprintf(w, "Usage: segmentd %s COMMAND [arguments] [flags]\n\nCommands:\n", group)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	for _, c := range commands() {
		if group != "" && !strings.HasPrefix(c.name, group+" ") {
			continue
		}
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
	}
	tw.Flush()
	fmt.Fprint(w, "\nRun 'segmentd COMMAND --help' for a command's arguments and flags. Every flag can\n"+
		"also be set by an environment variable: --data-dir by SEGMENTD_DATA_DIR.\n")
}

// usageError is an error in how a command was called (an unknown flag or command, a
// missing or extra argument, an invalid flag value): segmentd prints it in one line
// with a hint to the command's help, and exits 2. Every other error of a command is a
// failure of its work: exit status 1.
type usageError struct {
	cmd string // "segmentd run"
	err error  // nil: the usage has been printed, there is nothing to add
}

func (u usageError) Error() string {
	if u.err == nil {
		return u.cmd + ": usage"
	}
	return u.err.Error()
}

func (u usageError) Unwrap() error { return u.err }

// usagef returns a usage error of the command whose flag set is fs.
func usagef(fs *flag.FlagSet, format string, args ...any) error {
	return usageError{cmd: fs.Name(), err: fmt.Errorf(format, args...)}
}

// exitCode is the exit status of a command that returned err: 0 without error (or
// after --help), 2 for a usage error, 1 for any other.
func exitCode(err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(usageError)):
		return 2
	}
	return 1
}

// reportError prints what a command's error says on stderr: a usage error with a hint
// to the command's help, any other error in one line.
func reportError(w io.Writer, err error) {
	var u usageError
	switch {
	case errors.Is(err, flag.ErrHelp):
	case errors.As(err, &u):
		if u.err != nil {
			fmt.Fprintf(w, "%s: %v\nRun '%s --help' for usage.\n", u.cmd, u.err, u.cmd)
		}
	default:
		fmt.Fprintln(w, "segmentd:", err)
	}
}

// parseCommand parses the flags of a command, which may come before, between or after
// its positional arguments, fills unset flags from the environment, and checks that
// there are between min and max positional arguments (max < 0: any number). With
// -h or --help it prints the command's help on stdout and returns flag.ErrHelp (exit
// status 0); any problem is a usageError.
func parseCommand(fs *flag.FlagSet, args []string, stdout io.Writer, min, max int) ([]string, error) {
	fs.SetOutput(io.Discard) // the error is reported once, by reportError
	fs.Usage = func() {}
	pos, err := parseArgs(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		printHelp(stdout, fs)
		return nil, flag.ErrHelp
	case err != nil:
		return nil, usageError{cmd: fs.Name(), err: errors.New(longFlagNames.ReplaceAllString(err.Error(), "${1}--$2"))}
	case len(pos) < min:
		c, _ := findCommand(strings.TrimPrefix(fs.Name(), "segmentd "))
		return nil, usagef(fs, "missing arguments: usage: %s %s", fs.Name(), c.args)
	case max >= 0 && len(pos) > max:
		return nil, usagef(fs, "unexpected argument %q", pos[max])
	}
	return pos, nil
}

// longFlagNames matches the flag names of the flag package's errors, written with one
// dash ("invalid value "x" for flag -partitions"), so that they can name them as --help
// and the docs do (one-letter flags keep one dash; an undefined flag is left as typed).
var longFlagNames = regexp.MustCompile(`(for flag |needs an argument: )-([a-z0-9][a-z0-9-]+)`)

// printHelp prints the help of the command whose flag set is fs: its synopsis, summary,
// longer help and flags (those for benchmarks only left out).
func printHelp(w io.Writer, fs *flag.FlagSet) {
	c, _ := findCommand(strings.TrimPrefix(fs.Name(), "segmentd "))
	fmt.Fprintf(w, "Usage: %s\n\n%s.\n", strings.TrimSpace(fs.Name()+" "+c.args), upperFirst(c.summary))
	if c.long != "" {
		fmt.Fprintf(w, "\n%s", c.long)
	}
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		if hiddenFlag(f) {
			return
		}
		if n++; n == 1 {
			fmt.Fprint(w, "\nFlags (each also set by its environment variable, e.g. --brokers by SEGMENTD_BROKERS):\n")
		}
		name, usage := flag.UnquoteUsage(f)
		if g, ok := f.Value.(flag.Getter); ok && name == "value" {
			switch g.Get().(type) {
			case []string:
				name = "list"
			case int16, int32:
				name = "int"
			}
		}
		fmt.Fprintf(w, "  %s%s", dashes(f.Name), f.Name)
		if name != "" {
			fmt.Fprintf(w, " %s", name)
		}
		fmt.Fprintf(w, "\n    \t%s", strings.ReplaceAll(usage, "\n", "\n    \t"))
		switch f.DefValue {
		case "", "0", "0s", "false":
		default:
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}

// benchmarksOnly starts the usage of a flag meant for benchmarks only: --help leaves it
// out; docs/SPEC.md documents it with that meaning.
const benchmarksOnly = "benchmarks only: "

func hiddenFlag(f *flag.Flag) bool { return strings.HasPrefix(f.Usage, benchmarksOnly) }

// dashes is the prefix of a flag as the docs write it: -f, --data-dir.
func dashes(name string) string {
	if len(name) == 1 {
		return "-"
	}
	return "--"
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
