package resolver

import (
	"time"

	"github.com/multicontact/multicontact/graph"
	"github.com/multicontact/multicontact/identity"
)

// Project is the GraphQL Project; its fields, rules and protections are
// resolved on demand.
type Project struct {
	ID            string
	Name          string
	DefaultRegion string
	Settings      *ProjectSettings
	CreatedAt     time.Time
	Resolution    *Resolution
}

func projectOf(p identity.Project) *Project {
	state := p.Resolution.State
	if state != identity.ResolutionRunning {
		state = identity.ResolutionIdle
	}
	return &Project{ID: p.ID, Name: p.Name, DefaultRegion: p.Region, CreatedAt: p.CreatedAt,
		Settings: &ProjectSettings{DefaultRegion: p.Region, KeyCap: p.KeyCap, ValueCap: p.ValueCap,
			AcceptUnverifiedWidgetValues: p.AcceptUnverifiedWidgetValues, Locale: p.Locale},
		Resolution: &Resolution{State: state, Progress: p.Resolution.Progress}}
}

// Client is the GraphQL Client; it remembers its project and multi-contact
// for the fields resolved on demand.
type Client struct {
	ID            string
	DisplayName   string
	Channel       *Channel
	ChannelUserID string
	Attributes    []*Attribute
	CreatedAt     time.Time
	LastSeenAt    time.Time
	Excluded      bool

	project string
	mc      string
	head    *MultiContact // its multi-contact, when read with the client
}

func clientOf(project string, c identity.Client) *Client {
	out := &Client{ID: c.ID, DisplayName: c.DisplayName, Channel: &Channel{Kind: c.Channel.Kind, Account: c.Channel.Account},
		ChannelUserID: c.ChannelUserID, CreatedAt: c.CreatedAt, LastSeenAt: c.LastSeenAt, Excluded: c.Excluded,
		Attributes: make([]*Attribute, len(c.Attributes)), project: project, mc: c.MultiContactID}
	for i, a := range c.Attributes {
		out.Attributes[i] = &Attribute{Field: a.Field, Value: a.Value, Source: a.Source, Verified: a.Verified, At: timePtr(a.At)}
		if a.Extension != "" {
			out.Attributes[i].Extension = &a.Extension
		}
	}
	return out
}

// MultiContact is the GraphQL MultiContact; its members, channels,
// conversations, links and history are resolved on demand, a page at a
// time, so a multi-contact of thousands is never read whole.
type MultiContact struct {
	ID        string
	Size      int
	CreatedAt *time.Time
	Aliases   []string

	project string
	// members is the first page of membersFirst members, read with the
	// multi-contact when the query asked for it (see membersAsked); nil
	// otherwise.
	members      *graph.Page[identity.Client]
	membersFirst int
}

func multiContactOf(project string, m identity.MultiContact, members *graph.Page[identity.Client], first int) *MultiContact {
	aliases := m.Aliases
	if aliases == nil {
		aliases = []string{}
	}
	return &MultiContact{ID: m.ID, Size: m.Size, CreatedAt: timePtr(m.CreatedAt), Aliases: aliases, project: project,
		members: members, membersFirst: first}
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func ruleOf(r identity.Rule) *Rule {
	return &Rule{ID: r.ID, Name: r.Name, Fields: r.Fields, Enabled: r.Enabled, RequireVerified: r.RequireVerified}
}

func fieldOf(f identity.Field) *Field {
	return &Field{Key: f.Key, Label: f.Label, Type: f.Type, BuiltIn: f.BuiltIn}
}

func keyParts(ps []identity.KeyPart) []*KeyPart {
	out := make([]*KeyPart, len(ps))
	for i, p := range ps {
		out[i] = &KeyPart{Field: p.Field, Value: p.Value}
	}
	return out
}

func linkStepOf(s identity.LinkStep) *LinkStep {
	out := &LinkStep{From: s.From, To: s.To, Values: keyParts(s.Parts), Manual: s.Manual}
	if s.Rule != "" {
		out.Rule, out.RuleName = &s.Rule, &s.RuleName
	}
	return out
}

func eventOf(e identity.Event, cursor string) *MultiContactEvent {
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
	out := &MultiContactEvent{Type: e.Type, MultiContactID: e.MultiContactID, PreviousIds: nn(e.PreviousIDs),
		NewIds: nn(e.NewIDs), ClientIds: nn(e.ClientIDs), At: e.At, Cursor: cursor,
		Cause: &Cause{Kind: e.Cause.Kind, Action: e.Cause.Action, Field: opt(e.Cause.Field),
			Value: opt(e.Cause.Value), Rule: opt(e.Cause.Rule), Client: opt(e.Cause.Client)}}
	if f := e.Forgotten; f != nil {
		out.Forgotten = &ForgottenCounts{Clients: f.Clients, Values: f.Values, Conversations: f.Conversations, Links: f.Links}
	}
	if q := e.Quarantined; q != nil {
		out.Quarantined = quarantinedKeyOf(*q)
	}
	return out
}

func quarantinedKeyOf(k identity.QuarantinedKey) *QuarantinedKey {
	return &QuarantinedKey{Rule: k.Rule, Key: k.Key, Parts: keyParts(k.Parts), Size: k.Size, Since: timePtr(k.Since)}
}

func inputError(err *identity.Error) *InputError {
	return &InputError{Field: err.Field, Code: err.Code, Message: err.Message}
}

func apiKeyOf(k graph.APIKey) *APIKey {
	return &APIKey{ID: k.ID, ProjectID: k.Project, Role: k.Role, CreatedAt: k.CreatedAt, Revoked: k.Revoked}
}
