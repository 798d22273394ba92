package graph

import (
	"context"
	"strconv"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/identity"
)

// History returns up to first events of a multi-contact after the cursor
// (an events cursor, "" from the start), in commit order, and whether more
// follow: the events of its id and of every id it absorbed (when each was
// created, merged, changed), and the SPLIT that made it or one of them, if
// a split did. An absorbed id gives the history of the multi-contact that
// absorbed it.
func (s *Store) History(ctx context.Context, project, id, after string, first int) ([]identity.Event, bool, error) {
	if err := checkFirst(first, MaxHistoryPage); err != nil {
		return nil, false, err
	}
	var from int64
	if after != "" {
		n, err := strconv.ParseInt(after, 10, 64)
		if err != nil || n < 0 {
			return nil, false, identity.Errorf("after", identity.CodeInvalidArgument, "the cursor %q is not one this service gave", after)
		}
		from = n
	}
	type result struct {
		events []identity.Event
		more   bool
	}
	r, err := readTx(ctx, s, func(tx neo4j.ManagedTransaction) (result, error) {
		rec, err := single(ctx, tx, `MATCH (a:MultiContact {project: $project, id: $id})
			WITH coalesce(a.aliasOf, a.id) AS live
			MATCH (m:MultiContact {project: $project, id: live}) WHERE NOT coalesce(m.dissolved, false)
			WITH m, COLLECT { MATCH (x:MultiContact {project: $project, aliasOf: m.id}) RETURN x } AS absorbed
			RETURN [m.id] + [x IN absorbed | x.id] AS ids, [m.createdAt] + [x IN absorbed | x.createdAt] AS births`,
			map[string]any{"project": project, "id": id})
		if err != nil || rec == nil {
			return result{}, orNotFound(err, "multiContact", id)
		}
		// A part split off an older id has no event of its own id until it
		// changes: the SPLIT that made it was committed at its creation and
		// names it among the new ids.
		recs, err := collect(ctx, tx, `CALL {
				UNWIND $ids AS mc
				MATCH (e:Event {project: $project, mc: mc}) WHERE e.seq > $from
				RETURN e
				UNION
				UNWIND $births AS at
				MATCH (e:Event {project: $project, at: at}) WHERE e.seq > $from AND e.type = 'SPLIT'
					AND any(x IN e.new WHERE x IN $ids)
				RETURN e
			}
			RETURN `+eventColumns+` ORDER BY e.seq LIMIT $limit`,
			map[string]any{"project": project, "ids": strs(rec, "ids"), "births": list(rec, "births"), "from": from, "limit": first + 1})
		if err != nil {
			return result{}, err
		}
		evs := decodeEvents(project, recs)
		return result{events: evs[:min(first, len(evs))], more: len(evs) > first}, nil
	})
	return r.events, r.more, err
}
