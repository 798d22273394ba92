package ingest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/multicontact/multicontact/graph"
	"github.com/multicontact/multicontact/identity"
)

// Defaults of an Importer.
const (
	DefaultBatch = 1000 // ops per transaction
	DefaultSmall = 2000 // an import of at most this many lines is resolved incrementally
	maxLineBytes = 1 << 20
)

// Importer reads NDJSON and applies it to a project through the store.
type Importer struct {
	Store  *graph.Store
	Batch  int  // ops per transaction; DefaultBatch when 0
	Small  int  // at most this many lines: incremental resolution; DefaultSmall when 0
	Strict bool // stop at the first refused line
	// Progress, when set, is called after every batch.
	Progress func(Progress)
	// Refused, when set, is called for every refused line, in order.
	Refused func(graph.LineError)
}

// Progress is where an import stands.
type Progress struct {
	Lines, Applied, Refused, Skipped int
	Bytes                            int64 // read so far
	Elapsed                          time.Duration
}

// Summary is what an import did.
type Summary struct {
	Progress
	Bulk     bool // resolved by the batch path
	Events   map[identity.EventType]int
	Stopped  int // with Strict: the line it stopped at, else 0
	Duration time.Duration
}

// Import reads r to its end and applies every line to project. A bad line
// is reported (Refused) and the rest goes on, unless Strict. Re-running an
// interrupted import ends in the same state: lines with event ids are
// applied once, and the others are idempotent writes.
func (im *Importer) Import(ctx context.Context, project string, r io.Reader) (Summary, error) {
	start := time.Now()
	batch, small := im.Batch, im.Small
	if batch <= 0 {
		batch = DefaultBatch
	}
	if small <= 0 {
		small = DefaultSmall
	}
	sum := Summary{Events: map[identity.EventType]int{}}
	counter := &countingReader{r: r}
	sc := bufio.NewScanner(counter)
	sc.Buffer(make([]byte, 64*1024), maxLineBytes)

	// Read ahead up to `small` lines to choose the path.
	var pending []graph.Op
	eof := false
	n := 0
	readOps := func(limit int) error {
		for len(pending) < limit {
			if !sc.Scan() {
				eof = true
				if err := sc.Err(); err != nil {
					return fmt.Errorf("line %d: %w", n+1, err)
				}
				return nil
			}
			n++
			sum.Lines++
			raw := sc.Bytes()
			if len(trimSpace(raw)) == 0 {
				continue
			}
			op, err := ParseLine(n, raw)
			if err != nil {
				im.refuse(&sum, graph.LineError{Line: n, Err: err})
				if im.Strict {
					sum.Stopped = n
					return nil
				}
				continue
			}
			pending = append(pending, op)
		}
		return nil
	}
	if err := readOps(small + 1); err != nil {
		return sum, err
	}
	sum.Bulk = !eof
	if sum.Bulk {
		if err := im.Store.BeginBulk(ctx, project); err != nil {
			return sum, err
		}
	}
	for sum.Stopped == 0 && len(pending) > 0 {
		take := min(batch, len(pending))
		res, err := im.Store.Write(ctx, project, pending[:take], graph.WriteOptions{Resolve: !sum.Bulk, Strict: im.Strict})
		if err != nil {
			return sum, err
		}
		pending = pending[take:]
		sum.Applied += res.Applied
		sum.Skipped += res.Skipped
		for _, e := range res.Refused {
			im.refuse(&sum, e)
		}
		for _, e := range res.Events {
			sum.Events[e.Type]++
		}
		if im.Strict && len(res.Refused) > 0 {
			sum.Stopped = res.Refused[0].Line
			break
		}
		if len(pending) < batch && !eof {
			if err := readOps(batch * 2); err != nil {
				return sum, err
			}
		}
		sum.Bytes, sum.Elapsed = counter.n, time.Since(start)
		if im.Progress != nil {
			im.Progress(sum.Progress)
		}
	}
	if sum.Bulk {
		stats, err := im.Store.Reresolve(ctx, project)
		for t, c := range stats {
			sum.Events[t] += c
		}
		if err != nil {
			return sum, fmt.Errorf("resolve the import: %w", err)
		}
	}
	sum.Bytes, sum.Duration = counter.n, time.Since(start)
	sum.Elapsed = sum.Duration
	return sum, nil
}

func (im *Importer) refuse(sum *Summary, e graph.LineError) {
	sum.Refused++
	if im.Refused != nil {
		im.Refused(e)
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

func asErr[T error](err error, target *T) bool { return errors.As(err, target) }
