package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/multicontact/multicontact/graph"
	"github.com/multicontact/multicontact/identity"
	"github.com/multicontact/multicontact/ingest"
)

// ImportMain is the `import` command: NDJSON from a file or stdin into a project.
type ImportMain struct {
	Neo4j   graph.Config
	Project string
	Create  bool   // create the project when it does not exist
	Region  string // its default region then
	Strict  bool
	Batch   int
	Workers int
	Path    string // "-" is stdin
	// Rules are the merge rules of a project that Create creates, each the
	// keys of its fields: clients that share a value of every field of a
	// rule merge.
	Rules [][]string

	stdout, stderr io.Writer
	usageOut       io.Writer // where -h prints the usage; nil is stderr
	log            *slog.Logger
}

// ParseFlags reads `import [flags] FILE|-`.
func (m *ImportMain) ParseFlags(args []string, getenv func(string) string) error {
	fs := newFlagSet("import", m.usageOut, m.stderr)
	neo4jFlags(fs, &m.Neo4j, getenv)
	fs.StringVar(&m.Project, "project", "", "project id (required)")
	fs.BoolVar(&m.Create, "create-project", false, "create the project if it does not exist")
	fs.StringVar(&m.Region, "region", "RU", "default phone region of a created project")
	rules := fs.String("rules", "", "merge rules of a created project: the fields of one rule joined by ',', rules by ';'\n"+
		"(-rules 'phone;email,externalId': one rule on phone, one on e-mail and external id together)")
	fs.BoolVar(&m.Strict, "strict", false, "stop at the first bad line")
	fs.IntVar(&m.Batch, "batch", ingest.DefaultBatch, "lines per transaction")
	fs.IntVar(&m.Workers, "workers", ingest.DefaultWorkers, "concurrent transactions of a large import")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if m.Project == "" || fs.NArg() != 1 {
		fs.Usage()
		return errors.New("import needs -project and one FILE (- for stdin)")
	}
	m.Path = fs.Arg(0)
	var err error
	if m.Rules, err = parseRules(*rules, m.Region); err != nil {
		return err
	}
	if len(m.Rules) > 0 && !m.Create {
		return errors.New("-rules sets the rules of a project that -create-project creates; " +
			"an existing project's rules change with addRule in the API or in the console")
	}
	return checkNeo4j(&m.Neo4j, getenv)
}

// parseRules reads -rules: rules separated by ';', the fields of one rule
// by ','. Each rule is checked against the fields of a new project.
func parseRules(s, region string) ([][]string, error) {
	catalog, err := identity.NewCatalog(region, nil)
	if err != nil {
		return nil, fmt.Errorf("-region: %w", err)
	}
	var rules [][]string
	for _, part := range strings.Split(s, ";") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		var fields []string
		for _, f := range strings.Split(part, ",") {
			fields = append(fields, strings.TrimSpace(f))
		}
		if err := (identity.Rule{Name: ruleName(fields), Fields: fields}).Validate(catalog); err != nil {
			return nil, fmt.Errorf("-rules %q: %w", part, err)
		}
		rules = append(rules, fields)
	}
	return rules, nil
}

// ruleName names a rule made by -rules after its fields: "email + externalId".
func ruleName(fields []string) string {
	return strings.Join(fields, " + ")
}

// Run imports the file and prints a summary.
func (m *ImportMain) Run(ctx context.Context) error {
	in, size, err := m.open()
	if err != nil {
		return err
	}
	defer in.Close()
	// The import resolves its own project before it ends; the projects
	// other processes left RUNNING are the services' to resume.
	store, err := graph.Open(ctx, m.Neo4j, graph.WithLogger(m.log), graph.WithoutResuming())
	if err != nil {
		return err
	}
	defer store.Close(context.Background())
	created := false
	if _, err := store.Project(ctx, m.Project); identity.ErrorCode(err) == identity.CodeNotFound && m.Create {
		_, err = store.CreateProject(ctx, m.Project, m.Project, m.Region)
		if err != nil {
			return err
		}
		created = true
	} else if err != nil {
		return err
	}
	rules, err := m.setRules(ctx, store, created)
	if err != nil {
		return err
	}

	im := &ingest.Importer{Store: store, Batch: m.Batch, Workers: m.Workers, Strict: m.Strict}
	im.Refused = func(e graph.LineError) {
		if e.Applied {
			fmt.Fprintf(m.stderr, "line %d: %v (the line applied without this value)\n", e.Line, e.Err)
			return
		}
		fmt.Fprintf(m.stderr, "line %d: %v\n", e.Line, e.Err)
	}
	im.Progress = m.progress(size)
	sum, err := im.Import(ctx, m.Project, in)
	m.summary(sum, rules)
	if err != nil {
		return err
	}
	if sum.Stopped > 0 {
		return fmt.Errorf("stopped at line %d (--strict)", sum.Stopped)
	}
	return nil
}

// setRules adds m.Rules to a project just created, and waits for the
// project to be resolved again, so that the import merges by them. For a
// project that existed, each of m.Rules must be a rule it has: running the
// same import command again is fine, changing a live project's rules
// from an import is not. It returns the project's enabled rules.
func (m *ImportMain) setRules(ctx context.Context, store *graph.Store, created bool) ([]identity.Rule, error) {
	have, err := store.Rules(ctx, m.Project)
	if err != nil {
		return nil, err
	}
	for _, fields := range m.Rules {
		want := identity.Rule{Name: ruleName(fields), Fields: fields, Enabled: true}.Canonical()
		if slices.ContainsFunc(have, func(r identity.Rule) bool { return r.Enabled && slices.Equal(r.Fields, want.Fields) }) {
			continue
		}
		if !created {
			return nil, fmt.Errorf("project %s exists without the rule %s; -rules only sets the rules of a project that "+
				"-create-project creates (an existing project's rules change with addRule in the API or in the console)", m.Project, want.Name)
		}
		r, err := store.AddRule(ctx, m.Project, want)
		if err != nil {
			return nil, err
		}
		have = append(have, r)
	}
	if created && len(m.Rules) > 0 {
		if err := store.WaitResolved(ctx, m.Project); err != nil {
			return nil, err
		}
	}
	var enabled []identity.Rule
	for _, r := range have {
		if r.Enabled {
			enabled = append(enabled, r)
		}
	}
	return enabled, nil
}

func (m *ImportMain) open() (io.ReadCloser, int64, error) {
	if m.Path == "-" {
		return io.NopCloser(os.Stdin), -1, nil
	}
	f, err := os.Open(m.Path)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, st.Size(), nil
}

// progress draws a bar on a terminal and prints a plain line every few
// seconds otherwise (CI logs, pipes).
func (m *ImportMain) progress(size int64) func(ingest.Progress) {
	rate := func(p ingest.Progress) float64 { return float64(p.Applied) / max(p.Elapsed.Seconds(), 1e-3) }
	if f, ok := m.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		bar := progressbar.NewOptions64(size, progressbar.OptionSetWriter(m.stderr), progressbar.OptionShowBytes(true),
			progressbar.OptionSetPredictTime(true), progressbar.OptionFullWidth(), progressbar.OptionThrottle(200*time.Millisecond))
		return func(p ingest.Progress) {
			bar.Describe(fmt.Sprintf("%d lines, %.0f ops/s", p.Lines, rate(p)))
			_ = bar.Set64(p.Bytes)
		}
	}
	var last time.Duration
	return func(p ingest.Progress) {
		if p.Elapsed-last < 5*time.Second {
			return
		}
		last = p.Elapsed
		eta := ""
		if size > 0 && p.Bytes > 0 {
			eta = fmt.Sprintf(", ETA %s", (time.Duration(float64(p.Elapsed) * float64(size-p.Bytes) / float64(p.Bytes))).Round(time.Second))
		}
		fmt.Fprintf(m.stderr, "import: %d lines, %d applied, %d refused, %.0f ops/s%s\n", p.Lines, p.Applied, p.Refused, rate(p), eta)
	}
}

// noRules is the summary's rules line for a project without an enabled
// rule, whose clients are imported but never merged.
const noRules = "none: nothing will merge until the project has a rule " +
	"(addRule in the API or the console; for a new project, import -create-project -rules 'phone;email')"

func (m *ImportMain) summary(s ingest.Summary, rules []identity.Rule) {
	path := "incremental"
	if s.Bulk {
		path = "batch"
	}
	fmt.Fprintf(m.stdout, "lines read\t%d\napplied\t%d\nrefused\t%d\nvalues refused in applied lines\t%d\nskipped (seen before)\t%d\n",
		s.Lines, s.Applied, s.Refused, s.RefusedValues, s.Skipped)
	fmt.Fprintf(m.stdout, "clients created\t%d\nclients changed\t%d\n", s.NewClients, s.Changed)
	fmt.Fprintf(m.stdout, "multi-contacts\t%d before, %d after\n", s.Before.MultiContacts, s.After.MultiContacts)
	fmt.Fprintf(m.stdout, "clients sharing a multi-contact\t%d before, %d after (%d joined)\nlargest multi-contact\t%d clients\n",
		s.Before.SharedClients, s.After.SharedClients, s.Joined(), s.After.Largest)
	fmt.Fprintf(m.stdout, "events\t%d created, %d merged, %d split\nresolution\t%s\ntime\t%s\n",
		s.Events[identity.EventCreated], s.Events[identity.EventMerged], s.Events[identity.EventSplit], path, s.Duration.Round(time.Millisecond))
	if s.Bulk {
		fmt.Fprintf(m.stdout, "of which resolving\t%s\n", s.Resolution.Round(time.Millisecond))
	}
	names := noRules
	if len(rules) > 0 {
		var ns []string
		for _, r := range rules {
			ns = append(ns, r.Name)
		}
		slices.Sort(ns)
		names = strings.Join(ns, "; ")
	}
	fmt.Fprintf(m.stdout, "rules\t%s\n", names)
}
