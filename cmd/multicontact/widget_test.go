package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/multicontact/multicontact/resolver"
)

// widgetCall is the answer of POST /widget/identify: the body on success,
// the error's code and reason otherwise.
type widgetCall struct {
	status int
	resolver.WidgetResponse
	code, reason string
}

func (a *api) widget(key string, body map[string]any) widgetCall {
	a.t.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, a.url+"/widget/identify", bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		resolver.WidgetResponse
		Errors []gqlError `json:"errors"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		a.t.Fatalf("widget answer %d is not JSON: %v", res.StatusCode, err)
	}
	c := widgetCall{status: res.StatusCode, WidgetResponse: out.WidgetResponse}
	if len(out.Errors) > 0 {
		c.code, _ = out.Errors[0].Extensions["code"].(string)
		c.reason, _ = out.Errors[0].Extensions["reason"].(string)
	}
	return c
}

func (a *api) rotateSecret(p testProject) string {
	a.t.Helper()
	var sec struct{ RotateIdentitySecret string }
	a.ok(p.admin, `mutation($p: ID!) { rotateIdentitySecret(projectId: $p) }`, map[string]any{"p": p.id}, &sec)
	return sec.RotateIdentitySecret
}

// userToken signs claims the way a business's server does, with the JWT
// library and the project's identity secret (not with the code under test).
func userToken(t *testing.T, secret string, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type clientView struct {
	ID         string
	Attributes []struct {
		Field, Value, Source string
		Verified             bool
	}
	MultiContact struct{ ID string }
}

// clientOf reads a client (ID "" when it does not exist).
func (a *api) clientOf(p testProject, id string) clientView {
	a.t.Helper()
	var out struct{ Client *clientView }
	a.ok(p.read, `query($p: ID!, $c: ID!) { client(projectId: $p, id: $c) {
		id attributes { field value source verified } multiContact { id } } }`, map[string]any{"p": p.id, "c": id}, &out)
	if out.Client == nil {
		return clientView{}
	}
	return *out.Client
}

func (a *api) setAcceptUnverified(p testProject, on bool) {
	a.t.Helper()
	var out struct {
		UpdateProjectSettings struct {
			Settings struct{ AcceptUnverifiedWidgetValues bool }
		}
	}
	a.ok(p.admin, `mutation($p: ID!, $on: Boolean!) { updateProjectSettings(projectId: $p, input: {acceptUnverifiedWidgetValues: $on}) {
		settings { acceptUnverifiedWidgetValues } } }`, map[string]any{"p": p.id, "on": on}, &out)
	if out.UpdateProjectSettings.Settings.AcceptUnverifiedWidgetValues != on {
		a.t.Fatalf("acceptUnverifiedWidgetValues = %v, want %v", !on, on)
	}
	a.waitIdle(p)
}

func email(addr string) []map[string]any { return []map[string]any{{"field": "email", "value": addr}} }

// TestSignedInUserMergesWithAValidTokenOnly: the business's server signs a
// token for user-42 with her e-mail; the widget call merges her web client
// with her Telegram client. Every forged, expired, misdirected or outdated
// token is refused with FORBIDDEN and changes nothing.
func TestSignedInUserMergesWithAValidTokenOnly(t *testing.T) {
	a := startAPI(t)
	p := a.project()
	secret := a.rotateSecret(p)
	a.client(p, "tg-ann", "telegram", "email", "ann@example.com")
	exp := time.Now().Add(10 * time.Minute).Unix()

	token := userToken(t, secret, jwt.MapClaims{"sub": "user-42", "exp": exp, "email": "Ann@Example.com", "name": "Ann", "plan": "gold"})
	got := a.widget(p.widget, map[string]any{"userToken": token, "identifiers": []map[string]any{{"field": "skype", "value": "ann.s"}}})
	if got.status != http.StatusOK || got.ClientID != "user-42" || got.VisitorToken != "" || len(got.Results) != 2 {
		t.Fatalf("signed-in call = %+v, want 200 for user-42 with two results", got)
	}
	if r := got.Results[0]; r.Field != "email" || !r.Accepted || !r.Verified {
		t.Errorf("the token's email: %+v, want accepted and verified", r)
	}
	if r := got.Results[1]; r.Field != "skype" || !r.Accepted || r.Verified {
		t.Errorf("a typed skype: %+v, want accepted, unverified", r)
	}
	ann, tg := a.clientOf(p, "user-42"), a.clientOf(p, "tg-ann")
	if ann.MultiContact.ID == "" || ann.MultiContact.ID != tg.MultiContact.ID {
		t.Errorf("user-42 in %q, tg-ann in %q: want one multi-contact", ann.MultiContact.ID, tg.MultiContact.ID)
	}
	// The same token again is fine (the page reloads); with clientId named, too.
	if got := a.widget(p.widget, map[string]any{"userToken": token, "clientId": "user-42", "identifiers": email("ann@example.com")}); got.status != http.StatusOK {
		t.Errorf("the same token again: %+v", got)
	}

	before := a.clientOf(p, "user-42")
	other := a.rotateSecret(p) // the secret before it is rotated away below
	refused := []struct {
		name   string
		body   map[string]any
		reason string
	}{
		{"no token, naming her client", map[string]any{"clientId": "user-42", "identifiers": email("mallory@evil.example")}, "TOKEN_REQUIRED"},
		{"her token, another client named", map[string]any{"userToken": userToken(t, other, jwt.MapClaims{"sub": "user-42", "exp": exp}),
			"clientId": "user-43", "identifiers": email("mallory@evil.example")}, "TOKEN_CLIENT_MISMATCH"},
		{"a token under the rotated-away secret", map[string]any{"userToken": token, "identifiers": email("mallory@evil.example")}, "TOKEN_INVALID"},
		{"an expired token", map[string]any{"userToken": userToken(t, other, jwt.MapClaims{"sub": "user-42", "exp": time.Now().Add(-time.Hour).Unix()}),
			"identifiers": email("mallory@evil.example")}, "TOKEN_EXPIRED"},
		{"a token without exp", map[string]any{"userToken": userToken(t, other, jwt.MapClaims{"sub": "user-42"}),
			"identifiers": email("mallory@evil.example")}, "TOKEN_INVALID"},
		{"a token signed with another secret", map[string]any{"userToken": userToken(t, "guessed", jwt.MapClaims{"sub": "user-42", "exp": exp}),
			"identifiers": email("mallory@evil.example")}, "TOKEN_INVALID"},
		{"an unsigned token (alg none)", map[string]any{"userToken": unsigned(t, jwt.MapClaims{"sub": "user-42", "exp": exp}),
			"identifiers": email("mallory@evil.example")}, "TOKEN_INVALID"},
		{"a made-up visitor token", map[string]any{"visitorToken": "mcv1.v_ABC.AAAA", "identifiers": email("mallory@evil.example")}, "VISITOR_TOKEN_INVALID"},
	}
	for _, c := range refused {
		got := a.widget(p.widget, c.body)
		if got.status != http.StatusForbidden || got.code != "FORBIDDEN" || got.reason != c.reason {
			t.Errorf("%s: %d %s %s, want 403 FORBIDDEN %s", c.name, got.status, got.code, got.reason, c.reason)
		}
	}
	if after := a.clientOf(p, "user-42"); len(after.Attributes) != len(before.Attributes) {
		t.Errorf("user-42's attributes went from %v to %v after refused calls", before.Attributes, after.Attributes)
	}
	if c := a.clientOf(p, "user-43"); c.ID != "" {
		t.Errorf("a refused call created user-43: %+v", c)
	}

	// A valid token of the current secret works again; a messenger's client stays out of reach.
	fresh := userToken(t, other, jwt.MapClaims{"sub": "user-42", "exp": exp})
	if got := a.widget(p.widget, map[string]any{"userToken": fresh, "identifiers": email("ann@example.com")}); got.status != http.StatusOK {
		t.Errorf("a token under the current secret: %+v", got)
	}
	if got := a.widget(p.widget, map[string]any{"userToken": userToken(t, other, jwt.MapClaims{"sub": "tg-ann", "exp": exp}),
		"identifiers": email("x@example.com")}); got.status != http.StatusForbidden {
		t.Errorf("a token for a telegram client: %+v, want 403", got)
	}
	// The per-value signatures of earlier versions are refused with a typed error.
	mac := hmac.New(sha256.New, []byte(other))
	mac.Write([]byte("ann@example.com"))
	got = a.widget(p.widget, map[string]any{"userToken": fresh, "identifiers": []map[string]any{
		{"field": "email", "value": "ann@example.com", "signature": hex.EncodeToString(mac.Sum(nil))}}})
	if got.status != http.StatusBadRequest || got.reason != "SIGNATURE_UNSUPPORTED" {
		t.Errorf("a per-value signature: %+v, want 400 SIGNATURE_UNSUPPORTED", got)
	}
	if got := a.widget(p.read, map[string]any{"userToken": fresh}); got.status != http.StatusForbidden {
		t.Errorf("a READ key on the widget path: %d, want 403", got.status)
	}
	if got := a.widget("mck_wrong", map[string]any{}); got.status != http.StatusUnauthorized {
		t.Errorf("a bad key on the widget path: %d, want 401", got.status)
	}
}

// unsigned makes a token with alg "none", which must never pass.
func unsigned(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestAnonymousVisitorsWriteOnlyTheirOwnClientAndLinkNobody: with only the
// public WIDGET key, a visitor gets an id chosen by the service and a token
// for it; typing someone's e-mail stores it, unverified, on the visitor's
// own client and links nothing until the project accepts unverified values.
func TestAnonymousVisitorsWriteOnlyTheirOwnClientAndLinkNobody(t *testing.T) {
	a := startAPI(t)
	p := a.project()
	a.client(p, "tg-ann", "telegram", "email", "ann@example.com")
	ann := a.clientOf(p, "tg-ann")

	// A visitor id the service did not issue is refused, whether or not the client exists.
	for _, id := range []string{"visitor-new", "tg-ann"} {
		if got := a.widget(p.widget, map[string]any{"clientId": id, "identifiers": email("ann@example.com")}); got.status != http.StatusForbidden || got.reason != "TOKEN_REQUIRED" {
			t.Errorf("clientId %s without a token: %+v, want 403 TOKEN_REQUIRED", id, got)
		}
	}
	if c := a.clientOf(p, "visitor-new"); c.ID != "" {
		t.Errorf("a refused call created visitor-new")
	}

	first := a.widget(p.widget, map[string]any{"identifiers": email("Ann@Example.com")})
	if first.status != http.StatusOK || first.VisitorToken == "" || len(first.ClientID) < 2+26 || len(first.Results) != 1 ||
		!first.Results[0].Accepted || first.Results[0].Verified {
		t.Fatalf("first contact = %+v, want a minted visitor with a token and the e-mail accepted unverified", first)
	}
	mallory := a.clientOf(p, first.ClientID)
	if len(mallory.Attributes) != 1 || mallory.Attributes[0].Source != "WIDGET" || mallory.Attributes[0].Verified {
		t.Errorf("the visitor's client %+v, want the e-mail from WIDGET, unverified", mallory)
	}
	if mallory.MultiContact.ID == a.clientOf(p, "tg-ann").MultiContact.ID {
		t.Fatalf("a visitor typing Ann's e-mail joined her multi-contact")
	}
	// Later calls carry the token; the token proves only this visitor, in this project.
	again := a.widget(p.widget, map[string]any{"visitorToken": first.VisitorToken, "identifiers": []map[string]any{{"field": "skype", "value": "m"}}})
	if again.status != http.StatusOK || again.ClientID != first.ClientID {
		t.Errorf("a later call with the token: %+v", again)
	}
	other := a.widget(p.widget, map[string]any{})
	if other.status != http.StatusOK || other.ClientID == first.ClientID || other.VisitorToken == "" {
		t.Errorf("a second visitor: %+v, want its own id", other)
	}
	if got := a.widget(p.widget, map[string]any{"visitorToken": first.VisitorToken, "clientId": other.ClientID,
		"identifiers": email("x@example.com")}); got.status != http.StatusForbidden || got.reason != "TOKEN_CLIENT_MISMATCH" {
		t.Errorf("a visitor token replayed for another visitor: %+v, want 403 TOKEN_CLIENT_MISMATCH", got)
	}
	forged := first.VisitorToken[:len(first.VisitorToken)-3] + "AAA"
	if got := a.widget(p.widget, map[string]any{"visitorToken": forged, "identifiers": email("x@example.com")}); got.status != http.StatusForbidden {
		t.Errorf("a forged visitor token: %+v, want 403", got)
	}
	q := a.project()
	if got := a.widget(q.widget, map[string]any{"visitorToken": first.VisitorToken, "identifiers": email("x@example.com")}); got.status != http.StatusForbidden {
		t.Errorf("a visitor token of another project: %+v, want 403", got)
	}

	// The project's switch: on, the visitor's typed e-mail links (re-resolution); off, it stops.
	a.setAcceptUnverified(p, true)
	if got, want := a.clientOf(p, first.ClientID).MultiContact.ID, a.clientOf(p, "tg-ann").MultiContact.ID; got != want {
		t.Errorf("with acceptUnverifiedWidgetValues on, the visitor is in %s, Ann in %s: want one", got, want)
	}
	third := a.widget(p.widget, map[string]any{"identifiers": email("ann@example.com")}) // the incremental path
	if got, want := a.clientOf(p, third.ClientID).MultiContact.ID, a.clientOf(p, "tg-ann").MultiContact.ID; got != want {
		t.Errorf("a new visitor with the switch on is in %s, Ann in %s: want one", got, want)
	}
	a.setAcceptUnverified(p, false)
	for _, v := range []string{first.ClientID, third.ClientID} {
		if a.clientOf(p, v).MultiContact.ID == a.clientOf(p, "tg-ann").MultiContact.ID {
			t.Errorf("with the switch off again, visitor %s is still in Ann's multi-contact", v)
		}
	}
	if a.clientOf(p, "tg-ann").MultiContact.ID != ann.MultiContact.ID {
		t.Errorf("Ann's multi-contact id changed from %s", ann.MultiContact.ID)
	}
}

// A script calling the widget path with a page's public key, one call at
// a time, is refused once its address has spent its calls for the minute
// (429 RATE_LIMITED) before anything is written; the metric counts them.
func TestTheWidgetPathBoundsTheCallsOfOneAddress(t *testing.T) {
	a := startAPI(t, "-widget-rate", "6") // 2 at once, then one every 10 s
	p := a.project()
	before := a.shedVisitors()
	var statuses []int
	for range 4 {
		statuses = append(statuses, a.widget(p.widget, map[string]any{}).status)
	}
	if !slices.Equal(statuses, []int{200, 200, 429, 429}) {
		t.Errorf("four calls in a row from one address: %v, want 200 200 429 429", statuses)
	}
	if got := a.shedVisitors() - before; got != 2 {
		t.Errorf("multicontact_shed_requests_total{scope=\"visitor\"} rose by %v, want 2", got)
	}
}

// shedVisitors reads the count of widget calls refused for their address.
func (a *api) shedVisitors() float64 {
	a.t.Helper()
	res, err := http.Get(a.url + "/metrics")
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, `multicontact_shed_requests_total{scope="visitor",surface="widget"} `) {
			v, _ := strconv.ParseFloat(strings.Fields(line)[1], 64)
			return v
		}
	}
	a.t.Fatal("no visitor series in /metrics")
	return 0
}

// A widget call refused for its input says why, as every refusal of the
// widget path does: the reason (and the field) beside the code.
func TestAWidgetCallWithBadInputSaysWhy(t *testing.T) {
	a := startAPI(t)
	p := a.project()
	got := a.widget(p.widget, map[string]any{"displayName": strings.Repeat("x", 300)})
	if got.status != http.StatusBadRequest || got.code != "BAD_USER_INPUT" || got.reason != "TOO_LONG" {
		t.Errorf("a 300-byte display name: %+v, want 400 BAD_USER_INPUT with reason TOO_LONG", got)
	}
}
