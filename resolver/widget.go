package resolver

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/multicontact/multicontact/access"
	"github.com/multicontact/multicontact/graph"
	"github.com/multicontact/multicontact/identity"
)

// WidgetRequest is what the website widget's JavaScript API posts. The
// WIDGET key is public (it is in the page), so it proves nothing about who
// calls: a call writes only to the client that its token proves.
//   - UserToken, for a signed-in user: a JWT that the business's server
//     signs (HS256, with the project's identity secret) with sub = the
//     user's client id and exp; identifiers among its claims are verified.
//   - VisitorToken, for an anonymous visitor: what an earlier answer
//     returned. A call with neither starts a new anonymous visitor whose id
//     the service chooses.
type WidgetRequest struct {
	UserToken    string `json:"userToken,omitempty"`
	VisitorToken string `json:"visitorToken,omitempty"`
	// ClientID is optional; if given it must be the client the token proves.
	ClientID    string             `json:"clientId,omitempty"`
	Channel     *WidgetChannel     `json:"channel,omitempty"`
	DisplayName string             `json:"displayName,omitempty"`
	Identifiers []WidgetIdentifier `json:"identifiers"`
}

// WidgetChannel names the website account a new client is created on
// (default "widget"); its kind is always web.
type WidgetChannel struct {
	Account string `json:"account"`
}

// WidgetIdentifier is one value of a field (email, phone, skype, contract,
// externalId or a custom field) as the visitor typed it: stored unverified.
// Signature, the per-value HMAC of earlier versions, is refused: it was
// bound to no client and never expired; put the value in the user token.
type WidgetIdentifier struct {
	Field     string `json:"field"`
	Value     string `json:"value"`
	Signature string `json:"signature,omitempty"`
}

// WidgetResponse names the client written, gives a new anonymous visitor
// its token, and says per identifier whether it was stored and verified;
// it reveals nothing else.
type WidgetResponse struct {
	ClientID string `json:"clientId"`
	// VisitorToken is set for an anonymous visitor: the page keeps it (e.g.
	// in localStorage) and sends it with every later call.
	VisitorToken string         `json:"visitorToken,omitempty"`
	Results      []WidgetResult `json:"results"`
}

// WidgetResult is the outcome of one identifier: the user token's first,
// then those of the request.
type WidgetResult struct {
	Field    string      `json:"field"`
	Accepted bool        `json:"accepted"`
	Verified bool        `json:"verified"`
	Error    *InputError `json:"error,omitempty"`
}

// widgetChannelKind is the channel kind of every client the widget writes.
const widgetChannelKind = "web"

// maxWidgetIdentifiers bounds one widget call, claims included.
const maxWidgetIdentifiers = 20

// visitorPrefix starts every visitor id the service mints; visitorTokenPrefix
// every visitor token; visitorPurpose separates their signatures from any
// other signature of the service's keys.
const (
	visitorPrefix      = "v_"
	visitorTokenPrefix = "mcv1."
	visitorPurpose     = "widget visitor v1"
)

// tokenLeeway tolerates clocks that differ a little between the business's
// server and this service.
const tokenLeeway = 30 * time.Second

// Keys are the service's own keys (package keyring): they seal stored
// secrets and sign the tokens the service hands out.
type Keys interface {
	graph.Sealer
	Sign(purpose, msg string) string
	Verify(purpose, msg, sig string) bool
}

// registeredClaims are JWT claims that never name an identifier.
var registeredClaims = map[string]bool{"iss": true, "sub": true, "aud": true, "exp": true, "nbf": true,
	"iat": true, "jti": true, "name": true}

// widgetRefusal is a refusal of the whole call, before anything is written.
type widgetRefusal struct {
	status       int
	code, reason string
	message      string
}

func forbidden(reason, format string, args ...any) *widgetRefusal {
	return &widgetRefusal{status: http.StatusForbidden, code: errForbidden.Code, reason: reason, message: fmt.Sprintf(format, args...)}
}

func badWidgetInput(reason, format string, args ...any) *widgetRefusal {
	return &widgetRefusal{status: http.StatusBadRequest, code: "BAD_USER_INPUT", reason: reason, message: fmt.Sprintf(format, args...)}
}

// VisitorToken returns the token of an anonymous visitor of a project: the
// visitor id with the service's signature over project and id.
func VisitorToken(keys Keys, project, visitor string) string {
	return visitorTokenPrefix + visitor + "." + keys.Sign(visitorPurpose, project+"\x00"+visitor)
}

// visitorOf returns the visitor id that token proves in project.
func visitorOf(keys Keys, project, token string) (string, bool) {
	rest, ok := strings.CutPrefix(token, visitorTokenPrefix)
	id, sig, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 || !strings.HasPrefix(id, visitorPrefix) {
		return "", false
	}
	return id, keys.Verify(visitorPurpose, project+"\x00"+id, sig)
}

// tokenIdentity is what a valid user token says.
type tokenIdentity struct {
	client      string
	name        string
	identifiers []WidgetIdentifier
}

// parseUserToken checks a user token against the project's identity secret
// and returns what it proves; claims named after a field of the project
// (isField) are identifiers, other claims are ignored.
func parseUserToken(token, secret string, isField func(string) bool) (tokenIdentity, *widgetRefusal) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return []byte(secret), nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithExpirationRequired(), jwt.WithLeeway(tokenLeeway))
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return tokenIdentity{}, forbidden("TOKEN_EXPIRED", "the user token has expired: have your server sign a new one")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return tokenIdentity{}, forbidden("TOKEN_INVALID", "the user token has no exp claim: every user token expires")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return tokenIdentity{}, forbidden("TOKEN_INVALID", "the user token is not signed with the project's current identity secret")
	case err != nil:
		return tokenIdentity{}, forbidden("TOKEN_INVALID", "the user token is not a valid HS256 JWT of the project")
	}
	sub, _ := claims["sub"].(string)
	if sub == "" {
		return tokenIdentity{}, forbidden("TOKEN_INVALID", "the user token has no sub claim: sub is the user's client id")
	}
	if err := identity.ValidateID("sub", sub); err != nil {
		return tokenIdentity{}, forbidden("TOKEN_INVALID", "the user token's sub is not a valid client id: %v", err)
	}
	out := tokenIdentity{client: sub}
	out.name, _ = claims["name"].(string)
	names := make([]string, 0, len(claims))
	for k := range claims {
		if !registeredClaims[k] && isField(k) {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, field := range names {
		var values []any
		switch v := claims[field].(type) {
		case []any:
			values = v
		default:
			values = []any{v}
		}
		for _, v := range values {
			if s, ok := claimString(v); ok {
				out.identifiers = append(out.identifiers, WidgetIdentifier{Field: field, Value: s})
			}
		}
	}
	return out, nil
}

// claimString is a claim's value as an identifier: a string, or a whole
// number (an externalId sent as a JSON number).
func claimString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return strconv.FormatInt(int64(v), 10), true
		}
	}
	return "", false
}

// WidgetHandler serves POST /widget/identify: a WIDGET key (or any key
// allowed to write) adds identifiers to the one client that the call's
// token proves, and never reads anything. Values are stored with source
// WIDGET: verified when they come from a valid user token, unverified (and
// linking nobody unless the project accepts them) when typed by the visitor.
func WidgetHandler(store *graph.Store, keys Keys, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = WithLocale(r, store) // refusals in the visitor's language
		p := PrincipalFrom(r.Context())
		if p == nil {
			writeGraphQLError(w, http.StatusUnauthorized, errUnauthenticated.Code, errUnauthenticated.Message)
			return
		}
		if p.Admin || (p.Role != access.RoleWidget && p.Role != access.RoleWrite && p.Role != access.RoleAdmin) {
			writeGraphQLError(w, http.StatusForbidden, errForbidden.Code, "the widget path takes a project's WIDGET key")
			return
		}
		var req WidgetRequest
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeGraphQLError(w, http.StatusBadRequest, "BAD_USER_INPUT", "the body is not a widget request: "+err.Error())
			return
		}
		ctx := r.Context()
		noteProject(ctx, p.Project)
		resp, refusal, err := identify(ctx, store, keys, p.Project, req)
		switch {
		case refusal != nil:
			writeWidgetRefusal(w, refusal)
		case identity.ErrorCode(err) != "":
			var de *identity.Error
			errors.As(err, &de)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{{"message": localize(ctx, de),
				"extensions": map[string]any{"code": "BAD_USER_INPUT", "reason": de.Code, "field": de.Field}}}})
		case retryable(err):
			if !cancelled(err) {
				log.WarnContext(ctx, "widget: store unavailable", "err", err)
			}
			writeUnavailable(w, err)
		case err != nil:
			log.ErrorContext(ctx, "widget", "err", err)
			writeGraphQLError(w, http.StatusInternalServerError, "INTERNAL", "internal error")
		default:
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(resp)
		}
	})
}

// identify checks a widget call and, only if it may, writes it.
func identify(ctx context.Context, store *graph.Store, keys Keys, project string, req WidgetRequest) (*WidgetResponse, *widgetRefusal, error) {
	for i, id := range req.Identifiers {
		if id.Signature != "" {
			return nil, badWidgetInput("SIGNATURE_UNSUPPORTED", "identifiers[%d].signature: per-value signatures are no longer "+
				"accepted (they were bound to no client and never expired); put the value in the user token's claims", i), nil
		}
	}
	if req.ClientID != "" {
		if err := identity.ValidateID("clientId", req.ClientID); err != nil {
			return nil, nil, err
		}
	}
	resp := &WidgetResponse{Results: []WidgetResult{}}
	var proven tokenIdentity
	switch {
	case req.UserToken != "":
		secret, err := store.IdentitySecret(ctx, project, keys)
		if err != nil {
			return nil, nil, err
		}
		if secret == "" {
			return nil, forbidden("NO_IDENTITY_SECRET", "the project has no identity secret yet: an admin makes one with rotateIdentitySecret"), nil
		}
		catalog, err := store.Catalog(ctx, project)
		if err != nil {
			return nil, nil, err
		}
		isField := func(k string) bool { _, ok := catalog.Field(k); return ok }
		var refusal *widgetRefusal
		if proven, refusal = parseUserToken(req.UserToken, secret, isField); refusal != nil {
			return nil, refusal, nil
		}
	case req.VisitorToken != "":
		id, ok := visitorOf(keys, project, req.VisitorToken)
		if !ok {
			return nil, forbidden("VISITOR_TOKEN_INVALID", "the visitor token was not issued by this service for this project: start again without it"), nil
		}
		proven.client = id
		resp.VisitorToken = req.VisitorToken
	case req.ClientID != "":
		return nil, forbidden("TOKEN_REQUIRED", "a call that names a client needs a user token for it, or the visitor token that the service issued for it"), nil
	default: // a new anonymous visitor: the service chooses the id
		proven.client = visitorPrefix + rand.Text()
		resp.VisitorToken = VisitorToken(keys, project, proven.client)
	}
	if req.ClientID != "" && req.ClientID != proven.client {
		return nil, forbidden("TOKEN_CLIENT_MISMATCH", "the token is for another client than clientId"), nil
	}
	resp.ClientID = proven.client
	if n := len(proven.identifiers) + len(req.Identifiers); n > maxWidgetIdentifiers {
		return nil, badWidgetInput("TOO_MANY", "send at most %d identifiers (token claims included), not %d", maxWidgetIdentifiers, n), nil
	}
	name := req.DisplayName
	if proven.name != "" {
		name = proven.name
	}
	if len(proven.identifiers)+len(req.Identifiers) == 0 && name == "" {
		return resp, nil, nil // nothing to write: a new visitor's client is made when it first says something
	}
	existing, err := store.Client(ctx, project, proven.client)
	switch {
	case identity.ErrorCode(err) == identity.CodeNotFound:
		ch := identity.Channel{Kind: widgetChannelKind, Account: "widget"}
		if req.Channel != nil {
			ch.Account = req.Channel.Account
		}
		if _, err := store.UpsertClient(ctx, project, identity.ClientInput{ID: proven.client, Channel: ch, DisplayName: name}); err != nil {
			return nil, nil, err
		}
	case err != nil:
		return nil, nil, err
	case existing.Channel.Kind != widgetChannelKind:
		// Even a valid token does not let the widget write a messenger's client.
		return nil, forbidden("NOT_A_WEB_CLIENT", "the widget path writes only clients of the web channel"), nil
	}
	write := func(id WidgetIdentifier, verified bool) error {
		res := WidgetResult{Field: id.Field, Verified: verified}
		_, err := store.SetAttribute(ctx, project, proven.client,
			identity.AttributeInput{Field: id.Field, Value: id.Value, Source: identity.SourceWidget, Verified: verified})
		var de *identity.Error
		switch {
		case err == nil:
			res.Accepted = true
		case errors.As(err, &de):
			res.Verified, res.Error = false, localizedInputError(ctx, de)
		default:
			return err
		}
		resp.Results = append(resp.Results, res)
		return nil
	}
	for _, id := range proven.identifiers {
		if err := write(id, true); err != nil {
			return nil, nil, err
		}
	}
	for _, id := range req.Identifiers {
		if err := write(id, false); err != nil {
			return nil, nil, err
		}
	}
	return resp, nil, nil
}

func writeWidgetRefusal(w http.ResponseWriter, r *widgetRefusal) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(r.status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{{"message": r.message,
		"extensions": map[string]any{"code": r.code, "reason": r.reason}}}})
}
