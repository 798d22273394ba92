package resolver

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/multicontact/multicontact/broker"
	"github.com/multicontact/multicontact/identity"
)

// Limits of lists that a field resolves on demand.
const (
	maxLinkMembers   = 50
	eventsPageSize   = 100
	subscriberBuffer = broker.DefaultBuffer
)

// refusal returns the domain error of err when it refuses a value (any
// code but NOT_FOUND): the answer a bot shows before asking again.
func refusal(err error) (*identity.Error, bool) {
	var de *identity.Error
	if errors.As(err, &de) && de.Code != identity.CodeNotFound {
		return de, true
	}
	return nil, false
}

// nilIfNotFound turns NOT_FOUND into a null result for nullable queries.
func nilIfNotFound[T any](v *T, err error) (*T, error) {
	if identity.ErrorCode(err) == identity.CodeNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return v, nil
}

func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// client reads a client; when the query asks for more of its multi-contact
// than the id, the multi-contact's head (and the first page of its members,
// when asked for) comes in the same statement.
func (r *Resolver) client(ctx context.Context, project, id string) (*Client, error) {
	mc := subField(graphql.CollectFieldsCtx(ctx, nil), "multiContact")
	if mc == nil || onlyIDIn(mc.SelectionSet) {
		c, err := r.Store.Client(ctx, project, id)
		if err != nil {
			return nil, err
		}
		return clientOf(project, c), nil
	}
	members := membersAsked(ctx, mc.SelectionSet)
	c, m, page, err := r.Store.ClientWithMultiContact(ctx, project, id, members)
	if err != nil {
		return nil, err
	}
	out := clientOf(project, c)
	if m.ID != "" {
		out.head = multiContactOf(project, m, page, members)
	}
	return out, nil
}

// multiContact reads a multi-contact's head and, when the query asks for
// it, the first page of its members, in one statement.
func (r *Resolver) multiContact(ctx context.Context, project, id string) (*MultiContact, error) {
	members := membersAsked(ctx, selectionOf(ctx))
	m, page, err := r.Store.MultiContactHead(ctx, project, id, members)
	if err != nil {
		return nil, err
	}
	return multiContactOf(project, m, page, members), nil
}

func attributeInputs(in []*AttributeInput) []identity.AttributeInput {
	out := make([]identity.AttributeInput, len(in))
	for i, a := range in {
		out[i] = identity.AttributeInput{Field: a.Field, Value: a.Value,
			Source: deref(a.Source, identity.SourceIntegration), Verified: deref(a.Verified, false)}
	}
	return out
}

func ruleInput(in *RuleInput) identity.Rule {
	return identity.Rule{Name: in.Name, Fields: in.Fields, Enabled: deref(in.Enabled, true), RequireVerified: deref(in.RequireVerified, false)}
}

// matches reports whether e concerns the subscriber's filter; it follows a
// watched multi-contact across merges by updating *mc.
func matches(e identity.Event, mc *string, client string) bool {
	if client != "" && !slices.Contains(e.ClientIDs, client) {
		return false
	}
	if *mc == "" {
		return true
	}
	if e.MultiContactID == *mc || slices.Contains(e.NewIDs, *mc) {
		return true
	}
	if slices.Contains(e.PreviousIDs, *mc) {
		*mc = e.MultiContactID
		return true
	}
	return false
}

// outliveDeadline returns a context with a deadline of its own, d from now,
// in place of ctx's, for a call that reads a whole project (none when d is
// 0: ctx as it is). The caller going away before ctx's deadline still
// stops it; once that deadline has passed, only d does.
func outliveDeadline(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return ctx, func() {}
	}
	long, cancel := context.WithTimeout(context.WithoutCancel(ctx), d)
	stop := context.AfterFunc(ctx, func() {
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			cancel()
		}
	})
	return long, func() {
		stop()
		cancel()
	}
}
