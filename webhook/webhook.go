// Package webhook delivers each project's event log to the HTTP endpoints
// (a CRM's) that its admins register: every event after the webhook's
// cursor, in log order, as a signed JSON POST, retried with backoff until
// it is answered 2xx, then the next. The state (cursor, attempts, lease,
// pause) lives in the store, so a restart or a replica's death loses
// nothing; one replica at a time works a webhook, under a lease (see
// Manager and docs/operations.md).
package webhook

import (
	"context"
	"crypto/rand"
	"strconv"
	"time"

	"github.com/multicontact/multicontact/identity"
)

// Ref names a webhook.
type Ref struct {
	Project string
	ID      string
}

// Hook is a webhook as the worker that holds its lease sees it.
type Hook struct {
	Ref
	URL string
	// Events are the types it takes; nil is every type.
	Events       []identity.EventType
	SealedSecret string // sealed under SecretContext; opened only to sign
	// Cursor is the sequence number of the last event delivered or skipped.
	Cursor int64
	// Epoch moves when an admin replays (Redeliver) or resumes the webhook,
	// so that a worker holding an older view writes nothing.
	Epoch         int64
	Paused        bool
	Failures      int       // failed attempts in a row at the event after Cursor
	FailingSince  time.Time // when the first of them started; zero when none
	NextAttemptAt time.Time // not before; zero: now
}

// Takes reports whether the webhook receives events of type t.
func (h Hook) Takes(t identity.EventType) bool {
	if h.Events == nil {
		return true
	}
	for _, e := range h.Events {
		if e == t {
			return true
		}
	}
	return false
}

// Claim is an attempt to deliver one event, recorded before it is made.
type Claim struct {
	Ref
	Owner   string
	Epoch   int64
	Cursor  int64 // the webhook's cursor as the worker read it
	Seq     int64 // the event's; the events between Cursor and Seq are skipped
	EventID string
	Type    identity.EventType
	At      time.Time
}

// Result is the outcome of a claimed attempt.
type Result struct {
	Ref
	Owner     string
	Epoch     int64
	Seq       int64
	Attempt   int
	At        time.Time // when the answer came, or the attempt gave up
	Delivered bool
	Status    int    // the HTTP status; 0 when there was no answer
	Error     string // why it failed; "" when delivered
	// Abandoned: the replica stopped mid-attempt; only the attempt is
	// recorded, and the next worker makes the next one at once.
	Abandoned bool
	// A failure's schedule: the failures in a row, since when, and when to
	// try again; or PausedReason, when the webhook has failed for longer
	// than the schedule's GiveUp and is paused.
	Failures     int
	FailingSince time.Time
	NextTry      time.Time
	PausedReason string
}

// Store keeps the webhooks, their cursors, attempts and leases (graph.Store
// implements it). Every write that a worker makes is conditional on its
// lease and on the Epoch it read, so a worker that lost either changes
// nothing but the record of its own attempt.
type Store interface {
	// ActiveWebhooks lists the webhooks that are not paused, of every project.
	ActiveWebhooks(ctx context.Context) ([]Ref, error)
	// AcquireWebhook takes or renews the webhook's lease for owner, for
	// ttl, and returns its state. ok is false when another owner holds an
	// unexpired lease, or the webhook is paused or gone (then ok is false
	// and gone reports it).
	AcquireWebhook(ctx context.Context, ref Ref, owner string, ttl time.Duration) (h Hook, ok, gone bool, err error)
	// ReleaseWebhook gives the lease up, if owner holds it.
	ReleaseWebhook(ctx context.Context, ref Ref, owner string) error
	// SkipEvents moves the cursor from from to to (events the webhook does
	// not take), under the lease and epoch; ok is false when either was lost.
	SkipEvents(ctx context.Context, ref Ref, owner string, epoch, from, to int64, ttl time.Duration) (ok bool, err error)
	// ClaimDelivery records an attempt before it is made, renewing the
	// lease, and returns its number (1 for the first attempt at the
	// event). ok is false when the lease, epoch or cursor changed or the
	// webhook was paused: the attempt must not be made. No two claims ever
	// get the same attempt at the same event.
	ClaimDelivery(ctx context.Context, c Claim, ttl time.Duration) (attempt int, ok bool, err error)
	// FinishDelivery records the attempt's outcome; when delivered (and the
	// epoch still holds) the cursor moves to its event, whoever holds the
	// lease now; a failure's schedule or pause is written only under the lease.
	FinishDelivery(ctx context.Context, r Result) error
	// EventsAfter returns up to max of the project's events numbered above seq, in order.
	EventsAfter(ctx context.Context, project string, seq int64, max int) ([]identity.Event, error)
}

// Opener opens the sealed secrets (package keyring).
type Opener interface {
	Open(sealed, context string) (plaintext string, stale bool, err error)
}

// SecretContext binds a webhook's sealed secret to it: it opens for no
// other webhook or property.
func SecretContext(ref Ref) string {
	return "project/" + ref.Project + "/webhook/" + ref.ID + "/secret"
}

// NewSecret returns a new signing secret: 52 random base32 characters (260 bits).
func NewSecret() string { return "whsec_" + rand.Text() + rand.Text() }

// EventID is an event's stable id in deliveries: the same on every
// attempt, replica and replay.
func EventID(project string, seq int64) string {
	return project + ":" + strconv.FormatInt(seq, 10)
}
