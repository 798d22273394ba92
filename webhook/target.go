package webhook

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/multicontact/multicontact/identity"
)

// Guard decides which endpoints the service may call, so that a webhook
// cannot make it reach its own network (the database, a cloud's metadata
// service). It checks a URL when the webhook is created, and again every
// address the delivery dials, after DNS (Control): what is checked is what
// is connected to, whatever the name resolves to by then.
type Guard struct {
	// AllowPrivate lets webhooks reach loopback, private and link-local
	// addresses: for development only (MULTICONTACT_WEBHOOK_ALLOW_PRIVATE).
	AllowPrivate bool
	// Resolver resolves names at creation; nil is net.DefaultResolver.
	Resolver *net.Resolver
}

// MaxURLLength bounds a webhook's URL.
const MaxURLLength = 2048

// metadata are cloud metadata services' addresses, refused even where the
// ranges below would not catch them: AWS, GCP and Azure's, AWS's over
// IPv6, Azure's WireServer, and Oracle Cloud's older one.
var metadata = []netip.Addr{netip.MustParseAddr("169.254.169.254"), netip.MustParseAddr("fd00:ec2::254"),
	netip.MustParseAddr("168.63.129.16"), netip.MustParseAddr("192.0.0.192")}

// refusedRanges are refused besides what netip classifies: "this network",
// the shared address space that carriers and some clouds use inside, the
// IETF's protocol assignments, benchmarking and reserved space, broadcast;
// NAT64's local-use prefix and IPv4-compatible IPv6, which lead to
// whatever the translator stands in.
var refusedRanges = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"), netip.MustParsePrefix("100.64.0.0/10"), netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"), netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b:1::/48"), netip.MustParsePrefix("::/96"),
}

// The IPv6 prefixes that carry an IPv4 address at a fixed place: NAT64's
// well-known one (the address in its last 32 bits: on an IPv6-only network
// with DNS64 every IPv4 endpoint looks so) and 6to4 (in bits 16 to 48).
// Such an address is as public as the IPv4 address it carries: 10.0.0.1
// must not be reached as 64:ff9b::a00:1.
var (
	nat64  = netip.MustParsePrefix("64:ff9b::/96")
	sixTo4 = netip.MustParsePrefix("2002::/16")
)

// carriedIPv4 returns the IPv4 address that a NAT64 or 6to4 address
// carries.
func carriedIPv4(a netip.Addr) (netip.Addr, bool) {
	b := a.As16()
	switch {
	case nat64.Contains(a):
		return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}), true
	case sixTo4.Contains(a):
		return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}), true
	}
	return netip.Addr{}, false
}

// Public reports whether a webhook may connect to a: not loopback,
// private, link-local, unspecified, multicast or a metadata service.
func Public(a netip.Addr) bool {
	a = a.Unmap()
	if v4, ok := carriedIPv4(a); ok {
		return Public(v4)
	}
	if !a.IsValid() || a.IsUnspecified() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() ||
		a.IsMulticast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() {
		return false
	}
	for _, m := range metadata {
		if a == m {
			return false
		}
	}
	for _, p := range refusedRanges {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// CheckURL refuses, with an *identity.Error on field url, a URL that is
// not http(s) or whose host is, or resolves to, an address that is not
// Public (unless AllowPrivate). A name that does not resolve now is
// accepted: every delivery checks what it dials.
func (g Guard) CheckURL(ctx context.Context, raw string) error {
	if len(raw) > MaxURLLength {
		return identity.Errorf("url", identity.CodeInvalidURL, "the URL is longer than %d characters", MaxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" {
		return identity.Errorf("url", identity.CodeInvalidURL, "a webhook's URL is an absolute https:// (or http://) URL")
	}
	if g.AllowPrivate {
		return nil
	}
	host := u.Hostname()
	if a, err := netip.ParseAddr(host); err == nil {
		if !Public(a) {
			return identity.Errorf("url", identity.CodePrivateAddress,
				"%s is a loopback, private, link-local or metadata address, which webhooks may not reach", host)
		}
		return nil
	}
	r := g.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	addrs, err := r.LookupNetIP(ctx, "ip", strings.TrimSuffix(host, "."))
	if err != nil {
		return nil // not resolvable now; Control checks every address dialed
	}
	for _, a := range addrs {
		if !Public(a) { // which address is not said: it would map the service's network for the caller
			return identity.Errorf("url", identity.CodePrivateAddress,
				"%s resolves to a loopback, private, link-local or metadata address, which webhooks may not reach", host)
		}
	}
	return nil
}

// RefusedAddressError says that a delivery was about to connect to an
// address that is not Public.
type RefusedAddressError struct{ Addr string }

func (e *RefusedAddressError) Error() string {
	return fmt.Sprintf("refused to connect to %s: a loopback, private, link-local or metadata address", e.Addr)
}

// Control is a net.Dialer Control hook: it refuses to connect to an
// address that is not Public (unless AllowPrivate). It runs after DNS, on
// the very address about to be dialed.
func (g Guard) Control(network, address string, _ syscall.RawConn) error {
	if g.AllowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !Public(ap.Addr()) {
		return &RefusedAddressError{Addr: address}
	}
	return nil
}
