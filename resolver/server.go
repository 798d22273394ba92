package resolver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/multicontact/multicontact/access"
	"github.com/multicontact/multicontact/graph"
	"github.com/multicontact/multicontact/identity"
)

// ServerConfig configures the GraphQL endpoint.
type ServerConfig struct {
	Resolver *Resolver
	Auth     *Authenticator
	Log      *slog.Logger
	// ComplexityLimit bounds what an operation may make the service read
	// (cost.go: an object costs 1, a page its items times its size).
	ComplexityLimit int
	// DepthLimit bounds how deeply a query's selections nest.
	DepthLimit int
	// KeepAlive is the websocket keep-alive interval.
	KeepAlive time.Duration
	// OriginPatterns are the websocket origins accepted besides the server's own host.
	OriginPatterns []string
	// Introspection allows schema introspection (GraphiQL needs it).
	Introspection bool
	// OnInternalError, if set, is called for every error hidden as INTERNAL.
	OnInternalError func()
	// OnUnavailable, if set, is called for every error answered UNAVAILABLE.
	OnUnavailable func()
	// OperationTimeout, if set, bounds a query or mutation that arrives
	// without a deadline: one sent over a websocket, which lives on (an
	// HTTP request has the request's own).
	OperationTimeout time.Duration
	// Limiter, if set, admits every query and mutation (RATE_LIMITED beyond it).
	Limiter *Limiter
	// Stopping, if set, reports that the service is shutting down: the
	// websockets it ends then close with 1001 Going Away and say so.
	Stopping func() bool
	// Admit, if set, counts a query or mutation sent over a websocket as a
	// call in flight, as an HTTP request is, so that a shutdown waits for
	// it: leave is called when it ends. It refuses (ok false) while the
	// service is stopping; the operation is then answered UNAVAILABLE.
	Admit func() (leave func(), ok bool)
}

// CloseGoingAway ends a websocket when the service shuts down: its client
// reconnects, with the last cursor it saw, to another replica or later.
const CloseGoingAway = 1001

// NewServer builds the GraphQL handler: POST, GET and websocket transports
// (graphql-transport-ws and graphql-ws), authentication of the websocket's
// connection_init payload, cost and depth limits, and an error presenter
// that shows stable codes and hides everything internal.
func NewServer(cfg ServerConfig) http.Handler {
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	srv := handler.New(costedSchema{NewExecutableSchema(Config{Resolvers: cfg.Resolver})})
	srv.SetParserTokenLimit(maxTokens)
	srv.AddTransport(transport.Websocket{
		Implementation: closableImplementation{transport.CoderWebsocketImplementation{
			AcceptOptions: websocket.AcceptOptions{OriginPatterns: cfg.OriginPatterns}}},
		KeepAlivePingInterval: cfg.KeepAlive,
		InitTimeout:           10 * time.Second,
		InitFunc: func(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
			ctx = context.WithValue(ctx, connStateKey{}, &connState{})
			withConnectionLanguage(ctx, payload)
			p := PrincipalFrom(ctx) // authenticated by the upgrade request's header, or:
			if p == nil {
				var err error
				if p, err = cfg.Auth.Authenticate(ctx, payload.Authorization()); err != nil {
					var ae *AuthError
					switch {
					case errors.As(err, &ae) && ae.revoked:
						return closeWith(ctx, CloseForbidden, "Forbidden: the API key was revoked"), nil, err
					case errors.As(err, &ae):
						return closeWith(ctx, CloseUnauthorized, "Unauthorized: "+ae.Message), nil, err
					}
					if retryable(err) { // 1013 Try Again Later: the client reconnects after a pause
						if !cancelled(err) {
							log.WarnContext(ctx, "websocket authentication: store unavailable", "err", err)
						}
						return closeWith(ctx, CloseTryAgainLater, "Try again later: the database is unavailable"), nil, errors.New("authentication is unavailable")
					}
					log.ErrorContext(ctx, "websocket authentication", "err", err)
					return closeWith(ctx, 1011, "authentication is unavailable"), nil, errors.New("authentication is unavailable")
				}
			}
			switch {
			case p == nil:
				err := errors.New(`send {"authorization": "Bearer <key>"} in connection_init`)
				return closeWith(ctx, CloseUnauthorized, "Unauthorized: "+err.Error()), nil, err
			case !p.Admin && p.Role == access.RoleWidget:
				err := errors.New("a WIDGET key may not open a websocket")
				return closeWith(ctx, CloseForbidden, "Forbidden: "+err.Error()), nil, err
			}
			ctx = WithPrincipal(ctx, p)
			if p.Admin {
				return ctx, nil, nil
			}
			// Revoking the key ends the connection, with its subscriptions.
			conn, _ := ctx.Value(closableKey{}).(*closableConn)
			ctx, cancel := context.WithCancelCause(ctx)
			unwatch := cfg.Auth.watch(p, func(code int, reason string) {
				if conn != nil {
					conn.closeWith(code, reason)
				}
				cancel(errKeyRevoked)
			})
			context.AfterFunc(ctx, unwatch)
			return ctx, nil, nil
		},
	})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.Use(fragmentLimit{}) // first: the checks after it expand fragments
	if cfg.Limiter != nil {
		srv.Use(limitOperations{cfg.Limiter})
	}
	if cfg.Admit != nil {
		srv.Use(admitOverWebsockets{cfg.Admit})
	}
	if cfg.OperationTimeout > 0 {
		srv.Use(operationDeadline{cfg.OperationTimeout})
	}
	if cfg.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		srv.Use(noIntrospection{})
	}
	srv.Use(extension.AutomaticPersistedQuery{Cache: callersQueries{lru.New[string](100)}})
	if cfg.ComplexityLimit > 0 {
		srv.Use(extension.FixedComplexityLimit(cfg.ComplexityLimit, complexity.WithFixedScalarValue(0)))
	}
	srv.Use(rootFieldLimit{})
	if cfg.DepthLimit > 0 {
		srv.Use(depthLimit(cfg.DepthLimit))
	}
	srv.Use(queriesOnlyOverGET{})
	srv.Use(subscriptionsOnlyOverWebsockets{})
	srv.SetRecoverFunc(func(ctx context.Context, v any) error {
		log.ErrorContext(ctx, "panic in resolver", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		return errInternal
	})
	srv.SetErrorPresenter(presenter(log, cfg.OnInternalError, cfg.OnUnavailable))
	var store *graph.Store // for the language of errors (WithLocale)
	if cfg.Resolver != nil {
		store = cfg.Resolver.Store
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = WithLocale(r, store)
		switch {
		case r.Header.Get("Upgrade") != "": // a slot for the websocket that closableImplementation accepts
			r = r.WithContext(context.WithValue(r.Context(), closableKey{}, &closableConn{stopping: cfg.Stopping}))
		case r.Method == http.MethodGet:
			refused := &getRefused{}
			r = r.WithContext(context.WithValue(r.Context(), getRefusedKey{}, refused))
			w = &getStatusWriter{ResponseWriter: w, refused: refused}
		}
		srv.ServeHTTP(w, r)
	})
}

// callersQueries keeps persisted queries apart by caller (a project's
// keys, or the admin token): whether a hash is known would otherwise tell
// anyone, without a key, that another tenant sent that exact query lately
// (a lookup with its values written in). A caller without a key keeps
// none.
type callersQueries struct{ c graphql.Cache[string] }

func (q callersQueries) scope(ctx context.Context) (string, bool) {
	switch p := PrincipalFrom(ctx); {
	case p == nil:
		return "", false
	case p.Admin:
		return "admin\x00", true
	default:
		return "project\x00" + p.Project + "\x00", true
	}
}

func (q callersQueries) Get(ctx context.Context, hash string) (string, bool) {
	if scope, ok := q.scope(ctx); ok {
		return q.c.Get(ctx, scope+hash)
	}
	return "", false
}

func (q callersQueries) Add(ctx context.Context, hash, query string) {
	if scope, ok := q.scope(ctx); ok {
		q.c.Add(ctx, scope+hash, query)
	}
}

// closeWith makes gqlgen close a websocket whose connection_init is refused
// with code and reason instead of 1000 "terminated".
func closeWith(ctx context.Context, code int, reason string) context.Context {
	return transport.AppendCloseReason(transport.WithWebsocketCloseCode(ctx, code), reason)
}

// closableImplementation accepts websockets that the service may end with
// a close code of its choice (gqlgen ends a connection whose context is
// cancelled with 1000 "terminated"): the connection fills the closableConn
// that NewServer put into the request's context.
type closableImplementation struct {
	transport.WebsocketImplementation
}

type closableKey struct{}

func (c closableImplementation) Accept(w http.ResponseWriter, r *http.Request, opts transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	conn, err := c.WebsocketImplementation.Accept(w, r, opts)
	if err != nil {
		return nil, err
	}
	cc, ok := r.Context().Value(closableKey{}).(*closableConn)
	if !ok {
		return conn, nil
	}
	cc.WebsocketConn = conn
	return cc, nil
}

// closableConn is a websocket whose next close uses the code and reason
// set by closeWith, whatever gqlgen asks for.
type closableConn struct {
	transport.WebsocketConn
	stopping func() bool // the service shuts down: close with 1001
	mu       sync.Mutex
	code     int
	reason   string
}

var (
	_ transport.WebsocketReadLimiter   = (*closableConn)(nil)
	_ transport.WebsocketReadDeadliner = (*closableConn)(nil)
)

func (c *closableConn) closeWith(code int, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.code == 0 {
		c.code, c.reason = code, reason
	}
}

// WriteClose closes with the chosen code, if one was chosen.
func (c *closableConn) WriteClose(code int, reason string) error {
	c.mu.Lock()
	switch {
	case c.code != 0:
		code, reason = c.code, c.reason
	case c.stopping != nil && c.stopping():
		code, reason = CloseGoingAway, "the service is shutting down: reconnect with the last cursor seen"
	}
	c.mu.Unlock()
	return c.WebsocketConn.WriteClose(code, reason)
}

// wsWriteTimeout bounds one message to a websocket peer. A peer that stops
// reading but keeps its connection open (its TCP window closed) would
// otherwise block the write forever, and with it gqlgen's lock of the
// connection: neither a revocation nor a shutdown could close it, and its
// subscriptions would stay.
var wsWriteTimeout = 10 * time.Second

// WriteJSON writes a message, and drops the connection when the peer has
// not taken it within wsWriteTimeout (the write then fails and gqlgen
// ends the connection).
func (c *closableConn) WriteJSON(v any) error {
	t := time.AfterFunc(wsWriteTimeout, func() { _ = c.WebsocketConn.Close() })
	defer t.Stop()
	return c.WebsocketConn.WriteJSON(v)
}

// SetReadLimit passes the transport's read limit through.
func (c *closableConn) SetReadLimit(limit int64) {
	if l, ok := c.WebsocketConn.(transport.WebsocketReadLimiter); ok {
		l.SetReadLimit(limit)
	}
}

// SetReadDeadline passes the transport's pong deadline through.
func (c *closableConn) SetReadDeadline(t time.Time) error {
	if d, ok := c.WebsocketConn.(transport.WebsocketReadDeadliner); ok {
		return d.SetReadDeadline(t)
	}
	return nil
}

var errInternal = errors.New("internal error")

// presenter maps errors to stable extensions.code values: a store that
// could not serve in time is UNAVAILABLE (retry later); anything else that
// is not a domain or auth error is logged and shown only as INTERNAL.
func presenter(log *slog.Logger, onInternal, onUnavailable func()) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		var gqlErr *gqlerror.Error
		if errors.As(err, &gqlErr) && gqlErr.Err == nil {
			// gqlgen's own parse, validation and limit errors: their text is for the caller.
			if gqlErr.Extensions == nil || gqlErr.Extensions["code"] == nil {
				gqlErr.Extensions = map[string]any{"code": "BAD_USER_INPUT"}
			}
			return gqlErr
		}
		out := &gqlerror.Error{Path: graphql.GetPath(ctx)}
		if gqlErr != nil {
			out.Path, out.Locations = gqlErr.Path, gqlErr.Locations
		}
		var ae *AuthError
		var de *identity.Error
		switch {
		case errors.As(err, &ae):
			out.Message, out.Extensions = ae.Message, map[string]any{"code": ae.Code}
		case errors.As(err, &de):
			// In the caller's language; the domain's own English, with its
			// details, stays in extensions.detail for developers.
			out.Message = localize(ctx, de)
			if de.Code == identity.CodeNotFound {
				out.Extensions = map[string]any{"code": "NOT_FOUND", "detail": de.Error()}
			} else {
				field := de.Field
				if de.Code == identity.CodeInvalidTime && len(out.Path) > 0 { // the scalar's refusal: the argument or input field that held it
					if name, ok := out.Path[len(out.Path)-1].(ast.PathName); ok {
						field = string(name)
					}
				}
				out.Extensions = map[string]any{"code": "BAD_USER_INPUT", "reason": de.Code, "field": field, "detail": de.Error()}
			}
		case cancelled(err) && errors.Is(context.Cause(ctx), errKeyRevoked):
			out.Message, out.Extensions = errRevokedKey.Message, map[string]any{"code": errRevokedKey.Code}
		case cancelled(err):
			log.InfoContext(ctx, "call cancelled", "path", out.Path.String())
			u := unavailableError(err)
			out.Message, out.Extensions = u.Message, u.Extensions
		case graph.Unavailable(err):
			log.WarnContext(ctx, "store unavailable", "err", err, "path", out.Path.String())
			if onUnavailable != nil {
				onUnavailable()
			}
			u := unavailableError(err)
			out.Message, out.Extensions = u.Message, u.Extensions
		default:
			if !errors.Is(err, errInternal) {
				log.ErrorContext(ctx, "internal error", "err", err, "path", out.Path.String())
			}
			if onInternal != nil {
				onInternal()
			}
			out.Message, out.Extensions = "internal error", map[string]any{"code": "INTERNAL"}
		}
		return out
	}
}

// depthLimit refuses operations whose selections nest deeper than max.
func depthLimit(max int) graphql.HandlerExtension { return depthLimiter{max: max} }

type depthLimiter struct{ max int }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = depthLimiter{}

func (d depthLimiter) ExtensionName() string                   { return "DepthLimit" }
func (d depthLimiter) Validate(graphql.ExecutableSchema) error { return nil }
func (d depthLimiter) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil || introspectionOnly(oc.Operation.SelectionSet) {
		return nil // GraphiQL's schema query nests 13 levels; introspection has its own switch
	}
	if depth := selectionDepth(oc.Operation.SelectionSet, oc.Doc, 0); depth > d.max {
		return &gqlerror.Error{Message: fmt.Sprintf("the operation nests %d levels deep; the limit is %d", depth, d.max),
			Extensions: map[string]any{"code": "BAD_USER_INPUT", "reason": "DEPTH_LIMIT_EXCEEDED"}}
	}
	return nil
}

// maxRootFields bounds an operation's root fields (aliases and fragments
// included): gqlgen resolves a query's at once, each a transaction of its
// own, so that one request could otherwise take every connection to Neo4j.
const maxRootFields = 16

// rootFieldLimit refuses operations with more than maxRootFields root fields.
type rootFieldLimit struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = rootFieldLimit{}

func (rootFieldLimit) ExtensionName() string                   { return "RootFieldLimit" }
func (rootFieldLimit) Validate(graphql.ExecutableSchema) error { return nil }
func (rootFieldLimit) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	if n := rootFields(oc.Operation.SelectionSet, oc.Doc); n > maxRootFields {
		return &gqlerror.Error{Message: fmt.Sprintf("the operation has %d root fields; the limit is %d", n, maxRootFields),
			Extensions: map[string]any{"code": "BAD_USER_INPUT", "reason": "ROOT_FIELD_LIMIT_EXCEEDED"}}
	}
	return nil
}

// introspectionOnly reports whether every root field of set is an
// introspection field (__schema, __type, __typename).
func introspectionOnly(set ast.SelectionSet) bool {
	for _, sel := range set {
		f, ok := sel.(*ast.Field)
		if !ok || !strings.HasPrefix(f.Name, "__") {
			return false
		}
	}
	return len(set) > 0
}

// selectionDepth is the deepest nesting of fields under set; fragments count
// as their fields, and a fragment cycle (refused by validation anyway) is cut.
func selectionDepth(set ast.SelectionSet, doc *ast.QueryDocument, seen int) int {
	if seen > 64 {
		return seen
	}
	deepest := 0
	for _, sel := range set {
		var d int
		switch s := sel.(type) {
		case *ast.Field:
			d = 1 + selectionDepth(s.SelectionSet, doc, seen+1)
		case *ast.InlineFragment:
			d = selectionDepth(s.SelectionSet, doc, seen)
		case *ast.FragmentSpread:
			if f := doc.Fragments.ForName(s.Name); f != nil {
				d = selectionDepth(f.SelectionSet, doc, seen+1)
			}
		}
		deepest = max(deepest, d)
	}
	return deepest
}

// operationDeadline gives a query or mutation without a deadline (one sent
// over a websocket) a deadline of its own; a subscription runs on.
type operationDeadline struct{ d time.Duration }

var _ interface {
	graphql.HandlerExtension
	graphql.ResponseInterceptor
} = operationDeadline{}

func (operationDeadline) ExtensionName() string                   { return "OperationDeadline" }
func (operationDeadline) Validate(graphql.ExecutableSchema) error { return nil }

func (o operationDeadline) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	if _, has := ctx.Deadline(); has || !queryOrMutation(ctx) {
		return next(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, o.d)
	defer cancel()
	return next(ctx)
}

// admitOverWebsockets admits the queries and mutations sent over a
// websocket through Config.Admit; an HTTP request is admitted as a whole
// by the server, and a subscription lives until its websocket closes.
type admitOverWebsockets struct {
	admit func() (leave func(), ok bool)
}

var _ interface {
	graphql.HandlerExtension
	graphql.ResponseInterceptor
} = admitOverWebsockets{}

func (admitOverWebsockets) ExtensionName() string                   { return "AdmitOverWebsockets" }
func (admitOverWebsockets) Validate(graphql.ExecutableSchema) error { return nil }

func (a admitOverWebsockets) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	if _, ws := ctx.Value(closableKey{}).(*closableConn); !ws || !queryOrMutation(ctx) {
		return next(ctx)
	}
	leave, ok := a.admit()
	if !ok {
		return &graphql.Response{Errors: gqlerror.List{{Message: "the service is shutting down; send the call again (to another replica)",
			Extensions: map[string]any{"code": CodeUnavailable, "retryAfter": 1}}}}
	}
	defer leave()
	return next(ctx)
}

// noIntrospection refuses introspection queries up front with FORBIDDEN,
// where gqlgen would otherwise fail them with an uncoded error.
type noIntrospection struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = noIntrospection{}

func (noIntrospection) ExtensionName() string                   { return "NoIntrospection" }
func (noIntrospection) Validate(graphql.ExecutableSchema) error { return nil }
func (noIntrospection) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation != nil && introspects(oc.Operation.SelectionSet, oc.Doc, 0) {
		return &gqlerror.Error{Message: "introspection is disabled on this server", Extensions: map[string]any{"code": "FORBIDDEN"}}
	}
	return nil
}

func introspects(set ast.SelectionSet, doc *ast.QueryDocument, guard int) bool {
	if guard > 64 {
		return false
	}
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name == "__schema" || s.Name == "__type" {
				return true
			}
		case *ast.InlineFragment:
			if introspects(s.SelectionSet, doc, guard+1) {
				return true
			}
		case *ast.FragmentSpread:
			if f := doc.Fragments.ForName(s.Name); f != nil && introspects(f.SelectionSet, doc, guard+1) {
				return true
			}
		}
	}
	return false
}

// queriesOnlyOverGET refuses a mutation or subscription sent with GET, with
// BAD_USER_INPUT and reason GET_ALLOWS_ONLY_QUERIES and HTTP status 405,
// before gqlgen's GET transport would refuse it without extensions.code.
// NewServer marks GET requests (getRefusedKey); it runs after persisted
// queries are looked up, so it sees the operation however it was sent.
type queriesOnlyOverGET struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = queriesOnlyOverGET{}

func (queriesOnlyOverGET) ExtensionName() string                   { return "QueriesOnlyOverGET" }
func (queriesOnlyOverGET) Validate(graphql.ExecutableSchema) error { return nil }
func (queriesOnlyOverGET) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	refused, ok := ctx.Value(getRefusedKey{}).(*getRefused)
	if !ok || oc.Operation == nil || oc.Operation.Operation == ast.Query {
		return nil
	}
	refused.Store(true)
	return &gqlerror.Error{Message: fmt.Sprintf("a %s must be sent with POST (or, a subscription, over a websocket); GET allows only queries",
		oc.Operation.Operation), Extensions: map[string]any{"code": "BAD_USER_INPUT", "reason": "GET_ALLOWS_ONLY_QUERIES"}}
}

// subscriptionsOnlyOverWebsockets refuses a subscription sent with POST,
// with BAD_USER_INPUT and reason SUBSCRIPTION_NEEDS_WEBSOCKET: gqlgen
// would hold the request open until its deadline and then answer a bare
// null. NewServer marks websocket requests (closableKey).
type subscriptionsOnlyOverWebsockets struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = subscriptionsOnlyOverWebsockets{}

func (subscriptionsOnlyOverWebsockets) ExtensionName() string {
	return "SubscriptionsOnlyOverWebsockets"
}
func (subscriptionsOnlyOverWebsockets) Validate(graphql.ExecutableSchema) error { return nil }
func (subscriptionsOnlyOverWebsockets) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if _, ws := ctx.Value(closableKey{}).(*closableConn); ws || oc.Operation == nil || oc.Operation.Operation != ast.Subscription {
		return nil
	}
	return &gqlerror.Error{Message: "a subscription must be sent over a websocket (graphql-transport-ws)",
		Extensions: map[string]any{"code": "BAD_USER_INPUT", "reason": "SUBSCRIPTION_NEEDS_WEBSOCKET"}}
}

type getRefusedKey struct{}

// getRefused is set when queriesOnlyOverGET refused the request's operation.
type getRefused struct{ atomic.Bool }

// getStatusWriter answers 405 Method Not Allowed, instead of the 200 that
// gqlgen gives an error of the caller's, when queriesOnlyOverGET refused
// the operation.
type getStatusWriter struct {
	http.ResponseWriter
	refused *getRefused
}

func (w *getStatusWriter) WriteHeader(code int) {
	if code == http.StatusOK && w.refused.Load() {
		w.Header().Set("Allow", "POST")
		code = http.StatusMethodNotAllowed
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *getStatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// connState is per websocket connection, to bound its subscriptions.
type connState struct{ subs atomic.Int32 }

type connStateKey struct{}

func writeGraphQLError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{{"message": msg, "extensions": map[string]any{"code": code}}}})
}
