package graph

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/identity"
)

// Group commit. Single writes to a project (setAttribute, removeAttribute,
// upsertClient, recordConversation) do not each run a transaction of their
// own: a write that arrives while the project's transaction is in flight
// waits for it and joins the next one, with every other write that arrived
// meanwhile (at most maxGroup). One transaction then validates them in
// order, each against the ones before it, resolves the union of the
// components they touch once, and numbers all their events in one step.
// Every caller still gets its own answer: its refusal, its normalized value,
// its events with its own cause. Nothing is answered before the commit.
//
// Within one process this also means that writes to one project never
// contend for locks with each other: they are applied one group at a time.

// maxGroup bounds the writes of one transaction: enough to amortize the
// round trips, few enough to keep a transaction's locks and memory small.
const maxGroup = 64

// gatherWait bounds how long a group waits, before it starts, for the
// writes that were in flight at the last commit: their callers, answered
// by that commit, are sending their next ones. Without the wait, closed-loop
// callers split into two halves that take turns, each group half the size.
const gatherWait = 2 * time.Millisecond

// groupTimeout bounds one group's transaction, however long its callers wait.
const groupTimeout = time.Minute

// groupFault, set only by tests, can fail a group's transaction just before
// it commits, to show that a transaction run again applies its ops once.
var groupFault func() error

// opRefused, set only by tests, makes a transaction that carries an op it
// names run a statement that Neo4j refuses for its data (no input the
// service accepts makes one today), to show that such a group is split
// write by write.
var opRefused func(op Op) bool

// commitLost, set only by tests, reports a group's transaction as failed
// after it committed, as a COMMIT whose answer never came back would.
var commitLost func(writes int) error

// groups holds, per project, the writes waiting for the next transaction.
type groups struct {
	mu     sync.Mutex
	queues map[string]*groupQueue
}

type groupQueue struct {
	waiting []*groupWrite
	busy    bool          // a goroutine is committing this project's groups
	arrived chan struct{} // a write joined waiting (buffered: never blocks)
}

// groupWrite is one caller's op and, once committed, its outcome.
type groupWrite struct {
	ctx  context.Context
	op   Op
	done chan struct{}

	// Set before done is closed.
	normalized string
	warnings   []error // values the op was applied without
	refused    error   // the op's own refusal
	err        error   // the transaction failed
}

// writeGrouped applies op in the project's next group and returns its
// normalized value and the values it was applied without, or its refusal
// as the error.
func (s *Store) writeGrouped(ctx context.Context, project string, op Op) (string, []error, error) {
	w := &groupWrite{ctx: ctx, op: op, done: make(chan struct{})}
	g := &s.groups
	g.mu.Lock()
	if g.queues == nil {
		g.queues = map[string]*groupQueue{}
	}
	q := g.queues[project]
	if q == nil {
		q = &groupQueue{arrived: make(chan struct{}, 1)}
		g.queues[project] = q
	}
	q.waiting = append(q.waiting, w)
	select {
	case q.arrived <- struct{}{}:
	default:
	}
	if !q.busy {
		q.busy = true
		s.worker.Add(1)
		go s.commitGroups(project, q)
	}
	g.mu.Unlock()

	select {
	case <-w.done:
	case <-ctx.Done():
		// Gone before its group was taken: it is dropped there, never
		// applied. Taken already: it may still commit, like any write
		// whose caller stopped waiting.
		return "", nil, ctx.Err()
	}
	if w.err != nil {
		return "", nil, w.err
	}
	return w.normalized, w.warnings, w.refused
}

// commitGroups commits the project's waiting writes, a group at a time,
// until none is left.
func (s *Store) commitGroups(project string, q *groupQueue) {
	defer s.worker.Done()
	g := &s.groups
	inFlight := 0 // writes waiting or committing when the last group committed
	for {
		s.gather(q, inFlight)
		g.mu.Lock()
		var group []*groupWrite
		for len(q.waiting) > 0 && len(group) < maxGroup {
			w := q.waiting[0]
			q.waiting = q.waiting[1:]
			if w.ctx.Err() == nil {
				group = append(group, w)
			}
		}
		if len(group) == 0 {
			q.busy = false
			delete(g.queues, project)
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		s.commitGroup(project, group)
		g.mu.Lock()
		inFlight = min(len(group)+len(q.waiting), maxGroup)
		g.mu.Unlock()
	}
}

// gather waits, at most gatherWait, until want writes are waiting.
func (s *Store) gather(q *groupQueue, want int) {
	g := &s.groups
	deadline := time.NewTimer(gatherWait)
	defer deadline.Stop()
	for {
		g.mu.Lock()
		n := len(q.waiting)
		g.mu.Unlock()
		if n >= want {
			return
		}
		select {
		case <-q.arrived:
		case <-deadline.C:
			return
		}
	}
}

// commitGroup applies a group in one transaction. When one of its ops
// broke the transaction (a statement refused its data: not a refusal,
// which refuses one op, never the group), each write is tried again alone,
// so that it fails only itself. Any other failure is every write's: Neo4j
// out of reach, time up, or a commit whose outcome is unknown, which may
// have applied the group, so running its writes again could apply one
// twice, or undo a later write of another transaction.
func (s *Store) commitGroup(project string, group []*groupWrite) {
	ctx, cancel := context.WithTimeout(s.bg, groupTimeout)
	defer cancel()
	// Once every caller has stopped waiting, nobody is left to answer: the
	// transaction stops too, instead of retrying on (Neo4j away) while the
	// writes that arrived since wait behind it.
	left := int64(len(group))
	for _, w := range group {
		stop := context.AfterFunc(w.ctx, func() {
			if atomic.AddInt64(&left, -1) == 0 {
				cancel()
			}
		})
		defer stop()
	}
	start := time.Now()
	byOp, err := s.applyGroup(ctx, project, group)
	if s.grouped != nil {
		s.grouped(len(group), time.Since(start))
	}
	if err != nil && byOp && len(group) > 1 {
		for _, w := range group {
			if w.ctx.Err() == nil {
				s.commitGroup(project, []*groupWrite{w})
			} else {
				w.err = w.ctx.Err()
				close(w.done)
			}
		}
		return
	}
	for _, w := range group {
		w.err = err
		close(w.done)
	}
}

// applyGroup is the group's transaction: the ops in arrival order, one
// resolution over everything they touched, events numbered together. On
// failure, byOp says whether an op's data may have caused it: the
// transaction failed in its statements, on an error of a statement's data.
func (s *Store) applyGroup(ctx context.Context, project string, group []*groupWrite) (byOp bool, err error) {
	ops := make([]Op, len(group))
	for i, w := range group {
		ops[i] = w.op
		ops[i].Line = i + 1 // where a refusal comes from
	}
	var res writeResult
	var workErr error // the last run's own error: nil if it failed at COMMIT or before its statements
	events, err := writeTx(ctx, s, func(tx neo4j.ManagedTransaction) (events []identity.Event, err error) {
		defer func() { workErr = err }()
		now := s.now().UTC()
		if res, err = s.writeOps(ctx, tx, project, nil, ops, false, true, now); err != nil {
			return nil, err
		}
		if opRefused != nil && slices.ContainsFunc(ops, opRefused) {
			if err := exec(ctx, tx, `RETURN 1 / $zero AS refused`, map[string]any{"zero": 0}); err != nil {
				return nil, err
			}
		}
		ps := res.ps
		t := res.touched
		if t.empty() {
			return nil, nil
		}
		r := resolution{ctx: ctx, tx: tx, ps: ps, now: now, newID: func() string { return newID("mc") }}
		first := 0 // an event naming none of the ops' clients takes the first applied op's cause
		if len(res.applied) > 0 {
			first = res.applied[0]
		}
		cause := causeOf(ops[first], res.Normalized[first])
		events, err = r.resolve(t, cause)
		if err != nil {
			return nil, err
		}
		events = append(events, r.quarantineEvents(t.quarantined, cause)...)
		attributeCauses(events, ops, res.Normalized, res.applied)
		if groupFault != nil {
			if err := groupFault(); err != nil {
				return nil, err
			}
		}
		return r.commit(events, t.clients, false)
	})
	if err == nil && commitLost != nil {
		err = commitLost(len(group))
	}
	if err != nil {
		return dataError(workErr), err
	}
	s.nudge(project, events)
	for i, w := range group {
		w.normalized = res.Normalized[i]
	}
	for _, r := range res.Refused {
		group[r.Line-1].refused = r.Err
	}
	for _, r := range res.Warnings {
		group[r.Line-1].warnings = append(group[r.Line-1].warnings, r.Err)
	}
	return false, nil
}

// dataError reports whether err is Neo4j refusing a statement for the data
// it was given (a constraint, a value too large for an index, a type), or
// a write that lost a race on one of the clients: errors that one op can
// cause, where an unreachable server or a timeout is every op's.
func dataError(err error) bool {
	if errors.Is(err, errRace) {
		return true
	}
	var n4 *neo4j.Neo4jError
	return errors.As(err, &n4) && (strings.HasPrefix(n4.Code, "Neo.ClientError.Statement.") ||
		strings.HasPrefix(n4.Code, "Neo.ClientError.Schema."))
}

// attributeCauses gives each event of a batch of ops (a group, a small
// import) the cause of the first op that wrote to one of the event's
// clients, among the ops applied (by index: a refused op, or one skipped
// because its event id was seen before, wrote nothing); an event that
// names none of them (a multi-contact deleted) keeps the cause the
// resolution gave it.
func attributeCauses(events []identity.Event, ops []Op, normalized []string, wrote []int) {
	for i := range events {
		for _, o := range wrote {
			if slices.Contains(events[i].ClientIDs, ops[o].Target()) {
				events[i].Cause = causeOf(ops[o], normalized[o])
				break
			}
		}
	}
}
