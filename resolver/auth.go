package resolver

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/multicontact/multicontact/access"
	"github.com/multicontact/multicontact/graph"
)

// Principal is who calls: the holder of the admin token, or of one
// project's API key with its role.
type Principal struct {
	Admin   bool
	Project string
	Role    access.Role
	KeyID   string
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p, for the resolvers to check.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the caller of ctx, nil when none authenticated.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// AuthError is an authentication or authorization refusal; its Code is
// UNAUTHENTICATED or FORBIDDEN.
type AuthError struct {
	Code    string
	Message string
	revoked bool // the key exists but was revoked (a websocket closes with 4403 rather than 4401)
}

func (e *AuthError) Error() string { return e.Message }

var (
	errUnauthenticated = &AuthError{Code: "UNAUTHENTICATED", Message: "a valid API key is required (Authorization: Bearer <key>)"}
	errBadKey          = &AuthError{Code: "UNAUTHENTICATED", Message: "the API key is unknown or revoked"}
	errRevokedKey      = &AuthError{Code: "UNAUTHENTICATED", Message: "the API key is unknown or revoked", revoked: true}
	errForbidden       = &AuthError{Code: "FORBIDDEN", Message: "this key may not do that in this project"}
)

// Authenticator turns a bearer secret into a Principal: the admin token
// from the environment, or a project's API key looked up by its hash.
// Known keys are remembered for KeyCacheTTL so that a request does not cost
// a Neo4j round trip. A key revoked through this process is forgotten, and
// its websockets closed, at once; one revoked through another replica
// within a second while WatchRevocations runs (else within KeyCacheTTL,
// and its websockets stay open).
type Authenticator struct {
	Store      *graph.Store
	AdminToken string
	// Timeout, if set, bounds a key's lookup in Neo4j, so that a caller
	// (a websocket, an import, which have no request deadline) hears at
	// once that the store is unavailable.
	Timeout time.Duration

	flight    singleflight.Group // one lookup per key at a time, shared by its callers
	lookups   chan struct{}      // a slot per lookup in flight (maxLookups)
	lookupsOn sync.Once

	mu          sync.Mutex
	cache       map[string]cachedKey // by the secret's hash
	conns       map[graph.KeyRef]map[*liveConn]bool
	revocations int // counts Revoked calls: a lookup that raced one is not cached
}

// liveConn is an open websocket authenticated with an API key; end closes
// it with a websocket close code and reason.
type liveConn struct {
	end func(code int, reason string)
}

// Close codes of the websockets (graphql-transport-ws): the key is missing
// or unknown, or it may not (any more) subscribe; or the key could not be
// checked because Neo4j is unavailable (the websocket standard's 1013 Try
// Again Later).
const (
	CloseUnauthorized  = 4401
	CloseForbidden     = 4403
	CloseTryAgainLater = 1013
)

// KeyCacheTTL is how long a looked-up key is trusted without asking Neo4j.
const KeyCacheTTL = 5 * time.Second

type cachedKey struct {
	principal Principal
	until     time.Time
}

// Revoked makes a revoked key stop working in this process now: it is
// dropped from the cache and its open websockets are closed (4403).
func (a *Authenticator) Revoked(key graph.KeyRef) {
	a.mu.Lock()
	a.revocations++
	for h, k := range a.cache {
		if k.principal.KeyID == key.ID && k.principal.Project == key.Project {
			delete(a.cache, h)
		}
	}
	conns := a.conns[key]
	delete(a.conns, key)
	a.mu.Unlock()
	for c := range conns {
		c.end(CloseForbidden, "the API key was revoked")
	}
}

// watch registers an open websocket of principal p, to be ended when its
// key is revoked; the returned function unregisters it.
func (a *Authenticator) watch(p *Principal, end func(code int, reason string)) (unwatch func()) {
	key := graph.KeyRef{Project: p.Project, ID: p.KeyID}
	c := &liveConn{end: end}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.conns == nil {
		a.conns = map[graph.KeyRef]map[*liveConn]bool{}
	}
	if a.conns[key] == nil {
		a.conns[key] = map[*liveConn]bool{}
	}
	a.conns[key][c] = true
	return func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		delete(a.conns[key], c)
		if len(a.conns[key]) == 0 {
			delete(a.conns, key)
		}
	}
}

// revocationCheckTimeout bounds one check of WatchRevocations.
const revocationCheckTimeout = 10 * time.Second

// WatchRevocations asks the store, every interval until ctx ends, whether
// a key that this process remembers or has websockets of was revoked (by
// another replica), and applies Revoked to it.
func (a *Authenticator) WatchRevocations(ctx context.Context, interval time.Duration, log func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		a.mu.Lock()
		seen := map[graph.KeyRef]bool{}
		now := time.Now()
		for hash, k := range a.cache {
			if now.After(k.until) { // looked up again before use: not worth asking about
				delete(a.cache, hash)
				continue
			}
			seen[graph.KeyRef{Project: k.principal.Project, ID: k.principal.KeyID}] = true
		}
		for k := range a.conns {
			seen[k] = true
		}
		a.mu.Unlock()
		if len(seen) == 0 {
			continue
		}
		keys := make([]graph.KeyRef, 0, len(seen))
		for k := range seen {
			keys = append(keys, k)
		}
		// A slow answer (Neo4j overloaded) is still worth waiting for: with
		// the interval as its deadline the check would fail every tick,
		// and revocations would never reach this replica's websockets.
		// Ticks that pass meanwhile are dropped by the ticker.
		qctx, cancel := context.WithTimeout(ctx, max(interval, revocationCheckTimeout))
		revoked, err := a.Store.RevokedKeys(qctx, keys)
		cancel()
		if err != nil {
			if ctx.Err() == nil && log != nil {
				log(err)
			}
			continue
		}
		for _, k := range revoked {
			a.Revoked(k)
		}
	}
}

// maxLookups bounds the keys looked up in Neo4j at once: requests with
// keys nobody has used lately (a flood of made-up ones, or any while Neo4j
// is slow) are answered UNAVAILABLE beyond it, instead of taking the
// connections that admitted calls need. Authentication runs before the in-flight limits, which need
// to know the caller's project.
const maxLookups = 16

// lookupTimeout bounds a lookup when the Authenticator has no Timeout.
const lookupTimeout = 10 * time.Second

// errLookupsBusy refuses a request whose key would be one lookup too many.
var errLookupsBusy = errors.New("too many API keys are being looked up")

// lookup returns the principal of a secret: from the cache, or from one
// lookup in Neo4j that every concurrent caller with the same key shares.
// A token that cannot be a key is unknown without a lookup.
func (a *Authenticator) lookup(ctx context.Context, secret string) (*Principal, error) {
	if !access.WellFormed(secret) {
		return nil, graph.ErrUnknownKey
	}
	hash := access.Hash(secret)
	a.mu.Lock()
	if k, ok := a.cache[hash]; ok && time.Now().Before(k.until) {
		a.mu.Unlock()
		p := k.principal
		return &p, nil
	}
	gen := a.revocations
	a.mu.Unlock()
	// Callers that arrive after a revocation start a lookup of their own,
	// never share one that may have read the key before it was revoked.
	ch := a.flight.DoChan(fmt.Sprint(hash, "/", gen), func() (any, error) { return a.lookupOnce(ctx, secret, hash, gen) })
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		p := r.Val.(Principal)
		return &p, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// lookupOnce looks a key up in Neo4j and caches it. It runs for every
// caller that waits for it, so it does not end with the first one's
// context; it is bounded by the Authenticator's Timeout.
func (a *Authenticator) lookupOnce(ctx context.Context, secret, hash string, gen int) (Principal, error) {
	a.lookupsOn.Do(func() { a.lookups = make(chan struct{}, maxLookups) })
	select {
	case a.lookups <- struct{}{}:
		defer func() { <-a.lookups }()
	default:
		return Principal{}, errLookupsBusy
	}
	timeout := a.Timeout
	if timeout <= 0 {
		timeout = lookupTimeout
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	now := time.Now()
	k, err := a.Store.Authenticate(ctx, secret)
	if err != nil {
		return Principal{}, err
	}
	p := Principal{Project: k.Project, Role: k.Role, KeyID: k.ID}
	a.mu.Lock()
	defer a.mu.Unlock()
	if gen != a.revocations { // a key was revoked meanwhile, maybe this one: do not remember it
		return p, nil
	}
	if a.cache == nil || len(a.cache) > 10000 { // bounded: start over rather than grow
		a.cache = map[string]cachedKey{}
	}
	a.cache[hash] = cachedKey{principal: p, until: now.Add(KeyCacheTTL)}
	return p, nil
}

// BearerToken extracts the token of an "Authorization: Bearer <token>" value.
func BearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// Authenticate returns the principal of a bearer header value; an empty
// header gives (nil, nil): anonymous, refused by every resolver.
func (a *Authenticator) Authenticate(ctx context.Context, header string) (*Principal, error) {
	if strings.TrimSpace(header) == "" {
		return nil, nil
	}
	token, ok := BearerToken(header)
	if !ok {
		return nil, errUnauthenticated
	}
	if a.AdminToken != "" && subtle.ConstantTimeCompare([]byte(token), []byte(a.AdminToken)) == 1 {
		return &Principal{Admin: true}, nil
	}
	p, err := a.lookup(ctx, token)
	switch {
	case errors.Is(err, graph.ErrUnknownKey):
		return nil, errBadKey
	case errors.Is(err, graph.ErrRevokedKey):
		return nil, errRevokedKey
	}
	return p, err
}

// Middleware authenticates the Authorization header of every request and
// puts the principal into its context; a bad key is refused with 401.
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.Authenticate(r.Context(), r.Header.Get("Authorization"))
		if err != nil {
			var ae *AuthError
			switch {
			case errors.As(err, &ae):
				writeGraphQLError(w, http.StatusUnauthorized, ae.Code, ae.Message)
			case retryable(err):
				writeUnavailable(w, err)
			default:
				writeGraphQLError(w, http.StatusServiceUnavailable, "INTERNAL", "authentication is unavailable")
			}
			return
		}
		if p != nil {
			r = r.WithContext(WithPrincipal(r.Context(), p))
		}
		next.ServeHTTP(w, r)
	})
}

// allowed checks that the caller may act with role need in project.
// The admin token may do everything; a key only in its own project, with
// a role at least need (WIDGET only where need is WIDGET).
func allowed(ctx context.Context, project string, need access.Role) error {
	p := PrincipalFrom(ctx)
	if p == nil {
		return errUnauthenticated
	}
	if p.Admin {
		return nil
	}
	if p.Project != project {
		return errForbidden
	}
	if !p.Role.Includes(need) {
		return errForbidden
	}
	return nil
}

// requireAdminToken checks that the caller holds the admin token.
func requireAdminToken(ctx context.Context) error {
	p := PrincipalFrom(ctx)
	if p == nil {
		return errUnauthenticated
	}
	if !p.Admin {
		return errForbidden
	}
	return nil
}
