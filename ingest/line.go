// Package ingest turns incoming identity events (NDJSON imports, API
// calls) into validated store operations, in batches, with progress.
package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/multicontact/multicontact/graph"
	"github.com/multicontact/multicontact/identity"
)

// Line is one line of the NDJSON import format (README, "Bulk import").
// Op is "client", "attribute", "removeAttribute" or "conversation".
type Line struct {
	Op      string `json:"op"`
	EventID string `json:"eventId,omitempty"`

	// client; and conversation (its id)
	ID            string      `json:"id,omitempty"`
	Channel       *Channel    `json:"channel,omitempty"`
	ChannelUserID string      `json:"channelUserId,omitempty"`
	DisplayName   string      `json:"displayName,omitempty"`
	CreatedAt     *time.Time  `json:"createdAt,omitempty"`
	LastSeenAt    *time.Time  `json:"lastSeenAt,omitempty"`
	Attributes    []Attribute `json:"attributes,omitempty"`

	// attribute, removeAttribute, conversation: the client it belongs to
	Client   string `json:"client,omitempty"`
	Field    string `json:"field,omitempty"`
	Value    string `json:"value,omitempty"`
	Source   string `json:"source,omitempty"`
	Verified bool   `json:"verified,omitempty"`

	// conversation
	StartedAt     *time.Time `json:"startedAt,omitempty"`
	LastMessageAt *time.Time `json:"lastMessageAt,omitempty"`
	Summary       string     `json:"summary,omitempty"`
}

// Channel is a client's channel in the import format.
type Channel struct {
	Kind    string `json:"kind"`
	Account string `json:"account"`
}

// Attribute is one identifier in the import format; source defaults to IMPORT.
type Attribute struct {
	Field    string `json:"field"`
	Value    string `json:"value"`
	Source   string `json:"source,omitempty"`
	Verified bool   `json:"verified,omitempty"`
}

// MaxEventIDBytes bounds a line's event id.
const MaxEventIDBytes = 4096

// ParseLine decodes one NDJSON line into a store operation. Unknown
// properties, a missing op or a malformed line are refused with a typed
// error; values are normalized later, by the store.
func ParseLine(n int, raw []byte) (graph.Op, error) {
	var l Line
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return graph.Op{}, identity.Errorf("line", identity.CodeInvalidArgument, "not a JSON object of the import format: %s", jsonProblem(err))
	}
	// Only spaces may follow the object (More does not see a stray } or ]).
	if _, err := dec.Token(); err != io.EOF {
		return graph.Op{}, identity.Errorf("line", identity.CodeInvalidArgument, "something follows the JSON object on the line")
	}
	// An event id is kept (AppliedEvent) so that the line applies once; one
	// too long for Neo4j's index (about 8 KB with the project's id) is
	// refused here, before anything records it. The bound is far above any
	// id a system makes, so no id an earlier import kept is refused now.
	if len(l.EventID) > MaxEventIDBytes {
		return graph.Op{}, identity.Errorf("eventId", identity.CodeTooLong, "an event id is at most %d bytes", MaxEventIDBytes)
	}
	op := graph.Op{Line: n, EventID: l.EventID}
	if name := l.foreign(); name != "" {
		return op, identity.Errorf(name, identity.CodeInvalidArgument, "a line of op %q has no property %q", clipped(l.Op, 64), name)
	}
	switch l.Op {
	case "client":
		op.Kind = graph.OpUpsertClient
		in := identity.ClientInput{ID: l.ID, ChannelUserID: l.ChannelUserID, DisplayName: l.DisplayName}
		if l.Channel == nil {
			return op, identity.Errorf("channel", identity.CodeInvalidArgument, "a client line needs its channel {kind, account}")
		}
		in.Channel = identity.Channel{Kind: l.Channel.Kind, Account: l.Channel.Account}
		if l.CreatedAt != nil {
			in.CreatedAt = *l.CreatedAt
		}
		if l.LastSeenAt != nil {
			in.LastSeenAt = *l.LastSeenAt
		}
		for _, a := range l.Attributes {
			in.Attributes = append(in.Attributes, identity.AttributeInput{Field: a.Field, Value: a.Value,
				Source: source(a.Source), Verified: a.Verified})
		}
		op.Client = in
	case "attribute", "removeAttribute":
		op.Kind, op.ClientID = graph.OpAddAttribute, l.Client
		if l.Op == "removeAttribute" {
			op.Kind = graph.OpRemoveAttribute
		}
		op.Attribute = identity.AttributeInput{Field: l.Field, Value: l.Value, Source: source(l.Source), Verified: l.Verified}
	case "conversation":
		op.Kind, op.ClientID = graph.OpConversation, l.Client
		op.Conversation = graph.Conversation{ID: l.ID, Summary: l.Summary}
		if l.StartedAt != nil {
			op.Conversation.StartedAt = *l.StartedAt
		}
		if l.LastMessageAt != nil {
			op.Conversation.LastMessageAt = *l.LastMessageAt
		}
	case "":
		return op, identity.Errorf("op", identity.CodeInvalidArgument, "the line has no op")
	default:
		return op, identity.Errorf("op", identity.CodeInvalidArgument, "unknown op %q (want client, attribute, removeAttribute or conversation)", clipped(l.Op, 64))
	}
	return op, nil
}

// foreign names a property that the line's op does not take (another
// op's: a phone given on a client line outside its attributes), which
// would otherwise be dropped without a word; "" when there is none.
func (l *Line) foreign() string {
	takes := map[string][]string{
		"client":          {"id", "channel", "channelUserId", "displayName", "createdAt", "lastSeenAt", "attributes"},
		"attribute":       {"client", "field", "value", "source", "verified"},
		"removeAttribute": {"client", "field", "value", "source", "verified"},
		"conversation":    {"id", "client", "startedAt", "lastMessageAt", "summary"},
	}[l.Op]
	if takes == nil {
		return "" // no op, or an unknown one: refused for that
	}
	for _, p := range []struct {
		name string
		set  bool
	}{
		{"id", l.ID != ""}, {"channel", l.Channel != nil}, {"channelUserId", l.ChannelUserID != ""},
		{"displayName", l.DisplayName != ""}, {"createdAt", l.CreatedAt != nil}, {"lastSeenAt", l.LastSeenAt != nil},
		{"attributes", l.Attributes != nil}, {"client", l.Client != ""}, {"field", l.Field != ""}, {"value", l.Value != ""},
		{"source", l.Source != ""}, {"verified", l.Verified}, {"startedAt", l.StartedAt != nil},
		{"lastMessageAt", l.LastMessageAt != nil}, {"summary", l.Summary != ""},
	} {
		if p.set && !slices.Contains(takes, p.name) {
			return p.name
		}
	}
	return ""
}

func source(s string) identity.Source {
	if s == "" {
		return identity.SourceImport
	}
	return identity.Source(strings.ToUpper(s))
}

// jsonProblem says what is wrong with a line without echoing it whole.
func jsonProblem(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("%v at byte %d", syntax, syntax.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("%s must be %s", typ.Field, typ.Type)
	default: // an unknown field's name is echoed: keep it short
		return clipped(err.Error(), 200)
	}
}

// clipped shortens s to at most n bytes, at a rune boundary, marking the
// cut: a refused line's message names what is wrong without echoing a
// value of any length.
func clipped(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
