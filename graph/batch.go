package graph

import (
	"context"
	"fmt"
	"sync"

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
func (s *Store) Reresolve(ctx context.Context, project string) (ResolveStats, error) {
	mu := s.batches.get(project)
	mu.Lock()
	defer mu.Unlock()
	var st ResolveStats
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
	}
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
	return readT(ctx, s, func(tx neo4j.ManagedTransaction) (genState, error) {
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
	return writeT(ctx, s, func(tx neo4j.ManagedTransaction) (bool, error) {
		// Lock the project first: a writer marks clients dirty under this
		// lock, so the check below sees every mark committed before it.
		if err := exec(ctx, tx, `MATCH (p:Project {id: $id}) SET p.progress = p.progress`, map[string]any{"id": project}); err != nil {
			return false, err
		}
		rec, err := single(ctx, tx, `MATCH (p:Project {id: $id})
			WHERE coalesce(p.generation, 0) = $gen AND NOT EXISTS { MATCH (c:Client {project: $id, dirty: true}) }
			SET p.resolution = 'IDLE', p.progress = 1.0, p.recheckKeys = false
			RETURN true AS done`, map[string]any{"id": project, "gen": gen})
		return rec != nil, err
	})
}

func (s *Store) progress(ctx context.Context, project string, p float64) {
	_, err := writeT(ctx, s, func(tx neo4j.ManagedTransaction) (none, error) {
		return none{}, exec(ctx, tx, `MATCH (p:Project {id: $id}) WHERE p.resolution = 'RUNNING' SET p.progress = $p`,
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
	stale, err := readT(ctx, s, func(tx neo4j.ManagedTransaction) ([]staleRule, error) {
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
		if _, err := writeT(ctx, s, func(tx neo4j.ManagedTransaction) (none, error) {
			return none{}, exec(ctx, tx, `MATCH (r:Rule {project: $project, id: $id})
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
		n, err := writeT(ctx, s, func(tx neo4j.ManagedTransaction) (int64, error) {
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

// buildKeys computes a rule's keys for every client, page by page of
// client ids, and writes them. Quarantine is decided afterwards.
func (s *Store) buildKeys(ctx context.Context, project string, rule identity.Rule) error {
	after := ""
	for {
		type page struct {
			last string
			rows []map[string]any
		}
		p, err := readT(ctx, s, func(tx neo4j.ManagedTransaction) (page, error) {
			recs, err := collect(ctx, tx, `MATCH (c:Client {project: $project}) WHERE c.id > $after
				WITH c ORDER BY c.id LIMIT $n
				RETURN c.id AS id, coalesce(c.excluded, false) AS excluded,
					[(c)-[h:HAS]->(v:Value) WHERE v.field IN $fields AND NOT v.blocked |
						{field: v.field, value: v.value, verified: h.verified}] AS values`,
				map[string]any{"project": project, "after": after, "n": batchClients, "fields": rule.Fields})
			var pg page
			for _, rec := range recs {
				pg.last = str(rec, "id")
				if boolean(rec, "excluded") {
					continue
				}
				var values []identity.Value
				for _, v := range list(rec, "values") {
					m, _ := v.(map[string]any)
					values = append(values, identity.Value{Field: mapStr(m, "field"), Value: mapStr(m, "value"), Verified: mapBool(m, "verified")})
				}
				if keys, _ := identity.MatchKeys(rule, values); len(keys) > 0 {
					pg.rows = append(pg.rows, map[string]any{"id": pg.last, "keys": keys})
				}
			}
			return pg, err
		})
		if err != nil {
			return err
		}
		if p.last == "" {
			return nil
		}
		after = p.last
		if len(p.rows) == 0 {
			continue
		}
		if _, err := writeT(ctx, s, func(tx neo4j.ManagedTransaction) (none, error) {
			return none{}, exec(ctx, tx, `UNWIND $rows AS r
				MATCH (c:Client {project: $project, id: r.id})
				UNWIND r.keys AS key
				MERGE (k:MatchKey {project: $project, rule: $rule, key: key})
				ON CREATE SET k.quarantined = false, k.allowed = false
				MERGE (c)-[:MATCHES]->(k)`,
				map[string]any{"project": project, "rule": rule.ID, "rows": p.rows})
		}); err != nil {
			return err
		}
	}
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

// snapshot is the whole project as the batch union-find sees it.
type snapshot struct {
	members map[string]identity.Member
	old     map[string]identity.MCInfo
	uf      *identity.UnionFind
	count   map[string]int // members per multi-contact id
}

// readSnapshot streams the project's clients, linking keys, manual links and
// live multi-contacts once, uniting as it reads.
func (s *Store) readSnapshot(ctx context.Context, project string) (*snapshot, error) {
	return readT(ctx, s, func(tx neo4j.ManagedTransaction) (*snapshot, error) {
		snap := &snapshot{members: map[string]identity.Member{}, old: map[string]identity.MCInfo{},
			uf: identity.NewUnionFind(), count: map[string]int{}}
		p := map[string]any{"project": project}
		err := stream(ctx, tx, `MATCH (c:Client {project: $project}) RETURN c.id AS id, c.createdAt AS createdAt, c.mc AS mc`, p,
			func(rec *neo4j.Record) {
				m := identity.Member{ID: str(rec, "id"), CreatedAt: when(rec, "createdAt").UnixMilli(), MC: str(rec, "mc")}
				snap.members[m.ID] = m
				snap.count[m.MC]++
				snap.uf.Add(m.ID)
			})
		if err == nil {
			err = stream(ctx, tx, `MATCH (k:MatchKey {project: $project}) WHERE NOT k.quarantined
				WITH k WHERE COUNT { (k)<-[:MATCHES]-() } > 1
				RETURN [(k)<-[:MATCHES]-(c:Client) | c.id] AS ids`, p,
				func(rec *neo4j.Record) {
					ids := strs(rec, "ids")
					for _, id := range ids[1:] {
						snap.uf.Union(ids[0], id)
					}
				})
		}
		if err == nil {
			err = stream(ctx, tx, `MATCH (a:Client {project: $project})-[:LINKED]->(b:Client)
				WHERE NOT coalesce(a.excluded, false) AND NOT coalesce(b.excluded, false)
				RETURN a.id AS a, b.id AS b`, p,
				func(rec *neo4j.Record) { snap.uf.Union(str(rec, "a"), str(rec, "b")) })
		}
		if err == nil {
			err = stream(ctx, tx, `MATCH (m:MultiContact {project: $project})
				WHERE m.aliasOf IS NULL AND NOT coalesce(m.dissolved, false)
				RETURN m.id AS id, m.size AS size, m.createdAt AS createdAt`, p,
				func(rec *neo4j.Record) {
					snap.old[str(rec, "id")] = identity.MCInfo{ID: str(rec, "id"), Size: int(i64(rec, "size")), CreatedAt: when(rec, "createdAt").UnixMilli()}
				})
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

// resolveAll recomputes every component of the project and writes the
// changes in batches. Each batch locks the old multi-contacts it rewrites
// and checks that their members are still those of the snapshot; where an
// incremental writer moved them meanwhile, the batch leaves them to the
// repair pass (their clients are dirty).
func (s *Store) resolveAll(ctx context.Context, project string, st *ResolveStats) error {
	snap, err := s.readSnapshot(ctx, project)
	if err != nil {
		return err
	}
	assignments := identity.AssignIDs(snap.uf.Groups(), snap.members, snap.old, func() string { return newID("mc") })
	groups := changedGroups(assignments, snap)
	cause := identity.Cause{Kind: identity.CauseRuleChange, Action: "reresolve"}
	var batch []identity.Assignment
	size := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := s.writeBatch(ctx, project, batch, snap, cause, st)
		batch, size = nil, 0
		return err
	}
	for _, g := range groups {
		batch = append(batch, g...)
		for _, a := range g {
			size += len(a.Members) + len(a.Previous)
		}
		if size >= batchWrites {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// changedGroups returns the assignments that change anything, grouped so
// that all assignments sharing an old id are written (and reported) together.
// Old ids left without members come as assignments with no members.
func changedGroups(as []identity.Assignment, snap *snapshot) [][]identity.Assignment {
	uf := identity.NewUnionFind()
	var changed []identity.Assignment
	used := map[string]bool{}
	for _, a := range as {
		used[a.ID] = true
		for _, id := range a.Previous {
			used[id] = true
		}
		dirty := a.New || len(a.Absorbed) > 0 || snap.old[a.ID].Size != len(a.Members)
		for _, c := range a.Members {
			if snap.members[c].MC != a.ID {
				dirty = true
			}
		}
		if !dirty {
			continue
		}
		changed = append(changed, a)
		uf.Add(a.ID)
		for _, id := range a.Previous {
			uf.Union(a.ID, id)
		}
	}
	for _, id := range keysOf(snap.old) {
		if !used[id] { // dissolved: no member left
			changed = append(changed, identity.Assignment{ID: id, Previous: []string{id}})
			uf.Add(id)
		}
	}
	byRoot := map[string][]identity.Assignment{}
	var roots []string
	for _, a := range changed {
		r := uf.Find(a.ID)
		if byRoot[r] == nil {
			roots = append(roots, r)
		}
		byRoot[r] = append(byRoot[r], a)
	}
	out := make([][]identity.Assignment, len(roots))
	for i, r := range roots {
		out[i] = byRoot[r]
	}
	return out
}

// writeBatch writes some of the batch's assignments in one transaction.
func (s *Store) writeBatch(ctx context.Context, project string, batch []identity.Assignment, snap *snapshot, cause identity.Cause, st *ResolveStats) error {
	events, err := writeT(ctx, s, func(tx neo4j.ManagedTransaction) ([]identity.Event, error) {
		ps, err := loadProject(ctx, tx, project)
		if err != nil {
			return nil, err
		}
		r := resolver{ctx: ctx, tx: tx, ps: ps, now: s.now().UTC()}
		var oldIDs []string
		for _, a := range batch {
			oldIDs = append(oldIDs, a.Previous...)
		}
		locked, aliases := map[string]identity.MCInfo{}, map[string]bool{}
		if err := r.lock(oldIDs, locked, aliases); err != nil {
			return nil, err
		}
		// Who is in the locked multi-contacts now, against the snapshot.
		recs, err := collect(ctx, tx, `UNWIND $mcs AS mc MATCH (c:Client {project: $project, mc: mc}) RETURN c.id AS id, c.mc AS mc`,
			map[string]any{"project": project, "mcs": keysOf(locked)})
		if err != nil {
			return nil, err
		}
		moved := map[string]bool{} // old ids whose members changed since the snapshot
		now := map[string]int{}
		for _, rec := range recs {
			id, mc := str(rec, "id"), str(rec, "mc")
			now[mc]++
			if m, ok := snap.members[id]; !ok || m.MC != mc {
				moved[mc] = true
			}
		}
		for _, id := range oldIDs {
			if _, ok := locked[id]; !ok || now[id] != snap.count[id] {
				moved[id] = true
			}
		}
		var ok []identity.Assignment
		members := map[string]identity.Member{}
		old := map[string]identity.MCInfo{}
		for _, a := range batch {
			skip := false
			for _, id := range a.Previous {
				skip = skip || moved[id]
			}
			if skip {
				continue
			}
			if len(a.Members) > 0 {
				ok = append(ok, a)
			}
			for _, c := range a.Members {
				members[c] = snap.members[c]
			}
			for _, id := range a.Previous {
				old[id] = locked[id]
			}
		}
		if err := r.write(ok, members, old); err != nil {
			return nil, err
		}
		events := deriveEvents(project, ok, members, old, nil, cause, r.now)
		return commitEvents(ctx, tx, project, events, nil, false, r.now)
	})
	if err != nil {
		return err
	}
	st.add(events)
	s.publish(events)
	return nil
}

// repairDirty resolves again, in small batches, the clients written while
// the project re-resolved.
func (s *Store) repairDirty(ctx context.Context, project string, st *ResolveStats) error {
	cause := identity.Cause{Kind: identity.CauseRuleChange, Action: "reresolve"}
	for {
		ids, err := readT(ctx, s, func(tx neo4j.ManagedTransaction) ([]string, error) {
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
		events, err := s.applyT(ctx, project, cause, true, func(context.Context, neo4j.ManagedTransaction, *projectState) (touched, error) {
			return touched{clients: ids}, nil
		})
		if err != nil {
			return err
		}
		st.add(events)
	}
}
