// Command multicontact runs the Multicontact identity-resolution service.
//
//	multicontact serve     the HTTP service (GraphQL API, health, metrics)
//	multicontact import    NDJSON identity events into a project
//	multicontact gen       a realistic population as NDJSON, for tests and benchmarks
//	multicontact bench     the benchmark: import, re-resolution, writes and lookups, one table
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
	if err := Run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "multicontact:", err)
		}
		os.Exit(1)
	}
}

// Run runs one subcommand until it finishes or ctx is cancelled.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: multicontact serve|import|gen|bench [flags]")
		return flag.ErrHelp
	}
	logger := slog.New(slog.NewJSONHandler(stderr, nil))
	switch args[0] {
	case "serve":
		m := NewServeMain(logger)
		if err := m.ParseFlags(args[1:], os.Getenv); err != nil {
			return err
		}
		if err := m.Run(ctx); err != nil {
			return err
		}
		<-ctx.Done()
		return m.Close()
	case "import":
		m := &ImportMain{stdout: stdout, stderr: stderr, log: logger}
		if err := m.ParseFlags(args[1:], os.Getenv); err != nil {
			return err
		}
		return m.Run(ctx)
	case "gen":
		m := &GenMain{stdout: stdout, stderr: stderr}
		if err := m.ParseFlags(args[1:]); err != nil {
			return err
		}
		return m.Run()
	case "bench":
		m := &BenchMain{stdout: stdout, stderr: stderr}
		if err := m.ParseFlags(args[1:], os.Getenv); err != nil {
			return err
		}
		return m.Run(ctx)
	default:
		return fmt.Errorf("unknown command %q (want serve, import, gen or bench)", args[0])
	}
}
