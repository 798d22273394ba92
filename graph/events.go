package graph

import (
	"context"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/identity"
)

// sorted returns a sorted copy of s.
func sorted(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return out
}

// nonNil returns s, or an empty list for nil: Cypher reads a nil list as null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Cursor is an opaque position in a project's event stream.
func Cursor(seq int64) string { return strconv.FormatInt(seq, 10) }

// MaxEventsPage is the most events one page of the API holds.
const MaxEventsPage = 1000

// Events returns up to first events after the cursor ("" is the start), in
// commit order, so an integration can replay what it missed. first is at
// most MaxEventsPage+1: a page, and one more to tell whether another follows.
func (s *Store) Events(ctx context.Context, project, after string, first int) ([]identity.Event, error) {
	var from int64
	if after != "" {
		n, err := strconv.ParseInt(after, 10, 64)
		if err != nil || n < 0 {
			return nil, identity.Errorf("after", identity.CodeInvalidArgument, "the cursor %q is not one this service gave", after)
		}
		from = n
	}
	if first <= 0 || first > MaxEventsPage+1 {
		return nil, identity.Errorf("first", identity.CodeInvalidArgument, "first is between 1 and %d", MaxEventsPage)
	}
	return readTx(ctx, s, func(tx neo4j.ManagedTransaction) ([]identity.Event, error) {
		if err := projectExists(ctx, tx, project); err != nil {
			return nil, err
		}
		return readEvents(ctx, tx, project, from, first)
	})
}

// EventsAfter returns up to max events of project whose sequence number is
// above seq, in commit order: what a tailer of the log (the broker feeding
// subscribers) reads on every poll. It does not check that the project
// exists, which LastSeq does once.
func (s *Store) EventsAfter(ctx context.Context, project string, seq int64, max int) ([]identity.Event, error) {
	return readTx(ctx, s, func(tx neo4j.ManagedTransaction) ([]identity.Event, error) {
		return readEvents(ctx, tx, project, seq, max)
	})
}

// LastSeq returns the sequence number of the project's latest committed
// event (0 when it has none): where a new subscriber's stream begins.
// Every event up to it is visible once it is, since numbers are taken
// under the project's lock held until commit (commitEvents).
func (s *Store) LastSeq(ctx context.Context, project string) (int64, error) {
	return readTx(ctx, s, func(tx neo4j.ManagedTransaction) (int64, error) {
		rec, err := single(ctx, tx, `MATCH (p:Project {id: $id}) RETURN coalesce(p.seq, 0) AS seq`, map[string]any{"id": project})
		if err != nil || rec == nil {
			return 0, orNotFound(err, "project", project)
		}
		return i64(rec, "seq"), nil
	})
}

func readEvents(ctx context.Context, tx neo4j.ManagedTransaction, project string, from int64, first int) ([]identity.Event, error) {
	recs, err := collect(ctx, tx, `MATCH (e:Event {project: $project}) WHERE e.seq > $from
		RETURN `+eventColumns+` ORDER BY e.seq LIMIT $first`,
		map[string]any{"project": project, "from": from, "first": first})
	if err != nil {
		return nil, err
	}
	return decodeEvents(project, recs), nil
}

// eventColumns are the columns of an event e that decodeEvents reads.
const eventColumns = `e.seq AS seq, e.type AS type, e.mc AS mc, e.previous AS previous, e.new AS new,
	e.clients AS clients, e.causeKind AS causeKind, e.causeAction AS causeAction,
	e.causeField AS causeField, e.causeValue AS causeValue, e.causeRule AS causeRule, e.causeClient AS causeClient, e.at AS at,
	CASE WHEN e.forgottenClients IS NULL THEN null
		ELSE [e.forgottenClients, e.forgottenValues, e.forgottenConversations, e.forgottenLinks] END AS forgotten,
	CASE WHEN e.quarantinedKey IS NULL THEN null
		ELSE {rule: e.quarantinedRule, key: e.quarantinedKey, size: e.quarantinedSize, since: e.quarantinedSince} END AS quarantined`

func decodeEvents(project string, recs []*neo4j.Record) []identity.Event {
	out := make([]identity.Event, len(recs))
	for i, rec := range recs {
		out[i] = identity.Event{Seq: i64(rec, "seq"), Project: project, Type: identity.EventType(str(rec, "type")),
			MultiContactID: str(rec, "mc"), PreviousIDs: strs(rec, "previous"), NewIDs: strs(rec, "new"),
			ClientIDs: strs(rec, "clients"), At: when(rec, "at"),
			Cause: identity.Cause{Kind: identity.CauseKind(str(rec, "causeKind")), Action: str(rec, "causeAction"),
				Field: str(rec, "causeField"), Value: str(rec, "causeValue"), Rule: str(rec, "causeRule"),
				Client: str(rec, "causeClient")}}
		if n := list(rec, "forgotten"); len(n) == 4 {
			count := func(v any) int { c, _ := v.(int64); return int(c) }
			out[i].Forgotten = &identity.Forgotten{Clients: count(n[0]), Values: count(n[1]),
				Conversations: count(n[2]), Links: count(n[3])}
		}
		if q, ok := rec.AsMap()["quarantined"].(map[string]any); ok {
			key := mapStr(q, "key")
			size, _ := q["size"].(int64)
			since, _ := q["since"].(time.Time)
			out[i].Quarantined = &identity.QuarantinedKey{Rule: mapStr(q, "rule"), Key: key, Size: int(size), Since: since.UTC()}
			if key != "" { // blank once its values were forgotten
				out[i].Quarantined.Parts = identity.KeyParts(key)
			}
		}
	}
	return out
}

func projectExists(ctx context.Context, tx neo4j.ManagedTransaction, project string) error {
	rec, err := single(ctx, tx, `MATCH (p:Project {id: $id}) RETURN p.id AS id`, map[string]any{"id": project})
	if err != nil || rec == nil {
		return orNotFound(err, "project", project)
	}
	return nil
}

// AbsorbedAfter reports whether multi-contact id was absorbed by a merge
// after the log position seq: whether it was still live there, for a
// subscriber that resumes from seq following it.
func (s *Store) AbsorbedAfter(ctx context.Context, project, id string, seq int64) (bool, error) {
	recs, err := s.readOne(ctx, `MATCH (e:Event {project: $project}) WHERE e.seq > $seq AND $id IN e.previous
		RETURN e.seq AS seq LIMIT 1`, map[string]any{"project": project, "id": id, "seq": seq})
	return len(recs) > 0, err
}

// LiveAt returns the multi-contact that id had become at log position
// seq: id itself, or, if a merge absorbed it by then, what absorbed it, and
// so on. A subscriber that followed id was following that one there. It
// reads the log up to seq for each merge it follows (an id is absorbed
// once): a resume with an id absorbed before its cursor, rare.
func (s *Store) LiveAt(ctx context.Context, project, id string, seq int64) (string, error) {
	for range 64 { // each step moves to a later merge; chains are short
		recs, err := s.readOne(ctx, `MATCH (e:Event {project: $project}) WHERE e.seq <= $seq AND $id IN e.previous
			RETURN e.mc AS into LIMIT 1`, map[string]any{"project": project, "id": id, "seq": seq})
		if err != nil || len(recs) == 0 {
			return id, err
		}
		id = str(recs[0], "into")
	}
	return id, nil
}

// EventCounts counts the project's events after seq by type: what an
// import reports, including the events of a re-resolution that another
// replica finished for it.
func (s *Store) EventCounts(ctx context.Context, project string, seq int64) (map[identity.EventType]int, error) {
	return readTx(ctx, s, func(tx neo4j.ManagedTransaction) (map[identity.EventType]int, error) {
		recs, err := collect(ctx, tx, `MATCH (e:Event {project: $project}) WHERE e.seq > $seq RETURN e.type AS type, count(*) AS n`,
			map[string]any{"project": project, "seq": seq})
		out := map[identity.EventType]int{}
		for _, rec := range recs {
			out[identity.EventType(str(rec, "type"))] = int(i64(rec, "n"))
		}
		return out, err
	})
}
