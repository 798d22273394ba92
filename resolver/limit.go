package resolver

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Limiter bounds the API calls in flight (GraphQL queries and mutations,
// imports, widget calls), in the whole process and per project, and refuses
// a call that would exceed either bound at once, with RATE_LIMITED, instead
// of queueing it: under overload the calls admitted keep their latency, and
// a refused call has done nothing. Subscriptions are not counted (they are
// bounded per connection); their start is a read like any other.
//
// A nil *Limiter admits everything.
type Limiter struct {
	// Max bounds the calls in flight in the process, PerProject those that
	// name one project; 0 is no bound.
	Max, PerProject int
	// OnShed, if set, is called for every refused call with the bound that
	// refused it (ScopeProcess or ScopeProject) and the surface (SurfaceGraphQL,
	// SurfaceImport, SurfaceWidget). It must be quick.
	OnShed func(scope, surface string)

	mu       sync.Mutex
	inFlight int
	projects map[string]int
	widgets  map[string]int // widget calls in flight, by project
}

// The bounds that refuse a call, and the surfaces that are bounded, as
// OnShed names them (metric labels).
const (
	ScopeProcess = "process"
	ScopeProject = "project"

	SurfaceGraphQL = "graphql"
	SurfaceImport  = "import"
	SurfaceWidget  = "widget"
)

// InFlight is the number of calls admitted and not yet finished.
func (l *Limiter) InFlight() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inFlight
}

// widgetShare is the share of a project's bound that its widget calls may
// hold: the widget key is public, and whoever has the page must not be able
// to take the calls that the project's own integrations and operators need.
const widgetShare = 4

// acquire admits a call that touches projects and counts as weight calls
// (a GraphQL query's root fields run at once), or refuses it and returns
// the scope that refused it. release must be called once the call is done.
func (l *Limiter) acquire(surface string, projects []string, weight int) (release func(), refused string) {
	if l == nil {
		return func() {}, ""
	}
	// A call never weighs more than a bound: it would never be admitted.
	if l.Max > 0 {
		weight = min(weight, l.Max)
	}
	if l.PerProject > 0 {
		weight = min(weight, l.PerProject)
	}
	slices.Sort(projects)
	projects = slices.Compact(projects)
	l.mu.Lock()
	switch {
	case l.Max > 0 && l.inFlight+weight > l.Max:
		refused = ScopeProcess
	case l.PerProject > 0:
		for _, p := range projects {
			if l.projects[p]+weight > l.PerProject ||
				surface == SurfaceWidget && l.widgets[p]+weight > max(1, l.PerProject/widgetShare) {
				refused = ScopeProject
				break
			}
		}
	}
	if refused != "" {
		l.mu.Unlock()
		if l.OnShed != nil {
			l.OnShed(refused, surface)
		}
		return nil, refused
	}
	l.inFlight += weight
	if l.projects == nil {
		l.projects, l.widgets = map[string]int{}, map[string]int{}
	}
	for _, p := range projects {
		l.projects[p] += weight
		if surface == SurfaceWidget {
			l.widgets[p] += weight
		}
	}
	l.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.inFlight -= weight
			for _, p := range projects {
				if l.projects[p] -= weight; l.projects[p] <= 0 {
					delete(l.projects, p)
				}
				if surface == SurfaceWidget {
					if l.widgets[p] -= weight; l.widgets[p] <= 0 {
						delete(l.widgets, p)
					}
				}
			}
		})
	}, ""
}

// rateLimitedMessage says which bound refused a call.
func rateLimitedMessage(scope string) string {
	if scope == ScopeProject {
		return fmt.Sprintf("too many calls in flight for this project; try again in %d s", rateLimitedRetryAfter)
	}
	return fmt.Sprintf("the service has too many calls in flight; try again in %d s", rateLimitedRetryAfter)
}

func rateLimitedExtensions(scope string) map[string]any {
	return map[string]any{"code": CodeRateLimited, "scope": scope, "retryAfter": rateLimitedRetryAfter}
}

// Handler admits a plain HTTP call (the import, the widget path) before
// next runs; project names the project the call acts on (it runs after
// authentication, so the caller's key is known). A refused call is
// answered 429 with Retry-After and RATE_LIMITED.
func (l *Limiter) Handler(surface string, project func(*http.Request) string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var projects []string
		if p := project(r); p != "" {
			projects = []string{p}
		}
		release, refused := l.acquire(surface, reachable(r.Context(), projects), 1)
		if release == nil {
			writeRetryable(w, http.StatusTooManyRequests, rateLimitedRetryAfter, rateLimitedExtensions(refused), rateLimitedMessage(refused))
			return
		}
		defer release()
		next.ServeHTTP(w, r)
	})
}

// reachable keeps the projects that the caller may act in: its key's own,
// every one for the admin token, none for a caller without a key. Any
// other is refused by the resolver or handler; charged to its project's
// bound, it would let one tenant hold another's calls in flight.
func reachable(ctx context.Context, projects []string) []string {
	p := PrincipalFrom(ctx)
	switch {
	case p == nil:
		return nil
	case p.Admin:
		return projects
	}
	return slices.DeleteFunc(projects, func(id string) bool { return id != p.Project })
}

// PathProject is the project of a route with a {project} wildcard (the import).
func PathProject(r *http.Request) string { return r.PathValue("project") }

// KeyProject is the project of the caller's API key (the widget path).
func KeyProject(r *http.Request) string {
	if p := PrincipalFrom(r.Context()); p != nil {
		return p.Project
	}
	return ""
}

// queryOrMutation reports whether ctx runs a query or a mutation: a
// response interceptor is also called for every event of a subscription.
func queryOrMutation(ctx context.Context) bool {
	if !graphql.HasOperationContext(ctx) {
		return false
	}
	op := graphql.GetOperationContext(ctx).Operation
	return op != nil && op.Operation != ast.Subscription
}

// limitOperations admits each GraphQL query and mutation through the
// Limiter once it is parsed, under the projects its root fields name
// (projectId, or project's id), so a refused operation runs no resolver.
type limitOperations struct{ l *Limiter }

var _ interface {
	graphql.HandlerExtension
	graphql.ResponseInterceptor
} = limitOperations{}

func (limitOperations) ExtensionName() string                   { return "Limiter" }
func (limitOperations) Validate(graphql.ExecutableSchema) error { return nil }

func (x limitOperations) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	if !queryOrMutation(ctx) {
		return next(ctx)
	}
	oc := graphql.GetOperationContext(ctx)
	weight := 1 // a mutation's root fields run one after the other
	if oc.Operation.Operation == ast.Query {
		weight = max(1, rootFields(oc.Operation.SelectionSet, oc.Doc)) // a query's at once
	}
	release, refused := x.l.acquire(SurfaceGraphQL, reachable(ctx, operationProjects(oc.Operation.SelectionSet, oc)), weight)
	if release == nil {
		return &graphql.Response{Errors: gqlerror.List{{Message: rateLimitedMessage(refused), Extensions: rateLimitedExtensions(refused)}}}
	}
	defer release()
	return next(ctx)
}

// rootFieldsOf lists the fields of set, its fragments' included: the root
// fields of an operation. Fragments nested deeper than any client nests
// them are cut, and reported (tooDeep).
func rootFieldsOf(set ast.SelectionSet, doc *ast.QueryDocument, depth int) (fields []*ast.Field, tooDeep bool) {
	if depth > 8 {
		return nil, true
	}
	for _, sel := range set {
		var more []*ast.Field
		var deep bool
		switch s := sel.(type) {
		case *ast.Field:
			more = []*ast.Field{s}
		case *ast.InlineFragment:
			more, deep = rootFieldsOf(s.SelectionSet, doc, depth+1)
		case *ast.FragmentSpread:
			if f := doc.Fragments.ForName(s.Name); f != nil {
				more, deep = rootFieldsOf(f.SelectionSet, doc, depth+1)
			}
		}
		fields, tooDeep = append(fields, more...), tooDeep || deep
	}
	return fields, tooDeep
}

// rootFields counts an operation's root fields; fragments nested too deep
// count as too many, never as none.
func rootFields(set ast.SelectionSet, doc *ast.QueryDocument) int {
	fields, tooDeep := rootFieldsOf(set, doc, 0)
	if tooDeep {
		return maxRootFields + 1
	}
	return len(fields)
}

// operationProjects lists the projects that the root fields of set name.
func operationProjects(set ast.SelectionSet, oc *graphql.OperationContext) []string {
	fields, _ := rootFieldsOf(set, oc.Doc, 0)
	var out []string
	for _, f := range fields {
		args := f.ArgumentMap(oc.Variables)
		id, _ := args["projectId"].(string)
		if id == "" && f.Name == "project" {
			id, _ = args["id"].(string)
		}
		if id != "" {
			out = append(out, id)
		}
	}
	return out
}
