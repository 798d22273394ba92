package graph

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/identity"
)

// Batch sizes of the re-resolution's writes: big enough to amortize a round
// trip, small enough to keep a transaction's memory low.
const (
	batchClients = 2000
	batchWrites  = 1000
)

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
func (snap *snapshot) changedGroups() changes {
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
	// components, by index, keyed by the first component seen with each old
	// id (after an import, none has one: no map grows with the project).
	var compStart []int32           // by component: where its members start in members
	var join []int32                // by component: its parent in the join
	firstWith := map[string]int32{} // old id -> the first component holding it
	root := func(c int32) int32 {
		for join[c] != c {
			join[c] = join[join[c]]
			c = join[c]
		}
		return c
	}
	for lo := 0; lo < len(members); {
		r := snap.uf.Root(members[lo])
		hi := lo
		for hi < len(members) && snap.uf.Root(members[hi]) == r {
			hi++
		}
		c := int32(len(compStart))
		compStart, join = append(compStart, int32(lo)), append(join, c)
		for _, i := range members[lo:hi] {
			if mc := snap.mc[i]; mc != "" {
				if other, ok := firstWith[mc]; ok {
					join[root(c)] = root(other)
				} else {
					firstWith[mc] = c
				}
			}
		}
		lo = hi
	}
	compStart = append(compStart, int32(len(members)))
	// Order the components by group, each group where its first component
	// was: a counting sort on the joined roots.
	nComps := len(join)
	rank := make([]int32, nComps) // by joined root: its group's number, plus one
	size := []int32{}             // by group: its components
	for c := range nComps {
		g := root(int32(c))
		if rank[g] == 0 {
			size = append(size, 0)
			rank[g] = int32(len(size))
		}
		size[rank[g]-1]++
	}
	ch := changes{snap: snap, members: make([]int32, 0, len(members)), comps: make([]int32, 0, nComps+1),
		groups: make([]int32, len(size)+1)}
	for g, n := range size {
		ch.groups[g+1] = ch.groups[g] + n
	}
	order := make([]int32, nComps) // components by group
	next := slices.Clone(ch.groups[:len(size)])
	for c := range nComps {
		g := rank[root(int32(c))] - 1
		order[next[g]] = int32(c)
		next[g]++
	}
	for _, c := range order {
		comp := members[compStart[c]:compStart[c+1]]
		slices.SortFunc(comp, func(a, b int32) int { return strings.Compare(snap.uf.ID(a), snap.uf.ID(b)) })
		ch.comps = append(ch.comps, int32(len(ch.members)))
		ch.members = append(ch.members, comp...)
	}
	ch.comps = append(ch.comps, int32(len(ch.members)))
	return ch
}

// changes are the groups of components that a re-resolution rewrites, kept
// as client indexes in three flat slices rather than as slices of ids per
// component: after a large import every component is new, and a million
// small slices of strings would be the largest thing in memory.
type changes struct {
	snap    *snapshot
	members []int32 // client indexes, by group, then by component, ids sorted within one
	comps   []int32 // where each component starts in members, and len(members)
	groups  []int32 // where each group starts in comps, and the number of components
}

// len is the number of groups.
func (ch changes) len() int { return len(ch.groups) - 1 }

// group returns group g's components, as client ids.
func (ch changes) group(g int) [][]string {
	var out [][]string
	for c := ch.groups[g]; c < ch.groups[g+1]; c++ {
		ids := make([]string, 0, ch.comps[c+1]-ch.comps[c])
		for _, i := range ch.members[ch.comps[c]:ch.comps[c+1]] {
			ids = append(ids, ch.snap.uf.ID(i))
		}
		out = append(out, ids)
	}
	return out
}

// resolveAll recomputes every component of the project and writes the
// changes in batches. Each batch locks the old multi-contacts it rewrites,
// checks that their members are still those of the snapshot, and only then
// decides the ids (AssignIDs on what it locked); where an incremental
// writer moved members meanwhile, it leaves them to the repair pass (their
// clients are dirty).
func (s *Store) resolveAll(ctx context.Context, project string, cause identity.Cause, st *ResolveStats) error {
	snap, err := s.readSnapshot(ctx, project)
	if err != nil {
		return err
	}
	groups := snap.changedGroups()
	var batch [][][]string
	size := 0
	for i := range groups.len() {
		g := groups.group(i)
		batch = append(batch, g)
		for _, comp := range g {
			size += len(comp)
		}
		if size >= batchWrites || i == groups.len()-1 {
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
		r := resolution{ctx: ctx, tx: tx, ps: ps, now: s.now().UTC(), newID: func() string { return newID("mc") }, lease: s.leaseOf(project)}
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
		r.prepare(as, members, old)
		events := identity.DeriveEvents(project, as, members, old, nil, cause, r.now)
		return r.commit(events, nil, false)
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
func (s *Store) repairDirty(ctx context.Context, project string, cause identity.Cause, st *ResolveStats) error {
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
