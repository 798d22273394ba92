package ingest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/multicontact/multicontact/graph"
	"github.com/multicontact/multicontact/identity"
)

// Defaults of an Importer.
const (
	DefaultBatch   = 1000 // ops per transaction
	DefaultSmall   = 2000 // an import of at most this many lines is resolved incrementally
	DefaultWorkers = 2    // concurrent transactions of a large import
	maxLineBytes   = 1 << 20
	// An import holds at most about this many bytes of lines per batch, and
	// reads at most readAheadBytes ahead to choose its path, whatever its
	// line count: 2,000 lines of a megabyte each would otherwise be held
	// whole. An import past readAheadBytes is large, as one past Small lines.
	batchBytes     = 8 << 20
	readAheadBytes = 16 << 20
)

// Importer reads NDJSON and applies it to a project through the store.
type Importer struct {
	Store  *graph.Store
	Batch  int  // ops per transaction; DefaultBatch when 0
	Small  int  // at most this many lines: incremental resolution; DefaultSmall when 0
	Strict bool // stop at the first refused line
	// Workers is how many transactions a large import runs at once
	// (DefaultWorkers when 0). Ops are spread by client, so each client's
	// ops still apply in file order; a strict or small import uses one.
	Workers int
	// Progress, when set, is called after every batch.
	Progress func(Progress)
	// Refused, when set, is called for every refused line, and for every
	// value refused in a line that applied without it (Applied): in line order
	// with one worker, in line order per client with several.
	Refused func(graph.LineError)
}

// Progress is where an import stands.
type Progress struct {
	Lines, Applied, Refused, Skipped int
	RefusedValues                    int   // values refused in lines that applied without them
	Bytes                            int64 // read so far
	Elapsed                          time.Duration
}

// Summary is what an import did.
type Summary struct {
	Progress
	Bulk       bool // resolved by the batch path
	NewClients int  // clients created
	Changed    int  // existing clients whose identifiers or channel changed
	// Before and After are the project's multi-contacts around the import,
	// the same way for both paths: how many, how many clients share one with
	// someone else, and the largest.
	Before, After graph.Shape
	Events        map[identity.EventType]int // recorded in the project's log during the import
	Stopped       int                        // with Strict: the line it stopped at, else 0
	Duration      time.Duration
	// Resolution is the part of Duration spent resolving after the last
	// write, on the batch path (0 for an incremental import, which
	// resolves as it writes).
	Resolution time.Duration
}

// Joined is how many more clients share a multi-contact with another client
// than before the import: those that joined an existing multi-contact or
// formed a new one of several members.
func (s Summary) Joined() int { return max(0, s.After.SharedClients-s.Before.SharedClients) }

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
	before, err := im.Store.ProjectShape(ctx, project)
	if err != nil {
		return Summary{}, err
	}
	// The events are counted from the project's log: the batch path's
	// re-resolution may be finished by another replica.
	fromSeq, err := im.Store.LastSeq(ctx, project)
	if err != nil {
		return Summary{}, err
	}
	t := &tally{sum: Summary{Events: map[identity.EventType]int{}, Before: before}, im: im, start: start}
	counter := &countingReader{r: r}
	t.bytes = func() int64 { return atomic.LoadInt64(&counter.n) }
	sc := &lineReader{r: bufio.NewReaderSize(counter, 64*1024), max: maxLineBytes}

	// A line the parser refuses travels with the ops, so that it is
	// reported with its batch's refusals, in line order, and so that under
	// Strict the lines before it are written first.
	var pending []item
	pendingBytes := 0
	eof, n := false, 0
	stopReading := false // Strict, and a line was refused
	readOps := func(limit, maxBytes int) error {
		for len(pending) < limit && pendingBytes < maxBytes && !eof && !stopReading {
			if !sc.Scan() {
				eof = true
				if err := sc.Err(); err != nil {
					return fmt.Errorf("line %d: %w", n+1, err)
				}
				return nil
			}
			n++
			t.line()
			var op graph.Op
			var err error
			if sc.tooLong {
				err = identity.Errorf("line", identity.CodeTooLong, "the line is longer than %d bytes", maxLineBytes)
			} else if raw := sc.Bytes(); len(trimSpace(raw)) == 0 {
				continue
			} else if op, err = ParseLine(n, raw); err != nil && op.EventID != "" {
				op.Refusal, err = err, nil // refused by the store, which records its event id
			}
			size := len(sc.Bytes())
			pendingBytes += size
			if err != nil {
				pending = append(pending, item{line: n, refused: err, size: size})
				if im.Strict {
					stopReading = true
					return nil
				}
				continue
			}
			pending = append(pending, item{line: n, op: op, size: size})
		}
		return nil
	}
	// Read ahead to choose the path: a small import is resolved
	// incrementally, a large one by the batch path at the end.
	if err := readOps(small+1, readAheadBytes); err != nil {
		return t.sum, err
	}
	bulk := !eof && !stopReading
	if bulk {
		if err := im.Store.BeginBulk(ctx, project); err != nil {
			if identity.ErrorCode(err) != identity.CodeNotFound {
				// It may have committed (its answer lost): the project is
				// then RUNNING, and resolved in the background as any
				// large import that stopped.
				im.Store.ResolveInBackground(project)
			}
			return t.sum, err
		}
	}
	workers := 1
	if bulk && !im.Strict {
		workers = im.Workers
		if workers <= 0 {
			workers = DefaultWorkers
		}
	}
	w := newWriters(ctx, im.Store, project, workers, graph.WriteOptions{Resolve: !bulk, Strict: im.Strict}, t)
	var readErr error
	for {
		for _, it := range pending {
			w.add(it, batch)
		}
		clear(pending) // the read-ahead's slots must not keep old lines alive
		pending, pendingBytes = pending[:0], 0
		if eof || stopReading || t.stopped() || w.failed() {
			break
		}
		if readErr = readOps(batch, batchBytes); readErr != nil {
			break
		}
	}
	writeErr := w.finish()
	sum := t.snapshot()
	sum.Bulk = bulk
	if err := errors.Join(readErr, writeErr, ctx.Err()); err != nil {
		if bulk { // the batches written are resolved all the same
			im.Store.ResolveInBackground(project)
		}
		return sum, err
	}
	if bulk {
		// A replica that re-resolves the project meanwhile picks the import
		// up too: every batch moved the generation it checks before it
		// finishes. If it stops before that, this store takes over.
		resolving := time.Now()
		err := im.Store.WaitResolved(ctx, project)
		sum.Resolution = time.Since(resolving)
		if err != nil {
			im.Store.ResolveInBackground(project) // the caller stopped waiting, the work goes on
			return sum, fmt.Errorf("resolve the import: %w", err)
		}
	}
	if sum.After, err = im.Store.ProjectShape(ctx, project); err != nil {
		return sum, err
	}
	if sum.Events, err = im.Store.EventCounts(ctx, project, fromSeq); err != nil {
		return sum, err
	}
	sum.Bytes, sum.Duration = t.bytes(), time.Since(start)
	sum.Elapsed = sum.Duration
	return sum, nil
}

// tally is an import's summary, shared by the reader and the writers.
type tally struct {
	mu    sync.Mutex
	sum   Summary
	im    *Importer
	start time.Time
	bytes func() int64
}

func (t *tally) line() {
	t.mu.Lock()
	t.sum.Lines++
	t.mu.Unlock()
}

// stoppedBefore reports whether a strict import stopped at a line before line.
func (t *tally) stoppedBefore(line int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sum.Stopped != 0 && t.sum.Stopped < line
}

func (t *tally) stopped() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sum.Stopped != 0
}

// add counts one batch's result with the lines the parser refused in it,
// reports them in line order, and reports progress. Under Strict, the
// import stops at the first line refused either way, and nothing after
// that line is reported.
func (t *tally) add(res graph.WriteResult, parsed []graph.LineError, strict bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sum.Applied += res.Applied
	t.sum.NewClients += res.NewClients
	t.sum.Changed += res.Changed
	t.sum.Skipped += res.Skipped
	refused := append(slices.Clone(res.Refused), parsed...)
	if strict && len(refused) > 0 {
		stop := slices.MinFunc(refused, func(a, b graph.LineError) int { return a.Line - b.Line }).Line
		if t.sum.Stopped == 0 || stop < t.sum.Stopped {
			t.sum.Stopped = stop
		}
		refused = slices.DeleteFunc(refused, func(e graph.LineError) bool { return e.Line > stop })
	}
	all := append(refused, res.Warnings...)
	slices.SortStableFunc(all, func(a, b graph.LineError) int { return a.Line - b.Line })
	for _, e := range all {
		if e.Applied {
			t.sum.RefusedValues++
		} else {
			t.sum.Refused++
		}
		if t.im.Refused != nil {
			t.im.Refused(e)
		}
	}
	t.sum.Bytes, t.sum.Elapsed = t.bytes(), time.Since(t.start)
	if t.im.Progress != nil {
		t.im.Progress(t.sum.Progress)
	}
}

func (t *tally) snapshot() Summary {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.sum
	s.Events = maps.Clone(t.sum.Events)
	if s.Stopped > 0 { // a strict import's lines end where it stopped, not where its reader was
		s.Lines = min(s.Lines, s.Stopped)
	}
	return s
}

// lineReader reads NDJSON lines as bufio.Scanner's ScanLines does, but
// a line longer than max is read through and flagged (tooLong), so that it
// is refused like any bad line instead of ending the import.
type lineReader struct {
	r       *bufio.Reader
	max     int
	line    []byte
	tooLong bool
	done    bool
	err     error
}

// Scan reads the next line; false at the end of the input or on an error (Err).
func (l *lineReader) Scan() bool {
	if l.done {
		return false
	}
	l.line, l.tooLong = l.line[:0], false
	read := 0
	for {
		chunk, err := l.r.ReadSlice('\n')
		read += len(chunk)
		if !l.tooLong {
			l.line = append(l.line, chunk...)
			if len(l.line) > l.max+2 { // the line, and "\r\n"
				l.line, l.tooLong = l.line[:0], true
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			l.done = true
			if err != io.EOF {
				l.err = err
				return false
			}
			if read == 0 {
				return false
			}
		}
		l.line = bytes.TrimSuffix(bytes.TrimSuffix(l.line, []byte("\n")), []byte("\r"))
		if len(l.line) > l.max {
			l.line, l.tooLong = l.line[:0], true
		}
		return true
	}
}

// Bytes is the line read by Scan, without its end of line; valid until the next Scan.
func (l *lineReader) Bytes() []byte { return l.line }

// Err is the error that ended the input, other than its end.
func (l *lineReader) Err() error { return l.err }

type countingReader struct {
	r io.Reader
	n int64 // atomic: progress reads it from the writers
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	atomic.AddInt64(&c.n, int64(n))
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

// item is one line read: an op, or the parser's refusal of the line.
type item struct {
	line    int
	op      graph.Op
	refused error
	size    int // of the line, in bytes
}

// writers apply ops in batches over a few goroutines, each owning the
// clients that hash to it, so that a client's ops keep their order.
type writers struct {
	ctx    context.Context
	cancel context.CancelFunc
	store  *graph.Store
	proj   string
	opt    graph.WriteOptions
	t      *tally
	parts  [][]item
	bytes  []int // of each part's lines
	queues []chan []item
	wg     sync.WaitGroup

	mu       sync.Mutex
	firstErr error
}

func newWriters(ctx context.Context, store *graph.Store, project string, n int, opt graph.WriteOptions, t *tally) *writers {
	w := &writers{store: store, proj: project, opt: opt, t: t, parts: make([][]item, n), bytes: make([]int, n), queues: make([]chan []item, n)}
	w.ctx, w.cancel = context.WithCancel(ctx)
	for i := range n {
		w.queues[i] = make(chan []item, 1)
		w.wg.Add(1)
		go w.run(w.queues[i])
	}
	return w
}

// add puts an op in its client's part (a refused line in the first) and
// hands the part over when full.
func (w *writers) add(it item, batch int) {
	i := 0
	if len(w.parts) > 1 && it.refused == nil {
		h := fnv.New32a()
		h.Write([]byte(it.op.Target()))
		i = int(h.Sum32() % uint32(len(w.parts)))
	}
	w.parts[i] = append(w.parts[i], it)
	w.bytes[i] += it.size
	if len(w.parts[i]) >= batch || w.bytes[i] >= batchBytes {
		w.send(i)
	}
}

func (w *writers) send(i int) {
	if len(w.parts[i]) > 0 {
		select {
		case w.queues[i] <- w.parts[i]:
		case <-w.ctx.Done():
		}
	}
	w.parts[i], w.bytes[i] = nil, 0
}

func (w *writers) run(queue chan []item) {
	defer w.wg.Done()
	for items := range queue {
		if w.ctx.Err() != nil || w.t.stoppedBefore(items[0].line) {
			continue // drain after a failure, or after the line a strict import stopped at
		}
		var ops []graph.Op
		var parsed []graph.LineError
		for _, it := range items {
			if it.refused != nil {
				parsed = append(parsed, graph.LineError{Line: it.line, Err: it.refused})
			} else {
				ops = append(ops, it.op)
			}
		}
		var res graph.WriteResult
		var err error
		if len(ops) > 0 {
			res, err = w.store.Write(w.ctx, w.proj, ops, w.opt)
		}
		if err != nil {
			w.mu.Lock()
			if w.firstErr == nil {
				w.firstErr = err
			}
			w.mu.Unlock()
			w.cancel()
			continue
		}
		w.t.add(res, parsed, w.opt.Strict)
	}
}

func (w *writers) failed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.firstErr != nil
}

// finish writes what is left, waits for every batch and returns the first
// write error.
func (w *writers) finish() error {
	for i := range w.parts {
		w.send(i)
		close(w.queues[i])
	}
	w.wg.Wait()
	w.cancel()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.firstErr
}
