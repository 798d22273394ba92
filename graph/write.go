package graph

import (
	"context"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/identity"
)

// OpKind says what one write to a client's identity does.
type OpKind int

// Op kinds.
const (
	OpUpsertClient    OpKind = iota + 1 // create or update a client, adding identifiers
	OpAddAttribute                      // give an existing client one identifier
	OpRemoveAttribute                   // take one identifier away
	OpConversation                      // record a conversation of an existing client
)

// Op is one write, as an API call or one line of an import makes it. Values
// are raw: the store normalizes them with the project's fields.
type Op struct {
	Line         int    // where it came from, for error reports (0: an API call)
	EventID      string // optional; an op whose event id was applied before is skipped
	Kind         OpKind
	Client       identity.ClientInput    // OpUpsertClient
	ClientID     string                  // OpAddAttribute, OpRemoveAttribute
	Attribute    identity.AttributeInput // OpAddAttribute, OpRemoveAttribute (Source unused)
	Conversation Conversation            // OpConversation (ClientID names its client)
	// Refusal, when set, is why the op was refused before it reached the
	// store (an import line that does not parse into an op): the op is
	// refused with it, and its event id is recorded all the same, so that
	// the line is skipped when the import runs again.
	Refusal error
}

// WriteOptions say how Write applies its ops.
type WriteOptions struct {
	// Resolve resolves the touched clients incrementally in the same
	// transaction (the API's path, small imports). Without it Write only
	// writes edges and match keys, for the batch path (see BeginBulk).
	Resolve bool
	// Strict stops at the first refused op: the ops after it are neither
	// applied nor recorded.
	Strict bool
}

// LineError is an op that was refused, and why; the others still apply.
// With Applied, only one value of the op was refused: the op applied
// without it.
type LineError struct {
	Line    int
	EventID string
	Err     error
	Applied bool
}

// WriteResult says what a Write did.
type WriteResult struct {
	Applied int         // ops that were applied (changed something or not)
	Skipped int         // ops whose event id was seen before (applied or refused)
	Refused []LineError // ops refused, in input order
	// Warnings are values refused inside ops that applied without them: an
	// upsert writes its client with the good values (not under Strict).
	Warnings   []LineError
	Normalized []string // per op, the normalized value of OpAddAttribute/OpRemoveAttribute
	NewClients int      // clients created
	Changed    int      // clients that existed and whose identifiers or channel changed
	Events     []identity.Event
}

// Write applies ops in order, each valid op fully and each invalid one not
// at all, in one transaction.
func (s *Store) Write(ctx context.Context, project string, ops []Op, opt WriteOptions) (WriteResult, error) {
	var res writeResult
	cause := identity.Cause{Kind: identity.CauseClient, Action: "import"}
	if len(ops) == 1 {
		cause = causeOf(ops[0], "")
	}
	edit := func(ctx context.Context, tx neo4j.ManagedTransaction, ps *projectState) (touched, error) {
		var err error
		res, err = s.writeOps(ctx, tx, ps.ID, ps, ops, opt.Strict, opt.Resolve, s.now().UTC())
		if err != nil {
			return touched{}, err
		}
		t, normalized, applied := res.touched, res.Normalized, res.applied
		t.causes = func(events []identity.Event) { attributeCauses(events, ops, normalized, applied) }
		return t, nil
	}
	var err error
	if opt.Resolve {
		res.Events, err = s.applyChange(ctx, project, cause, false, edit)
	} else {
		_, err = writeTx(ctx, s, func(tx neo4j.ManagedTransaction) (noResult, error) {
			ps, err := loadProject(ctx, tx, project)
			if err != nil {
				return noResult{}, err
			}
			// writeOps brings the keys up to date too. Keys a large import
			// pushes over the cap are quarantined there and listed in
			// quarantinedKeys, without an event: the import is resolved as a
			// whole later.
			t, err := edit(ctx, tx, ps)
			switch {
			case err != nil:
			case len(t.clients) > 0:
				err = markUnresolved(ctx, tx, res.ps)
			default: // lines skipped as seen before, say: the import is alive all the same
				err = exec(ctx, tx, `MATCH (p:Project {id: $id}) SET p.writtenAt = datetime()`, map[string]any{"id": project})
			}
			return noResult{}, err
		})
	}
	return res.WriteResult, err
}

// causeOf is the cause of the events that op brings about; normalized is
// the value it set or removed, as stored.
func causeOf(op Op, normalized string) identity.Cause {
	c := identity.Cause{Kind: identity.CauseClient, Action: "upsertClient", Client: op.Target()}
	switch op.Kind {
	case OpAddAttribute:
		c.Kind, c.Action, c.Field, c.Value = identity.CauseValue, "setAttribute", op.Attribute.Field, normalized
	case OpRemoveAttribute:
		c.Kind, c.Action, c.Field, c.Value = identity.CauseValue, "removeAttribute", op.Attribute.Field, normalized
	case OpConversation:
		c.Action = "recordConversation"
	}
	return c
}

// BeginBulk starts a large import: the project is RUNNING until Reresolve
// has resolved everything the import wrote (writes from elsewhere go on
// meanwhile and are resolved again at the end).
func (s *Store) BeginBulk(ctx context.Context, project string) error {
	_, err := writeTx(ctx, s, func(tx neo4j.ManagedTransaction) (noResult, error) {
		rec, err := single(ctx, tx, `MATCH (p:Project {id: $id})
			SET p.resolution = 'RUNNING', p.progress = 0.0, p.generation = coalesce(p.generation, 0) + 1, p.writtenAt = datetime()
			RETURN p.id AS id`, map[string]any{"id": project})
		if err == nil && rec == nil {
			err = notFound("project", project)
		}
		return noResult{}, err
	})
	return err
}

// markUnresolved records, in the transaction that wrote clients without
// resolving them, that the project has unresolved clients: it is RUNNING
// and its generation moves, so a re-resolution whose snapshot was read
// before this commit cannot declare it IDLE (it runs again). Under the
// project's lock it checks, as commit does, that the configuration is still
// the one the keys were computed under (errRace: the write runs again).
func markUnresolved(ctx context.Context, tx neo4j.ManagedTransaction, ps *projectState) error {
	rec, err := single(ctx, tx, `MATCH (p:Project {id: $id})
		SET p.resolution = 'RUNNING', p.generation = coalesce(p.generation, 0) + 1, p.writtenAt = datetime()
		RETURN coalesce(p.configVersion, 0) = $version AS current`, map[string]any{"id": ps.ID, "version": ps.version})
	if err != nil {
		return err
	}
	if rec == nil || !boolean(rec, "current") {
		return errRace
	}
	return nil
}

// writeResult is WriteResult with what the edit touched.
type writeResult struct {
	WriteResult
	touched touched
	ps      *projectState // the configuration the ops were decided under
	applied []int         // the indexes of the ops applied: neither refused nor skipped
}

// writeOps validates and applies ops in order, inside the caller's
// transaction: in one statement it claims the ops' event ids and locks and
// reads the clients they name (clientlock.go); it decides every op in Go
// against that state, so that an op sees the ones before it (decide.go);
// and it writes the outcome, values and match keys included, in one more
// statement (outcome.go).
//
// ps is the project's configuration, or nil: then it is taken at the
// version that the clients' lock statement reads (projectAt), which spares
// the round trip of reading it first; the result carries it. With
// resolve, a resolution follows in the transaction, and the statement that
// writes the keys runs its first round (touched.first).
func (s *Store) writeOps(ctx context.Context, tx neo4j.ManagedTransaction, project string, ps *projectState, ops []Op, strict,
	resolve bool, now time.Time) (writeResult, error) {
	ids, eventIDs, convIDs := map[string]bool{}, []string{}, []string{}
	var userRows []map[string]any
	for _, op := range ops {
		ids[op.Target()] = true
		if op.Kind == OpUpsertClient && op.Client.ChannelUserID != "" {
			ch := op.Client.Channel
			userRows = append(userRows, map[string]any{"kind": ch.Kind, "account": ch.Account, "uid": op.Client.ChannelUserID})
		}
		if op.EventID != "" {
			eventIDs = append(eventIDs, op.EventID)
		}
		if op.Kind == OpConversation {
			convIDs = append(convIDs, op.Conversation.ID)
		}
	}
	ls, err := lockClients(ctx, tx, project, keysOf(ids), eventIDs, convIDs, userRows)
	if err != nil {
		return writeResult{}, err
	}
	if ps == nil {
		if ps, err = s.projectAt(ctx, tx, project, ls.version); err != nil {
			return writeResult{}, err
		}
	}
	state := ls.clients
	d := newDecision(ps, state, ls.owners, ls.users, ls.fresh, now)
	d.strict = strict
	d.res.Normalized = make([]string, len(ops))
	for i, op := range ops {
		if strict && len(d.res.Refused) > 0 {
			d.release(ops[i:])
			break
		}
		d.decide(i, op)
	}
	// The changed clients' keys follow from the state decided here: no
	// need to read their values again. A value given is taken to be blocked
	// as the client's lock statement read it (free when new to the client);
	// writeOutcome checks that under the value's lock.
	d.markBlocked()
	states := map[string]keyState{}
	var changed, own []string
	for _, id := range keysOf(state) {
		st := state[id]
		if !st.changed {
			continue
		}
		states[id] = d.keyState(id)
		changed = append(changed, id)
		if st.mc != "" { // lock it at once, rather than after a first read
			own = append(own, st.mc)
		}
		if d.existed[id] {
			d.res.Changed++
		} else {
			d.res.NewClients++
		}
	}
	// When a resolution follows, the statement that writes the outcome
	// also runs its first round: one round trip fewer.
	var first *firstRound
	if resolve && len(changed) > 0 {
		first = &firstRound{want: dedupe(own), clients: changed}
	}
	moved, seeds, quarantined, err := writeOutcome(ctx, tx, ps, outcome{upserts: d.upserts, removes: removeRows(d.removes),
		conversations: d.conversations, unclaimed: d.unclaimed, adds: rowsOf(d.adds), states: states}, now, first)
	if err != nil {
		return writeResult{}, err
	}
	if len(moved) > 0 { // blocked or unblocked meanwhile: read those clients' keys again
		more, q, err := refreshKeys(ctx, tx, ps, moved)
		if err != nil {
			return writeResult{}, err
		}
		seeds, quarantined = append(seeds, more...), append(quarantined, q...)
		first = nil // it read the keys before they changed
	}
	if first != nil && first.recs == nil {
		first = nil // nothing to write: the statement did not run
	}
	d.res.touched = touched{clients: changed, updated: changed, seeds: append(seeds, own...), quarantined: quarantined,
		keysSynced: true, locked: true, first: first}
	d.res.ps = ps
	return d.res, nil
}

// Target is the id of the client the op writes to.
func (op Op) Target() string {
	if op.Kind == OpUpsertClient {
		return op.Client.ID
	}
	return op.ClientID // the attribute's or conversation's client
}
