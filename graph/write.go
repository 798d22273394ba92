package graph

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

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
type LineError struct {
	Line    int
	EventID string
	Err     error
}

// WriteResult says what a Write did.
type WriteResult struct {
	Applied    int         // ops that were applied (changed something or not)
	Skipped    int         // ops whose event id was seen before (applied or refused)
	Refused    []LineError // ops refused, in input order
	Normalized []string    // per op, the normalized value of OpAddAttribute/OpRemoveAttribute
	NewClients int         // clients created
	Changed    int         // clients that existed and whose identifiers or channel changed
	Events     []identity.Event
}

// Write applies ops in order, each valid op fully and each invalid one not
// at all, in one transaction.
func (s *Store) Write(ctx context.Context, project string, ops []Op, opt WriteOptions) (WriteResult, error) {
	var res writeResult
	cause := identity.Cause{Kind: identity.CauseClient, Action: "import"}
	if len(ops) == 1 {
		cause = causeOf(ops[0])
	}
	edit := func(ctx context.Context, tx neo4j.ManagedTransaction, ps *projectState) (touched, error) {
		var err error
		res, err = writeOps(ctx, tx, ps, ops, opt.Strict, s.now().UTC())
		if err != nil {
			return touched{}, err
		}
		return res.touched, nil
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
			t, err := edit(ctx, tx, ps)
			if err == nil && len(t.clients) > 0 {
				_, err = refreshKeys(ctx, tx, ps, t.clients)
			}
			if err == nil && len(t.clients) > 0 {
				err = markUnresolved(ctx, tx, project)
			}
			return noResult{}, err
		})
	}
	return res.WriteResult, err
}

func causeOf(op Op) identity.Cause {
	switch op.Kind {
	case OpAddAttribute:
		return identity.Cause{Kind: identity.CauseValue, Action: "setAttribute", Field: op.Attribute.Field}
	case OpRemoveAttribute:
		return identity.Cause{Kind: identity.CauseValue, Action: "removeAttribute", Field: op.Attribute.Field}
	case OpConversation:
		return identity.Cause{Kind: identity.CauseClient, Action: "recordConversation"}
	default:
		return identity.Cause{Kind: identity.CauseClient, Action: "upsertClient"}
	}
}

// BeginBulk starts a large import: the project is RUNNING until Reresolve
// has resolved everything the import wrote (writes from elsewhere go on
// meanwhile and are resolved again at the end).
func (s *Store) BeginBulk(ctx context.Context, project string) error {
	_, err := writeTx(ctx, s, func(tx neo4j.ManagedTransaction) (noResult, error) {
		rec, err := single(ctx, tx, `MATCH (p:Project {id: $id})
			SET p.resolution = 'RUNNING', p.progress = 0.0, p.generation = coalesce(p.generation, 0) + 1
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
// before this commit cannot declare it IDLE (it runs again).
func markUnresolved(ctx context.Context, tx neo4j.ManagedTransaction, project string) error {
	return exec(ctx, tx, `MATCH (p:Project {id: $id})
		SET p.resolution = 'RUNNING', p.generation = coalesce(p.generation, 0) + 1`, map[string]any{"id": project})
}

// writeResult is WriteResult with what the edit touched.
type writeResult struct {
	WriteResult
	touched touched
}

// clientState is a client as a batch of ops sees it.
type clientState struct {
	exists        bool
	kind, account string
	channelUserID string
	values        map[[2]string]bool // field, normalized value
	widgetOnly    map[[2]string]bool // values that only an unverified widget call gave
	counts        map[string]int     // values per field
	changed       bool               // identifiers or channel fields changed
}

// writeOps validates and applies ops in order. It first reads the clients
// the ops name, then decides every op in Go against that state (so an op
// sees the ones before it), then writes the outcome with a few UNWINDs.
func writeOps(ctx context.Context, tx neo4j.ManagedTransaction, ps *projectState, ops []Op, strict bool, now time.Time) (writeResult, error) {
	var res writeResult
	res.Normalized = make([]string, len(ops))
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
	// Claim the event ids first: a concurrent transaction claiming the same
	// id waits for this one and then finds it taken.
	fresh, err := claimEventIDs(ctx, tx, ps.ID, dedupe(eventIDs))
	if err != nil {
		return res, err
	}
	applied := map[string]bool{}
	for _, id := range eventIDs {
		applied[id] = !fresh[id]
	}
	state, owners, users, err := lockClients(ctx, tx, ps.ID, keysOf(ids), convIDs, userRows)
	if err != nil {
		return res, err
	}
	existed := map[string]bool{}
	for id, st := range state {
		existed[id] = st.exists
	}
	var upserts []map[string]any
	adds := map[[3]string]map[string]any{} // client, field, value -> row
	removes := map[[3]string]bool{}
	var conversations []map[string]any
	// An event id is recorded whether its op applied or was refused: running
	// the same input again must end in the same state, and a refused op may
	// apply on a second run only because later ops changed what it saw.
	refuse := func(op Op, err error) {
		res.Refused = append(res.Refused, LineError{Line: op.Line, EventID: op.EventID, Err: err})
		if op.EventID != "" {
			applied[op.EventID] = true
		}
	}
	var unclaimed []string // claimed event ids of ops a strict write never reached
	for i, op := range ops {
		if strict && len(res.Refused) > 0 {
			for _, rest := range ops[i:] {
				if rest.EventID != "" && fresh[rest.EventID] && !applied[rest.EventID] {
					unclaimed = append(unclaimed, rest.EventID)
					applied[rest.EventID] = true
				}
			}
			break
		}
		if op.EventID != "" && applied[op.EventID] {
			res.Skipped++
			continue
		}
		id := op.Target()
		st := state[id]
		var attrs []identity.AttributeInput
		switch op.Kind {
		case OpUpsertClient:
			in := op.Client
			if err := validateClient(in); err != nil {
				refuse(op, err)
				continue
			}
			if st.exists && (st.kind != in.Channel.Kind || st.account != in.Channel.Account) {
				refuse(op, identity.Errorf("channel", identity.CodeConflict,
					"client %q writes from %s/%s; a client's channel does not change", in.ID, st.kind, st.account))
				continue
			}
			user := channelUser{in.Channel.Kind, in.Channel.Account, in.ChannelUserID}
			if owner, ok := users[user]; ok && owner != id && in.ChannelUserID != "" {
				refuse(op, identity.Errorf("channelUserId", identity.CodeConflict,
					"channel user %q of %s/%s is client %q", in.ChannelUserID, in.Channel.Kind, in.Channel.Account, owner))
				continue
			}
			attrs = in.Attributes
		case OpAddAttribute, OpRemoveAttribute:
			if !st.exists {
				refuse(op, notFound("client", id))
				continue
			}
			attrs = []identity.AttributeInput{op.Attribute}
		case OpConversation:
			c := op.Conversation
			if !st.exists {
				refuse(op, notFound("client", id))
				continue
			}
			if err := c.normalize(); err != nil {
				refuse(op, err)
				continue
			}
			if owner, ok := owners[c.ID]; ok && owner != id {
				refuse(op, identity.Errorf("id", identity.CodeConflict, "conversation %q belongs to another client", c.ID))
				continue
			}
			owners[c.ID] = id
			conversations = append(conversations, map[string]any{"client": id, "id": c.ID, "startedAt": c.StartedAt,
				"lastMessageAt": c.LastMessageAt, "summary": c.Summary})
			res.Applied++
			if op.EventID != "" {
				applied[op.EventID] = true
			}
			continue
		default:
			refuse(op, identity.Errorf("op", identity.CodeInvalidArgument, "unknown operation"))
			continue
		}
		values, err := normalizeAttrs(ps, attrs, op.Kind != OpRemoveAttribute)
		if err != nil {
			refuse(op, err)
			continue
		}
		if op.Kind == OpRemoveAttribute {
			fv := [2]string{op.Attribute.Field, values[0]}
			res.Normalized[i] = values[0]
			if st.values[fv] {
				delete(st.values, fv)
				st.counts[fv[0]]--
				st.changed = true
				k := [3]string{id, fv[0], fv[1]}
				if adds[k] != nil {
					delete(adds, k)
				} else {
					removes[k] = true
				}
			}
		} else {
			var fresh [][2]string
			for j, v := range values {
				fv := [2]string{attrs[j].Field, v}
				if !st.values[fv] && !slices.Contains(fresh, fv) {
					fresh = append(fresh, fv)
				}
			}
			if field := overCap(st.counts, fresh, ps.ValueCap); field != "" {
				refuse(op, identity.Errorf(field, identity.CodeTooManyValues,
					"a client holds at most %d values of %s; remove one first", ps.ValueCap, field))
				continue
			}
			if op.Kind == OpAddAttribute {
				res.Normalized[i] = values[0]
			}
			if op.Kind == OpUpsertClient {
				created := !st.exists
				st.exists, st.kind, st.account = true, op.Client.Channel.Kind, op.Client.Channel.Account
				st.changed = st.changed || created || op.Client.DisplayName != ""
				row := clientRow(op.Client, now)
				row["new"] = created
				// A channel user id given anew is checked again under the channel's lock.
				if in := op.Client; in.ChannelUserID != "" {
					row["checkUser"] = in.ChannelUserID != st.channelUserID
					users[channelUser{in.Channel.Kind, in.Channel.Account, in.ChannelUserID}] = id
					st.channelUserID = in.ChannelUserID
				}
				upserts = append(upserts, row)
			}
			for j, v := range values {
				fv := [2]string{attrs[j].Field, v}
				k := [3]string{id, fv[0], fv[1]}
				if !st.values[fv] {
					st.values[fv] = true
					st.counts[fv[0]]++
					st.changed = true
				} else if attrs[j].Verified || st.widgetOnly[fv] && attrs[j].Source != identity.SourceWidget {
					// It may become verified, or vouched for by a source other
					// than a visitor's typing: it may link where it did not.
					st.changed = true
					st.widgetOnly[fv] = false
				}
				if removes[k] {
					delete(removes, k) // removed and added again in one batch: the edge stays
				}
				adds[k] = map[string]any{"client": id, "field": fv[0], "value": fv[1],
					"source": string(attrs[j].Source), "verified": attrs[j].Verified}
			}
		}
		res.Applied++
		if op.EventID != "" {
			applied[op.EventID] = true
		}
	}
	if err := writeOutcome(ctx, tx, ps.ID, upserts, rowsOf(adds), removeRows(removes), conversations, unclaimed, now); err != nil {
		return res, err
	}
	for _, id := range keysOf(state) {
		st := state[id]
		if !st.changed {
			continue
		}
		res.touched.clients = append(res.touched.clients, id)
		res.touched.updated = append(res.touched.updated, id)
		if existed[id] {
			res.Changed++
		} else {
			res.NewClients++
		}
	}
	return res, nil
}

// Target is the id of the client the op writes to.
func (op Op) Target() string {
	if op.Kind == OpUpsertClient {
		return op.Client.ID
	}
	return op.ClientID // the attribute's or conversation's client
}

// normalize checks a conversation and fills its defaults.
func (c *Conversation) normalize() error {
	if err := identity.ValidateID("id", c.ID); err != nil {
		return err
	}
	if c.StartedAt.IsZero() {
		return identity.Errorf("startedAt", identity.CodeInvalidArgument, "startedAt is required")
	}
	if c.LastMessageAt.IsZero() {
		c.LastMessageAt = c.StartedAt
	}
	if c.LastMessageAt.Before(c.StartedAt) {
		return identity.Errorf("lastMessageAt", identity.CodeInvalidArgument, "lastMessageAt is before startedAt")
	}
	if !utf8.ValidString(c.Summary) || utf8.RuneCountInString(c.Summary) > MaxSummaryRunes {
		return identity.Errorf("summary", identity.CodeTooLong, "a summary is valid text of at most %d characters", MaxSummaryRunes)
	}
	c.StartedAt, c.LastMessageAt = c.StartedAt.UTC(), c.LastMessageAt.UTC()
	return nil
}

func validateClient(in identity.ClientInput) error {
	if err := identity.ValidateID("id", in.ID); err != nil {
		return err
	}
	if err := in.Channel.Validate(); err != nil {
		return err
	}
	if len(in.ChannelUserID) > identity.MaxIDLen {
		return identity.Errorf("channelUserId", identity.CodeTooLong, "a channel user id is at most %d bytes", identity.MaxIDLen)
	}
	if len(in.DisplayName) > identity.MaxIDLen {
		return identity.Errorf("displayName", identity.CodeTooLong, "a display name is at most %d bytes", identity.MaxIDLen)
	}
	return nil
}

// normalizeAttrs normalizes every attribute or refuses them all; adding
// needs a valid source.
func normalizeAttrs(ps *projectState, attrs []identity.AttributeInput, adding bool) ([]string, error) {
	out := make([]string, len(attrs))
	for i, a := range attrs {
		v, err := ps.catalog.Normalize(a.Field, a.Value)
		if err != nil {
			return nil, err
		}
		if adding {
			if _, err := identity.ParseSource(string(a.Source)); err != nil {
				return nil, err
			}
		}
		out[i] = v
	}
	return out, nil
}

func overCap(counts map[string]int, fresh [][2]string, limit int) string {
	add := map[string]int{}
	for _, fv := range fresh {
		add[fv[0]]++
		if counts[fv[0]]+add[fv[0]] > limit {
			return fv[0]
		}
	}
	return ""
}

func clientRow(in identity.ClientInput, now time.Time) map[string]any {
	created := in.CreatedAt
	if created.IsZero() {
		created = now
	}
	var seen any
	if !in.LastSeenAt.IsZero() {
		seen = in.LastSeenAt.UTC()
	}
	return map[string]any{"id": in.ID, "kind": in.Channel.Kind, "account": in.Channel.Account,
		"channelUserId": in.ChannelUserID, "name": in.DisplayName, "createdAt": created.UTC(), "lastSeenAt": seen}
}

func rowsOf(m map[[3]string]map[string]any) []map[string]any {
	keys := make([][3]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return strings.Join(keys[i][:], "\x00") < strings.Join(keys[j][:], "\x00") })
	out := make([]map[string]any, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}

func removeRows(m map[[3]string]bool) []map[string]any {
	out := make([]map[string]any, 0, len(m))
	for k := range m {
		out = append(out, map[string]any{"client": k[0], "field": k[1], "value": k[2]})
	}
	return out
}

// claimEventIDs records the event ids (sorted, distinct) as applied and
// returns those that no committed transaction had recorded before. The
// uniqueness constraint on AppliedEvent makes a concurrent claim of the
// same id wait for this transaction, so an id applies at most once.
func claimEventIDs(ctx context.Context, tx neo4j.ManagedTransaction, project string, ids []string) (map[string]bool, error) {
	fresh := map[string]bool{}
	if len(ids) == 0 {
		return fresh, nil
	}
	recs, err := collect(ctx, tx, `UNWIND $ids AS id
		MERGE (a:AppliedEvent {project: $project, id: id})
		ON CREATE SET a.claimed = true
		WITH a, id, coalesce(a.claimed, false) AS fresh
		REMOVE a.claimed
		RETURN id, fresh`, map[string]any{"project": project, "ids": ids})
	if err != nil {
		return nil, fmt.Errorf("claim event ids: %w", err)
	}
	for _, rec := range recs {
		fresh[str(rec, "id")] = boolean(rec, "fresh")
	}
	return fresh, nil
}

// lockClients takes the write locks of the named clients that exist and
// then reads their channels and values, so that every check made on them
// (the value cap, the channel) holds until commit. It also reads which
// client owns each conversation. A client that does not exist yet is
// locked when it is created (see writeOutcome).
func lockClients(ctx context.Context, tx neo4j.ManagedTransaction, project string, ids, convIDs []string, users []map[string]any) (
	map[string]*clientState, map[string]string, map[channelUser]string, error) {
	state := make(map[string]*clientState, len(ids))
	for _, id := range ids {
		state[id] = &clientState{values: map[[2]string]bool{}, counts: map[string]int{}, widgetOnly: map[[2]string]bool{}}
	}
	recs, err := collect(ctx, tx, `UNWIND $ids AS id
		MATCH (c:Client {project: $project, id: id})
		SET c.locked = true REMOVE c.locked
		WITH c
		RETURN c.id AS id, [(c)-[u:VIA]->(ch:Channel) | [ch.kind, ch.account, coalesce(u.channelUserId, '')]][0] AS channel,
			[(c)-[h:HAS]->(v:Value) | [v.field, v.value, h.source = 'WIDGET' AND NOT h.verified]] AS values`,
		map[string]any{"project": project, "ids": ids})
	if err != nil {
		return nil, nil, nil, err
	}
	for _, rec := range recs {
		st := state[str(rec, "id")]
		st.exists = true
		if ch := strs(rec, "channel"); len(ch) == 3 {
			st.kind, st.account, st.channelUserID = ch[0], ch[1], ch[2]
		}
		for _, v := range list(rec, "values") {
			fv, _ := v.([]any)
			if len(fv) != 3 {
				continue
			}
			f, _ := fv[0].(string)
			val, _ := fv[1].(string)
			widgetOnly, _ := fv[2].(bool)
			st.values[[2]string{f, val}] = true
			st.widgetOnly[[2]string{f, val}] = widgetOnly
			st.counts[f]++
		}
	}
	owners := map[string]string{}
	if len(convIDs) > 0 {
		recs, err = collect(ctx, tx, `UNWIND $ids AS id MATCH (v:Conversation {project: $project, id: id}) RETURN v.id AS id, v.client AS client`,
			map[string]any{"project": project, "ids": convIDs})
		if err != nil {
			return nil, nil, nil, err
		}
		for _, rec := range recs {
			owners[str(rec, "id")] = str(rec, "client")
		}
	}
	byUser := map[channelUser]string{}
	if len(users) > 0 {
		recs, err = collect(ctx, tx, `UNWIND $users AS u
			MATCH (o:Client)-[:VIA {channelUserId: u.uid}]->(:Channel {project: $project, kind: u.kind, account: u.account})
			RETURN u.kind AS kind, u.account AS account, u.uid AS uid, o.id AS id`,
			map[string]any{"project": project, "users": users})
		if err != nil {
			return nil, nil, nil, err
		}
		for _, rec := range recs {
			byUser[channelUser{str(rec, "kind"), str(rec, "account"), str(rec, "uid")}] = str(rec, "id")
		}
	}
	return state, owners, byUser, nil
}

// channelUser is a person's id on one channel account: it belongs to one client.
type channelUser struct{ kind, account, id string }

// writeOutcome writes what writeOps decided, and releases the event ids of
// ops that a strict write never reached.
func writeOutcome(ctx context.Context, tx neo4j.ManagedTransaction, project string,
	upserts, adds, removes, conversations []map[string]any, unclaimed []string, now time.Time) error {
	p := func(extra map[string]any) map[string]any {
		extra["project"] = project
		extra["now"] = now
		return extra
	}
	if len(upserts) > 0 {
		// A client believed new but created meanwhile by a concurrent
		// transaction was checked against no state: run again, locking it.
		rec, err := single(ctx, tx, `UNWIND $rows AS r
			MERGE (c:Client {project: $project, id: r.id})
			ON CREATE SET c.createdAt = r.createdAt, c.excluded = false, c.lastSeenAt = coalesce(r.lastSeenAt, $now), c.created = true
			WITH c, r, r.new AND c.created IS NULL AS raced
			REMOVE c.created
			SET c.displayName = CASE WHEN r.name = '' THEN coalesce(c.displayName, '') ELSE r.name END,
				c.lastSeenAt = CASE WHEN r.lastSeenAt IS NOT NULL AND r.lastSeenAt > c.lastSeenAt THEN r.lastSeenAt ELSE c.lastSeenAt END
			MERGE (ch:Channel {project: $project, kind: r.kind, account: r.account})
			MERGE (c)-[v:VIA]->(ch)
			SET v.channelUserId = CASE WHEN r.channelUserId = '' THEN coalesce(v.channelUserId, '') ELSE r.channelUserId END
			RETURN count(CASE WHEN raced THEN 1 END) AS raced`,
			p(map[string]any{"rows": upserts}))
		if err != nil {
			return fmt.Errorf("write clients: %w", err)
		}
		if i64(rec, "raced") > 0 {
			return errRace
		}
		// A channel user id given anew: under the channel's lock, no other
		// client may hold it (one given concurrently makes this run again).
		rec, err = single(ctx, tx, `UNWIND [r IN $rows WHERE r.checkUser] AS r
			MATCH (c:Client {project: $project, id: r.id})-[:VIA]->(ch:Channel)
			SET ch.locked = true REMOVE ch.locked
			WITH c, ch, r
			OPTIONAL MATCH (o:Client)-[:VIA {channelUserId: r.channelUserId}]->(ch) WHERE o <> c
			RETURN count(o) AS raced`, p(map[string]any{"rows": upserts}))
		if err != nil {
			return fmt.Errorf("check channel users: %w", err)
		}
		if i64(rec, "raced") > 0 {
			return errRace
		}
	}
	if len(removes) > 0 {
		if err := exec(ctx, tx, `UNWIND $rows AS r
			MATCH (:Client {project: $project, id: r.client})-[h:HAS]->(:Value {project: $project, field: r.field, value: r.value})
			DELETE h`, p(map[string]any{"rows": removes})); err != nil {
			return fmt.Errorf("remove values: %w", err)
		}
	}
	if len(adds) > 0 {
		if err := exec(ctx, tx, `UNWIND $rows AS r
			MATCH (c:Client {project: $project, id: r.client})
			MERGE (v:Value {project: $project, field: r.field, value: r.value})
			ON CREATE SET v.blocked = false
			MERGE (c)-[h:HAS]->(v)
			ON CREATE SET h.source = r.source, h.verified = r.verified, h.at = $now
			ON MATCH SET h.source = CASE WHEN r.verified AND NOT h.verified THEN r.source
					WHEN h.source = 'WIDGET' AND NOT h.verified AND r.source <> 'WIDGET' THEN r.source ELSE h.source END,
				h.verified = h.verified OR r.verified`, p(map[string]any{"rows": adds})); err != nil {
			return fmt.Errorf("add values: %w", err)
		}
	}
	if len(conversations) > 0 {
		// The MERGE waits for a concurrent creation of the same conversation;
		// if that made it another client's, run again to refuse the op.
		rec, err := single(ctx, tx, `UNWIND $rows AS r
			MATCH (c:Client {project: $project, id: r.client})
			MERGE (v:Conversation {project: $project, id: r.id})
			ON CREATE SET v.client = r.client
			WITH c, v, r, v.client <> r.client AS raced
			CALL {
				WITH c, v, r, raced
				WITH c, v, r WHERE NOT raced
				SET v.startedAt = r.startedAt, v.lastMessageAt = r.lastMessageAt, v.summary = r.summary,
					c.lastSeenAt = CASE WHEN c.lastSeenAt IS NULL OR c.lastSeenAt < r.lastMessageAt THEN r.lastMessageAt ELSE c.lastSeenAt END
				MERGE (c)-[:HAD]->(v)
			}
			RETURN count(CASE WHEN raced THEN 1 END) AS raced`, p(map[string]any{"rows": conversations}))
		if err != nil {
			return fmt.Errorf("record conversations: %w", err)
		}
		if i64(rec, "raced") > 0 {
			return errRace
		}
	}
	if len(unclaimed) > 0 {
		if err := exec(ctx, tx, `UNWIND $ids AS id MATCH (a:AppliedEvent {project: $project, id: id}) DELETE a`,
			p(map[string]any{"ids": unclaimed})); err != nil {
			return fmt.Errorf("release event ids: %w", err)
		}
	}
	return nil
}
