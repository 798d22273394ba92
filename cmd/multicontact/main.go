// Command multicontact runs the Multicontact identity-resolution service.
//
//	multicontact serve     the HTTP service (GraphQL API, health, metrics)
//	multicontact import    NDJSON identity events into a project
//	multicontact gen       a realistic population as NDJSON, for tests and benchmarks
//	multicontact bench     the benchmark: import, re-resolution, writes and lookups, one table
//	multicontact soak      mixed load on the service, killed and restarted, then checked: nothing acknowledged lost
//	multicontact help CMD  the usage of a command, with an example
//
// Configuration comes from flags and the environment (see README.md).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first signal starts a graceful stop; a second one (Ctrl-C again)
	// ends the process at once, as it would without the handler.
	context.AfterFunc(ctx, stop)
	if err := Run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "multicontact:", err)
		}
		os.Exit(1)
	}
}

// Run runs one subcommand until it finishes or ctx is cancelled. Asked
// for help (--help, -h, help, help CMD, CMD -h), it prints the usage to
// stdout and returns nil.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		printUsage(stderr)
		return flag.ErrHelp
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) == 1 || isHelpFlag(args[1]) {
			printUsage(stdout)
			return nil
		}
		if _, ok := commands[args[1]]; !ok {
			return fmt.Errorf("unknown command %q (want serve, import, gen, bench or soak)", args[1])
		}
		args = []string{args[1], "-h"}
	}
	if _, ok := commands[args[0]]; !ok {
		return fmt.Errorf("unknown command %q (want serve, import, gen, bench or soak; multicontact help shows how)", args[0])
	}
	// Help goes to stdout, so that it pipes into a pager; the command's
	// other messages go to stderr.
	usageOut := stderr
	if askedForHelp(args[1:]) {
		usageOut = stdout
	}
	err := run(ctx, args, stdout, stderr, usageOut)
	if errors.Is(err, flag.ErrHelp) {
		return nil // -h: the flag set printed the usage
	}
	return err
}

// run parses the flags of the subcommand args[0] and runs it; usage errors
// and -h print the command's usage to usageOut.
func run(ctx context.Context, args []string, stdout, stderr, usageOut io.Writer) error {
	logger := slog.New(slog.NewJSONHandler(stderr, nil))
	switch args[0] {
	case "serve":
		m := NewServeMain(logger)
		m.usageOut = usageOut
		if err := m.ParseFlags(args[1:], os.Getenv); err != nil {
			return err
		}
		if err := m.Run(ctx); err != nil {
			return err
		}
		<-ctx.Done()
		return m.Close()
	case "import":
		m := &ImportMain{stdout: stdout, stderr: stderr, usageOut: usageOut, log: logger}
		if err := m.ParseFlags(args[1:], os.Getenv); err != nil {
			return err
		}
		return m.Run(ctx)
	case "gen":
		m := &GenMain{stdout: stdout, stderr: stderr, usageOut: usageOut}
		if err := m.ParseFlags(args[1:]); err != nil {
			return err
		}
		return m.Run()
	case "soak":
		m := &SoakMain{stdout: stdout, stderr: stderr, usageOut: usageOut}
		if err := m.ParseFlags(args[1:], os.Getenv); err != nil {
			return err
		}
		return m.Run(ctx)
	default: // "bench"
		m := &BenchMain{stdout: stdout, stderr: stderr, usageOut: usageOut}
		if err := m.ParseFlags(args[1:], os.Getenv); err != nil {
			return err
		}
		return m.Run(ctx)
	}
}

// usage is what `help` says of a command.
type usage struct {
	synopsis string // the command line, after "multicontact "
	about    string // what it does, one or two lines
	example  string // a command line to copy, with what it does
}

// commands are the subcommands, by name.
var commands = map[string]usage{
	"serve": {
		synopsis: "serve [flags]",
		about: "Runs the HTTP service: the GraphQL API at /graphql (GraphiQL at /), the import and widget paths,\n" +
			"/healthz, /readyz and /metrics. Every flag can also be set in the environment (named in parentheses).",
		example: "NEO4J_URI=bolt://localhost:7687 NEO4J_PASSWORD=secret MULTICONTACT_ADMIN_TOKEN=$ADMIN_TOKEN \\\n" +
			"    multicontact serve -addr 0.0.0.0:8080\n" +
			"        serves the API on port 8080 of every interface",
	},
	"import": {
		synopsis: "import -project P [flags] FILE|-",
		about: "Imports NDJSON identity events (one JSON object a line, see README.md) into project P from FILE,\n" +
			"or from stdin with -. Importing a file again skips the lines whose eventId was seen before.",
		example: "multicontact import -project acme -create-project -region RU -rules 'phone;email,externalId' clients.ndjson\n" +
			"        creates project acme, whose clients merge when they share a phone, or both an e-mail and an\n" +
			"        external id, and imports clients.ndjson into it\n" +
			"    gzip -dc clients.ndjson.gz | multicontact import -project acme -\n" +
			"        imports from stdin into the existing project acme",
	},
	"gen": {
		synopsis: "gen [flags]",
		about:    "Writes a realistic population as NDJSON for the import: people with 1 to 4 channels, phones typed many ways.",
		example: "multicontact gen -clients 100000 -seed 7 -out people.ndjson -truth truth.tsv\n" +
			"        100,000 clients, the same file for the same seed, and who is who in truth.tsv",
	},
	"bench": {
		synopsis: "bench [flags]",
		about:    "Runs the benchmark (import, re-resolution, writes, lookups) against Neo4j and prints one table.",
		example:  "NEO4J_URI=bolt://localhost:7687 NEO4J_PASSWORD=secret multicontact bench -clients 100000 -out bench-result.md",
	},
	"soak": {
		synopsis: "soak [flags]",
		about: "Runs the service as a child process under mixed load (API writers on shared clients and values, imports,\n" +
			"a subscriber), kills it with SIGKILL every -kill-every and restarts it, then checks that every acknowledged\n" +
			"write is in the graph, that every multi-contact is the offline oracle's and that the subscriber got every\n" +
			"event once; prints one table and fails if anything acknowledged was lost or differs.",
		example: "NEO4J_URI=bolt://localhost:7687 NEO4J_PASSWORD=secret multicontact soak -duration 1h -kill-every 60s\n" +
			"        an hour of load, the service killed and restarted every minute (make soak DURATION=1h does the same\n" +
			"        on a throw-away Neo4j)",
	},
}

// printUsage prints the usage of the whole command.
func printUsage(w io.Writer) {
	fmt.Fprint(w, `Multicontact links the clients of one person across channels into one multi-contact.

usage: multicontact COMMAND [flags] [args]

commands:
  serve    the HTTP service: GraphQL API, import and widget paths, health, metrics
  import   NDJSON identity events into a project
  gen      a realistic population as NDJSON, for tests and benchmarks
  bench    the benchmark: import, re-resolution, writes and lookups, one table
  soak     mixed load on the service, killed and restarted, then checked: nothing acknowledged lost
  help     the usage of a command, with an example: multicontact help import

Neo4j is found with NEO4J_URI, NEO4J_USER and NEO4J_PASSWORD; see README.md.

example:
  multicontact import -project acme -create-project -rules 'phone;email' clients.ndjson
`)
}

// newFlagSet returns the flag set of a subcommand, whose usage (on -h or
// a usage error) says what the command does, its flags and an example; it
// prints to w, or to fallback when w is nil.
func newFlagSet(name string, w, fallback io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	if w == nil {
		w = fallback
	}
	fs.SetOutput(w)
	u := commands[name]
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "usage: multicontact %s\n\n%s\n\nflags:\n", u.synopsis, u.about)
		fs.PrintDefaults()
		fmt.Fprintf(out, "\nexample:\n    %s\n", u.example)
	}
	return fs
}

// askedForHelp reports whether args, the flags of a subcommand, ask for
// its usage.
func askedForHelp(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if isHelpFlag(a) {
			return true
		}
	}
	return false
}

func isHelpFlag(a string) bool {
	switch a {
	case "-h", "-help", "--h", "--help":
		return true
	}
	return false
}
