package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/multicontact/multicontact/population"
)

// GenMain is the `gen` command: a realistic population as NDJSON, with each
// client's true person in a side file.
type GenMain struct {
	Config    population.Config
	Out       string // "-" is stdout
	TruthPath string // "" writes none

	stdout, stderr io.Writer
	usageOut       io.Writer // where -h prints the usage; nil is stderr
}

// ParseFlags reads `gen --clients N --seed S [--out FILE] [--truth FILE]`.
func (m *GenMain) ParseFlags(args []string) error {
	fs := newFlagSet("gen", m.usageOut, m.stderr)
	fs.IntVar(&m.Config.Clients, "clients", 10000, "clients to generate")
	fs.Uint64Var(&m.Config.Seed, "seed", 1, "seed: the same seed gives the same file")
	fs.StringVar(&m.Out, "out", "-", "NDJSON output file, - for stdout")
	fs.StringVar(&m.TruthPath, "truth", "", "side file of client id<TAB>person id")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if m.Config.Clients < 0 {
		return errors.New("--clients must not be negative")
	}
	return nil
}

// Run writes the population.
func (m *GenMain) Run() (err error) {
	out := m.stdout
	if m.Out != "-" {
		f, err := os.Create(m.Out)
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, f.Close()) }()
		out = f
	}
	bw := bufio.NewWriterSize(out, 1<<20)
	var truth *bufio.Writer
	if m.TruthPath != "" {
		f, err := os.Create(m.TruthPath)
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, f.Close()) }()
		truth = bufio.NewWriterSize(f, 1<<20)
	}
	var tw io.Writer
	if truth != nil {
		tw = truth
	}
	st, err := population.Write(bw, tw, m.Config)
	if err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if truth != nil {
		if err := truth.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintf(m.stderr, "gen: %d lines, %d clients of %d persons, %d identifiers, %d conversations\n",
		st.Lines, st.Clients, st.Persons, st.Attributes, st.Conversations)
	return nil
}
