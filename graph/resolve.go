package graph

import (
	"context"
	"slices"
	"sort"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/identity"
)

// touched is what an edit changed: clients whose edges changed (their keys
// are recomputed and their component resolved), multi-contacts that must be
// resolved too (e.g. a removed client's), and clients whose identifiers or
// channels changed (reported as UPDATED when nothing merges or splits).
type touched struct {
	clients []string
	seeds   []string
	updated []string
	locked  bool // the edit holds the clients' locks already
	// keysSynced says that the edit brought the clients' match keys up to
	// date itself (syncKeys), and quarantined what that quarantined.
	keysSynced  bool
	quarantined []quarantine
	// first is the resolution's first round, when the statement that wrote
	// the keys ran it too (writeOutcome), or nil.
	first *firstRound
	// causes, if set, gives the events their causes before they are
	// stored: a batch of ops names the op that wrote to each event's clients.
	causes func([]identity.Event)
}

// firstRound is a first round of the resolution (loadRound) that another
// statement ran, sparing the resolution that round trip: what it was asked
// to lock and load, and the records it read.
type firstRound struct {
	want    []string // the multi-contacts it locked
	clients []string // the touched clients it loaded
	recs    []*neo4j.Record
}

func (t *touched) empty() bool { return len(t.clients) == 0 && len(t.seeds) == 0 }

// editFunc changes the graph inside a write transaction and says what it touched.
type editFunc func(ctx context.Context, tx neo4j.ManagedTransaction, ps *projectState) (touched, error)

// apply runs one incremental change: edit, recompute the touched clients'
// match keys, resolve the components involved, record events; all in one
// write transaction. After commit the notifier is nudged to read the events.
func (s *Store) apply(ctx context.Context, project string, cause identity.Cause, edit editFunc) error {
	_, err := s.applyChange(ctx, project, cause, false, edit)
	return err
}

// changeFault, set only by tests, runs in applyChange's transaction just
// before it commits, as groupFault does in a group's.
var changeFault func() error

// applyChange is apply; repair is set by the re-resolution's clean-up pass, which
// clears the clients' dirty flag instead of setting it.
func (s *Store) applyChange(ctx context.Context, project string, cause identity.Cause, repair bool, edit editFunc) ([]identity.Event, error) {
	events, err := writeTx(ctx, s, func(tx neo4j.ManagedTransaction) ([]identity.Event, error) {
		ps, err := loadProject(ctx, tx, project)
		if err != nil {
			return nil, err
		}
		t, err := edit(ctx, tx, ps)
		if err != nil || t.empty() {
			return nil, err
		}
		if !t.keysSynced {
			seeds, quarantined, err := refreshKeys(ctx, tx, ps, t.clients)
			if err != nil {
				return nil, err
			}
			t.seeds, t.quarantined = append(t.seeds, seeds...), quarantined
		}
		r := resolution{ctx: ctx, tx: tx, ps: ps, now: s.now().UTC(), newID: func() string { return newID("mc") }}
		events, err := r.resolve(t, cause)
		if err != nil {
			return nil, err
		}
		events = append(events, r.quarantineEvents(t.quarantined, cause)...)
		if t.causes != nil {
			t.causes(events)
		}
		if changeFault != nil {
			if err := changeFault(); err != nil {
				return nil, err
			}
		}
		return r.commit(events, t.clients, repair)
	})
	if err != nil {
		return nil, err
	}
	s.nudge(project, events)
	return events, nil
}

// resolution resolves the components around a change inside one transaction.
type resolution struct {
	ctx   context.Context
	tx    neo4j.ManagedTransaction
	ps    *projectState
	now   time.Time
	newID func() string
	mcOf  map[string]string // after resolve: each resolved client's multi-contact
	// changes are the multi-contact writes that prepare made and commit stores.
	changes map[string]any
	// lease, when set, is the re-resolution lease this write needs: a round
	// of the batch path writes from a snapshot, which only the lease's
	// holder may (commit checks it under the project's lock).
	lease string
}

// member is a client as resolution loads it.
type member struct {
	identity.Member
	excluded bool
	keys     []string // element ids of its linking (not quarantined) keys
	links    []string // manually linked, not excluded clients
}

// resolve locks the multi-contacts involved, extends the set until no member
// links outside it, recomputes the components of that closed set in Go and
// writes back the ids that changed. Locks are taken before members are read,
// and every write to a client's mc happens under the lock of its old
// multi-contact, so no other writer can move these members meanwhile.
func (r *resolution) resolve(t touched, cause identity.Cause) ([]identity.Event, error) {
	locked := map[string]identity.MCInfo{}
	aliases := map[string]bool{}
	want := dedupe(t.seeds)
	clients := slices.Clone(t.clients)
	if !t.locked {
		if err := lockClientNodes(r.ctx, r.tx, r.ps.ID, clients); err != nil {
			return nil, err
		}
	}
	var members map[string]*member
	var more []string // partner clients to lock in the next round
	for {
		var outside, unresolved []string
		if f := t.first; f != nil {
			t.first = nil
			members, outside, unresolved = loaded(f.recs, f.want, locked, aliases)
			outside = append(outside, want...) // seeds it did not lock: a quarantined key's holders
		} else {
			var err error
			if members, outside, unresolved, err = r.lockAndLoad(more, want, locked, aliases, clients); err != nil {
				return nil, err
			}
		}
		want = nil
		for _, mc := range outside {
			if _, ok := locked[mc]; !ok && !aliases[mc] {
				want = append(want, mc)
			}
		}
		// Partners that no multi-contact holds yet (a large import's, before
		// its re-resolution) join this resolution, locked like the others.
		more = nil
		for _, c := range unresolved {
			if !slices.Contains(clients, c) {
				more = append(more, c)
			}
		}
		clients = append(clients, more...)
		if len(want) == 0 && len(more) == 0 {
			break
		}
	}

	uf := identity.NewUnionFind()
	firstOfKey := map[string]string{}
	ids := make([]string, 0, len(members))
	for id, m := range members {
		ids = append(ids, id)
		uf.Add(id)
		if m.excluded {
			continue
		}
		for _, k := range m.keys {
			if first, ok := firstOfKey[k]; ok {
				uf.Union(first, id)
			} else {
				firstOfKey[k] = id
			}
		}
		for _, o := range m.links {
			if om, ok := members[o]; ok && !om.excluded {
				uf.Union(id, o)
			}
		}
	}
	byID := make(map[string]identity.Member, len(members))
	for id, m := range members {
		byID[id] = m.Member
	}
	assignments := identity.AssignIDs(uf.Groups(), byID, locked, r.newID)
	r.mcOf = map[string]string{}
	for _, a := range assignments {
		for _, c := range a.Members {
			r.mcOf[c] = a.ID
		}
	}
	r.prepare(assignments, byID, locked)
	return identity.DeriveEvents(r.ps.ID, assignments, byID, locked, t.updated, cause, r.now), nil
}

// quarantineEvents makes a QUARANTINED event of each key a write pushed
// over the cap, on the multi-contact its writer has after the resolution.
func (r *resolution) quarantineEvents(qs []quarantine, cause identity.Cause) []identity.Event {
	var out []identity.Event
	for _, q := range qs {
		key := q.key
		out = append(out, identity.Event{Project: r.ps.ID, Type: identity.EventQuarantined, MultiContactID: r.mcOf[q.writer],
			ClientIDs: q.holders, Cause: cause, At: r.now, Quarantined: &key})
	}
	return out
}

// lockAndLoad is one round of the resolution, in one statement: it takes
// the write locks of the partner clients found in the round before, then
// of the multi-contacts in want and of those that the touched clients'
// keys reach (a merge's other multi-contact: without them, every merge
// took a second round), in sorted order, recording what they are
// (live ones in locked, absorbed or dissolved ones in aliases); then it reads the
// members of every locked multi-contact and the touched clients, with
// their linking keys and links, and what they link to outside the set:
// multi-contacts, and clients that have none yet.
func (r *resolution) lockAndLoad(lockClients, want []string, locked map[string]identity.MCInfo, aliases map[string]bool,
	clients []string) (members map[string]*member, outside, unresolved []string, err error) {
	want = dedupe(want)
	recs, err := collect(r.ctx, r.tx, loadRound, map[string]any{"project": r.ps.ID,
		"in": roundInput(lockClients, want, keysOf(locked), clients)})
	if err != nil {
		return nil, nil, nil, err
	}
	members, outside, unresolved = loaded(recs, want, locked, aliases)
	return members, outside, unresolved, nil
}

// roundInput is what loadRound reads from $in.
func roundInput(lockClients, want, locked, clients []string) map[string]any {
	return map[string]any{"lockClients": dedupe(lockClients), "want": want, "locked": nonNil(locked), "ids": nonNil(clients)}
}

// loadRound is the statement of one round (lockAndLoad). A statement may
// run it after clauses of its own (writeOutcome does), and add
// columns to its RETURN.
const loadRound = `
		CALL {
			UNWIND $in.lockClients AS id
			MATCH (c:Client {project: $project, id: id})
			SET c.locked = true REMOVE c.locked
		}
		CALL {
			UNWIND $in.ids AS id
			MATCH (c:Client {project: $project, id: id})
			UNWIND [(c)-[:MATCHES]->(k:MatchKey)<-[:MATCHES]-(o:Client) WHERE NOT k.quarantined AND o.mc IS NOT NULL | o.mc] AS mc
			RETURN collect(DISTINCT mc) AS partners
		}
		CALL {
			WITH partners
			UNWIND $in.want + [mc IN partners WHERE NOT mc IN $in.locked] AS id
			WITH DISTINCT id ORDER BY id
			MATCH (m:MultiContact {project: $project, id: id})
			SET m.version = coalesce(m.version, 0) + 1
			RETURN collect({id: m.id, size: m.size, createdAt: m.createdAt,
				alias: m.aliasOf IS NOT NULL OR coalesce(m.dissolved, false)}) AS found
		}
		WITH *, $in.locked + [x IN found WHERE NOT x.alias | x.id] AS mcs
		CALL {
			WITH mcs
			UNWIND mcs AS mc MATCH (c:Client {project: $project, mc: mc}) RETURN c
			UNION
			WITH mcs
			UNWIND $in.ids AS id MATCH (c:Client {project: $project, id: id}) RETURN c
			UNION
			RETURN null AS c // a row for found even when no client is left
		}
		RETURN found, c.id AS id, c.createdAt AS createdAt, c.mc AS mc, coalesce(c.excluded, false) AS excluded,
			[(c)-[:MATCHES]->(k:MatchKey) WHERE NOT k.quarantined | elementId(k)] AS keys,
			[(c)-[:LINKED]-(o:Client) WHERE NOT coalesce(o.excluded, false) | o.id] AS links,
			[(c)-[:MATCHES]->(k:MatchKey)<-[:MATCHES]-(o:Client) WHERE NOT k.quarantined AND NOT o.mc IN mcs | o.mc] +
			[(c)-[:LINKED]-(o:Client) WHERE NOT coalesce(o.excluded, false) AND NOT o.mc IN mcs | o.mc] AS outside,
			[(c)-[:MATCHES]->(k:MatchKey)<-[:MATCHES]-(o:Client) WHERE NOT k.quarantined AND o.mc IS NULL | o.id] +
			[(c)-[:LINKED]-(o:Client) WHERE NOT coalesce(o.excluded, false) AND o.mc IS NULL | o.id] AS unresolved`

// loaded reads the records of a round (loadRound): the multi-contacts in
// want go to locked or aliases, and the members come back with what they
// link to outside the set.
func loaded(recs []*neo4j.Record, want []string, locked map[string]identity.MCInfo,
	aliases map[string]bool) (members map[string]*member, outside, unresolved []string) {
	if len(recs) > 0 {
		for _, f := range list(recs[0], "found") {
			m, _ := f.(map[string]any)
			id := mapStr(m, "id")
			if mapBool(m, "alias") {
				aliases[id] = true
				continue
			}
			size, _ := m["size"].(int64)
			created, _ := m["createdAt"].(time.Time)
			locked[id] = identity.MCInfo{ID: id, Size: int(size), CreatedAt: created.UnixMilli()}
		}
	}
	for _, id := range want { // an id with no node (never created): nothing to lock
		if _, ok := locked[id]; !ok {
			aliases[id] = true
		}
	}
	mcs := keysOf(locked)
	members = make(map[string]*member, len(recs))
	for _, rec := range recs {
		if rec.AsMap()["id"] == nil {
			continue // the row that carries found
		}
		m := &member{
			Member:   identity.Member{ID: str(rec, "id"), CreatedAt: when(rec, "createdAt").UnixMilli(), MC: str(rec, "mc")},
			excluded: boolean(rec, "excluded"),
			keys:     strs(rec, "keys"),
			links:    strs(rec, "links"),
		}
		members[m.ID] = m
		outside = append(outside, strs(rec, "outside")...)
		unresolved = append(unresolved, strs(rec, "unresolved")...)
		if m.MC != "" && !slices.Contains(mcs, m.MC) {
			outside = append(outside, m.MC) // a touched client's own multi-contact
		}
	}
	return members, dedupe(outside), dedupe(unresolved)
}

// lock takes the write locks of the multi-contacts in ids, in sorted order,
// and records what they are: live ones in locked, the others (absorbed,
// dissolved, never created) in aliases (for the batch path and erasure,
// which read the members themselves). An id read before its lock may have
// been dissolved meanwhile: taken as live, it would be deleted again.
func (r *resolution) lock(ids []string, locked map[string]identity.MCInfo, aliases map[string]bool) error {
	ids = dedupe(ids)
	if len(ids) == 0 {
		return nil
	}
	recs, err := collect(r.ctx, r.tx, `UNWIND $in.ids AS id
		MATCH (m:MultiContact {project: $project, id: id})
		SET m.version = coalesce(m.version, 0) + 1
		RETURN m.id AS id, m.size AS size, m.createdAt AS createdAt,
			m.aliasOf IS NOT NULL OR coalesce(m.dissolved, false) AS alias`,
		map[string]any{"project": r.ps.ID, "in": map[string]any{"ids": ids}})
	if err != nil {
		return err
	}
	for _, rec := range recs {
		id := str(rec, "id")
		if boolean(rec, "alias") {
			aliases[id] = true
			continue
		}
		locked[id] = identity.MCInfo{ID: id, Size: int(i64(rec, "size")), CreatedAt: when(rec, "createdAt").UnixMilli()}
	}
	for _, id := range ids { // an id with no node (never created): nothing to lock
		if _, ok := locked[id]; !ok {
			aliases[id] = true
		}
	}
	return nil
}

// lockClientNodes takes the write locks of the clients, in sorted order,
// so that what is read of them next holds until commit.
func lockClientNodes(ctx context.Context, tx neo4j.ManagedTransaction, project string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	return exec(ctx, tx, `UNWIND $in.ids AS id MATCH (c:Client {project: $project, id: id}) SET c.locked = true REMOVE c.locked`,
		map[string]any{"project": project, "in": map[string]any{"ids": dedupe(ids)}})
}

func keysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func dedupe(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > 0 && out[0] == "" {
		out = out[1:]
	}
	return out
}
