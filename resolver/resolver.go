// Package resolver is the GraphQL API of Multicontact (schema.graphqls):
// gqlgen resolvers over the graph store, with per-project authorization.
// generated.go and models_gen.go are generated; the rest is written by hand.
package resolver

//go:generate go tool gqlgen generate

import (
	"time"

	"github.com/multicontact/multicontact/broker"
	"github.com/multicontact/multicontact/graph"
)

// Resolver holds the dependencies of every resolver.
type Resolver struct {
	Store  *graph.Store
	Broker *broker.Broker
	// Auth, when set, forgets revoked keys and closes their websockets at once.
	Auth *Authenticator
	// Keys seal the projects' identity secrets.
	Keys Keys
	// Webhooks, when set, check webhooks' URLs and hear of their changes.
	Webhooks Webhooks
	// MaxSubscriptions bounds the subscriptions of one websocket connection.
	MaxSubscriptions int
	// PreviewTimeout, if set, is the deadline of previewRules in place of
	// the request's: a preview reads the whole project.
	PreviewTimeout time.Duration
}
