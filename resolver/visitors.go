package resolver

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// VisitorRate bounds the widget calls that come from one address to one
// project. The widget key is public (it is in the business's web page), so
// the bound on calls in flight (Limiter) does not stop a script that calls
// one at a time and mints a client, values and events with each call. Each
// address gets a token bucket (golang.org/x/time/rate): PerMinute calls a
// minute, PerMinute/3 (at least 1) at once. An IPv6 address counts as its
// /64, which one machine usually holds whole.
//
// A nil *VisitorRate, or PerMinute 0, bounds nothing.
type VisitorRate struct {
	PerMinute int
	// Header, when the service is behind a proxy, names the header in
	// which the proxy gives the visitor's address (X-Forwarded-For: the
	// last address, the one the proxy saw; X-Real-IP). Empty: the
	// connection's address. Set it only behind a proxy that sets it.
	Header string
	// OnShed, if set, is called for every refused call.
	OnShed func()

	mu        sync.Mutex
	buckets   map[visitor]*rate.Limiter
	lastSweep time.Time
}

type visitor struct {
	project string
	addr    netip.Prefix
}

// ScopeVisitor names VisitorRate's refusals (RATE_LIMITED's scope, and
// the shed metric's).
const ScopeVisitor = "visitor"

// Handler refuses, with 429 RATE_LIMITED and Retry-After, a call beyond the
// bound of its address and its key's project, before next runs.
func (v *VisitorRate) Handler(next http.Handler) http.Handler {
	if v == nil || v.PerMinute <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if wait := v.take(KeyProject(r), v.address(r), time.Now()); wait > 0 {
			if v.OnShed != nil {
				v.OnShed()
			}
			after := int(math.Ceil(wait.Seconds()))
			writeRetryable(w, http.StatusTooManyRequests, after,
				map[string]any{"code": CodeRateLimited, "scope": ScopeVisitor, "retryAfter": after},
				fmt.Sprintf("too many calls from this address; try again in %d s", after))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// take spends a token of the visitor's bucket, or says how long until one.
func (v *VisitorRate) take(project string, addr netip.Prefix, now time.Time) time.Duration {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.buckets == nil {
		v.buckets = map[visitor]*rate.Limiter{}
	}
	burst := max(1, v.PerMinute/3)
	if now.Sub(v.lastSweep) > time.Minute { // forget the buckets that filled up again
		for k, b := range v.buckets {
			if b.TokensAt(now) >= float64(burst) {
				delete(v.buckets, k)
			}
		}
		v.lastSweep = now
	}
	k := visitor{project, addr}
	b := v.buckets[k]
	if b == nil {
		b = rate.NewLimiter(rate.Limit(float64(v.PerMinute)/60), burst)
		v.buckets[k] = b
	}
	res := b.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d
	}
	return 0
}

// address is the visitor's address, as a prefix: an IPv6 address's /64.
// One that cannot be read counts as one address of its own.
func (v *VisitorRate) address(r *http.Request) netip.Prefix {
	raw := r.RemoteAddr
	if host, _, err := net.SplitHostPort(raw); err == nil {
		raw = host
	}
	if v.Header != "" {
		if h := r.Header.Get(v.Header); h != "" {
			parts := strings.Split(h, ",")
			raw = strings.TrimSpace(parts[len(parts)-1])
		}
	}
	a, err := netip.ParseAddr(raw)
	if err != nil {
		return netip.Prefix{}
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p
	}
	return netip.PrefixFrom(a, 32)
}
