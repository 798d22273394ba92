package resolver

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/multicontact/multicontact/access"
	"github.com/multicontact/multicontact/graph"
	"github.com/multicontact/multicontact/identity"
)

// The language of the messages a request's errors show (identity's
// catalog, identity.Localize): its Accept-Language when that names Russian
// or English, else the locale of the project it named (read from the store
// only when there is an error to show), else identity.DefaultLocale. Codes
// never change with the language.

type localeKey struct{}

// requestLocale is put into a request's context before anything runs;
// authorize notes the project, the error paths read the locale.
type requestLocale struct {
	accept string // from Accept-Language; "" when it names neither
	store  *graph.Store

	mu      sync.Mutex
	project string
	locale  string // once read
}

// WithLocale returns r with its Accept-Language noted, so that the
// messages of its errors are in the caller's language.
func WithLocale(r *http.Request, store *graph.Store) *http.Request {
	l := &requestLocale{store: store}
	l.accept, _ = identity.MatchAcceptLanguage(r.Header.Get("Accept-Language"))
	return r.WithContext(context.WithValue(r.Context(), localeKey{}, l))
}

// withConnectionLanguage applies a websocket's connection_init
// "acceptLanguage" (an Accept-Language value): a browser cannot set the
// upgrade request's headers, so a console passes its language there.
func withConnectionLanguage(ctx context.Context, payload map[string]any) {
	lang, _ := payload["acceptLanguage"].(string)
	if l, ok := ctx.Value(localeKey{}).(*requestLocale); ok && lang != "" {
		if matched, ok := identity.MatchAcceptLanguage(lang); ok {
			l.accept = matched // before any operation of the connection runs
		}
	}
}

// noteProject records the project a request acts in (the first one named).
func noteProject(ctx context.Context, project string) {
	if l, ok := ctx.Value(localeKey{}).(*requestLocale); ok {
		l.mu.Lock()
		if l.project == "" {
			l.project = project
		}
		l.mu.Unlock()
	}
}

// localeOf returns the language of the messages of the request in ctx.
func localeOf(ctx context.Context) string {
	l, ok := ctx.Value(localeKey{}).(*requestLocale)
	if !ok {
		return identity.DefaultLocale
	}
	if l.accept != "" {
		return l.accept
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.locale == "" {
		l.locale = identity.DefaultLocale
		if l.project != "" && l.store != nil {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			if p, err := l.store.Project(rctx, l.project); err == nil && p.Locale != "" {
				l.locale = p.Locale
			}
			cancel()
		}
	}
	return l.locale
}

// localize returns the message of a domain error in the request's language.
func localize(ctx context.Context, e *identity.Error) string {
	return identity.Localize(e, localeOf(ctx))
}

// localizedInputError is inputError with its message in the request's language.
func localizedInputError(ctx context.Context, e *identity.Error) *InputError {
	out := inputError(e)
	out.Message = localize(ctx, e)
	return out
}

// authorize checks that the caller may act with role need in project (see
// allowed), and notes the project for the language of the request's errors.
func authorize(ctx context.Context, project string, need access.Role) error {
	if err := allowed(ctx, project, need); err != nil {
		return err
	}
	noteProject(ctx, project)
	return nil
}
