package resolver

import (
	"context"

	"github.com/multicontact/multicontact/graph"
	"github.com/multicontact/multicontact/identity"
)

// Default page sizes of the lists that can grow; the maxima are graph's
// (graph.MaxClientsPage, ...), and the schema states both.
const (
	clientsPageSize       = 100
	conversationsPageSize = 50
	apiKeysPageSize       = 100
	searchPageSize        = 20
	historyPageSize       = 100
)

func pageInfo(cursors []string, hasNext bool) *PageInfo {
	pi := &PageInfo{HasNextPage: hasNext}
	if len(cursors) > 0 {
		pi.EndCursor = &cursors[len(cursors)-1]
	}
	return pi
}

func clientConnection(project string, p graph.Page[identity.Client]) *ClientConnection {
	conn := &ClientConnection{Edges: make([]*ClientEdge, len(p.Items)), Nodes: make([]*Client, len(p.Items)),
		PageInfo: pageInfo(p.Cursors, p.HasNext)}
	for i, c := range p.Items {
		conn.Nodes[i] = clientOf(project, c)
		conn.Edges[i] = &ClientEdge{Cursor: p.Cursors[i], Node: conn.Nodes[i]}
	}
	return conn
}

func conversationOf(c graph.Conversation) *Conversation {
	return &Conversation{ID: c.ID, ClientID: c.ClientID, StartedAt: c.StartedAt, LastMessageAt: c.LastMessageAt, Summary: c.Summary}
}

func conversationConnection(p graph.Page[graph.Conversation]) *ConversationConnection {
	conn := &ConversationConnection{Edges: make([]*ConversationEdge, len(p.Items)), Nodes: make([]*Conversation, len(p.Items)),
		PageInfo: pageInfo(p.Cursors, p.HasNext)}
	for i, c := range p.Items {
		conn.Nodes[i] = conversationOf(c)
		conn.Edges[i] = &ConversationEdge{Cursor: p.Cursors[i], Node: conn.Nodes[i]}
	}
	return conn
}

func apiKeyConnection(p graph.Page[graph.APIKey]) *APIKeyConnection {
	conn := &APIKeyConnection{Edges: make([]*APIKeyEdge, len(p.Items)), Nodes: make([]*APIKey, len(p.Items)),
		PageInfo: pageInfo(p.Cursors, p.HasNext)}
	for i, k := range p.Items {
		conn.Nodes[i] = apiKeyOf(k)
		conn.Edges[i] = &APIKeyEdge{Cursor: p.Cursors[i], Node: conn.Nodes[i]}
	}
	return conn
}

// eventConnection makes a page of events, the cursor of each its place in
// the project's log (events(after:) and history(after:) take either).
func eventConnection(evs []identity.Event, hasNext bool) *EventConnection {
	conn := &EventConnection{Edges: []*EventEdge{}, Nodes: []*MultiContactEvent{}, PageInfo: &PageInfo{HasNextPage: hasNext}}
	for _, e := range evs {
		c := graph.Cursor(e.Seq)
		node := eventOf(e, c)
		conn.Edges = append(conn.Edges, &EventEdge{Cursor: c, Node: node})
		conn.Nodes = append(conn.Nodes, node)
		conn.PageInfo.EndCursor = &c
	}
	return conn
}

// channelsOf returns one entry per channel of the multi-contact, with the
// member most recently active on it, newest first.
func (r *Resolver) channelsOf(ctx context.Context, m *MultiContact) ([]*ChannelPresence, error) {
	cs, err := r.Store.MultiContactChannels(ctx, m.project, m.ID)
	if err != nil {
		return nil, err
	}
	out := make([]*ChannelPresence, len(cs))
	for i, c := range cs {
		out[i] = &ChannelPresence{Channel: &Channel{Kind: c.Channel.Kind, Account: c.Channel.Account}, ChannelUserID: c.ChannelUserID,
			Client: clientOf(m.project, c), LastActivityAt: c.LastSeenAt}
	}
	return out, nil
}

// links returns the evidence edges between the first member and each of
// the next maxLinkMembers-1, without repeats.
func (r *Resolver) links(ctx context.Context, m *MultiContact) ([]*LinkStep, error) {
	members, err := r.Store.MultiContactClients(ctx, m.project, m.ID, "", maxLinkMembers)
	if err != nil {
		return nil, err
	}
	out := []*LinkStep{}
	seen := map[string]bool{}
	for i := 1; i < len(members.Items); i++ {
		steps, err := r.Store.Explain(ctx, m.project, members.Items[0].ID, members.Items[i].ID)
		if err != nil {
			return nil, err
		}
		for _, s := range steps {
			if k := s.From + "\x00" + s.To + "\x00" + s.Rule; !seen[k] {
				seen[k] = true
				out = append(out, linkStepOf(s))
			}
		}
	}
	return out, nil
}
