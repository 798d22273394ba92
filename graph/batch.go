package graph

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/identity"
)

// Batch sizes of the re-resolution's writes: big enough to amortize a round
// trip, small enough to keep a transaction's memory low.
const (
	batchClients = 2000
	batchWrites  = 1000
)

// projectLocks serializes re-resolutions of one project within this process.
type projectLocks struct {
	mu    sync.Mutex
	locks map[string]*sync.Mutex
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
// changed (DESIGN §3, batch): it rebuilds the match keys of changed rules,
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
		s.progress(ctx, project, 0.4)
		if err := s.resolveAll(ctx, project, &st); err != nil {
			return st, fmt.Errorf("re-resolve %s: %w", project, err)
		}
		s.progress(ctx, project, 0.9)
		if err := s.repairDirty(ctx, project, &st); err != nil {
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

// roundPause is the wait between two rounds of a re-resolution when the
// first could not finish because the project changed under it.
const roundPause = 500 * time.Millisecond

// ErrResolving says that another store (a replica) is re-resolving the
// project now.
var ErrResolving = errors.New("another replica is re-resolving this project")

// leaseTTL is how long a re-resolution's lease lasts without renewal: a
// replica that dies holding it delays the others by at most this.
const leaseTTL = 60 * time.Second

// lease takes the project's re-resolution lease for this store and renews
// it until the returned release is called.
func (s *Store) lease(ctx context.Context, project string) (release func(), err error) {
	take := func(ctx context.Context) (bool, error) {
		return writeTx(ctx, s, func(tx neo4j.ManagedTransaction) (bool, error) {
			rec, err := single(ctx, tx, `MATCH (p:Project {id: $id})
				WHERE p.resolverLease IS NULL OR p.resolverLease = $me OR p.resolverLeaseUntil < datetime()
				SET p.resolverLease = $me, p.resolverLeaseUntil = datetime() + duration({seconds: $ttl})
				RETURN true AS ok`, map[string]any{"id": project, "me": s.owner, "ttl": int(leaseTTL.Seconds())})
			return rec != nil, err
		})
	}
	ok, err := take(ctx)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrResolving
	}
	renewCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-renewCtx.Done():
				return
			case <-time.After(leaseTTL / 3):
				if ok, err := take(renewCtx); err != nil || !ok {
					s.log.Warn("could not renew the re-resolution lease", "project", project, "err", err)
				}
			}
		}
	}()
	return func() {
		stop()
		<-done
		_, err := writeTx(context.Background(), s, func(tx neo4j.ManagedTransaction) (noResult, error) {
			return noResult{}, exec(context.Background(), tx, `MATCH (p:Project {id: $id}) WHERE p.resolverLease = $me
				REMOVE p.resolverLease, p.resolverLeaseUntil`, map[string]any{"id": project, "me": s.owner})
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
	recheck bool // the cap changed: every key is checked against it again
}

func (s *Store) generation(ctx context.Context, project string) (genState, error) {
	return readTx(ctx, s, func(tx neo4j.ManagedTransaction) (genState, error) {
		rec, err := single(ctx, tx, `MATCH (p:Project {id: $id})
			RETURN coalesce(p.generation, 0) AS gen, p.resolution AS state, coalesce(p.recheckKeys, false) AS recheck`,
			map[string]any{"id": project})
		if err != nil || rec == nil {
			return genState{}, orNotFound(err, "project", project)
		}
		return genState{i64(rec, "gen"), identity.ResolutionState(str(rec, "state")), boolean(rec, "recheck")}, nil
	})
}

// finish sets the project IDLE when no rule or cap changed since gen and no
// client waits for repair; it reports whether it did.
func (s *Store) finish(ctx context.Context, project string, gen int64) (bool, error) {
	return writeTx(ctx, s, func(tx neo4j.ManagedTransaction) (bool, error) {
		// Lock the project first: a writer marks clients dirty under this
		// lock, so the check below sees every mark committed before it.
		if err := exec(ctx, tx, `MATCH (p:Project {id: $id}) SET p.progress = p.progress`, map[string]any{"id": project}); err != nil {
			return false, err
		}
		// IDLE promises that every client has its multi-contact: a client
		// without one (written after the snapshot) is resolved by the next round.
		rec, err := single(ctx, tx, `MATCH (p:Project {id: $id})
			WHERE coalesce(p.generation, 0) = $gen AND NOT EXISTS { MATCH (c:Client {project: $id, dirty: true}) }
				AND NOT EXISTS { MATCH (c:Client {project: $id}) WHERE c.mc IS NULL }
			SET p.resolution = 'IDLE', p.progress = 1.0, p.recheckKeys = false
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

// rebuildKeys deletes the keys of every stale rule and builds them again
// for the enabled ones from the clients' values; then it re-checks every
// key against the cap when the cap changed.
func (s *Store) rebuildKeys(ctx context.Context, project string, all bool) error {
	type staleRule struct {
		rule    identity.Rule
		removed bool
	}
	stale, err := readTx(ctx, s, func(tx neo4j.ManagedTransaction) ([]staleRule, error) {
		recs, err := collect(ctx, tx, `MATCH (r:Rule {project: $project, stale: true})
			RETURN r {.id, .name, .fields, .enabled, .requireVerified} AS rule, coalesce(r.removed, false) AS removed`,
			map[string]any{"project": project})
		var out []staleRule
		for _, rec := range recs {
			m, _ := rec.AsMap()["rule"].(map[string]any)
			out = append(out, staleRule{decodeRule(m), boolean(rec, "removed")})
		}
		return out, err
	})
	if err != nil {
		return err
	}
	for _, sr := range stale {
		if err := s.deleteKeys(ctx, project, sr.rule.ID); err != nil {
			return err
		}
		if sr.rule.Enabled && !sr.removed {
			if err := s.buildKeys(ctx, project, sr.rule); err != nil {
				return err
			}
		}
		if _, err := writeTx(ctx, s, func(tx neo4j.ManagedTransaction) (noResult, error) {
			return noResult{}, exec(ctx, tx, `MATCH (r:Rule {project: $project, id: $id})
				FOREACH (_ IN CASE WHEN r.removed THEN [1] ELSE [] END | DELETE r)
				REMOVE r.stale`, map[string]any{"project": project, "id": sr.rule.ID})
		}); err != nil {
			return err
		}
	}
	var rebuilt []string
	for _, sr := range stale {
		rebuilt = append(rebuilt, sr.rule.ID)
	}
	if !all && len(rebuilt) == 0 {
		return nil
	}
	return s.recheckQuarantine(ctx, project, all, rebuilt)
}

// deleteKeys removes a rule's keys in batches.
func (s *Store) deleteKeys(ctx context.Context, project, rule string) error {
	for {
		n, err := writeTx(ctx, s, func(tx neo4j.ManagedTransaction) (int64, error) {
			rec, err := single(ctx, tx, `MATCH (k:MatchKey {project: $project, rule: $rule})
				WITH k LIMIT $n DETACH DELETE k RETURN count(*) AS n`,
				map[string]any{"project": project, "rule": rule, "n": batchWrites})
			return i64(rec, "n"), err
		})
		if err != nil || n == 0 {
			return err
		}
	}
}

// buildKeys computes a rule's keys for the clients that hold a value of
// its first field (only they can have a key), page by page, and writes
// them. Quarantine is decided afterwards.
func (s *Store) buildKeys(ctx context.Context, project string, rule identity.Rule) error {
	acceptWidget, err := s.acceptsUnverifiedWidgetValues(ctx, project)
	if err != nil {
		return err
	}
	candidates, err := readTx(ctx, s, func(tx neo4j.ManagedTransaction) ([]string, error) {
		var ids []string
		err := stream(ctx, tx, `MATCH (:Value {project: $project, field: $field})<-[:HAS]-(c:Client)
			RETURN DISTINCT c.id AS id`, map[string]any{"project": project, "field": rule.Fields[0]},
			func(rec *neo4j.Record) { ids = append(ids, str(rec, "id")) })
		return ids, err
	})
	if err != nil {
		return err
	}
	slices.Sort(candidates)
	for len(candidates) > 0 {
		page := candidates[:min(batchClients, len(candidates))]
		candidates = candidates[len(page):]
		rows, err := readTx(ctx, s, func(tx neo4j.ManagedTransaction) ([]map[string]any, error) {
			recs, err := collect(ctx, tx, `UNWIND $ids AS id
				MATCH (c:Client {project: $project, id: id}) WHERE NOT coalesce(c.excluded, false)
				RETURN c.id AS id,
					[(c)-[h:HAS]->(v:Value) WHERE v.field IN $fields AND NOT v.blocked |
						{field: v.field, value: v.value, verified: h.verified, source: h.source}] AS values`,
				map[string]any{"project": project, "ids": page, "fields": rule.Fields})
			var rows []map[string]any
			for _, rec := range recs {
				vals := identity.LinkingValues(valuesOf(rec), acceptWidget)
				if keys, _ := identity.MatchKeys(rule, vals); len(keys) > 0 {
					rows = append(rows, map[string]any{"id": str(rec, "id"), "keys": keys})
				}
			}
			return rows, err
		})
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			continue
		}
		if _, err := writeTx(ctx, s, func(tx neo4j.ManagedTransaction) (noResult, error) {
			return noResult{}, exec(ctx, tx, `UNWIND $rows AS r
				MATCH (c:Client {project: $project, id: r.id})
				UNWIND r.keys AS key
				MERGE (k:MatchKey {project: $project, rule: $rule, key: key})
				ON CREATE SET k.quarantined = false, k.allowed = false
				MERGE (c)-[:MATCHES]->(k)`,
				map[string]any{"project": project, "rule": rule.ID, "rows": rows})
		}); err != nil {
			return err
		}
	}
	return nil
}

// recheckQuarantine quarantines the keys over the cap and frees those at or
// under it (an admin raised the cap): all keys when the cap changed, else
// those of the rebuilt rules.
func (s *Store) recheckQuarantine(ctx context.Context, project string, all bool, rules []string) error {
	return s.autocommit(ctx, `MATCH (p:Project {id: $project})
		MATCH (k:MatchKey {project: $project}) WHERE $all OR k.rule IN $rules
		CALL {
			WITH p, k
			WITH k, COUNT { (k)<-[:MATCHES]-() } > p.keyCap AND NOT k.allowed AS over
			SET k.quarantinedAt = CASE WHEN over AND NOT k.quarantined THEN datetime() ELSE k.quarantinedAt END,
				k.quarantined = over
		} IN TRANSACTIONS OF 5000 ROWS`,
		map[string]any{"project": project, "all": all, "rules": rules})
}

// snapshot is the whole project as the batch union-find sees it. Per-client
// data is kept in slices by the union-find's index, not in maps, so that a
// project of a million clients fits in little memory.
type snapshot struct {
	uf      *identity.UnionFind
	created []int64  // unix ms, by client index
	mc      []string // multi-contact id, by client index ("" for none yet)
}

// readSnapshot streams the project's clients, linking keys and manual
// links once, uniting as it reads.
func (s *Store) readSnapshot(ctx context.Context, project string) (*snapshot, error) {
	return readTx(ctx, s, func(tx neo4j.ManagedTransaction) (*snapshot, error) {
		snap := &snapshot{uf: identity.NewUnionFind()}
		p := map[string]any{"project": project}
		err := stream(ctx, tx, `MATCH (c:Client {project: $project}) RETURN c.id AS id, c.createdAt AS createdAt, c.mc AS mc`, p,
			func(rec *neo4j.Record) {
				snap.uf.Index(str(rec, "id"))
				snap.created = append(snap.created, when(rec, "createdAt").UnixMilli())
				snap.mc = append(snap.mc, str(rec, "mc"))
			})
		if err == nil {
			err = stream(ctx, tx, `MATCH (k:MatchKey {project: $project}) WHERE NOT k.quarantined
				WITH k WHERE COUNT { (k)<-[:MATCHES]-() } > 1
				RETURN [(k)<-[:MATCHES]-(c:Client) | c.id] AS ids`, p,
				func(rec *neo4j.Record) {
					ids := strs(rec, "ids")
					first := snap.uf.Index(ids[0])
					for _, id := range ids[1:] {
						snap.uf.UnionIndex(first, snap.uf.Index(id))
					}
				})
		}
		if err == nil {
			err = stream(ctx, tx, `MATCH (a:Client {project: $project})-[:LINKED]->(b:Client)
				WHERE NOT coalesce(a.excluded, false) AND NOT coalesce(b.excluded, false)
				RETURN a.id AS a, b.id AS b`, p,
				func(rec *neo4j.Record) { snap.uf.Union(str(rec, "a"), str(rec, "b")) })
		}
		if err == nil && snap.uf.Len() != len(snap.mc) {
			// A key or link named a client the first read did not see:
			// written meanwhile; it is dirty and the repair pass resolves it.
			snap.mc = append(snap.mc, make([]string, snap.uf.Len()-len(snap.mc))...)
			snap.created = append(snap.created, make([]int64, snap.uf.Len()-len(snap.created))...)
		}
		return snap, err
	})
}

// stream runs q and hands each record to fn as it arrives.
func stream(ctx context.Context, tx neo4j.ManagedTransaction, q string, params map[string]any, fn func(*neo4j.Record)) error {
	res, err := tx.Run(ctx, q, params)
	if err != nil {
		return err
	}
	for res.Next(ctx) {
		fn(res.Record())
	}
	return res.Err()
}

// changedGroups returns the components whose multi-contact ids must
// change, grouped so that the components sharing an old id are written
// (and reported) together. A component changes unless all its members
// hold one id that no client outside it holds: in a re-resolution after a
// rule change, almost all components keep theirs and cost nothing more.
func (snap *snapshot) changedGroups() [][][]string {
	n := int32(snap.uf.Len())
	first := make([]int32, n) // by root: its first member, or -1
	for i := range first {
		first[i] = -1
	}
	changed := make([]bool, n) // by root
	for i := range n {
		r := snap.uf.Root(i)
		switch {
		case first[r] < 0:
			first[r] = i
			changed[r] = changed[r] || snap.mc[i] == ""
		case snap.mc[i] != snap.mc[first[r]] || snap.mc[i] == "":
			changed[r] = true
		}
	}
	// An old id held in several components: each of them changes.
	byMC := make([]int32, 0, n)
	for i := range n {
		if snap.mc[i] != "" {
			byMC = append(byMC, i)
		}
	}
	slices.SortFunc(byMC, func(a, b int32) int { return strings.Compare(snap.mc[a], snap.mc[b]) })
	for lo := 0; lo < len(byMC); {
		hi := lo + 1
		for hi < len(byMC) && snap.mc[byMC[hi]] == snap.mc[byMC[lo]] {
			hi++
		}
		r := snap.uf.Root(byMC[lo])
		for _, i := range byMC[lo+1 : hi] {
			if rr := snap.uf.Root(i); rr != r {
				changed[r], changed[rr] = true, true
			}
		}
		lo = hi
	}
	// Members of the changed roots, grouped by root without a map: sort the
	// changed clients by root.
	var members []int32
	for i := range n {
		if changed[snap.uf.Root(i)] {
			members = append(members, i)
		}
	}
	slices.SortFunc(members, func(a, b int32) int { return cmp.Compare(snap.uf.Root(a), snap.uf.Root(b)) })
	// Join the components that share an old id: a union-find over the
	// changed roots, keyed by the first component seen with each old id.
	group := identity.NewUnionFind()
	firstWith := map[string]string{} // old id -> a member of the first component holding it
	var comps [][]string
	for lo := 0; lo < len(members); {
		r := snap.uf.Root(members[lo])
		hi := lo
		comp := []string{}
		for hi < len(members) && snap.uf.Root(members[hi]) == r {
			comp = append(comp, snap.uf.ID(members[hi]))
			hi++
		}
		slices.Sort(comp)
		comps = append(comps, comp)
		group.Index(comp[0])
		for _, i := range members[lo:hi] {
			if mc := snap.mc[i]; mc != "" {
				if other, ok := firstWith[mc]; ok {
					group.Union(comp[0], other)
				} else {
					firstWith[mc] = comp[0]
				}
			}
		}
		lo = hi
	}
	byGroup := map[string]int{}
	var out [][][]string
	for _, comp := range comps {
		g := group.Find(comp[0])
		at, ok := byGroup[g]
		if !ok {
			at = len(out)
			byGroup[g] = at
			out = append(out, nil)
		}
		out[at] = append(out[at], comp)
	}
	return out
}

// resolveAll recomputes every component of the project and writes the
// changes in batches. Each batch locks the old multi-contacts it rewrites,
// checks that their members are still those of the snapshot, and only then
// decides the ids (AssignIDs on what it locked); where an incremental
// writer moved members meanwhile, it leaves them to the repair pass (their
// clients are dirty).
func (s *Store) resolveAll(ctx context.Context, project string, st *ResolveStats) error {
	snap, err := s.readSnapshot(ctx, project)
	if err != nil {
		return err
	}
	groups := snap.changedGroups()
	cause := identity.Cause{Kind: identity.CauseRuleChange, Action: "reresolve"}
	var batch [][][]string
	size := 0
	for i, g := range groups {
		batch = append(batch, g)
		for _, comp := range g {
			size += len(comp)
		}
		if size >= batchWrites || i == len(groups)-1 {
			if err := s.writeBatch(ctx, project, batch, snap, cause, st); err != nil {
				return err
			}
			batch, size = nil, 0
		}
	}
	return nil
}

// writeBatch gives new ids to some groups of components in one transaction.
func (s *Store) writeBatch(ctx context.Context, project string, groups [][][]string, snap *snapshot, cause identity.Cause, st *ResolveStats) error {
	events, err := writeTx(ctx, s, func(tx neo4j.ManagedTransaction) ([]identity.Event, error) {
		ps, err := loadProject(ctx, tx, project)
		if err != nil {
			return nil, err
		}
		r := resolution{ctx: ctx, tx: tx, ps: ps, now: s.now().UTC(), newID: func() string { return newID("mc") }}
		// What the snapshot says: each client's old id, and the holders of each old id.
		var ids, oldIDs []string
		held := map[string]int{}
		for _, g := range groups {
			for _, comp := range g {
				for _, id := range comp {
					ids = append(ids, id)
					if mc := snap.mc[snap.uf.Index(id)]; mc != "" {
						if held[mc] == 0 {
							oldIDs = append(oldIDs, mc)
						}
						held[mc]++
					}
				}
			}
		}
		locked, aliases := map[string]identity.MCInfo{}, map[string]bool{}
		if err := r.lock(oldIDs, locked, aliases); err != nil {
			return nil, err
		}
		// What the graph says now, under the locks: the clients' own too, as
		// one that had no multi-contact in the snapshot is guarded by none.
		recs, err := collect(ctx, tx, `CALL {
				UNWIND $ids AS id MATCH (c:Client {project: $project, id: id}) RETURN c
				UNION
				UNWIND $mcs AS mc MATCH (c:Client {project: $project, mc: mc}) RETURN c
			}
			SET c.locked = true REMOVE c.locked
			WITH c
			RETURN c.id AS id, c.mc AS mc, c.createdAt AS createdAt`,
			map[string]any{"project": project, "ids": ids, "mcs": oldIDs})
		if err != nil {
			return nil, err
		}
		members := make(map[string]identity.Member, len(recs))
		now := map[string]int{}
		for _, rec := range recs {
			m := identity.Member{ID: str(rec, "id"), MC: str(rec, "mc"), CreatedAt: when(rec, "createdAt").UnixMilli()}
			members[m.ID] = m
			now[m.MC]++
		}
		var comps [][]string
		for _, g := range groups {
			if s.groupMoved(g, snap, members, now, held, locked) {
				continue // the repair pass resolves it
			}
			comps = append(comps, g...)
		}
		as := identity.AssignIDs(comps, members, locked, r.newID)
		old := map[string]identity.MCInfo{}
		for _, a := range as {
			for _, id := range a.Previous {
				old[id] = locked[id]
			}
		}
		if err := r.write(as, members, old); err != nil {
			return nil, err
		}
		events := deriveEvents(project, as, members, old, nil, cause, r.now)
		return commitEvents(ctx, tx, project, events, nil, false, r.now)
	})
	if err != nil {
		return err
	}
	st.add(events)
	s.nudge(project, events)
	return nil
}

// groupMoved reports whether a group's clients or old ids changed since the
// snapshot: a client gone or in another multi-contact, or an old id with
// other holders now.
func (s *Store) groupMoved(g [][]string, snap *snapshot, members map[string]identity.Member, now, held map[string]int, locked map[string]identity.MCInfo) bool {
	for _, comp := range g {
		for _, id := range comp {
			m, ok := members[id]
			want := snap.mc[snap.uf.Index(id)]
			if !ok || m.MC != want {
				return true
			}
			if want != "" {
				if _, live := locked[want]; !live || now[want] != held[want] {
					return true
				}
			}
		}
	}
	return false
}

// repairDirty resolves again, in small batches, the clients written while
// the project re-resolved.
func (s *Store) repairDirty(ctx context.Context, project string, st *ResolveStats) error {
	cause := identity.Cause{Kind: identity.CauseRuleChange, Action: "reresolve"}
	for {
		ids, err := readTx(ctx, s, func(tx neo4j.ManagedTransaction) ([]string, error) {
			recs, err := collect(ctx, tx, `MATCH (c:Client {project: $project, dirty: true}) RETURN c.id AS id LIMIT 100`,
				map[string]any{"project": project})
			var ids []string
			for _, rec := range recs {
				ids = append(ids, str(rec, "id"))
			}
			return ids, err
		})
		if err != nil || len(ids) == 0 {
			return err
		}
		events, err := s.applyChange(ctx, project, cause, true, func(context.Context, neo4j.ManagedTransaction, *projectState) (touched, error) {
			return touched{clients: ids}, nil
		})
		if err != nil {
			return err
		}
		st.add(events)
	}
}

// WaitResolved waits until the project is IDLE: after an import whose
// re-resolution another store (a replica, or this one's background work)
// took over, so that the import answers only once its data is resolved.
func (s *Store) WaitResolved(ctx context.Context, project string) error {
	for {
		g, err := s.generation(ctx, project)
		if err != nil || g.state != identity.ResolutionRunning {
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
