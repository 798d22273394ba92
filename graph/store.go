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
	"regexp"
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
	leases    sync.Map // project id -> the token of the re-resolution lease this store holds
	noResume  bool     // WithoutResuming: leave RUNNING projects to the services
	adopt     adoption // how often, and after how long, this store takes up abandoned re-resolutions

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
	s := &Store{driver: driver, database: cfg.Database, log: slog.Default(), now: time.Now, owner: newID("store"),
		adopt: adoption{every: 30 * time.Second, after: 2 * time.Minute}}
	s.bookmarks = neo4j.NewBookmarkManager(neo4j.BookmarkManagerConfig{})
	s.bg, s.stop = context.WithCancel(context.Background())
	for _, o := range opts {
		o(s)
	}
	if err := driver.VerifyConnectivity(ctx); err != nil {
		s.stop()
		driver.Close(ctx)
		return nil, fmt.Errorf("neo4j at %s: %w", cfg.URI, err)
	}
	if err := s.applySchema(ctx); err != nil {
		s.stop()
		driver.Close(ctx)
		return nil, err
	}
	if !s.noResume {
		if err := s.resumeRunning(ctx); err != nil {
			s.Close(ctx) // and the re-resolutions it started
			return nil, err
		}
		s.worker.Add(1)
		go s.adoptAbandoned()
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

// ResolveInBackground re-resolves the project in the background, as a
// service does with the projects it finds RUNNING when it opens: what a
// large import wrote before it stopped midway (its reader failed, its caller
// went away) is resolved although nobody waits for it. It returns at once.
func (s *Store) ResolveInBackground(project string) { s.kick(project) }

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
			if err == nil || s.bg.Err() != nil || identity.ErrorCode(err) == identity.CodeNotFound {
				return // done, closing, or no such project (a call that named a wrong one)
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

// adoption says how often a service looks for re-resolutions that nobody
// does any more, and how long after an import's last batch it takes one up.
type adoption struct{ every, after time.Duration }

// adoptAbandoned takes up, while the store is open, the re-resolutions
// that a process left RUNNING when it stopped after this store opened (a
// command-line import killed midway, a replica that died in a round):
// otherwise they would wait for the next service to open. A project is
// abandoned when no lease on it is live and no import batch was written to
// it for adopt.after: an import still writing keeps its project.
func (s *Store) adoptAbandoned() {
	defer s.worker.Done()
	for {
		select {
		case <-s.bg.Done():
			return
		case <-time.After(s.adopt.every):
		}
		ids, err := readTx(s.bg, s, func(tx neo4j.ManagedTransaction) ([]string, error) {
			recs, err := collect(s.bg, tx, `MATCH (p:Project) WHERE p.resolution = 'RUNNING'
				AND (p.resolverLeaseUntil IS NULL OR p.resolverLeaseUntil < datetime())
				AND (p.writtenAt IS NULL OR p.writtenAt < datetime() - duration({milliseconds: $after}))
				RETURN p.id AS id`, map[string]any{"after": s.adopt.after.Milliseconds()})
			var ids []string
			for _, rec := range recs {
				ids = append(ids, str(rec, "id"))
			}
			return ids, err
		})
		if err != nil {
			continue // Neo4j away: look again next time
		}
		for _, id := range ids {
			if !s.batches.inBackground(id) {
				s.log.Info("taking up an abandoned re-resolution", "project", id)
				s.kick(id)
			}
		}
	}
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

const channelUserConstraint = "channel_user"

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
	// A channel user id belongs to one client: the edge to its channel
	// carries it with the channel's key (only when it is given).
	"CREATE CONSTRAINT " + channelUserConstraint + " IF NOT EXISTS FOR ()-[v:VIA]-() REQUIRE (v.project, v.kind, v.account, v.channelUserId) IS UNIQUE",
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
	"CREATE INDEX event_mc IF NOT EXISTS FOR (e:Event) ON (e.project, e.mc)",                    // a multi-contact's history
	"CREATE INDEX event_at IF NOT EXISTS FOR (e:Event) ON (e.project, e.at)",                    // the split that made one
	"CREATE INDEX event_cause_client IF NOT EXISTS FOR (e:Event) ON (e.project, e.causeClient)", // forgetting a client
	"CREATE CONSTRAINT webhook_id IF NOT EXISTS FOR (w:Webhook) REQUIRE (w.project, w.id) IS UNIQUE",
	// An attempt is claimed once: no two replicas make the same one (graph/webhook.go).
	"CREATE CONSTRAINT webhook_attempt IF NOT EXISTS FOR (d:WebhookDelivery) REQUIRE (d.project, d.webhook, d.seq, d.attempt) IS UNIQUE",
	"CREATE INDEX webhook_delivery_n IF NOT EXISTS FOR (d:WebhookDelivery) ON (d.project, d.webhook, d.n)",
}

func (s *Store) applySchema(ctx context.Context) error {
	if err := s.migrateSearchIndex(ctx); err != nil {
		return fmt.Errorf("migrate the search index: %w", err)
	}
	if err := s.migrateChannelUsers(ctx); err != nil {
		return fmt.Errorf("migrate channel user ids: %w", err)
	}
	for _, q := range schema {
		if _, err := s.schemaQuery(ctx, q, nil); err != nil && !createdMeanwhile(err) {
			return fmt.Errorf("apply schema %q: %w", q, err)
		}
	}
	// Only the service's own indexes: an index an analyst made, failed or
	// still building, is not the service's to wait for. The search index is
	// not waited for either: while it is rebuilt, everything else works.
	for _, q := range schema {
		if name := schemaName.FindStringSubmatch(q); name != nil {
			if _, err := s.schemaQuery(ctx, "CALL db.awaitIndex($name, 60)", map[string]any{"name": name[1]}); err != nil {
				return fmt.Errorf("await index %s: %w", name[1], err)
			}
		}
	}
	return nil
}

// createdMeanwhile reports whether a schema statement failed because
// another store (a replica opening at the same moment on a new database)
// created the same index or constraint between its check and its creation:
// what IF NOT EXISTS asked for is there.
func createdMeanwhile(err error) bool {
	var n4 *neo4j.Neo4jError
	return errors.As(err, &n4) && strings.HasPrefix(n4.Code, "Neo.ClientError.Schema.") && strings.HasSuffix(n4.Code, "AlreadyExists")
}

// schemaName finds the name of the index (or of the constraint, whose
// index has its name) that a schema statement creates.
var schemaName = regexp.MustCompile(`^CREATE (?:CONSTRAINT|INDEX) (\w+) IF NOT EXISTS`)

// newID returns a random, URL-safe id with a prefix saying what it names.
func newID(prefix string) string {
	return prefix + "_" + strings.ToLower(rand.Text()[:20])
}

func notFound(what, id string) error {
	return identity.Errorf(what, identity.CodeNotFound, "%s %q not found", what, id)
}
