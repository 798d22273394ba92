package resolver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/multicontact/multicontact/identity"
)

// ServerConfig configures the GraphQL endpoint.
type ServerConfig struct {
	Resolver *Resolver
	Auth     *Authenticator
	Log      *slog.Logger
	// ComplexityLimit bounds a query's cost (gqlgen's default cost: one per field, times list multipliers none).
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
}

// NewServer builds the GraphQL handler: POST, GET and websocket transports
// (graphql-transport-ws and graphql-ws), authentication of the websocket's
// connection_init payload, cost and depth limits, and an error presenter
// that shows stable codes and hides everything internal.
func NewServer(cfg ServerConfig) http.Handler {
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	srv := handler.New(NewExecutableSchema(Config{Resolvers: cfg.Resolver}))
	srv.AddTransport(transport.Websocket{
		Implementation:        transport.CoderWebsocketImplementation{AcceptOptions: websocket.AcceptOptions{OriginPatterns: cfg.OriginPatterns}},
		KeepAlivePingInterval: cfg.KeepAlive,
		InitTimeout:           10 * time.Second,
		InitFunc: func(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
			ctx = context.WithValue(ctx, connStateKey{}, &connState{})
			if PrincipalFrom(ctx) != nil { // authenticated by the upgrade request's header
				return ctx, nil, nil
			}
			p, err := cfg.Auth.Authenticate(ctx, payload.Authorization())
			if err != nil {
				return ctx, nil, err
			}
			if p != nil {
				ctx = WithPrincipal(ctx, p)
			}
			return ctx, nil, nil
		},
	})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	if cfg.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		srv.Use(noIntrospection{})
	}
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](100)})
	if cfg.ComplexityLimit > 0 {
		srv.Use(extension.FixedComplexityLimit(cfg.ComplexityLimit))
	}
	if cfg.DepthLimit > 0 {
		srv.Use(depthLimit(cfg.DepthLimit))
	}
	srv.SetRecoverFunc(func(ctx context.Context, v any) error {
		log.ErrorContext(ctx, "panic in resolver", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		return errInternal
	})
	srv.SetErrorPresenter(presenter(log, cfg.OnInternalError))
	return srv
}

var errInternal = errors.New("internal error")

// presenter maps errors to stable extensions.code values; anything that is
// not a domain or auth error is logged and shown only as INTERNAL.
func presenter(log *slog.Logger, onInternal func()) graphql.ErrorPresenterFunc {
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
			out.Message = de.Error()
			if de.Code == identity.CodeNotFound {
				out.Extensions = map[string]any{"code": "NOT_FOUND"}
			} else {
				out.Extensions = map[string]any{"code": "BAD_USER_INPUT", "reason": de.Code, "field": de.Field}
			}
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
	if oc.Operation == nil {
		return nil
	}
	if depth := selectionDepth(oc.Operation.SelectionSet, oc.Doc, 0); depth > d.max {
		return &gqlerror.Error{Message: fmt.Sprintf("the operation nests %d levels deep; the limit is %d", depth, d.max),
			Extensions: map[string]any{"code": "BAD_USER_INPUT", "reason": "DEPTH_LIMIT_EXCEEDED"}}
	}
	return nil
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

// connState is per websocket connection, to bound its subscriptions.
type connState struct{ subs atomic.Int32 }

type connStateKey struct{}

func writeGraphQLError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{{"message": msg, "extensions": map[string]any{"code": code}}}})
}
