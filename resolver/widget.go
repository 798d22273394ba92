package resolver

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/multicontact/multicontact/graph"
	"github.com/multicontact/multicontact/identity"
)

// WidgetRequest is what the website widget's JavaScript API posts: the
// visitor's client id and identifiers, each optionally signed by the
// business's server with the project's identity secret.
type WidgetRequest struct {
	ClientID    string             `json:"clientId"`
	Channel     *WidgetChannel     `json:"channel,omitempty"`
	DisplayName string             `json:"displayName,omitempty"`
	Identifiers []WidgetIdentifier `json:"identifiers"`
}

// WidgetChannel names the website account a new visitor's client is
// created on (default "widget"); its kind is always web.
type WidgetChannel struct {
	Account string `json:"account"`
}

// WidgetIdentifier is one value of a field (email, skype, contract,
// externalId or a custom field). Signature, if present, is the lower-case
// hex HMAC-SHA256 of Value under the project's identity secret.
type WidgetIdentifier struct {
	Field     string `json:"field"`
	Value     string `json:"value"`
	Signature string `json:"signature,omitempty"`
}

// WidgetResponse says, per identifier, whether it was stored and verified;
// it reveals nothing else about the visitor.
type WidgetResponse struct {
	Results []WidgetResult `json:"results"`
}

// WidgetResult is the outcome of one identifier.
type WidgetResult struct {
	Field    string      `json:"field"`
	Accepted bool        `json:"accepted"`
	Verified bool        `json:"verified"`
	Error    *InputError `json:"error,omitempty"`
}

// widgetChannelKind is the channel kind of every client the widget writes.
const widgetChannelKind = "web"

// maxWidgetIdentifiers bounds one widget call.
const maxWidgetIdentifiers = 20

// Sign returns the signature the widget path accepts for value: the hex
// HMAC-SHA256 of value under secret. Business servers compute the same.
func Sign(secret, value string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(value))
	return hex.EncodeToString(m.Sum(nil))
}

// WidgetHandler serves POST requests of the widget: a WIDGET key (or any
// key allowed to write) may add identifiers to the client it names, never
// read anything. Values are stored with source WIDGET, verified only with a
// valid signature.
func WidgetHandler(store *graph.Store, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := PrincipalFrom(r.Context())
		if p == nil {
			writeGraphQLError(w, http.StatusUnauthorized, errUnauthenticated.Code, errUnauthenticated.Message)
			return
		}
		if p.Admin || (p.Role != graph.RoleWidget && p.Role != graph.RoleWrite && p.Role != graph.RoleAdmin) {
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
		if err := identity.ValidateID("clientId", req.ClientID); err != nil {
			writeGraphQLError(w, http.StatusBadRequest, "BAD_USER_INPUT", err.Error())
			return
		}
		if len(req.Identifiers) == 0 || len(req.Identifiers) > maxWidgetIdentifiers {
			writeGraphQLError(w, http.StatusBadRequest, "BAD_USER_INPUT", "send 1 to 20 identifiers")
			return
		}
		ctx := r.Context()
		project := p.Project
		fail := func(err error) {
			if identity.ErrorCode(err) != "" {
				writeGraphQLError(w, http.StatusBadRequest, "BAD_USER_INPUT", err.Error())
				return
			}
			log.ErrorContext(ctx, "widget", "err", err)
			writeGraphQLError(w, http.StatusInternalServerError, "INTERNAL", "internal error")
		}
		existing, err := store.Client(ctx, project, req.ClientID)
		if identity.ErrorCode(err) == identity.CodeNotFound {
			ch := identity.Channel{Kind: widgetChannelKind, Account: "widget"}
			if req.Channel != nil {
				ch.Account = req.Channel.Account
			}
			if _, err := store.UpsertClient(ctx, project, identity.ClientInput{ID: req.ClientID, Channel: ch, DisplayName: req.DisplayName}); err != nil {
				fail(err)
				return
			}
		} else if err != nil {
			fail(err)
			return
		} else if existing.Channel.Kind != widgetChannelKind {
			// A visitor may not add identifiers to a messenger's client by guessing its id.
			writeGraphQLError(w, http.StatusForbidden, errForbidden.Code, "the widget path writes only clients of the web channel")
			return
		}
		secret := ""
		for _, id := range req.Identifiers {
			if id.Signature != "" {
				s, err := store.IdentitySecret(ctx, project)
				if err != nil {
					fail(err)
					return
				}
				secret = s
				break
			}
		}
		resp := WidgetResponse{Results: make([]WidgetResult, 0, len(req.Identifiers))}
		for _, id := range req.Identifiers {
			verified := secret != "" && id.Signature != "" && hmac.Equal([]byte(Sign(secret, id.Value)), []byte(id.Signature))
			res := WidgetResult{Field: id.Field, Verified: verified}
			_, err := store.SetAttribute(ctx, project, req.ClientID,
				identity.AttributeInput{Field: id.Field, Value: id.Value, Source: identity.SourceWidget, Verified: verified})
			var de *identity.Error
			switch {
			case err == nil:
				res.Accepted = true
			case errors.As(err, &de):
				res.Verified, res.Error = false, inputError(de)
			default:
				fail(err)
				return
			}
			resp.Results = append(resp.Results, res)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(resp)
	})
}
