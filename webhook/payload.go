package webhook

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/multicontact/multicontact/identity"
)

// payload is the body of a delivery: the fields of the schema's
// MultiContactEvent, with the same names, plus projectId and eventId.
type payload struct {
	EventID        string             `json:"eventId"`
	ProjectID      string             `json:"projectId"`
	Type           identity.EventType `json:"type"`
	MultiContactID string             `json:"multiContactId"`
	PreviousIDs    []string           `json:"previousIds"`
	NewIDs         []string           `json:"newIds"`
	ClientIDs      []string           `json:"clientIds"`
	Cause          cause              `json:"cause"`
	At             time.Time          `json:"at"`
	Cursor         string             `json:"cursor"`
	Forgotten      *forgotten         `json:"forgotten"`
	Quarantined    *quarantined       `json:"quarantined"`
}

// quarantined is the key of a QUARANTINED event, as QuarantinedKey in the schema.
type quarantined struct {
	Rule  string    `json:"rule"`
	Key   string    `json:"key"`
	Parts []keyPart `json:"parts"`
	Size  int       `json:"size"`
	Since time.Time `json:"since"`
}

type keyPart struct {
	Field string `json:"field"`
	Value string `json:"value"`
}

type cause struct {
	Kind   identity.CauseKind `json:"kind"`
	Action string             `json:"action"`
	Field  *string            `json:"field"`
	Value  *string            `json:"value"`
	Rule   *string            `json:"rule"`
	Client *string            `json:"client"`
}

type forgotten struct {
	Clients       int `json:"clients"`
	Values        int `json:"values"`
	Conversations int `json:"conversations"`
	Links         int `json:"links"`
}

// Body is the JSON that a delivery of e posts.
func Body(e identity.Event) ([]byte, error) {
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	nn := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	p := payload{EventID: EventID(e.Project, e.Seq), ProjectID: e.Project, Type: e.Type, MultiContactID: e.MultiContactID,
		PreviousIDs: nn(e.PreviousIDs), NewIDs: nn(e.NewIDs), ClientIDs: nn(e.ClientIDs), At: e.At.UTC(),
		Cursor: strconv.FormatInt(e.Seq, 10),
		Cause: cause{Kind: e.Cause.Kind, Action: e.Cause.Action, Field: opt(e.Cause.Field), Value: opt(e.Cause.Value), Rule: opt(e.Cause.Rule),
			Client: opt(e.Cause.Client)}}
	if f := e.Forgotten; f != nil {
		p.Forgotten = &forgotten{Clients: f.Clients, Values: f.Values, Conversations: f.Conversations, Links: f.Links}
	}
	if q := e.Quarantined; q != nil {
		p.Quarantined = &quarantined{Rule: q.Rule, Key: q.Key, Parts: []keyPart{}, Size: q.Size, Since: q.Since.UTC()}
		for _, kp := range q.Parts {
			p.Quarantined.Parts = append(p.Quarantined.Parts, keyPart{Field: kp.Field, Value: kp.Value})
		}
	}
	return json.Marshal(p)
}
