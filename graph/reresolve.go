package graph

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/identity"
)

// projectLocks serializes re-resolutions of one project within this
// process, and counts those started in the background.
type projectLocks struct {
	mu      sync.Mutex
	locks   map[string]*sync.Mutex
	pending map[string]int // background re-resolutions started and not ended
}

func (l *projectLocks) background(project string, delta int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pending == nil {
		l.pending = map[string]int{}
	}
	if l.pending[project] += delta; l.pending[project] == 0 {
		delete(l.pending, project)
	}
}

func (l *projectLocks) inBackground(project string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pending[project] > 0
}

func (l *projectLocks) get(project string) *sync.Mutex {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.locks == nil {
		l.locks = map[string]*sync.Mutex{}
	}
	if l.locks[project] == nil {
		l.locks[project] = &sync.Mutex{}
	}
	return l.locks[project]
}

// Reresolve brings a RUNNING project back to IDLE after rules or caps
// changed (docs/architecture.md §6): it rebuilds the match keys of changed rules,
// re-checks quarantines, recomputes every component with one union-find in
// Go, writes the ids that changed, resolves again the clients written to
// meanwhile, and sets the state IDLE once nothing changed under it. Writes
// go on while it runs. It does nothing for an IDLE project.
//
// Replicas of the service share the work through a lease on the project
// node: while another store holds it, Reresolve returns ErrResolving at once
// (that store finishes the work, including changes made meanwhile).
func (s *Store) Reresolve(ctx context.Context, project string) (ResolveStats, error) {
	mu := s.batches.get(project)
	mu.Lock()
	defer mu.Unlock()
	var st ResolveStats
	g, err := s.generation(ctx, project)
	if err != nil || g.state != identity.ResolutionRunning {
		return st, err
	}
	release, err := s.lease(ctx, project)
	if err != nil {
		return st, err
	}
	defer release()
	for {
		g, err := s.generation(ctx, project)
		if err != nil || g.state != identity.ResolutionRunning {
			return st, err
		}
		if err := s.rebuildKeys(ctx, project, g.recheck); err != nil {
			return st, fmt.Errorf("rebuild keys of %s: %w", project, err)
		}
		cause := roundCause(g.rules, g.recheck)
		s.progress(ctx, project, 0.4)
		if err := s.resolveAll(ctx, project, cause, &st); err != nil {
			return st, fmt.Errorf("re-resolve %s: %w", project, err)
		}
		s.progress(ctx, project, 0.9)
		if err := s.repairDirty(ctx, project, cause, &st); err != nil {
			return st, fmt.Errorf("repair %s: %w", project, err)
		}
		done, err := s.finish(ctx, project, g.gen)
		if err != nil || done {
			return st, err
		}
		// Something changed under this round (an import still writing, a
		// rule change): let it settle a little before reading again.
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(roundPause):
		}
	}
}

// roundCause is the cause of a round's events, from what changed since
// the project was last IDLE (kept on the project, so a round run again
// after a failure, or by another replica, says the same): rules (the rule
// is named when it alone changed), the cap, or else neither: clients
// written without being resolved (a large import).
func roundCause(rules []string, capChanged bool) identity.Cause {
	c := identity.Cause{Kind: identity.CauseRuleChange, Action: "reresolve"}
	switch {
	case len(rules) == 0 && !capChanged:
		c.Kind = identity.CauseClient
	case len(rules) == 1 && rules[0] != everyRule && !capChanged:
		c.Rule = rules[0]
	}
	return c
}

// everyRule stands in Project.changedRules for a change of every rule's
// keys (the widget switch).
const everyRule = "*"

// roundPause is the wait between two rounds of a re-resolution when the
// first could not finish because the project changed under it.
const roundPause = 500 * time.Millisecond

// ErrResolving says that another store (a replica) is re-resolving the
// project now.
var ErrResolving = errors.New("another replica is re-resolving this project")

// leaseOf is the token of the project's lease this store holds, or one
// that matches no lease.
func (s *Store) leaseOf(project string) string {
	if t, ok := s.leases.Load(project); ok {
		return t.(string)
	}
	return "none"
}

// leaseTTL is how long a re-resolution's lease lasts without renewal: a
// replica that dies holding it delays the others by at most this.
const leaseTTL = 60 * time.Second

// lookAgain is how often a store that found the lease taken tries to take
// it again: a holder that stops normally releases it at once.
const lookAgain = 5 * time.Second

// lease takes the project's re-resolution lease for this store and renews
// it until the returned release is called. Each lease is a token of its
// own (the store's name and a fresh id): a renewal only extends the lease
// it took, never takes one that lapsed or was released meanwhile, so a
// round whose lease another store held in between cannot pass for the
// holder again (commit and finish check the token).
func (s *Store) lease(ctx context.Context, project string) (release func(), err error) {
	token := s.owner + "/" + newID("lease")
	take := func(ctx context.Context, first bool) (bool, error) {
		return writeTx(ctx, s, func(tx neo4j.ManagedTransaction) (bool, error) {
			rec, err := single(ctx, tx, `MATCH (p:Project {id: $id})
				WHERE p.resolverLease = $token OR $first AND (p.resolverLease IS NULL OR p.resolverLeaseUntil < datetime())
				SET p.resolverLease = $token, p.resolverLeaseUntil = datetime() + duration({seconds: $ttl})
				RETURN true AS ok`, map[string]any{"id": project, "token": token, "first": first, "ttl": int(leaseTTL.Seconds())})
			return rec != nil, err
		})
	}
	ok, err := take(ctx, true)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrResolving
	}
	s.leases.Store(project, token)
	renewCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-renewCtx.Done():
				return
			case <-time.After(leaseTTL / 3):
				if ok, err := take(renewCtx, false); err != nil || !ok {
					s.log.Warn("could not renew the re-resolution lease", "project", project, "err", err)
				}
			}
		}
	}()
	return func() {
		stop()
		<-done
		s.leases.CompareAndDelete(project, token)
		_, err := writeTx(context.Background(), s, func(tx neo4j.ManagedTransaction) (noResult, error) {
			return noResult{}, exec(context.Background(), tx, `MATCH (p:Project {id: $id}) WHERE p.resolverLease = $token
				REMOVE p.resolverLease, p.resolverLeaseUntil`, map[string]any{"id": project, "token": token})
		})
		if err != nil {
			s.log.Warn("could not release the re-resolution lease; it expires by itself", "project", project, "err", err)
		}
	}, nil
}

// ResolveStats counts the events of a re-resolution by type.
type ResolveStats map[identity.EventType]int

func (st *ResolveStats) add(events []identity.Event) {
	if *st == nil {
		*st = ResolveStats{}
	}
	for _, e := range events {
		(*st)[e.Type]++
	}
}

// genState is where a project's re-resolution stands.
type genState struct {
	gen     int64 // counts rule and cap changes
	state   identity.ResolutionState
	recheck bool     // the cap changed: every key is checked against it again
	rules   []string // the rules changed since the project was last IDLE ("*": every rule's keys)
}

func (s *Store) generation(ctx context.Context, project string) (genState, error) {
	return readTx(ctx, s, func(tx neo4j.ManagedTransaction) (genState, error) {
		rec, err := single(ctx, tx, `MATCH (p:Project {id: $id})
			RETURN coalesce(p.generation, 0) AS gen, p.resolution AS state, coalesce(p.recheckKeys, false) AS recheck,
				coalesce(p.changedRules, []) AS rules`,
			map[string]any{"id": project})
		if err != nil || rec == nil {
			return genState{}, orNotFound(err, "project", project)
		}
		return genState{i64(rec, "gen"), identity.ResolutionState(str(rec, "state")), boolean(rec, "recheck"), dedupe(strs(rec, "rules"))}, nil
	})
}

// finish sets the project IDLE when no rule or cap changed since gen and no
// client waits for repair; it reports whether it did.
func (s *Store) finish(ctx context.Context, project string, gen int64) (bool, error) {
	return writeTx(ctx, s, func(tx neo4j.ManagedTransaction) (bool, error) {
		// Lock the project first: a writer marks clients dirty under this
		// lock, so the check below sees every mark committed before it.
		// A store whose lease lapsed (it could not renew it, Neo4j away)
		// and was taken by another may not finish: the other works on it.
		rec, err := single(ctx, tx, `MATCH (p:Project {id: $id}) SET p.progress = p.progress
			RETURN p.resolverLease = $token AS mine`, map[string]any{"id": project, "token": s.leaseOf(project)})
		if err != nil {
			return false, err
		}
		if rec == nil || !boolean(rec, "mine") {
			return false, ErrResolving
		}
		// IDLE promises that every client has its multi-contact: a client
		// without one (written after the snapshot) is resolved by the next round.
		rec, err = single(ctx, tx, `MATCH (p:Project {id: $id})
			WHERE coalesce(p.generation, 0) = $gen AND NOT EXISTS { MATCH (c:Client {project: $id, dirty: true}) }
				AND NOT EXISTS { MATCH (c:Client {project: $id}) WHERE c.mc IS NULL }
			SET p.resolution = 'IDLE', p.progress = 1.0, p.recheckKeys = false
			REMOVE p.changedRules
			RETURN true AS done`, map[string]any{"id": project, "gen": gen})
		return rec != nil, err
	})
}

func (s *Store) progress(ctx context.Context, project string, p float64) {
	_, err := writeTx(ctx, s, func(tx neo4j.ManagedTransaction) (noResult, error) {
		return noResult{}, exec(ctx, tx, `MATCH (p:Project {id: $id}) WHERE p.resolution = 'RUNNING' SET p.progress = $p`,
			map[string]any{"id": project, "p": p})
	})
	if err != nil {
		s.log.Warn("record progress", "project", project, "err", err)
	}
}

// WaitResolved brings the project to IDLE and returns once it is: it
// re-resolves the project itself, or, while another store (a replica, a
// process that resumed it) holds the lease, waits and tries again, so that
// the work is taken over as soon as that store lets go of it, whether it
// finished, failed or exited. An import waits here so that it answers only
// once its data is resolved.
func (s *Store) WaitResolved(ctx context.Context, project string) error {
	for {
		_, err := s.Reresolve(ctx, project)
		if !errors.Is(err, ErrResolving) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(roundPause):
		}
	}
}

// Shape is how a project's clients group into multi-contacts.
type Shape struct {
	MultiContacts int // live multi-contacts
	SharedClients int // clients in a multi-contact of more than one member
	Largest       int // members of the largest multi-contact
}

// ProjectShape counts the project's multi-contacts, the clients that share
// one with another client, and the largest; an import reports it before and
// after.
func (s *Store) ProjectShape(ctx context.Context, project string) (Shape, error) {
	return readTx(ctx, s, func(tx neo4j.ManagedTransaction) (Shape, error) {
		rec, err := single(ctx, tx, `MATCH (m:MultiContact {project: $project}) WHERE m.size > 0
			RETURN count(m) AS mcs, sum(CASE WHEN m.size > 1 THEN m.size ELSE 0 END) AS shared, max(m.size) AS largest`,
			map[string]any{"project": project})
		if err != nil || rec == nil {
			return Shape{}, err
		}
		return Shape{MultiContacts: int(i64(rec, "mcs")), SharedClients: int(i64(rec, "shared")), Largest: int(i64(rec, "largest"))}, nil
	})
}
