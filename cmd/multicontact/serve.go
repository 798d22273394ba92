package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql/playground"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/multicontact/multicontact/broker"
	"github.com/multicontact/multicontact/console"
	"github.com/multicontact/multicontact/graph"
	"github.com/multicontact/multicontact/identity"
	"github.com/multicontact/multicontact/resolver"
	"github.com/multicontact/multicontact/webhook"
)

// ServeMain is the `serve` command: it opens the store and serves HTTP.
type ServeMain struct {
	Addr  string
	Neo4j graph.Config

	// AdminToken (MULTICONTACT_ADMIN_TOKEN, environment only) may create
	// projects and keys; empty disables it.
	AdminToken string
	// GraphiQL serves the GraphiQL page at /.
	GraphiQL bool
	// ComplexityLimit and DepthLimit bound every GraphQL operation.
	ComplexityLimit int
	DepthLimit      int
	// MaxBodyBytes bounds request bodies.
	MaxBodyBytes int64
	// CORSOrigins are the browser origins allowed to call the API and the
	// widget path, and to open websockets ("*" for any).
	CORSOrigins []string
	// KeepAlive is the websocket keep-alive interval.
	KeepAlive time.Duration
	// MaxSubscriptions bounds the subscriptions of one websocket connection.
	MaxSubscriptions int
	// SecretKeys encrypt identity secrets at rest and sign visitor tokens.
	SecretKeys SecretKeys
	// EventPoll is how often subscribers' projects' event logs are read for
	// events that this process did not commit (another replica's).
	EventPoll time.Duration
	// RequestTimeout is the deadline of every request that is not a stream
	// (websockets and imports run on), and bounds the key lookup and the
	// project check of those: a call that Neo4j cannot serve in time is
	// answered UNAVAILABLE instead of hanging.
	RequestTimeout time.Duration
	// ImportIdleTimeout bounds how long an import's body may send nothing:
	// a caller that stalls with its connection open would otherwise hold
	// its in-flight slots, and a large import its project RUNNING, forever.
	ImportIdleTimeout time.Duration
	// PreviewTimeout is the deadline of a rule preview, which reads the
	// whole project: on a large one it takes longer than RequestTimeout.
	PreviewTimeout time.Duration
	// MaxInFlight bounds the API calls in flight in the process,
	// MaxInFlightPerProject those of one project (0: no bound); beyond them
	// a call is refused with RATE_LIMITED (see resolver.Limiter).
	MaxInFlight           int
	MaxInFlightPerProject int
	// WebhookAllowPrivate lets webhooks reach loopback and private
	// addresses (MULTICONTACT_WEBHOOK_ALLOW_PRIVATE): development only.
	WebhookAllowPrivate bool
	// WebhookSchedule is when failed webhook deliveries are tried again;
	// zero is webhook.DefaultSchedule (tests shorten it).
	WebhookSchedule webhook.Schedule
	// ShutdownGrace is how long Close lets the calls in flight finish
	// before it cuts them (MULTICONTACT_SHUTDOWN_GRACE).
	ShutdownGrace time.Duration
	// WidgetRate bounds the widget calls a minute from one address to one
	// project (MULTICONTACT_WIDGET_RATE; 0: no bound), ClientIPHeader the
	// header a trusted proxy gives that address in (resolver.VisitorRate).
	WidgetRate     int
	ClientIPHeader string
	// DebugAddr, when set, serves Go's profiles (net/http/pprof) on a
	// listener of its own (MULTICONTACT_DEBUG_ADDR), never on Addr: a
	// profile shows the service's memory, so it stays on an address only
	// operators reach.
	DebugAddr string

	log     *slog.Logger
	store   *graph.Store
	broker  *broker.Broker
	hooks   *webhook.Manager
	metrics *metrics
	server  *http.Server
	ln      net.Listener
	debug   *http.Server
	debugLn net.Listener
	// Handlers run under base and are counted in inflight, so that Close can
	// end websocket handlers (which Shutdown does not wait for) before it
	// closes the store under them.
	base     context.Context
	stopBase context.CancelFunc
	inflight counter
	// calls counts the requests in flight other than websockets, which
	// Close lets finish; draining is set when it starts.
	calls    counter
	draining atomic.Bool

	// usageOut is where -h prints the usage; nil is os.Stderr.
	usageOut io.Writer
}

// NewServeMain returns the command with its defaults.
func NewServeMain(log *slog.Logger) *ServeMain {
	return &ServeMain{Addr: "127.0.0.1:8080", log: log, GraphiQL: true, ComplexityLimit: 10000, DepthLimit: 12,
		MaxBodyBytes: 1 << 20, KeepAlive: 15 * time.Second, MaxSubscriptions: 20, EventPoll: broker.DefaultPoll,
		RequestTimeout: 10 * time.Second, ImportIdleTimeout: time.Minute, PreviewTimeout: 2 * time.Minute, WidgetRate: 30, MaxInFlight: 256, MaxInFlightPerProject: 64, ShutdownGrace: 20 * time.Second}
}

// ParseFlags reads flags, with defaults from the environment (getenv).
func (m *ServeMain) ParseFlags(args []string, getenv func(string) string) error {
	fs := newFlagSet("serve", m.usageOut, os.Stderr)
	env := &envDefaults{getenv: getenv}
	fs.StringVar(&m.Addr, "addr", envOr(getenv, "MULTICONTACT_ADDR", m.Addr), "listen address (MULTICONTACT_ADDR)")
	neo4jFlags(fs, &m.Neo4j, getenv)
	fs.BoolVar(&m.GraphiQL, "graphiql", env.bool("MULTICONTACT_GRAPHIQL", m.GraphiQL), "serve GraphiQL at / (MULTICONTACT_GRAPHIQL)")
	fs.IntVar(&m.ComplexityLimit, "complexity-limit", env.int("MULTICONTACT_COMPLEXITY_LIMIT", m.ComplexityLimit), "GraphQL cost limit (MULTICONTACT_COMPLEXITY_LIMIT)")
	fs.IntVar(&m.DepthLimit, "depth-limit", env.int("MULTICONTACT_DEPTH_LIMIT", m.DepthLimit), "GraphQL depth limit (MULTICONTACT_DEPTH_LIMIT)")
	fs.Int64Var(&m.MaxBodyBytes, "max-body-bytes", int64(env.int("MULTICONTACT_MAX_BODY_BYTES", int(m.MaxBodyBytes))), "request body limit (MULTICONTACT_MAX_BODY_BYTES)")
	fs.IntVar(&m.MaxSubscriptions, "max-subscriptions", env.int("MULTICONTACT_MAX_SUBSCRIPTIONS", m.MaxSubscriptions), "subscriptions per websocket (MULTICONTACT_MAX_SUBSCRIPTIONS)")
	fs.DurationVar(&m.KeepAlive, "keep-alive", env.duration("MULTICONTACT_KEEP_ALIVE", m.KeepAlive), "websocket keep-alive interval (MULTICONTACT_KEEP_ALIVE)")
	fs.DurationVar(&m.EventPoll, "event-poll", env.duration("MULTICONTACT_EVENT_POLL", m.EventPoll),
		"how often subscribed projects' event logs are read for other replicas' commits (MULTICONTACT_EVENT_POLL)")
	fs.StringVar(&m.SecretKeys.File, "secret-key-file", getenv("MULTICONTACT_SECRET_KEY_FILE"),
		"file of the keys that encrypt identity secrets, one base64 key a line, the first current (MULTICONTACT_SECRET_KEY_FILE)")
	fs.DurationVar(&m.RequestTimeout, "request-timeout", env.duration("MULTICONTACT_REQUEST_TIMEOUT", m.RequestTimeout),
		"deadline of a request; one that Neo4j cannot serve in time answers UNAVAILABLE (MULTICONTACT_REQUEST_TIMEOUT)")
	fs.DurationVar(&m.ImportIdleTimeout, "import-idle-timeout", env.duration("MULTICONTACT_IMPORT_IDLE_TIMEOUT", m.ImportIdleTimeout),
		"how long an import's body may send nothing before the import stops, 0 for no bound (MULTICONTACT_IMPORT_IDLE_TIMEOUT)")
	fs.DurationVar(&m.PreviewTimeout, "preview-timeout", env.duration("MULTICONTACT_PREVIEW_TIMEOUT", m.PreviewTimeout),
		"deadline of previewRules, which reads the whole project; 0: the request's (MULTICONTACT_PREVIEW_TIMEOUT)")
	fs.IntVar(&m.MaxInFlight, "max-inflight", env.int("MULTICONTACT_MAX_INFLIGHT", m.MaxInFlight),
		"API calls in flight in this process before more are refused with RATE_LIMITED, 0 for no bound (MULTICONTACT_MAX_INFLIGHT)")
	fs.IntVar(&m.MaxInFlightPerProject, "max-inflight-per-project", env.int("MULTICONTACT_MAX_INFLIGHT_PER_PROJECT", m.MaxInFlightPerProject),
		"API calls in flight for one project before more are refused with RATE_LIMITED, 0 for no bound (MULTICONTACT_MAX_INFLIGHT_PER_PROJECT)")
	fs.BoolVar(&m.WebhookAllowPrivate, "webhook-allow-private", env.bool("MULTICONTACT_WEBHOOK_ALLOW_PRIVATE", m.WebhookAllowPrivate),
		"let webhooks reach loopback, private and link-local addresses: development only (MULTICONTACT_WEBHOOK_ALLOW_PRIVATE)")
	fs.DurationVar(&m.ShutdownGrace, "shutdown-grace", env.duration("MULTICONTACT_SHUTDOWN_GRACE", m.ShutdownGrace),
		"on SIGTERM, how long calls in flight (imports included) may take to finish before they are cut (MULTICONTACT_SHUTDOWN_GRACE)")
	fs.IntVar(&m.WidgetRate, "widget-rate", env.int("MULTICONTACT_WIDGET_RATE", m.WidgetRate),
		"widget calls a minute from one address to one project; more are refused with RATE_LIMITED (MULTICONTACT_WIDGET_RATE)")
	fs.StringVar(&m.ClientIPHeader, "client-ip-header", getenv("MULTICONTACT_CLIENT_IP_HEADER"),
		"behind a proxy only: the header it gives the caller's address in, e.g. X-Forwarded-For (MULTICONTACT_CLIENT_IP_HEADER)")
	fs.StringVar(&m.DebugAddr, "debug-addr", getenv("MULTICONTACT_DEBUG_ADDR"),
		"serve Go's profiles at /debug/pprof/ on this address, for operators only (MULTICONTACT_DEBUG_ADDR)")
	origins := fs.String("cors-origins", getenv("MULTICONTACT_CORS_ORIGINS"), "comma-separated browser origins allowed (MULTICONTACT_CORS_ORIGINS)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := errors.Join(env.errs...); err != nil {
		return err
	}
	m.AdminToken = getenv("MULTICONTACT_ADMIN_TOKEN")
	m.SecretKeys.Env, m.SecretKeys.Old = getenv("MULTICONTACT_SECRET_KEY"), getenv("MULTICONTACT_OLD_SECRET_KEYS") // never flags
	m.SecretKeys.DefaultFile = defaultSecretKeyFile()
	m.CORSOrigins = nil
	for _, o := range strings.Split(*origins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			m.CORSOrigins = append(m.CORSOrigins, o)
		}
	}
	return checkNeo4j(&m.Neo4j, getenv)
}

// neo4jFlags declares the flags that say where Neo4j is, shared by the commands.
func neo4jFlags(fs *flag.FlagSet, cfg *graph.Config, getenv func(string) string) {
	fs.StringVar(&cfg.URI, "neo4j-uri", getenv("NEO4J_URI"), "Neo4j Bolt URI (NEO4J_URI)")
	fs.StringVar(&cfg.User, "neo4j-user", envOr(getenv, "NEO4J_USER", "neo4j"), "Neo4j user (NEO4J_USER)")
	fs.StringVar(&cfg.Database, "neo4j-database", getenv("NEO4J_DATABASE"), "Neo4j database, default the server's (NEO4J_DATABASE)")
}

// checkNeo4j completes cfg after the flags are parsed.
func checkNeo4j(cfg *graph.Config, getenv func(string) string) error {
	cfg.Password = getenv("NEO4J_PASSWORD") // never a flag: flags show in process lists
	if cfg.URI == "" {
		return errors.New("NEO4J_URI is not set; `make run` starts a local Neo4j and sets it " +
			"(scripts/with-neo4j.sh dev CMD does the same for any command)")
	}
	return nil
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

// envDefaults reads flags' defaults from the environment; a value that
// does not parse is an error, as the same value given as a flag is.
type envDefaults struct {
	getenv func(string) string
	errs   []error
}

func (e *envDefaults) int(key string, def int) int {
	return envParse(e, key, def, strconv.Atoi, "a whole number")
}

func (e *envDefaults) duration(key string, def time.Duration) time.Duration {
	return envParse(e, key, def, time.ParseDuration, "a duration (e.g. 250ms, 10s, 2m)")
}

func (e *envDefaults) bool(key string, def bool) bool {
	return envParse(e, key, def, strconv.ParseBool, "true or false")
}

// envParse reads key with parse, def when it is unset; a value parse
// refuses is recorded as an error that says it is not what.
func envParse[T any](e *envDefaults, key string, def T, parse func(string) (T, error), what string) T {
	v := e.getenv(key)
	if v == "" {
		return def
	}
	x, err := parse(v)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s=%q is not %s", key, v, what))
		return def
	}
	return x
}

// defaultMemoryLimit is the Go heap's soft limit when GOMEMLIMIT is not
// set: a batch re-resolution of a large project makes much short-lived
// garbage, and the collector keeps the process near this instead of
// letting it grow to twice the live heap.
const defaultMemoryLimit = 256 << 20

// readyTimeout bounds /readyz's query, so that a Neo4j gone away turns it
// 503 in a few seconds, not after the driver's retries.
const readyTimeout = 2 * time.Second

// Run opens the store and starts serving; it returns once the listener is open.
func (m *ServeMain) Run(ctx context.Context) error {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	keys, err := m.SecretKeys.Load(m.log)
	if err != nil {
		return err
	}
	openCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	m.metrics = newMetrics()
	// Subscribers are fed from the event log in Neo4j; a commit made here
	// nudges the broker, the poll finds other replicas' commits.
	m.broker = broker.New(m.EventPoll)
	m.broker.OnPublish = func(e identity.Event) { m.metrics.events.WithLabelValues(string(e.Type)).Inc() }
	m.broker.OnDrop = func(string) { m.metrics.dropped.Inc() }
	m.broker.OnError = func(project string, err error) { m.log.Warn("event log", "project", project, "err", err) }
	m.metrics.watchBroker(m.broker)
	// Webhooks are fed from the same log; a local commit wakes their workers too.
	m.hooks = webhook.New(webhook.Config{Keys: keys, Guard: webhook.Guard{AllowPrivate: m.WebhookAllowPrivate},
		Schedule: m.WebhookSchedule, Log: m.log, OnAttempt: m.metrics.webhookAttempt, OnPause: m.metrics.webhookPaused.Inc})
	store, err := m.openStore(openCtx)
	if err != nil {
		return err
	}
	m.store = store
	// Identity secrets stored in the clear by older versions, or under a key
	// being rotated out, are sealed under the current key.
	if n, err := store.SealIdentitySecrets(openCtx, keys); err != nil {
		store.Close(ctx)
		return fmt.Errorf("seal identity secrets: %w", err)
	} else if n > 0 {
		m.log.Info("sealed identity secrets under the current secret key", "projects", n)
	}
	if n, err := store.SealWebhookSecrets(openCtx, keys); err != nil {
		store.Close(ctx)
		return fmt.Errorf("seal webhook secrets: %w", err)
	} else if n > 0 {
		m.log.Info("sealed webhook secrets under the current secret key", "webhooks", n)
	}
	m.broker.Start(store)
	m.hooks.Start(store)
	if m.WebhookAllowPrivate {
		m.log.Warn("MULTICONTACT_WEBHOOK_ALLOW_PRIVATE is set: webhooks may reach loopback and private addresses")
	}
	if m.AdminToken == "" {
		m.log.Warn("MULTICONTACT_ADMIN_TOKEN is not set: nobody can create projects")
	}
	auth := &resolver.Authenticator{Store: store, AdminToken: m.AdminToken, Timeout: m.RequestTimeout}
	limiter := &resolver.Limiter{Max: m.MaxInFlight, PerProject: m.MaxInFlightPerProject,
		OnShed: func(scope, surface string) { m.metrics.shed.WithLabelValues(scope, surface).Inc() }}
	m.metrics.watchInFlight(limiter)
	api := resolver.NewServer(resolver.ServerConfig{
		Resolver: &resolver.Resolver{Store: store, Broker: m.broker, Auth: auth, Keys: keys, MaxSubscriptions: m.MaxSubscriptions, Webhooks: m.hooks,
			PreviewTimeout: m.PreviewTimeout},
		Auth:             auth,
		Log:              m.log,
		ComplexityLimit:  m.ComplexityLimit,
		DepthLimit:       m.DepthLimit,
		KeepAlive:        m.KeepAlive,
		OriginPatterns:   originPatterns(m.CORSOrigins),
		Introspection:    m.GraphiQL,
		OnInternalError:  func() { m.metrics.internal.Inc() },
		OnUnavailable:    func() { m.metrics.unavailable.Inc() },
		Limiter:          limiter,
		OperationTimeout: m.RequestTimeout,
		Stopping:         m.draining.Load,
		Admit: func() (func(), bool) {
			m.calls.add() // before the check, as an HTTP call: Close cannot miss it
			if m.draining.Load() {
				m.calls.done()
				return nil, false
			}
			return m.calls.done, true
		},
	})

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if m.draining.Load() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "shutting down"})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := store.Ready(ctx); err != nil {
			m.log.Warn("not ready", "err", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "neo4j": "unreachable"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.metrics.registry, promhttp.HandlerOpts{}))
	mux.Handle("/graphql", auth.Middleware(api))
	visitors := &resolver.VisitorRate{PerMinute: m.WidgetRate, Header: m.ClientIPHeader,
		OnShed: func() { m.metrics.shed.WithLabelValues(resolver.ScopeVisitor, resolver.SurfaceWidget).Inc() }}
	// An address beyond its rate is refused before it takes one of the
	// project's slots in flight.
	mux.Handle("POST /widget/identify", auth.Middleware(visitors.Handler(limiter.Handler(resolver.SurfaceWidget, resolver.KeyProject,
		resolver.WidgetHandler(store, keys, m.log)))))
	mux.Handle(resolver.ImportPattern, auth.Middleware(limiter.Handler(resolver.SurfaceImport, resolver.PathProject,
		resolver.ImportHandler(store, auth, m.log, m.RequestTimeout, m.ImportIdleTimeout))))
	// The operator and admin console (console/), a client of /graphql like any other.
	consoleHandler := console.Handler("/console")
	mux.Handle("GET /console", consoleHandler)
	mux.Handle("GET /console/", consoleHandler)
	if m.GraphiQL {
		mux.Handle("GET /{$}", playground.Handler("Multicontact", "/graphql"))
	}
	// Calls that arrive while the service stops are refused inside the
	// metrics and the request log, so that both show them.
	calls := withDeadline(m.RequestTimeout, isStream(mux), limitBody(m.MaxBodyBytes, isImport(mux), withCORS(m.CORSOrigins, mux)))
	draining := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m.draining.Load() && !isProbe(r) {
			refuseWhileStopping(w)
			return
		}
		calls.ServeHTTP(w, r)
	})
	handler := m.metrics.middleware(mux, requestLog(m.log, draining))

	m.ln, err = net.Listen("tcp", m.Addr)
	if err != nil {
		store.Close(ctx)
		return err
	}
	if m.DebugAddr != "" {
		if err := m.serveDebug(); err != nil {
			m.ln.Close()
			store.Close(ctx)
			return err
		}
	}
	m.base, m.stopBase = context.WithCancel(context.Background())
	m.inflight.add() // Close waits for it before it closes the store
	go func() {
		defer m.inflight.done()
		auth.WatchRevocations(m.base, time.Second, func(err error) { m.log.Warn("check revoked keys", "err", err) })
	}()
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.inflight.add()
		defer m.inflight.done()
		if r.Header.Get("Upgrade") == "" {
			m.calls.add()
			defer m.calls.done()
		}
		handler.ServeHTTP(w, r)
	})
	m.server = &http.Server{Handler: counted, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		BaseContext: func(net.Listener) context.Context { return m.base }}
	m.log.Info("listening", "addr", m.ln.Addr().String())
	go func() {
		if err := m.server.Serve(m.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.log.Error("serve", "err", err)
		}
	}()
	return nil
}

// serveDebug serves Go's profiles on DebugAddr.
func (m *ServeMain) serveDebug() error {
	ln, err := net.Listen("tcp", m.DebugAddr)
	if err != nil {
		return fmt.Errorf("debug address: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	m.debug, m.debugLn = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, ln
	m.log.Info("profiles", "addr", ln.Addr().String()+"/debug/pprof/")
	go func() {
		if err := m.debug.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.log.Error("serve profiles", "err", err)
		}
	}()
	return nil
}

// isStream reports whether r is a websocket or an import: streams that
// run as long as they need, without the request deadline.
func isStream(mux *http.ServeMux) func(*http.Request) bool {
	imports := isImport(mux)
	return func(r *http.Request) bool { return r.Header.Get("Upgrade") != "" || imports(r) }
}

// isImport reports whether mux routes r to the import, whose body is a
// stream of any length.
func isImport(mux *http.ServeMux) func(*http.Request) bool {
	return func(r *http.Request) bool {
		_, pattern := mux.Handler(r)
		return pattern == resolver.ImportPattern
	}
}

// DebugURL is the address of the profiles, for tests that listen on port 0.
func (m *ServeMain) DebugURL() string { return "http://" + m.debugLn.Addr().String() }

// URL is the address the server listens on, for tests that listen on port 0.
func (m *ServeMain) URL() string { return "http://" + m.ln.Addr().String() }

// Close shuts the service down within ShutdownGrace (docs/operations.md):
//  1. /readyz answers 503 and new calls are refused with 503 UNAVAILABLE,
//     so that a load balancer sends them to another replica;
//  2. the calls in flight, imports included, finish, until the grace
//     period ends; those still running then are cut, and what they had
//     not answered is not acknowledged (their transactions roll back);
//  3. open websockets close with 1001 Going Away, the subscribers
//     reconnect with their last cursor;
//  4. the webhook workers, the broker and the store stop.
func (m *ServeMain) Close() error {
	grace := m.ShutdownGrace
	if grace <= 0 {
		grace = 20 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	var errs []error
	if m.server != nil {
		m.draining.Store(true)
		if !m.calls.wait(ctx) {
			m.log.Warn("shutdown: calls still in flight at the end of the grace period are cut", "grace", grace)
		}
		m.stopBase() // ends websockets (1001) and cancels what is left
		end, cancelEnd := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancelEnd()
		if err := m.server.Shutdown(end); err != nil {
			// A call still waiting on its client (an import whose body
			// is still coming) ends when its connection closes.
			errs = append(errs, m.server.Close())
		}
		last, cancelLast := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancelLast()
		if !m.inflight.wait(last) {
			errs = append(errs, errors.New("handlers still running after the grace period"))
		}
	}
	if m.debug != nil {
		errs = append(errs, m.debug.Close())
	}
	if m.hooks != nil { // before the store: its workers record their last attempts
		m.hooks.Close()
	}
	if m.broker != nil {
		m.broker.Close()
	}
	if m.store != nil {
		end, cancelEnd := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancelEnd()
		errs = append(errs, m.store.Close(end))
	}
	return errors.Join(errs...)
}

// counter counts what is in flight. Unlike a sync.WaitGroup, it may
// count up while someone waits for it to reach zero: requests keep
// arriving (and are refused) while Close waits for those in flight.
type counter struct {
	mu   sync.Mutex
	n    int
	zero chan struct{} // closed when n drops to 0; nil while n is 0
}

func (c *counter) add() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == 0 {
		c.zero = make(chan struct{})
	}
	c.n++
}

func (c *counter) done() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n--; c.n == 0 {
		close(c.zero)
		c.zero = nil
	}
}

// wait waits until nothing is in flight, or ctx ends; it reports which.
func (c *counter) wait(ctx context.Context) bool {
	for {
		c.mu.Lock()
		zero := c.zero
		c.mu.Unlock()
		if zero == nil {
			return true
		}
		select {
		case <-zero: // look again: another may have started since
		case <-ctx.Done():
			return false
		}
	}
}

// isProbe reports whether r asks for health, readiness or metrics, which
// keep answering while the service shuts down.
func isProbe(r *http.Request) bool {
	switch r.URL.Path {
	case "/healthz", "/readyz", "/metrics":
		return true
	}
	return false
}

// refuseWhileStopping answers a call that arrives while the service shuts
// down: retryable, like a database away, so that clients try again.
func refuseWhileStopping(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "1")
	writeJSON(w, http.StatusServiceUnavailable, map[string]any{"errors": []map[string]any{{
		"message":    "the service is shutting down; try again",
		"extensions": map[string]any{"code": resolver.CodeUnavailable, "retryAfter": 1},
	}}})
}

// notifiers hears the store's nudges for each of its members.
type notifiers []graph.Notifier

func (ns notifiers) Nudge(project string) {
	for _, n := range ns {
		n.Nudge(project)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away; nothing to do
}

// metrics are the Prometheus metrics of one server, in their own registry.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	events   *prometheus.CounterVec
	dropped  prometheus.Counter
	internal prometheus.Counter
	retries  *prometheus.CounterVec
	// Group commit: the writes that shared each transaction, and its time.
	groupSize     prometheus.Histogram
	groupDuration prometheus.Histogram
	// Overload and faults: calls refused by the in-flight limits, and
	// answered UNAVAILABLE.
	shed        *prometheus.CounterVec
	unavailable prometheus.Counter
	// Webhooks: attempts by outcome, the delay from commit to delivery,
	// and webhooks paused for failing too long.
	webhookAttempts *prometheus.CounterVec
	webhookLag      prometheus.Histogram
	webhookPaused   prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "multicontact_http_requests_total",
			Help: "HTTP requests by route and status code."}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "multicontact_http_request_duration_seconds",
			Help: "HTTP request latency by route (websockets, which live on, are not observed).", Buckets: prometheus.DefBuckets}, []string{"route"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "multicontact_resolution_events_total",
			Help: "Multi-contact change events read from the event log and published to this process's subscribers, by type."}, []string{"type"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "multicontact_subscribers_dropped_total",
			Help: fmt.Sprintf("Subscribers dropped for holding up, for %s, events that another subscriber waited for.", broker.DefaultPatience)}),
		internal: prometheus.NewCounter(prometheus.CounterOpts{Name: "multicontact_internal_errors_total",
			Help: "Errors hidden from callers as INTERNAL (mostly Neo4j errors)."}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "multicontact_tx_retries_total",
			Help: "Write transactions run again, by reason: deadlock, transient, race (a concurrent write deleted or changed what it had read), other."},
			[]string{"reason"}),
	}
	m.groupSize = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "multicontact_write_group_size",
		Help:    "Single writes (setAttribute, removeAttribute, upsertClient, recordConversation) committed in one transaction with others of their project.",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64}})
	m.groupDuration = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "multicontact_write_group_duration_seconds",
		Help:    "Time of one group's transaction, from its first statement to its commit, retries included.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)})
	m.registry.MustRegister(m.groupSize, m.groupDuration)
	m.shed = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "multicontact_shed_requests_total",
		Help: "API calls refused with RATE_LIMITED, by the limit that refused them (scope: process, project, or visitor: a widget caller's address) and surface (graphql, import, widget)."},
		[]string{"scope", "surface"})
	m.unavailable = prometheus.NewCounter(prometheus.CounterOpts{Name: "multicontact_unavailable_total",
		Help: "GraphQL errors answered UNAVAILABLE: Neo4j could not serve the call within its deadline."})
	for _, scope := range []string{resolver.ScopeProcess, resolver.ScopeProject} {
		for _, surface := range []string{resolver.SurfaceGraphQL, resolver.SurfaceImport, resolver.SurfaceWidget} {
			m.shed.WithLabelValues(scope, surface) // every series shows, at 0 until it happens
		}
	}
	m.shed.WithLabelValues(resolver.ScopeVisitor, resolver.SurfaceWidget)
	m.webhookAttempts = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "multicontact_webhook_deliveries_total",
		Help: "Webhook delivery attempts made by this replica, by outcome: delivered (2xx), failed (another answer, or none within 10 s), refused (the endpoint resolved to a private address)."},
		[]string{"outcome"})
	for _, o := range []string{webhook.OutcomeDelivered, webhook.OutcomeFailed, webhook.OutcomeRefused} {
		m.webhookAttempts.WithLabelValues(o) // every outcome shows, at 0 until it happens
	}
	m.webhookLag = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "multicontact_webhook_delivery_lag_seconds",
		Help: "Time from an event's commit to its delivery (2xx) to a webhook, retries included.", Buckets: prometheus.ExponentialBuckets(0.05, 4, 10)})
	m.webhookPaused = prometheus.NewCounter(prometheus.CounterOpts{Name: "multicontact_webhooks_paused_total",
		Help: "Webhooks paused after failing for the whole retry schedule (24 h)."})
	m.registry.MustRegister(m.webhookAttempts, m.webhookLag, m.webhookPaused)
	m.registry.MustRegister(m.requests, m.latency, m.events, m.dropped, m.internal, m.retries, m.shed, m.unavailable,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	for _, reason := range []string{graph.RetryDeadlock, graph.RetryTransient, graph.RetryRace, graph.RetryOther} {
		m.retries.WithLabelValues(reason) // every reason shows, at 0 until it happens
	}
	return m
}

// group records one group-committed transaction (graph.WithGroupObserver).
func (m *metrics) group(writes int, took time.Duration) {
	m.groupSize.Observe(float64(writes))
	m.groupDuration.Observe(took.Seconds())
}

// watchBroker exports what feeding this replica's subscribers costs:
// projects with subscribers, and reads of their event logs (one query each).
func (m *metrics) watchBroker(b *broker.Broker) {
	m.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "multicontact_subscribed_projects",
			Help: "Projects with at least one subscriber on this replica: each one's event log is read every -event-poll."},
			func() float64 { return float64(b.Projects()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "multicontact_event_log_reads_total",
			Help: "Reads of subscribed projects' event logs in Neo4j (one small query each), by polls and by local commits."},
			func() float64 { return float64(b.Reads()) }))
}

// webhookAttempt counts a webhook attempt, and the lag of a delivery.
func (m *metrics) webhookAttempt(outcome string, lag time.Duration) {
	m.webhookAttempts.WithLabelValues(outcome).Inc()
	if outcome == webhook.OutcomeDelivered {
		m.webhookLag.Observe(lag.Seconds())
	}
}

// watchInFlight exports the limiter's count of calls in flight.
func (m *metrics) watchInFlight(l *resolver.Limiter) {
	m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "multicontact_inflight_requests",
		Help: "API calls in flight (GraphQL queries and mutations, imports, widget calls), bounded by -max-inflight."},
		func() float64 { return float64(l.InFlight()) }))
}

// openStore opens the store. Neo4j may be starting or restarting as the
// service starts (a deployment brings both up at once): a store that
// cannot reach it is opened again, with a growing pause, until ctx ends;
// any other failure (a wrong password, a schema error) is returned at once.
func (m *ServeMain) openStore(ctx context.Context) (*graph.Store, error) {
	for pause := 500 * time.Millisecond; ; pause = min(2*pause, 5*time.Second) {
		store, err := graph.Open(ctx, m.Neo4j, graph.WithLogger(m.log), graph.WithNotifier(notifiers{m.broker, m.hooks}),
			graph.WithRetryObserver(func(reason string) { m.metrics.retries.WithLabelValues(reason).Inc() }),
			graph.WithGroupObserver(m.metrics.group))
		if err == nil || !graph.Unavailable(err) {
			return store, err
		}
		m.log.Warn("waiting for Neo4j", "err", err, "retry_in", pause.String())
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(pause):
		}
	}
}
