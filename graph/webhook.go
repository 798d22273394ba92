package graph

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/identity"
	"github.com/multicontact/multicontact/webhook"
)

// Webhook is a project's webhook as the API shows it (never its secret).
type Webhook struct {
	ID        string
	Project   string
	URL       string
	Events    []identity.EventType // nil: every type
	CreatedAt time.Time
	// Cursor is the last event delivered or skipped: delivery goes on after it.
	Cursor          int64
	Paused          bool
	PausedReason    string
	PausedAt        time.Time
	Failures        int       // failed attempts in a row at the event after Cursor
	NextAttemptAt   time.Time // zero: none scheduled
	LastDeliveredAt time.Time
}

// WebhookDelivery is one attempt to deliver one event.
type WebhookDelivery struct {
	EventID    string
	Seq        int64
	Type       identity.EventType
	Attempt    int // 1 for the first at this event
	StartedAt  time.Time
	FinishedAt time.Time // zero while in flight
	Status     int       // the HTTP status; 0 when there was no answer
	Error      string
	Delivered  bool
	NextTryAt  time.Time // when the next attempt is due after this failure
}

// MaxDeliveriesPage is the largest page of webhookDeliveries.
const MaxDeliveriesPage = 500

// WebhookAttemptsKept is how many of a webhook's latest attempts are kept;
// each attempt recorded deletes up to 100 older ones.
const WebhookAttemptsKept = 10000

const webhookColumns = `w.id AS id, w.project AS project, w.url AS url, w.events AS events, w.createdAt AS createdAt,
	w.cursor AS cursor, w.paused AS paused, w.pausedReason AS pausedReason, w.pausedAt AS pausedAt,
	coalesce(w.failures, 0) AS failures, w.nextAttemptAt AS nextAttemptAt, w.lastDeliveredAt AS lastDeliveredAt`

func decodeWebhook(rec *neo4j.Record) Webhook {
	w := Webhook{ID: str(rec, "id"), Project: str(rec, "project"), URL: str(rec, "url"), CreatedAt: when(rec, "createdAt"),
		Cursor: i64(rec, "cursor"), Paused: boolean(rec, "paused"), PausedReason: str(rec, "pausedReason"),
		PausedAt: when(rec, "pausedAt"), Failures: int(i64(rec, "failures")), NextAttemptAt: when(rec, "nextAttemptAt"),
		LastDeliveredAt: when(rec, "lastDeliveredAt")}
	if list(rec, "events") != nil {
		w.Events = []identity.EventType{}
		for _, t := range strs(rec, "events") {
			w.Events = append(w.Events, identity.EventType(t))
		}
	}
	return w
}

// MaxWebhooks bounds a project's webhooks: each is a worker reading the
// project's log, and every event is sent once to each.
const MaxWebhooks = 10

// CreateWebhook registers url to receive the project's events of the given
// types (nil: every type) from now on, and returns it with its signing
// secret, which is stored only sealed and never shown again. The URL is
// checked by the caller (webhook.Guard). A project has at most MaxWebhooks.
func (s *Store) CreateWebhook(ctx context.Context, project, url string, events []identity.EventType, sealer Sealer) (Webhook, string, error) {
	id := newID("hook")
	secret := webhook.NewSecret()
	sealed, err := sealer.Seal(secret, webhook.SecretContext(webhook.Ref{Project: project, ID: id}))
	if err != nil {
		return Webhook{}, "", err
	}
	var types any // null: every type
	if events != nil {
		ts := []string{}
		for _, e := range events {
			if !slices.Contains(ts, string(e)) {
				ts = append(ts, string(e))
			}
		}
		slices.Sort(ts)
		types = ts
	}
	w, err := writeTx(ctx, s, func(tx neo4j.ManagedTransaction) (Webhook, error) {
		// Counted under the project's lock, so two creations cannot both pass.
		rec, err := single(ctx, tx, `MATCH (p:Project {id: $project})
			SET p.locked = true REMOVE p.locked
			RETURN COUNT { MATCH (w:Webhook {project: $project}) } AS hooks`, map[string]any{"project": project})
		if err != nil || rec == nil {
			return Webhook{}, orNotFound(err, "project", project)
		}
		if i64(rec, "hooks") >= MaxWebhooks {
			return Webhook{}, identity.Errorf("url", identity.CodeTooManyWebhooks,
				"a project has at most %d webhooks; delete one first", MaxWebhooks)
		}
		// It starts at the end of the log: it receives what is committed from now on.
		rec, err = single(ctx, tx, `MATCH (p:Project {id: $project})
			CREATE (w:Webhook {project: $project, id: $id, url: $url, events: $events, secretSealed: $sealed,
				createdAt: $at, cursor: coalesce(p.seq, 0), epoch: 0, paused: false, failures: 0, deliveries: 0})
			RETURN `+webhookColumns,
			map[string]any{"project": project, "id": id, "url": url, "events": types, "sealed": sealed,
				"at": s.now().UTC().Truncate(time.Millisecond)})
		if err != nil || rec == nil {
			return Webhook{}, orNotFound(err, "project", project)
		}
		return decodeWebhook(rec), nil
	})
	if err != nil {
		return Webhook{}, "", err
	}
	return w, secret, nil
}

// Webhooks lists the project's webhooks, oldest first.
func (s *Store) Webhooks(ctx context.Context, project string) ([]Webhook, error) {
	return readTx(ctx, s, func(tx neo4j.ManagedTransaction) ([]Webhook, error) {
		if err := projectExists(ctx, tx, project); err != nil {
			return nil, err
		}
		recs, err := collect(ctx, tx, `MATCH (w:Webhook {project: $project}) RETURN `+webhookColumns+` ORDER BY w.createdAt, w.id`,
			map[string]any{"project": project})
		out := make([]Webhook, len(recs))
		for i, rec := range recs {
			out[i] = decodeWebhook(rec)
		}
		return out, err
	})
}

// lockWebhook write-locks the webhook so that the conditions read after it
// hold until commit; false when it does not exist.
func lockWebhook(ctx context.Context, tx neo4j.ManagedTransaction, ref webhook.Ref) (bool, error) {
	rec, err := single(ctx, tx, `MATCH (w:Webhook {project: $project, id: $id}) SET w.locked = true REMOVE w.locked RETURN w.id AS id`,
		map[string]any{"project": ref.Project, "id": ref.ID})
	return rec != nil, err
}

// DeleteWebhook removes a webhook with the record of its attempts; a
// delivery in flight is its last.
func (s *Store) DeleteWebhook(ctx context.Context, project, id string) error {
	ref := webhook.Ref{Project: project, ID: id}
	_, err := writeTx(ctx, s, func(tx neo4j.ManagedTransaction) (noResult, error) {
		if ok, err := lockWebhook(ctx, tx, ref); err != nil || !ok {
			return noResult{}, orNotFound(err, "webhook", id)
		}
		return noResult{}, exec(ctx, tx, `MATCH (w:Webhook {project: $project, id: $id})
			OPTIONAL MATCH (d:WebhookDelivery {project: $project, webhook: $id})
			DELETE d, w`, map[string]any{"project": project, "id": id})
	})
	return err
}

// ResumeWebhook unpauses a webhook: it tries the event it stopped at again,
// at once, with a fresh schedule.
func (s *Store) ResumeWebhook(ctx context.Context, project, id string) (Webhook, error) {
	return s.resetWebhook(ctx, project, id, nil)
}

// Redeliver replays a webhook's events from the cursor after (an event
// cursor, as events(after:) takes): every event after it is delivered
// again, in order, with its same event id. A paused webhook replays once
// resumed.
func (s *Store) Redeliver(ctx context.Context, project, id, after string) (Webhook, error) {
	seq, err := strconv.ParseInt(after, 10, 64)
	if err != nil || seq < 0 {
		return Webhook{}, identity.Errorf("after", identity.CodeInvalidArgument, "the cursor %q is not one this service gave", after)
	}
	return s.resetWebhook(ctx, project, id, &seq)
}

// resetWebhook clears a webhook's failures and moves its epoch, so that a
// worker holding an older view writes nothing; paused is lifted unless
// cursor is given, which becomes the webhook's cursor.
func (s *Store) resetWebhook(ctx context.Context, project, id string, cursor *int64) (Webhook, error) {
	ref := webhook.Ref{Project: project, ID: id}
	return writeTx(ctx, s, func(tx neo4j.ManagedTransaction) (Webhook, error) {
		if ok, err := lockWebhook(ctx, tx, ref); err != nil || !ok {
			return Webhook{}, orNotFound(err, "webhook", id)
		}
		rec, err := single(ctx, tx, `MATCH (p:Project {id: $project}), (w:Webhook {project: $project, id: $id})
			WHERE $cursor IS NULL OR $cursor <= w.cursor
			SET w.epoch = w.epoch + 1, w.failures = 0, w.cursor = coalesce($cursor, w.cursor)
			REMOVE w.failingSince, w.nextAttemptAt
			WITH w
			CALL {
				WITH w
				WITH w WHERE $cursor IS NULL
				SET w.paused = false
				REMOVE w.pausedReason, w.pausedAt
			}
			RETURN `+webhookColumns, map[string]any{"project": project, "id": id, "cursor": cursor})
		if err != nil {
			return Webhook{}, err
		}
		if rec == nil {
			return Webhook{}, identity.Errorf("after", identity.CodeInvalidArgument,
				"the webhook has not delivered up to %d yet: redelivering moves its cursor back only", *cursor)
		}
		return decodeWebhook(rec), nil
	})
}

// WebhookDeliveriesPage returns a page of a webhook's attempts, newest first.
func (s *Store) WebhookDeliveriesPage(ctx context.Context, project, id, after string, first int) (Page[WebhookDelivery], error) {
	if err := checkFirst(first, MaxDeliveriesPage); err != nil {
		return Page[WebhookDelivery]{}, err
	}
	key, err := decodeCursor(after, "delivery", 1)
	if err != nil {
		return Page[WebhookDelivery]{}, err
	}
	var before any // the n of the last attempt read
	if len(key) == 1 {
		n, err := strconv.ParseInt(key[0], 10, 64)
		if err != nil {
			return Page[WebhookDelivery]{}, identity.Errorf("after", identity.CodeInvalidArgument, "the cursor %q is not one this service gave for this list", after)
		}
		before = n
	}
	return readTx(ctx, s, func(tx neo4j.ManagedTransaction) (Page[WebhookDelivery], error) {
		rec, err := single(ctx, tx, `MATCH (w:Webhook {project: $project, id: $id}) RETURN w.id AS id`, map[string]any{"project": project, "id": id})
		if err != nil || rec == nil {
			return Page[WebhookDelivery]{}, orNotFound(err, "webhook", id)
		}
		recs, err := collect(ctx, tx, `MATCH (d:WebhookDelivery {project: $project, webhook: $id})
			WHERE $before IS NULL OR d.n < $before
			RETURN d.n AS n, d.eventId AS eventId, d.seq AS seq, d.type AS type, d.attempt AS attempt,
				d.startedAt AS startedAt, d.finishedAt AS finishedAt, coalesce(d.status, 0) AS status,
				d.error AS error, coalesce(d.delivered, false) AS delivered, d.nextTryAt AS nextTryAt
			ORDER BY d.n DESC LIMIT $limit`,
			map[string]any{"project": project, "id": id, "before": before, "limit": first + 1})
		return pageOf(recs, first, func(rec *neo4j.Record) (WebhookDelivery, string) {
			return WebhookDelivery{EventID: str(rec, "eventId"), Seq: i64(rec, "seq"), Type: identity.EventType(str(rec, "type")),
				Attempt: int(i64(rec, "attempt")), StartedAt: when(rec, "startedAt"), FinishedAt: when(rec, "finishedAt"),
				Status: int(i64(rec, "status")), Error: str(rec, "error"), Delivered: boolean(rec, "delivered"),
				NextTryAt: when(rec, "nextTryAt")}, encodeCursor("delivery", strconv.FormatInt(i64(rec, "n"), 10))
		}), err
	})
}

// The methods below are webhook.Store: what the delivery workers need.

var _ webhook.Store = (*Store)(nil)

// ActiveWebhooks lists the webhooks that are not paused, of every project.
func (s *Store) ActiveWebhooks(ctx context.Context) ([]webhook.Ref, error) {
	return readTx(ctx, s, func(tx neo4j.ManagedTransaction) ([]webhook.Ref, error) {
		recs, err := collect(ctx, tx, `MATCH (w:Webhook) WHERE NOT w.paused RETURN w.project AS project, w.id AS id`, nil)
		out := make([]webhook.Ref, len(recs))
		for i, rec := range recs {
			out[i] = webhook.Ref{Project: str(rec, "project"), ID: str(rec, "id")}
		}
		return out, err
	})
}

// AcquireWebhook takes or renews the webhook's lease (the house style of
// resolverLease, docs/architecture.md §6, but checked under the node's lock).
// A worker that takes it over from another marks the attempts that one
// left without an outcome.
func (s *Store) AcquireWebhook(ctx context.Context, ref webhook.Ref, owner string, ttl time.Duration) (webhook.Hook, bool, bool, error) {
	type acquired struct {
		h        webhook.Hook
		ok, gone bool
	}
	a, err := writeTx(ctx, s, func(tx neo4j.ManagedTransaction) (acquired, error) {
		if ok, err := lockWebhook(ctx, tx, ref); err != nil || !ok {
			return acquired{gone: true}, err
		}
		rec, err := single(ctx, tx, `MATCH (w:Webhook {project: $project, id: $id})
			WITH w, w.lease AS was,
				NOT w.paused AND (w.lease IS NULL OR w.lease = $owner OR w.leaseUntil < datetime()) AS free
			CALL {
				WITH w, free
				WITH w WHERE free
				SET w.lease = $owner, w.leaseUntil = datetime() + duration({milliseconds: $ttl})
			}
			CALL {
				WITH w, was, free
				WITH w WHERE free AND coalesce(was, '') <> $owner
				MATCH (d:WebhookDelivery {project: $project, webhook: $id}) WHERE d.finishedAt IS NULL
				SET d.finishedAt = $now, d.delivered = false,
					d.error = 'no outcome recorded: the replica making it stopped or lost its lease'
			}
			RETURN free, w.paused AS paused, w.url AS url, w.events AS events, w.secretSealed AS sealed,
				w.cursor AS cursor, w.epoch AS epoch, coalesce(w.failures, 0) AS failures,
				w.failingSince AS failingSince, w.nextAttemptAt AS nextAttemptAt`,
			map[string]any{"project": ref.Project, "id": ref.ID, "owner": owner, "ttl": ttl.Milliseconds(), "now": s.now().UTC()})
		if err != nil {
			return acquired{}, err
		}
		h := webhook.Hook{Ref: ref, URL: str(rec, "url"), SealedSecret: str(rec, "sealed"), Cursor: i64(rec, "cursor"),
			Epoch: i64(rec, "epoch"), Paused: boolean(rec, "paused"), Failures: int(i64(rec, "failures")),
			FailingSince: when(rec, "failingSince"), NextAttemptAt: when(rec, "nextAttemptAt")}
		if list(rec, "events") != nil {
			h.Events = []identity.EventType{}
			for _, t := range strs(rec, "events") {
				h.Events = append(h.Events, identity.EventType(t))
			}
		}
		return acquired{h: h, ok: boolean(rec, "free"), gone: h.Paused}, nil
	})
	return a.h, a.ok && !a.gone, a.gone, err
}

// ReleaseWebhook gives the lease up, if owner holds it.
func (s *Store) ReleaseWebhook(ctx context.Context, ref webhook.Ref, owner string) error {
	_, err := writeTx(ctx, s, func(tx neo4j.ManagedTransaction) (noResult, error) {
		return noResult{}, exec(ctx, tx, `MATCH (w:Webhook {project: $project, id: $id}) WHERE w.lease = $owner
			REMOVE w.lease, w.leaseUntil`, map[string]any{"project": ref.Project, "id": ref.ID, "owner": owner})
	})
	return err
}

// holds is the condition of every write of a worker: it holds the lease,
// read the current epoch, and the webhook is not paused.
const holds = `w.lease = $owner AND w.leaseUntil > datetime() AND w.epoch = $epoch AND NOT w.paused`

// SkipEvents moves the cursor past events the webhook does not take.
func (s *Store) SkipEvents(ctx context.Context, ref webhook.Ref, owner string, epoch, from, to int64, ttl time.Duration) (bool, error) {
	return writeTx(ctx, s, func(tx neo4j.ManagedTransaction) (bool, error) {
		if ok, err := lockWebhook(ctx, tx, ref); err != nil || !ok {
			return false, err
		}
		rec, err := single(ctx, tx, `MATCH (w:Webhook {project: $project, id: $id})
			WHERE `+holds+` AND w.cursor = $from
			SET w.cursor = $to, w.leaseUntil = datetime() + duration({milliseconds: $ttl})
			RETURN true AS ok`, map[string]any{"project": ref.Project, "id": ref.ID, "owner": owner, "epoch": epoch,
			"from": from, "to": to, "ttl": ttl.Milliseconds()})
		return rec != nil, err
	})
}

// ClaimDelivery records an attempt before it is made. Under the webhook's
// lock it checks the lease, the epoch and the cursor, moves the cursor
// past the skipped events, renews the lease and numbers the attempt; the
// uniqueness of (webhook, seq, attempt) makes a second claim of the same
// attempt fail even if the checks were ever wrong.
func (s *Store) ClaimDelivery(ctx context.Context, c webhook.Claim, ttl time.Duration) (int, bool, error) {
	type claimed struct {
		n  int
		ok bool
	}
	out, err := writeTx(ctx, s, func(tx neo4j.ManagedTransaction) (claimed, error) {
		if ok, err := lockWebhook(ctx, tx, c.Ref); err != nil || !ok {
			return claimed{}, err
		}
		// Attempts are made one at a time: the one before, if it has no
		// outcome, was left (its outcome could not be stored, or the
		// claim ran again after its commit went unacknowledged).
		rec, err := single(ctx, tx, `MATCH (w:Webhook {project: $project, id: $id})
			WHERE `+holds+` AND w.cursor = $cursor
			CALL {
				WITH w
				MATCH (prev:WebhookDelivery {project: $project, webhook: $id, n: coalesce(w.deliveries, 0)})
				WHERE prev.finishedAt IS NULL
				SET prev.finishedAt = $at, prev.delivered = false,
					prev.error = 'no outcome recorded: the attempt was left without one'
			}
			SET w.cursor = $seq - 1, w.leaseUntil = datetime() + duration({milliseconds: $ttl}),
				w.deliveries = coalesce(w.deliveries, 0) + 1
			WITH w
			OPTIONAL MATCH (d:WebhookDelivery {project: $project, webhook: $id, seq: $seq})
			WITH w, coalesce(max(d.attempt), 0) + 1 AS attempt
			CREATE (:WebhookDelivery {project: $project, webhook: $id, n: w.deliveries, seq: $seq, attempt: attempt,
				eventId: $eventId, type: $type, startedAt: $at, owner: $owner})
			RETURN attempt`,
			map[string]any{"project": c.Project, "id": c.ID, "owner": c.Owner, "epoch": c.Epoch, "cursor": c.Cursor,
				"seq": c.Seq, "ttl": ttl.Milliseconds(), "eventId": c.EventID, "type": string(c.Type), "at": c.At})
		if err != nil || rec == nil {
			return claimed{}, err
		}
		return claimed{n: int(i64(rec, "attempt")), ok: true}, nil
	})
	return out.n, out.ok, err
}

// FinishDelivery records an attempt's outcome. A delivery moves the
// cursor to its event if the epoch still holds, whoever holds the lease
// now: it happened. A failure's schedule, or pause, is written only under
// the lease.
func (s *Store) FinishDelivery(ctx context.Context, r webhook.Result) error {
	opt := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t
	}
	optStr := func(v string) any {
		if v == "" {
			return nil
		}
		return v
	}
	_, err := writeTx(ctx, s, func(tx neo4j.ManagedTransaction) (noResult, error) {
		if ok, err := lockWebhook(ctx, tx, r.Ref); err != nil || !ok {
			return noResult{}, err // deleted meanwhile, with its attempts
		}
		return noResult{}, exec(ctx, tx, `MATCH (w:Webhook {project: $project, id: $id})
			OPTIONAL MATCH (d:WebhookDelivery {project: $project, webhook: $id, seq: $seq, attempt: $attempt})
			SET d.finishedAt = $at, d.delivered = $delivered, d.status = $status, d.error = $error, d.nextTryAt = $next
			WITH w
			CALL {
				WITH w
				WITH w WHERE $delivered AND w.epoch = $epoch AND w.cursor = $seq - 1
				SET w.cursor = $seq, w.failures = 0, w.lastDeliveredAt = $at
				REMOVE w.failingSince, w.nextAttemptAt
			}
			CALL {
				WITH w
				MATCH (old:WebhookDelivery {project: $project, webhook: $id}) WHERE old.n <= w.deliveries - $kept
				WITH old LIMIT 100
				DELETE old
			}
			CALL {
				WITH w
				WITH w WHERE NOT $delivered AND NOT $abandoned AND w.lease = $owner AND w.epoch = $epoch AND w.cursor = $seq - 1
				SET w.failures = $failures, w.failingSince = $since, w.nextAttemptAt = $next,
					w.paused = $reason IS NOT NULL, w.pausedReason = $reason,
					w.pausedAt = CASE WHEN $reason IS NULL THEN null ELSE $at END
			}`,
			map[string]any{"project": r.Project, "id": r.ID, "seq": r.Seq, "attempt": r.Attempt, "at": r.At,
				"delivered": r.Delivered, "status": optInt(r.Status), "error": optStr(r.Error), "next": opt(r.NextTry),
				"epoch": r.Epoch, "abandoned": r.Abandoned, "owner": r.Owner, "failures": r.Failures,
				"since": opt(r.FailingSince), "reason": optStr(r.PausedReason), "kept": WebhookAttemptsKept})
	})
	return err
}

func optInt(n int) any {
	if n == 0 {
		return nil
	}
	return n
}
