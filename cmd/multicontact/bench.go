package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/multicontact/multicontact/benchmark"
)

// BenchMain is the `bench` command: the benchmark of the service against
// its performance targets and against what Neo4j itself does on the same
// server in the same run, as one table.
type BenchMain struct {
	Config benchmark.Config
	Out    string // the table is also written here

	stdout, stderr io.Writer
	usageOut       io.Writer // where -h prints the usage; nil is stderr
}

// ParseFlags reads `bench [--clients N] [--seed S] [--out FILE] ...`.
func (m *BenchMain) ParseFlags(args []string, getenv func(string) string) error {
	fs := newFlagSet("bench", m.usageOut, m.stderr)
	c := &m.Config
	neo4jFlags(fs, &c.Neo4j, getenv)
	fs.IntVar(&c.Clients, "clients", 100000, "clients to generate and import")
	fs.Uint64Var(&c.Seed, "seed", 1, "population seed")
	fs.IntVar(&c.Writes, "writes", 2000, "incremental writes per phase")
	fs.IntVar(&c.Reads, "reads", 500, "lookups per reader and query")
	fs.StringVar(&c.Neo4jData, "neo4j-data", getenv("NEO4J_DATA_DIR"), "Neo4j data folder, to report the store's size (NEO4J_DATA_DIR)")
	fs.StringVar(&c.WorkDir, "workdir", os.TempDir(), "folder for the generated population and the service's log")
	fs.StringVar(&m.Out, "out", "bench-result.md", "file to write the table to")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return checkNeo4j(&c.Neo4j, getenv)
}

// Run runs the benchmark and prints the table.
func (m *BenchMain) Run(ctx context.Context) error {
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	m.Config.Binary = bin
	m.Config.Log = func(format string, args ...any) { fmt.Fprintf(m.stderr, "bench: "+format+"\n", args...) }
	start := time.Now()
	rows, err := benchmark.Run(ctx, m.Config)
	var b strings.Builder
	fmt.Fprintf(&b, "| measure (%d clients, seed %d) | service | Neo4j ceiling | ratio | target |\n|---|---|---|---|---|\n",
		m.Config.Clients, m.Config.Seed)
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", r.Measure, r.Value, r.Ceiling, r.Ratio, r.Target)
	}
	fmt.Fprintf(&b, "\n%s, %s, run of %s\n", time.Now().UTC().Format("2006-01-02"), machine(), time.Since(start).Round(time.Second))
	fmt.Fprint(m.stdout, b.String())
	if werr := os.WriteFile(m.Out, []byte(b.String()), 0o644); werr != nil && err == nil {
		err = werr
	}
	return err
}

// machine describes the host in a line: cores and memory.
func machine() string {
	cores := 0
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		cores = strings.Count(string(b), "processor\t:")
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if line, _, ok := strings.Cut(string(b), "\n"); ok {
			mem = strings.Join(strings.Fields(line)[1:], " ")
		}
	}
	return fmt.Sprintf("%d cores, %s memory", cores, mem)
}
