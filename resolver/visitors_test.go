package resolver_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/multicontact/multicontact/access"
	"github.com/multicontact/multicontact/resolver"
)

// Widget calls are bounded per address and project: 6 a minute lets 2
// through at once; the third from the same address waits, with 429
// RATE_LIMITED and Retry-After, while other addresses and other projects
// go on. An IPv6 address counts as its /64. Behind a proxy, the address
// is the last of the header the proxy sets.
func TestWidgetCallsAreBoundedPerAddress(t *testing.T) {
	v := &resolver.VisitorRate{PerMinute: 6, Header: "X-Forwarded-For"}
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	h := v.Handler(ok)
	call := func(project, remote, forwarded string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/widget/identify", nil)
		req.RemoteAddr = remote
		if forwarded != "" {
			req.Header.Set("X-Forwarded-For", forwarded)
		}
		req = req.WithContext(resolver.WithPrincipal(req.Context(), &resolver.Principal{Project: project, Role: access.RoleWidget}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	want := func(name string, rec *httptest.ResponseRecorder, status int) {
		t.Helper()
		if rec.Code != status {
			t.Errorf("%s: %d, want %d", name, rec.Code, status)
		}
	}
	want("first from A", call("p", "192.0.2.1:5000", ""), 200)
	want("second from A, another port", call("p", "192.0.2.1:5001", ""), 200)
	refused := call("p", "192.0.2.1:5002", "")
	want("third from A", refused, http.StatusTooManyRequests)
	var body struct {
		Errors []struct{ Extensions map[string]any }
	}
	if err := json.Unmarshal(refused.Body.Bytes(), &body); err != nil || len(body.Errors) == 0 ||
		body.Errors[0].Extensions["code"] != "RATE_LIMITED" || body.Errors[0].Extensions["scope"] != "visitor" {
		t.Errorf("the refusal: %s", refused.Body.String())
	}
	if after, _ := strconv.Atoi(refused.Header().Get("Retry-After")); after < 1 {
		t.Errorf("Retry-After %q, want a wait of at least 1 s", refused.Header().Get("Retry-After"))
	}
	want("first from B", call("p", "192.0.2.2:5000", ""), 200)
	want("A to another project", call("q", "192.0.2.1:5000", ""), 200)

	want("2001:db8::1", call("p", "[2001:db8::1]:5000", ""), 200)
	want("2001:db8::2, the same /64", call("p", "[2001:db8::2]:5000", ""), 200)
	want("2001:db8::3, the same /64", call("p", "[2001:db8::3]:5000", ""), http.StatusTooManyRequests)
	want("2001:db8:0:1::1, another /64", call("p", "[2001:db8:0:1::1]:5000", ""), 200)

	// Through the proxy at 10.0.0.5: the address the proxy saw is the last one.
	want("C through the proxy", call("p", "10.0.0.5:4000", "203.0.113.9, 198.51.100.7"), 200)
	want("C again", call("p", "10.0.0.5:4000", "198.51.100.7"), 200)
	want("C a third time, claiming another first hop", call("p", "10.0.0.5:4000", "203.0.113.10, 198.51.100.7"), http.StatusTooManyRequests)
	want("D through the same proxy", call("p", "10.0.0.5:4000", "198.51.100.8"), 200)
}
