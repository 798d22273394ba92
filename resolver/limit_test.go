package resolver_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/multicontact/multicontact/access"
	"github.com/multicontact/multicontact/resolver"
)

// TestLimiterRefusesBeyondItsBounds holds calls in flight and checks that
// the next one is refused by the bound it would exceed, with 429 and
// Retry-After, without running the handler, and admitted again once a
// call ends.
func TestLimiterRefusesBeyondItsBounds(t *testing.T) {
	var shed []string
	l := &resolver.Limiter{Max: 3, PerProject: 2, OnShed: func(scope, surface string) { shed = append(shed, scope+"/"+surface) }}
	hold, held := make(chan struct{}), make(chan struct{})
	ran := 0
	var mu sync.Mutex
	h := l.Handler(resolver.SurfaceImport, resolver.PathProject, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ran++
		mu.Unlock()
		if r.URL.Query().Get("hold") != "" {
			held <- struct{}{}
			<-hold
		}
	}))
	mux := http.NewServeMux()
	mux.Handle(resolver.ImportPattern, h)
	call := func(project string, holding bool) *httptest.ResponseRecorder {
		url := "/projects/" + project + "/import"
		if holding {
			url += "?hold=1"
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, withKeyOf(project, httptest.NewRequest(http.MethodPost, url, nil)))
		return rec
	}
	var wg sync.WaitGroup
	holdOne := func(project string) {
		wg.Add(1)
		go func() { defer wg.Done(); call(project, true) }()
		<-held
	}
	refused := func(project string) {
		t.Helper()
		rec := call(project, false)
		if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
			t.Errorf("project %s beyond the bounds: %d Retry-After %q, want 429 with Retry-After", project, rec.Code, rec.Header().Get("Retry-After"))
		}
	}
	holdOne("a")
	holdOne("a")
	refused("a") // its project is full
	holdOne("b")
	if got := l.InFlight(); got != 3 {
		t.Fatalf("InFlight = %d, want 3", got)
	}
	refused("c") // the process is full
	if want := []string{"project/import", "process/import"}; len(shed) != 2 || shed[0] != want[0] || shed[1] != want[1] {
		t.Errorf("shed %v, want %v", shed, want)
	}
	close(hold)
	wg.Wait()
	if got := l.InFlight(); got != 0 {
		t.Fatalf("InFlight after the calls ended = %d, want 0", got)
	}
	if rec := call("a", false); rec.Code != http.StatusOK {
		t.Errorf("after the calls ended: %d, want 200", rec.Code)
	}
	if ran != 4 {
		t.Errorf("the handler ran %d times, want 4 (never for a refused call)", ran)
	}
}

// withKeyOf is r as a caller with an API key of project makes it.
func withKeyOf(project string, r *http.Request) *http.Request {
	return r.WithContext(resolver.WithPrincipal(r.Context(), &resolver.Principal{Project: project, Role: access.RoleAdmin}))
}

// A call naming a project its key does not reach is not counted against
// that project's bound: a tenant cannot hold another's calls in flight
// (its call is refused further on, by the handler or the resolver).
func TestLimiterChargesOnlyTheCallersOwnProject(t *testing.T) {
	l := &resolver.Limiter{Max: 10, PerProject: 1}
	hold, held := make(chan struct{}), make(chan struct{})
	mux := http.NewServeMux()
	mux.Handle(resolver.ImportPattern, l.Handler(resolver.SurfaceImport, resolver.PathProject,
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("hold") != "" {
				held <- struct{}{}
				<-hold
			}
		})))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // a key of project a names project b, and holds its call
		defer wg.Done()
		r := httptest.NewRequest(http.MethodPost, "/projects/b/import?hold=1", nil)
		mux.ServeHTTP(httptest.NewRecorder(), withKeyOf("a", r))
	}()
	<-held
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, withKeyOf("b", httptest.NewRequest(http.MethodPost, "/projects/b/import", nil)))
	if rec.Code != http.StatusOK {
		t.Errorf("project b's own call while a key of a holds a call naming b: %d, want 200", rec.Code)
	}
	admin := httptest.NewRequest(http.MethodPost, "/projects/b/import", nil)
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, admin.WithContext(resolver.WithPrincipal(context.Background(), &resolver.Principal{Admin: true})))
	if rec.Code != http.StatusOK {
		t.Errorf("the admin token's call to b: %d, want 200", rec.Code)
	}
	close(hold)
	wg.Wait()
}
