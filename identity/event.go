package identity

import "time"

// EventType says how a multi-contact changed.
type EventType string

// Event types. DELETED: the last member of a multi-contact was removed.
// FORGOTTEN: the person was erased on request (GDPR, 152-FZ): every client
// of the multi-contact with its values, conversations and links; the event
// holds only ids and counts. QUARANTINED: a match key passed the project's
// cap and stops linking (the shared office phone); the event names the
// multi-contact of the client whose write pushed it over, lists the key's
// holders and carries the key.
const (
	EventCreated     EventType = "CREATED"
	EventMerged      EventType = "MERGED"
	EventSplit       EventType = "SPLIT"
	EventUpdated     EventType = "UPDATED"
	EventDeleted     EventType = "DELETED"
	EventForgotten   EventType = "FORGOTTEN"
	EventQuarantined EventType = "QUARANTINED"
)

// CauseKind says what kind of change produced an event.
type CauseKind string

// Cause kinds.
const (
	CauseValue      CauseKind = "VALUE"       // a client's identifiers changed
	CauseClient     CauseKind = "CLIENT"      // a client was created, updated or removed; or a large import's clients were resolved
	CauseManual     CauseKind = "MANUAL"      // an operator linked, unlinked, blocked, excluded or allowed
	CauseRuleChange CauseKind = "RULE_CHANGE" // rules or caps changed; the project was re-resolved
)

// Cause explains an event: what was done, by whom, and to which values.
type Cause struct {
	Kind   CauseKind
	Action string // e.g. setAttribute, removeAttribute, linkClients, addRule
	Field  string
	Value  string
	Rule   string
	// Client is the client whose write it was, if one; forgetting it
	// blanks Value wherever the event is filed.
	Client string
}

// Event is one change of one multi-contact, in commit order within its project.
type Event struct {
	Seq            int64
	Project        string
	Type           EventType
	MultiContactID string
	// PreviousIDs are, for MERGED, the absorbed ids (now aliases).
	PreviousIDs []string
	// NewIDs are, for SPLIT, the ids of the parts that left MultiContactID.
	NewIDs    []string
	ClientIDs []string
	Cause     Cause
	At        time.Time
	// Forgotten counts, for FORGOTTEN, what was erased; nil otherwise.
	Forgotten *Forgotten
	// Quarantined is, for QUARANTINED, the key and how many clients hold it.
	Quarantined *QuarantinedKey
}

// Forgotten counts what erasing a person removed, and holds nothing of
// the person: the only record left of them besides ids.
type Forgotten struct {
	Clients       int // the clients, with their channel user ids and display names
	Values        int // the identifiers they held (a value someone else holds stays, without them)
	Conversations int // their conversations
	Links         int // the manual links that touched them
}
