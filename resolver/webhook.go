package resolver

import (
	"context"

	"github.com/multicontact/multicontact/graph"
	"github.com/multicontact/multicontact/identity"
	"github.com/multicontact/multicontact/webhook"
)

// Webhooks are the delivery workers (webhook.Manager): they check a
// webhook's URL as deliveries will, and hear of changes made here so that
// they act on them at once.
type Webhooks interface {
	CheckURL(ctx context.Context, raw string) error
	Changed(ref webhook.Ref)
}

// webhookDeliveriesPageSize is webhookDeliveries' default first.
const webhookDeliveriesPageSize = 50

// eventTypes are the types that a webhook created without a list receives.
var eventTypes = []identity.EventType{identity.EventCreated, identity.EventMerged, identity.EventSplit,
	identity.EventUpdated, identity.EventDeleted, identity.EventForgotten, identity.EventQuarantined}

// checkWebhookURL refuses a URL that deliveries could not reach; without
// workers (a server built for tests), with the default guard.
func (r *Resolver) checkWebhookURL(ctx context.Context, raw string) error {
	if r.Webhooks == nil {
		return webhook.Guard{}.CheckURL(ctx, raw)
	}
	return r.Webhooks.CheckURL(ctx, raw)
}

// webhookChanged wakes the worker of the webhook, if any.
func (r *Resolver) webhookChanged(project, id string) {
	if r.Webhooks != nil {
		r.Webhooks.Changed(webhook.Ref{Project: project, ID: id})
	}
}

func webhookOf(w graph.Webhook) *Webhook {
	events := w.Events
	if events == nil {
		events = eventTypes
	}
	out := &Webhook{ID: w.ID, URL: w.URL, Events: events, CreatedAt: w.CreatedAt, Paused: w.Paused,
		PausedAt: timePtr(w.PausedAt), LastDeliveredCursor: graph.Cursor(w.Cursor), Failures: w.Failures,
		NextAttemptAt: timePtr(w.NextAttemptAt)}
	if w.PausedReason != "" {
		out.PausedReason = &w.PausedReason
	}
	return out
}

func webhookDeliveryConnection(p graph.Page[graph.WebhookDelivery]) *WebhookDeliveryConnection {
	conn := &WebhookDeliveryConnection{Edges: make([]*WebhookDeliveryEdge, len(p.Items)),
		Nodes: make([]*WebhookDelivery, len(p.Items)), PageInfo: pageInfo(p.Cursors, p.HasNext)}
	for i, d := range p.Items {
		node := &WebhookDelivery{EventID: d.EventID, EventCursor: graph.Cursor(d.Seq), EventType: d.Type, Attempt: d.Attempt,
			StartedAt: d.StartedAt, FinishedAt: timePtr(d.FinishedAt), Delivered: d.Delivered, NextTryAt: timePtr(d.NextTryAt)}
		if d.Status != 0 {
			node.StatusCode = &d.Status
		}
		if d.Error != "" {
			node.Error = &d.Error
		}
		conn.Nodes[i] = node
		conn.Edges[i] = &WebhookDeliveryEdge{Cursor: p.Cursors[i], Node: node}
	}
	return conn
}
