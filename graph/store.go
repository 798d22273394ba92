// Package graph keeps the identity graph in Neo4j: projects, fields, rules,
// clients, values, match keys and multi-contacts, resolved incrementally in
// one write transaction per change (docs/architecture.md §4).
package graph

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/config"

	"github.com/multicontact/multicontact/identity"
)

// Config says where Neo4j is.
type Config struct {
	URI      string
	User     string
	Password string
	Database string // "" is the server's default database
}

// Notifier hears that a project's event log has grown: after every commit
// that recorded events, the store nudges it with the project's id. The
// events themselves are read back from the log (EventsAfter), in commit
// order, by whoever needs them; a nudge only says "look now". Nudge must
// not block: the writer has already committed.
type Notifier interface {
	Nudge(project string)
}

// Store is the Neo4j-backed identity graph. It is safe for concurrent use.
type Store struct {
	driver   neo4j.DriverWithContext
	database string
	log      *slog.Logger
	notifier Notifier
	retried  func(reason string)
	grouped  func(writes int, took time.Duration)
	now      func() time.Time
	batches  projectLocks
	groups   groups // single writes waiting for their project's next transaction
	// bookmarks makes every session causally after this store's earlier commits.
	bookmarks neo4j.BookmarkManager
	owner     string   // this store's name in re-resolution leases
	configs   sync.Map // project id -> *projectState last read (projectAt)
	noResume  bool     // WithoutResuming: leave RUNNING projects to the services

	// Background re-resolutions run under bg and are waited for at Close.
	bg     context.Context
	stop   context.CancelFunc
	worker sync.WaitGroup
	calls  atomic.Int64 // sessions open (see session)
}

// Option changes how Open builds the store.
type Option func(*Store)

// WithNotifier nudges n after every commit that recorded events.
func WithNotifier(n Notifier) Option { return func(s *Store) { s.notifier = n } }

// WithRetryObserver calls observe each time a write transaction runs again,
// with the reason (see RetryReason), so that retries can be counted: a
// steady rate of deadlocks says that writers contend for the same
// multi-contacts. observe must be quick and safe for concurrent use.
func WithRetryObserver(observe func(reason string)) Option {
	return func(s *Store) { s.retried = observe }
}

// WithGroupObserver calls observe after each group of single writes
// (group.go) committed or failed, with the number of writes that shared its
// transaction and the time the transaction took. Groups of one under load
// say that writers do not overlap; large, slow ones that the project's
// writes queue behind each other. observe must be quick and safe for
// concurrent use.
func WithGroupObserver(observe func(writes int, took time.Duration)) Option {
	return func(s *Store) { s.grouped = observe }
}

// WithoutResuming opens a store that does not take up, at Open, the
// re-resolutions other processes left RUNNING. A short-lived process (a
// command-line import, a benchmark, a test) should not start work that it
// may abandon when it exits; the services resume it.
func WithoutResuming() Option { return func(s *Store) { s.noResume = true } }

// WithLogger logs through l instead of slog.Default().
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.log = l } }

// Open connects to Neo4j, checks that it answers and applies the schema.
func Open(ctx context.Context, cfg Config, opts ...Option) (*Store, error) {
	driver, err := neo4j.NewDriverWithContext(cfg.URI, neo4j.BasicAuth(cfg.User, cfg.Password, ""),
		func(c *config.Config) {
			// A transaction that keeps failing with transient errors (a
			// deadlock, Neo4j away) is retried for 10 s, then fails, and
			// callers hear UNAVAILABLE (see Unavailable). The driver sleeps
			// about 2, 4, 8 s between runs, so background work that began
			// while Neo4j was away (a group of writes, a subscription's
			// read of the log) runs again within ~8 s of its return
			// instead of sleeping on for up to half a minute.
			c.MaxTransactionRetryTime = 10 * time.Second
			// Work without a deadline of its own waits at most this for a
			// connection (a free one in the pool, or a new one).
			c.ConnectionAcquisitionTimeout = 10 * time.Second
			c.MaxConnectionPoolSize = 64
		})
	if err != nil {
		return nil, fmt.Errorf("neo4j driver: %w", err)
	}
	s := &Store{driver: driver, database: cfg.Database, log: slog.Default(), now: time.Now, owner: newID("store")}
	s.bookmarks = neo4j.NewBookmarkManager(neo4j.BookmarkManagerConfig{})
	s.bg, s.stop = context.WithCancel(context.Background())
	for _, o := range opts {
		o(s)
	}
	if err := driver.VerifyConnectivity(ctx); err != nil {
		driver.Close(ctx)
		return nil, fmt.Errorf("neo4j at %s: %w", cfg.URI, err)
	}
	if err := s.applySchema(ctx); err != nil {
		driver.Close(ctx)
		return nil, err
	}
	if !s.noResume {
		if err := s.resumeRunning(ctx); err != nil {
			driver.Close(ctx)
			return nil, err
		}
	}
	return s, nil
}

// Close stops background re-resolutions (a RUNNING project resumes at the
// next Open), waits until ctx ends for the calls in flight (a subscription
// still reading the log as its websocket closes), and releases the
// driver's connections.
func (s *Store) Close(ctx context.Context) error {
	s.stop()
	s.worker.Wait()
	for s.calls.Load() > 0 {
		select {
		case <-ctx.Done():
			s.log.Warn("closing the store with calls still in flight", "calls", s.calls.Load())
			return s.driver.Close(context.Background())
		case <-time.After(10 * time.Millisecond):
		}
	}
	return s.driver.Close(ctx)
}

// kick re-resolves a project in the background, trying again with a
// growing pause after a failure (Neo4j away, say) until it succeeds or the
// store closes.
func (s *Store) kick(project string) {
	s.worker.Add(1)
	s.batches.background(project, 1)
	go func() {
		defer s.worker.Done()
		defer s.batches.background(project, -1)
		for pause := time.Second; ; pause = min(2*pause, time.Minute) {
			_, err := s.Reresolve(s.bg, project)
			if err == nil || s.bg.Err() != nil {
				return
			}
			if errors.Is(err, ErrResolving) {
				// Another store works on it; look again soon, in case it
				// stops (a process that exits releases its lease).
				pause = lookAgain
				s.log.Info("another replica re-resolves the project", "project", project)
			} else {
				s.log.Error("re-resolution failed; trying again", "project", project, "in", pause, "err", err)
			}
			select {
			case <-s.bg.Done():
				return
			case <-time.After(pause):
			}
		}
	}()
}

// resumeRunning restarts the re-resolutions that a stopped process left RUNNING.
func (s *Store) resumeRunning(ctx context.Context) error {
	ids, err := readTx(ctx, s, func(tx neo4j.ManagedTransaction) ([]string, error) {
		recs, err := collect(ctx, tx, `MATCH (p:Project) WHERE p.resolution = 'RUNNING' RETURN p.id AS id`, nil)
		var ids []string
		for _, rec := range recs {
			ids = append(ids, str(rec, "id"))
		}
		return ids, err
	})
	for _, id := range ids {
		s.kick(id)
	}
	return err
}

// Ready reports whether Neo4j answers a query now.
func (s *Store) Ready(ctx context.Context) error {
	_, err := readTx(ctx, s, func(tx neo4j.ManagedTransaction) (noResult, error) {
		_, err := single(ctx, tx, "RETURN 1 AS ok", nil)
		return noResult{}, err
	})
	return err
}

// schema is applied at Open, one statement at a time, outside data
// transactions; every statement is idempotent.
var schema = []string{
	"CREATE CONSTRAINT project_id IF NOT EXISTS FOR (p:Project) REQUIRE p.id IS UNIQUE",
	"CREATE CONSTRAINT field_key IF NOT EXISTS FOR (f:Field) REQUIRE (f.project, f.key) IS UNIQUE",
	"CREATE CONSTRAINT rule_id IF NOT EXISTS FOR (r:Rule) REQUIRE (r.project, r.id) IS UNIQUE",
	"CREATE CONSTRAINT client_id IF NOT EXISTS FOR (c:Client) REQUIRE (c.project, c.id) IS UNIQUE",
	"CREATE CONSTRAINT channel_key IF NOT EXISTS FOR (ch:Channel) REQUIRE (ch.project, ch.kind, ch.account) IS UNIQUE",
	"CREATE CONSTRAINT value_key IF NOT EXISTS FOR (v:Value) REQUIRE (v.project, v.field, v.value) IS UNIQUE",
	"CREATE CONSTRAINT match_key IF NOT EXISTS FOR (k:MatchKey) REQUIRE (k.project, k.rule, k.key) IS UNIQUE",
	"CREATE CONSTRAINT multicontact_id IF NOT EXISTS FOR (m:MultiContact) REQUIRE (m.project, m.id) IS UNIQUE",
	"CREATE CONSTRAINT event_seq IF NOT EXISTS FOR (e:Event) REQUIRE (e.project, e.seq) IS UNIQUE",
	"CREATE CONSTRAINT applied_event IF NOT EXISTS FOR (a:AppliedEvent) REQUIRE (a.project, a.id) IS UNIQUE",
	"CREATE CONSTRAINT apikey_hash IF NOT EXISTS FOR (k:ApiKey) REQUIRE k.hash IS UNIQUE",
	"CREATE CONSTRAINT apikey_id IF NOT EXISTS FOR (k:ApiKey) REQUIRE (k.project, k.id) IS UNIQUE",
	"CREATE CONSTRAINT conversation_id IF NOT EXISTS FOR (v:Conversation) REQUIRE (v.project, v.id) IS UNIQUE",
	"CREATE INDEX conversation_client IF NOT EXISTS FOR (v:Conversation) ON (v.project, v.client)",
	"CREATE INDEX client_project IF NOT EXISTS FOR (c:Client) ON (c.project)",
	// A composite index serves only a query that names all its properties:
	// reading a project's rules, fields, keys or webhooks by project alone
	// needs one of its own, or it scans every project's.
	"CREATE INDEX rule_project IF NOT EXISTS FOR (r:Rule) ON (r.project)",
	"CREATE INDEX field_project IF NOT EXISTS FOR (f:Field) ON (f.project)",
	"CREATE INDEX apikey_project IF NOT EXISTS FOR (k:ApiKey) ON (k.project)",
	"CREATE INDEX webhook_project IF NOT EXISTS FOR (w:Webhook) ON (w.project)",
	"CREATE INDEX via_channel_user IF NOT EXISTS FOR ()-[v:VIA]-() ON (v.channelUserId)",
	"CREATE INDEX matchkey_project IF NOT EXISTS FOR (k:MatchKey) ON (k.project)",
	"CREATE INDEX matchkey_rule IF NOT EXISTS FOR (k:MatchKey) ON (k.project, k.rule)",
	"CREATE INDEX multicontact_project IF NOT EXISTS FOR (m:MultiContact) ON (m.project)",
	"CREATE INDEX client_mc IF NOT EXISTS FOR (c:Client) ON (c.project, c.mc)",
	"CREATE INDEX client_dirty IF NOT EXISTS FOR (c:Client) ON (c.project, c.dirty)",
	"CREATE INDEX multicontact_alias IF NOT EXISTS FOR (m:MultiContact) ON (m.project, m.aliasOf)",
	"CREATE INDEX matchkey_quarantined IF NOT EXISTS FOR (k:MatchKey) ON (k.project, k.quarantined)",
	"CREATE INDEX value_field IF NOT EXISTS FOR (v:Value) ON (v.project, v.field)",
	"CREATE INDEX value_blocked IF NOT EXISTS FOR (v:Value) ON (v.project, v.blocked)",
	searchIndexSchema,
	"CREATE INDEX event_mc IF NOT EXISTS FOR (e:Event) ON (e.project, e.mc)", // a multi-contact's history
	"CREATE INDEX event_at IF NOT EXISTS FOR (e:Event) ON (e.project, e.at)", // the split that made one
	"CREATE CONSTRAINT webhook_id IF NOT EXISTS FOR (w:Webhook) REQUIRE (w.project, w.id) IS UNIQUE",
	// An attempt is claimed once: no two replicas make the same one (graph/webhook.go).
	"CREATE CONSTRAINT webhook_attempt IF NOT EXISTS FOR (d:WebhookDelivery) REQUIRE (d.project, d.webhook, d.seq, d.attempt) IS UNIQUE",
	"CREATE INDEX webhook_delivery_n IF NOT EXISTS FOR (d:WebhookDelivery) ON (d.project, d.webhook, d.n)",
}

func (s *Store) applySchema(ctx context.Context) error {
	if err := s.migrateSearchIndex(ctx); err != nil {
		return fmt.Errorf("migrate the search index: %w", err)
	}
	for _, q := range schema {
		if _, err := neo4j.ExecuteQuery(ctx, s.driver, q, nil, neo4j.EagerResultTransformer,
			neo4j.ExecuteQueryWithDatabase(s.database)); err != nil {
			return fmt.Errorf("apply schema %q: %w", q, err)
		}
	}
	_, err := neo4j.ExecuteQuery(ctx, s.driver, "CALL db.awaitIndexes(60)", nil, neo4j.EagerResultTransformer,
		neo4j.ExecuteQueryWithDatabase(s.database))
	if err != nil {
		return fmt.Errorf("await indexes: %w", err)
	}
	return nil
}

// session opens a session that shares this store's bookmarks: on a cluster
// (a neo4j:// URI), a read after a write through this process waits for
// that write, so a caller reads its own writes. The session counts as a
// call in flight until end is called: Close waits for those.
func (s *Store) session(ctx context.Context, mode neo4j.AccessMode) (sess neo4j.SessionWithContext, end func()) {
	s.calls.Add(1)
	sess = s.driver.NewSession(ctx, neo4j.SessionConfig{DatabaseName: s.database, AccessMode: mode, BookmarkManager: s.bookmarks})
	return sess, func() {
		sess.Close(ctx)
		s.calls.Add(-1)
	}
}

// noResult is the result of a transaction that returns nothing.
type noResult struct{}

// readTx runs work in a managed read transaction (retried on transient errors).
func readTx[T any](ctx context.Context, s *Store, work func(tx neo4j.ManagedTransaction) (T, error)) (T, error) {
	return retryVanished(func() (T, error) {
		sess, end := s.session(ctx, neo4j.AccessModeRead)
		defer end()
		return neo4j.ExecuteRead(ctx, sess, work)
	})
}

// writeTx runs work in a managed write transaction. The driver retries it on
// deadlocks and transient errors, so work may run more than once: it only
// talks to the transaction and calls pure functions. Every run after the
// first is reported to the retry observer with the error of the run before
// it (nil, so "other", when that run failed outside work: at commit, or
// its connection broke).
func writeTx[T any](ctx context.Context, s *Store, work func(tx neo4j.ManagedTransaction) (T, error)) (T, error) {
	runs := 0
	var last error
	return retryVanished(func() (T, error) {
		sess, end := s.session(ctx, neo4j.AccessModeWrite)
		defer end()
		v, err := neo4j.ExecuteWrite(ctx, sess, func(tx neo4j.ManagedTransaction) (T, error) {
			if runs++; runs > 1 {
				s.retry(last)
			}
			v, err := work(tx)
			last = err
			return v, err
		})
		last = err
		return v, err
	})
}

// Reasons for running a write transaction again, as RetryReason names them.
const (
	RetryDeadlock  = "deadlock"  // Neo4j found a cycle of lock waits and chose this transaction
	RetryTransient = "transient" // any other transient error (a lock wait timed out, a leader switch)
	RetryRace      = "race"      // a concurrent write deleted or changed what this one had read
	RetryOther     = "other"     // a broken connection, a failed commit, anything else
)

// RetryReason classifies the error that made a write transaction run
// again, for the retry metric.
func RetryReason(err error) string {
	if errors.Is(err, errRace) {
		return RetryRace
	}
	var n4 *neo4j.Neo4jError
	if !errors.As(err, &n4) {
		return RetryOther
	}
	switch {
	case n4.Code == "Neo.TransientError.Transaction.DeadlockDetected":
		return RetryDeadlock
	case n4.Code == "Neo.ClientError.Statement.EntityNotFound":
		return RetryRace
	case strings.HasPrefix(n4.Code, "Neo.TransientError."):
		return RetryTransient
	default:
		return RetryOther
	}
}

// retry reports one more run of a write transaction to the observer.
func (s *Store) retry(err error) {
	if s.retried != nil {
		s.retried(RetryReason(err))
	}
}

// errRace says that a transaction found, when writing, that a concurrent
// one changed what it had checked; it is rolled back and run again.
var errRace = errors.New("a concurrent write changed what this one checked")

// retryVanished runs a managed transaction again when it failed because a
// node it had read was deleted by a concurrent one (a match key removed by
// a re-resolution, a client removed), or with errRace: under read-committed
// isolation that is a race, not an error, but the driver does not count it
// as transient.
func retryVanished[T any](run func() (T, error)) (T, error) {
	for attempt := 1; ; attempt++ {
		v, err := run()
		var n4 *neo4j.Neo4jError
		raced := errors.Is(err, errRace) || errors.As(err, &n4) && n4.Code == "Neo.ClientError.Statement.EntityNotFound"
		if err == nil || attempt == 5 || !raced {
			return v, err
		}
	}
}

// autocommit runs q in an implicit transaction, as CALL { } IN TRANSACTIONS needs.
// The statement must be idempotent: it runs again after a transient error
// (a deadlock with a writer), as a managed transaction would.
func (s *Store) autocommit(ctx context.Context, q string, params map[string]any) error {
	_, err := s.implicit(ctx, neo4j.AccessModeWrite, q, params)
	return err
}

// readOne runs one read statement in an implicit transaction: a single
// round trip (RUN and PULL sent together), where a managed transaction
// takes three (BEGIN, RUN, COMMIT). The lookups that one statement answers
// use it.
func (s *Store) readOne(ctx context.Context, q string, params map[string]any) ([]*neo4j.Record, error) {
	return retryVanished(func() ([]*neo4j.Record, error) { return s.implicit(ctx, neo4j.AccessModeRead, q, params) })
}

// implicit runs q in an implicit transaction and returns its records. It
// runs again after a transient error (a write is reported to the retry
// observer), for at most 10 runs.
func (s *Store) implicit(ctx context.Context, mode neo4j.AccessMode, q string, params map[string]any) ([]*neo4j.Record, error) {
	run := func() ([]*neo4j.Record, error) {
		sess, end := s.session(ctx, mode)
		defer end()
		res, err := sess.Run(ctx, q, params)
		if err != nil {
			return nil, err
		}
		return res.Collect(ctx)
	}
	for attempt := 1; ; attempt++ {
		recs, err := run()
		if err == nil || attempt == 10 || !neo4j.IsRetryable(err) {
			return recs, err
		}
		if mode == neo4j.AccessModeWrite {
			s.retry(err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(attempt*attempt) * 50 * time.Millisecond):
		}
	}
}

// single runs q and returns its only record, or nil when there is none.
func single(ctx context.Context, tx neo4j.ManagedTransaction, q string, params map[string]any) (*neo4j.Record, error) {
	res, err := tx.Run(ctx, q, params)
	if err != nil {
		return nil, err
	}
	recs, err := res.Collect(ctx)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, nil
	}
	return recs[0], nil
}

// collect runs q and returns all its records.
func collect(ctx context.Context, tx neo4j.ManagedTransaction, q string, params map[string]any) ([]*neo4j.Record, error) {
	res, err := tx.Run(ctx, q, params)
	if err != nil {
		return nil, err
	}
	return res.Collect(ctx)
}

// exec runs q and discards its result.
func exec(ctx context.Context, tx neo4j.ManagedTransaction, q string, params map[string]any) error {
	res, err := tx.Run(ctx, q, params)
	if err != nil {
		return err
	}
	_, err = res.Consume(ctx)
	return err
}

// newID returns a random, URL-safe id with a prefix saying what it names.
func newID(prefix string) string {
	return prefix + "_" + strings.ToLower(rand.Text()[:20])
}

func notFound(what, id string) error {
	return identity.Errorf(what, identity.CodeNotFound, "%s %q not found", what, id)
}
