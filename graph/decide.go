package graph

import (
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/multicontact/multicontact/identity"
)

// clientState is a client as a batch of ops sees it: what was read under
// its lock, then changed by the ops decided before.
type clientState struct {
	exists        bool
	mc            string // its multi-contact, read under its lock
	kind, account string
	name          string // display name
	channelUserID string
	values        map[[2]string]bool // field, normalized value
	widgetOnly    map[[2]string]bool // values that only an unverified widget call gave
	counts        map[string]int     // values per field
	changed       bool               // identifiers or channel fields changed

	// What its match keys follow, as read under its lock (keys.go).
	excluded bool
	held     map[[2]string]heldValue // its values as stored before the batch
	keys     map[[2]string]bool      // rule, key: its MATCHES edges
}

// decision decides a batch of ops in Go, one after the other, against the
// locked state of their clients, and gathers the rows that writeOutcome
// writes. A refused op changes nothing of that state.
type decision struct {
	ps      *projectState
	strict  bool // an upsert with a bad value is refused whole
	now     time.Time
	state   map[string]*clientState
	existed map[string]bool        // clients that existed before the batch
	owners  map[string]string      // conversation id -> its client
	users   map[channelUser]string // channel user -> its client
	fresh   map[string]bool        // event ids this transaction claimed
	applied map[string]bool        // event ids seen: before, or by an op decided already
	res     writeResult

	upserts       []map[string]any
	adds          map[[3]string]map[string]any // client, field, value -> row
	removes       map[[3]string]bool
	conversations []map[string]any
	unclaimed     []string // claimed event ids of ops a strict write never reached
}

func newDecision(ps *projectState, state map[string]*clientState, owners map[string]string,
	users map[channelUser]string, fresh map[string]bool, now time.Time) *decision {
	d := &decision{ps: ps, now: now, state: state, owners: owners, users: users, fresh: fresh,
		existed: map[string]bool{}, applied: map[string]bool{},
		adds: map[[3]string]map[string]any{}, removes: map[[3]string]bool{}}
	for id, st := range state {
		d.existed[id] = st.exists
	}
	for id, claimed := range fresh {
		d.applied[id] = !claimed
	}
	return d
}

// decide applies op i to the state, or refuses it, or skips it when its
// event id was seen before.
func (d *decision) decide(i int, op Op) {
	if op.EventID != "" && d.applied[op.EventID] {
		d.res.Skipped++
		return
	}
	var err error
	switch {
	case op.Refusal != nil:
		err = op.Refusal
	case op.Kind == OpUpsertClient:
		err = d.upsert(op)
	case op.Kind == OpAddAttribute:
		d.res.Normalized[i], err = d.addValues(op.ClientID, []identity.AttributeInput{op.Attribute})
	case op.Kind == OpRemoveAttribute:
		d.res.Normalized[i], err = d.removeValue(op.ClientID, op.Attribute)
	case op.Kind == OpConversation:
		err = d.conversation(op)
	default:
		err = identity.Errorf("op", identity.CodeInvalidArgument, "unknown operation")
	}
	// An event id is recorded whether its op applied or was refused: running
	// the same input again must end in the same state, and a refused op may
	// apply on a second run only because later ops changed what it saw.
	if op.EventID != "" {
		d.applied[op.EventID] = true
	}
	if err != nil {
		d.res.Refused = append(d.res.Refused, LineError{Line: op.Line, EventID: op.EventID, Err: err})
		return
	}
	d.res.Applied++
	d.res.applied = append(d.res.applied, i)
}

// release gives back the event ids that this transaction claimed for ops
// that a strict write stops before.
func (d *decision) release(rest []Op) {
	for _, op := range rest {
		if op.EventID != "" && d.fresh[op.EventID] && !d.applied[op.EventID] {
			d.unclaimed = append(d.unclaimed, op.EventID)
			d.applied[op.EventID] = true
		}
	}
}

func (d *decision) upsert(op Op) error {
	in, id := op.Client, op.Client.ID
	st := d.state[id]
	if err := validateClient(in); err != nil {
		return err
	}
	if st.exists && (st.kind != in.Channel.Kind || st.account != in.Channel.Account) {
		return identity.Errorf("channel", identity.CodeConflict,
			"client %q writes from %s/%s; a client's channel does not change", in.ID, st.kind, st.account)
	}
	user := channelUser{in.Channel.Kind, in.Channel.Account, in.ChannelUserID}
	if owner, ok := d.users[user]; ok && owner != id && in.ChannelUserID != "" {
		return identity.Errorf("channelUserId", identity.CodeConflict,
			"channel user %q of %s/%s is client %q", in.ChannelUserID, in.Channel.Kind, in.Channel.Account, owner)
	}
	// Check the values before the client changes: a refused upsert changes
	// nothing. Outside a strict write, a bad value is refused alone and the
	// client is written with the others.
	attrs := in.Attributes
	values, exts, err := d.checkAdd(st, attrs)
	if err != nil && !d.strict {
		attrs, values, exts = d.keepGood(st, op)
	} else if err != nil {
		return err
	}
	created := !st.exists
	st.exists, st.kind, st.account = true, in.Channel.Kind, in.Channel.Account
	st.changed = st.changed || created || in.DisplayName != "" && in.DisplayName != st.name
	if in.DisplayName != "" {
		st.name = in.DisplayName
	}
	row := clientRow(in, d.now)
	row["new"] = created
	if in.ChannelUserID != "" {
		// A client given a new channel user id frees its old one for the
		// ops after it, as the statement writes them in order.
		if old := (channelUser{in.Channel.Kind, in.Channel.Account, st.channelUserID}); st.channelUserID != "" && d.users[old] == id {
			delete(d.users, old)
		}
		d.users[user] = id
		st.channelUserID = in.ChannelUserID
	}
	d.upserts = append(d.upserts, row)
	d.add(id, attrs, values, exts)
	return nil
}

// keepGood checks an upsert's attributes one by one, in order, and returns
// those that pass with their normalized values; each one refused is a
// warning of the op's line.
func (d *decision) keepGood(st *clientState, op Op) ([]identity.AttributeInput, []string, []string) {
	var attrs []identity.AttributeInput
	var values, exts []string
	held := &clientState{values: maps.Clone(st.values), counts: maps.Clone(st.counts)}
	for _, a := range op.Client.Attributes {
		v, ext, err := d.checkAdd(held, []identity.AttributeInput{a})
		if err != nil {
			d.res.Warnings = append(d.res.Warnings, LineError{Line: op.Line, EventID: op.EventID, Err: err, Applied: true})
			continue
		}
		if fv := [2]string{a.Field, v[0]}; !held.values[fv] {
			held.values[fv] = true
			held.counts[a.Field]++
		}
		attrs, values, exts = append(attrs, a), append(values, v[0]), append(exts, ext[0])
	}
	return attrs, values, exts
}

// addValues gives an existing client values; it returns the first
// normalized value (what setAttribute answers).
func (d *decision) addValues(id string, attrs []identity.AttributeInput) (string, error) {
	st := d.state[id]
	if !st.exists {
		return "", notFound("client", id)
	}
	values, exts, err := d.checkAdd(st, attrs)
	if err != nil {
		return "", err
	}
	d.add(id, attrs, values, exts)
	return values[0], nil
}

// checkAdd normalizes the attributes and checks them against what the
// client holds now (identity.CheckNewValues); it returns the values and
// their extensions (a phone's, else "").
func (d *decision) checkAdd(st *clientState, attrs []identity.AttributeInput) (values, exts []string, err error) {
	values, exts, err = normalizeAttrs(d.ps, attrs, true)
	if err != nil {
		return nil, nil, err
	}
	var fresh [][2]string
	for j, v := range values {
		fv := [2]string{attrs[j].Field, v}
		if !st.values[fv] && !slices.Contains(fresh, fv) {
			fresh = append(fresh, fv)
		}
	}
	if err := identity.CheckNewValues(st.counts, fresh, d.ps.ValueCap, d.ps.activeRules()); err != nil {
		return nil, nil, err
	}
	return values, exts, nil
}

// keyState is what client id's match keys follow once the batch is
// written: its values as Neo4j will hold them (the edges that
// writeOutcome writes, with its rules for a value given again),
// without those blocked: blocked as the client's lock statement read them,
// free when new to the client (see markBlocked).
func (d *decision) keyState(id string) keyState {
	st := d.state[id]
	ks := keyState{excluded: st.excluded, keys: st.keys}
	for _, fv := range sortedPairs(st.values) {
		k := [3]string{id, fv[0], fv[1]}
		h, had := st.held[fv]
		if row := d.adds[k]; row != nil {
			// an edge removed earlier in the batch is written anew
			h = givenAgain(h, had && !d.removes[k], identity.Source(row["source"].(string)), row["verified"].(bool))
		}
		if !h.blocked {
			ks.values = append(ks.values, identity.Value{Field: fv[0], Value: fv[1], Verified: h.verified, Source: h.source})
		}
	}
	return ks
}

// markBlocked marks each value given (a row of adds) with the blocked flag
// that keyState assumed of it, for writeOutcome to check under the
// value's lock.
func (d *decision) markBlocked() {
	for k, row := range d.adds {
		row["blocked"] = d.state[k[0]].held[[2]string{k[1], k[2]}].blocked
	}
}

func sortedPairs(m map[[2]string]bool) [][2]string {
	out := make([][2]string, 0, len(m))
	for fv, ok := range m {
		if ok {
			out = append(out, fv)
		}
	}
	slices.SortFunc(out, func(a, b [2]string) int {
		if c := strings.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return strings.Compare(a[1], b[1])
	})
	return out
}

// verified reports whether a value the client holds is verified already:
// given verified earlier in this batch, or stored verified and not removed
// since (a value given again keeps its verification: givenAgain).
func (d *decision) verified(k [3]string, st *clientState) bool {
	if row := d.adds[k]; row != nil && row["verified"].(bool) {
		return true
	}
	return !d.removes[k] && st.held[[2]string{k[1], k[2]}].verified
}

// add records checked values of a client.
func (d *decision) add(id string, attrs []identity.AttributeInput, values, exts []string) {
	st := d.state[id]
	for j, v := range values {
		fv := [2]string{attrs[j].Field, v}
		k := [3]string{id, fv[0], fv[1]}
		if !st.values[fv] {
			st.values[fv] = true
			st.counts[fv[0]]++
			st.changed = true
		} else if attrs[j].Verified && !d.verified(k, st) || st.widgetOnly[fv] && attrs[j].Source != identity.SourceWidget {
			// It becomes verified, or vouched for by a source other than a
			// visitor's typing: it may link where it did not.
			st.changed = true
			st.widgetOnly[fv] = false
		}
		// One row per value: given twice in the batch, the row is what the
		// first giving leaves, given again (a removal before either stays
		// in removes: the edge is deleted, then written anew).
		row := d.adds[k]
		if row == nil {
			row = map[string]any{"client": id, "field": fv[0], "value": fv[1],
				"source": string(attrs[j].Source), "verified": attrs[j].Verified, "extension": nil}
			d.adds[k] = row
		} else {
			h := givenAgain(heldValue{source: identity.Source(row["source"].(string)), verified: row["verified"].(bool)},
				true, attrs[j].Source, attrs[j].Verified)
			row["source"], row["verified"] = string(h.source), h.verified
		}
		if exts[j] != "" {
			row["extension"] = exts[j]
		}
	}
}

func (d *decision) removeValue(id string, a identity.AttributeInput) (string, error) {
	st := d.state[id]
	if !st.exists {
		return "", notFound("client", id)
	}
	values, _, err := normalizeAttrs(d.ps, []identity.AttributeInput{a}, false)
	if err != nil {
		return "", err
	}
	fv := [2]string{a.Field, values[0]}
	if st.values[fv] {
		delete(st.values, fv)
		st.counts[fv[0]]--
		st.changed = true
		k := [3]string{id, fv[0], fv[1]}
		delete(d.adds, k)
		if _, had := st.held[fv]; had {
			d.removes[k] = true // the edge stored before the batch goes
		}
	}
	return values[0], nil
}

func (d *decision) conversation(op Op) error {
	c, id := op.Conversation, op.ClientID
	if !d.state[id].exists {
		return notFound("client", id)
	}
	if err := c.normalize(); err != nil {
		return err
	}
	if owner, ok := d.owners[c.ID]; ok && owner != id {
		return identity.Errorf("id", identity.CodeConflict, "conversation %q belongs to another client", c.ID)
	}
	d.owners[c.ID] = id
	d.conversations = append(d.conversations, map[string]any{"client": id, "id": c.ID, "startedAt": c.StartedAt,
		"lastMessageAt": c.LastMessageAt, "summary": c.Summary})
	return nil
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
// needs a valid source. A phone's extension ("доб. 12") is not part of
// its value, which is what matches; it is returned beside it, to be kept.
func normalizeAttrs(ps *projectState, attrs []identity.AttributeInput, adding bool) (values, exts []string, err error) {
	values, exts = make([]string, len(attrs)), make([]string, len(attrs))
	for i, a := range attrs {
		if values[i], exts[i], err = ps.catalog.NormalizeWithExtension(a.Field, a.Value); err != nil {
			return nil, nil, err
		}
		if adding {
			if _, err := identity.ParseSource(string(a.Source)); err != nil {
				return nil, nil, err
			}
		}
	}
	return values, exts, nil
}
