package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/multicontact/multicontact/identity"
	"github.com/multicontact/multicontact/webhook"
)

// The signature is what docs/api.md tells a receiver to compute.
func TestSignature(t *testing.T) {
	body := []byte(`{"eventId":"acme:7"}`)
	at := time.Unix(1700000000, 0)
	got := webhook.Signature("whsec_test", at, body)
	m := hmac.New(sha256.New, []byte("whsec_test"))
	m.Write([]byte("1700000000." + string(body)))
	if want := "t=1700000000,v1=" + hex.EncodeToString(m.Sum(nil)); got != want {
		t.Errorf("Signature = %s, want %s", got, want)
	}
	if webhook.Signature("other", at, body) == got {
		t.Error("another secret signs the same")
	}
}

func TestScheduleDelay(t *testing.T) {
	s := webhook.Schedule{First: 10 * time.Second, Max: time.Hour, GiveUp: 24 * time.Hour}
	for _, c := range []struct {
		n        int
		low, top time.Duration // jitter 0 and almost 1
	}{
		{1, 5 * time.Second, 10 * time.Second},
		{2, 10 * time.Second, 20 * time.Second},
		{5, 80 * time.Second, 160 * time.Second},
		{12, 30 * time.Minute, time.Hour}, // capped
		{100, 30 * time.Minute, time.Hour},
	} {
		if got := s.Delay(c.n, 0); got != c.low {
			t.Errorf("Delay(%d, 0) = %s, want %s", c.n, got, c.low)
		}
		if got := s.Delay(c.n, 0.999999); got < c.top-time.Second || got > c.top {
			t.Errorf("Delay(%d, ~1) = %s, want about %s", c.n, got, c.top)
		}
	}
	// Retried for at least GiveUp, then paused; the attempts are spread over it.
	since := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	now, n := since, 0
	for {
		n++
		next, pause := s.Next(n, since, now)
		if pause {
			break
		}
		if !next.After(now) {
			t.Fatalf("failure %d: next try %s is not after %s", n, next, now)
		}
		now = next
	}
	if elapsed := now.Sub(since); elapsed < 24*time.Hour || elapsed > 25*time.Hour {
		t.Errorf("paused after %s, want just over 24h", elapsed)
	}
	if n < 20 || n > 60 {
		t.Errorf("%d attempts in 24h, want a few dozen", n)
	}
}

func TestPublic(t *testing.T) {
	for addr, want := range map[string]bool{
		"93.184.216.34": true, "2606:4700::1111": true, "8.8.8.8": true,
		"127.0.0.1": false, "127.8.8.8": false, "::1": false,
		"10.0.0.1": false, "172.16.5.4": false, "192.168.1.1": false, "fd12::1": false,
		"169.254.169.254": false, "fd00:ec2::254": false, "169.254.1.1": false, "fe80::1": false,
		"0.0.0.0": false, "::": false, "0.1.2.3": false, "100.64.0.1": false,
		"::ffff:127.0.0.1": false, "::ffff:10.0.0.1": false, "224.0.0.1": false, "ff02::1": false,
		// Inside networks that netip does not classify: a cloud's own
		// services, reserved space, and IPv6 carrying an IPv4 address.
		"168.63.129.16": false, "192.0.0.192": false, "198.18.0.1": false, "240.0.0.1": false,
		"64:ff9b::a00:1": false, "64:ff9b:1::a00:1": false, "2002:a00:1::1": false, "::127.0.0.1": false,
		"64:ff9b::a9fe:a9fe": false, "2001:4860:4860::8888": true,
		// A public IPv4 endpoint as an IPv6-only network with DNS64, or 6to4, reaches it.
		"64:ff9b::808:808": true, "2002:808:808::1": true,
	} {
		if got := webhook.Public(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Public(%s) = %v, want %v", addr, got, want)
		}
	}
}

func TestCheckURL(t *testing.T) {
	ctx := context.Background()
	g := webhook.Guard{}
	for raw, code := range map[string]string{
		"https://93.184.216.34/hook":           "",
		"http://93.184.216.34:8080/hook":       "",
		"https://crm.invalid/hook":             "", // does not resolve now: checked when dialed
		"ftp://93.184.216.34/hook":             identity.CodeInvalidURL,
		"/hook":                                identity.CodeInvalidURL,
		"https://":                             identity.CodeInvalidURL,
		"http://127.0.0.1/hook":                identity.CodePrivateAddress,
		"http://10.0.0.1/hook":                 identity.CodePrivateAddress,
		"http://169.254.169.254/latest/meta":   identity.CodePrivateAddress,
		"http://[fd00:ec2::254]/":              identity.CodePrivateAddress,
		"http://[::1]:8080/":                   identity.CodePrivateAddress,
		"http://localhost:8080/hook":           identity.CodePrivateAddress,
		"https://" + strings.Repeat("a", 2100): identity.CodeInvalidURL,
	} {
		err := g.CheckURL(ctx, raw)
		var de *identity.Error
		switch {
		case code == "" && err != nil:
			t.Errorf("CheckURL(%.40s) = %v, want accepted", raw, err)
		case code != "" && (!errors.As(err, &de) || de.Code != code || de.Field != "url"):
			t.Errorf("CheckURL(%.40s) = %v, want %s on url", raw, err, code)
		}
	}
	// A name that resolves to a private address is refused without saying
	// which: the answer would map the service's network for its caller.
	if err := g.CheckURL(ctx, "http://localhost:8080/hook"); err == nil || strings.Contains(err.Error(), "127.0.0.1") || strings.Contains(err.Error(), "::1") {
		t.Errorf("CheckURL(localhost) = %v, want a refusal that names no address", err)
	}
	if err := (webhook.Guard{AllowPrivate: true}).CheckURL(ctx, "http://127.0.0.1:9/"); err != nil {
		t.Errorf("with AllowPrivate, loopback is refused: %v", err)
	}
	if err := (webhook.Guard{AllowPrivate: true}).CheckURL(ctx, "ftp://127.0.0.1/"); identity.ErrorCode(err) != identity.CodeInvalidURL {
		t.Errorf("with AllowPrivate, ftp:// = %v, want INVALID_URL", err)
	}
}

// Control checks the address actually dialed, after DNS.
func TestControl(t *testing.T) {
	g := webhook.Guard{}
	var refused *webhook.RefusedAddressError
	for _, addr := range []string{"127.0.0.1:443", "[::1]:80", "10.1.2.3:80", "169.254.169.254:80", "[fd00:ec2::254]:80"} {
		if err := g.Control("tcp4", addr, nil); !errors.As(err, &refused) {
			t.Errorf("Control(%s) = %v, want refused", addr, err)
		}
	}
	if err := g.Control("tcp4", "93.184.216.34:443", nil); err != nil {
		t.Errorf("Control(public) = %v", err)
	}
	if err := (webhook.Guard{AllowPrivate: true}).Control("tcp4", "127.0.0.1:443", nil); err != nil {
		t.Errorf("Control with AllowPrivate = %v", err)
	}
}

func TestBody(t *testing.T) {
	body, err := webhook.Body(identity.Event{Seq: 7, Project: "acme", Type: identity.EventMerged, MultiContactID: "mc_1",
		PreviousIDs: []string{"mc_2"}, ClientIDs: []string{"a", "b"}, At: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Cause: identity.Cause{Kind: identity.CauseValue, Action: "setAttribute", Field: "phone", Value: "+79161234567", Client: "b"}})
	if err != nil {
		t.Fatal(err)
	}
	// The fields of MultiContactEvent, with the same names, plus the two ids.
	want := map[string]string{"eventId": `"acme:7"`, "projectId": `"acme"`, "type": `"MERGED"`, "multiContactId": `"mc_1"`,
		"previousIds": `["mc_2"]`, "newIds": `[]`, "clientIds": `["a","b"]`, "at": `"2025-01-02T03:04:05Z"`, "cursor": `"7"`,
		"forgotten": `null`, "cause": `{"kind":"VALUE","action":"setAttribute","field":"phone","value":"+79161234567","rule":null,"client":"b"}`}
	var got map[string]json.RawMessage
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	for k, v := range want {
		if string(got[k]) != v {
			t.Errorf("%s = %s, want %s", k, got[k], v)
		}
	}
}
