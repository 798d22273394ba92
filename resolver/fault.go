package resolver

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/multicontact/multicontact/graph"
)

// Codes that tell the caller to send the same call again later: nothing
// was wrong with it. UNAVAILABLE: Neo4j could not serve it in time (away,
// restarting, or the call's deadline passed) or the call was cancelled
// (its caller went away, or the service is stopping); a write may or may not have
// been applied, as with any write whose answer was lost, and every write of
// the API can be sent again. RATE_LIMITED: the service refused it before
// doing anything, to stay within its in-flight limits.
const (
	CodeUnavailable = "UNAVAILABLE"
	CodeRateLimited = "RATE_LIMITED"
)

// How many seconds a caller is told to wait (HTTP Retry-After,
// extensions.retryAfter) before it sends a refused call again.
const (
	unavailableRetryAfter = 5
	rateLimitedRetryAfter = 1
)

// cancelled reports whether a call stopped because it was cancelled: its
// caller went away, or the service is stopping. Neither the store's fault
// nor a bug: it is answered as UNAVAILABLE (the call may be made again),
// without counting as an error of the service.
func cancelled(err error) bool { return errors.Is(err, context.Canceled) }

// retryable reports whether a call's failure is answered UNAVAILABLE:
// Neo4j could not serve it, it was cancelled, or its key could not be
// looked up for the lookups already waiting on Neo4j.
func retryable(err error) bool {
	return graph.Unavailable(err) || cancelled(err) || errors.Is(err, errLookupsBusy)
}

// unavailableMessage says what an UNAVAILABLE error means, without detail.
func unavailableMessage(err error) string {
	switch {
	case cancelled(err):
		return "the call was cancelled before it finished (its caller went away, or the service is stopping); try again"
	case errors.Is(err, errLookupsBusy):
		return "too many API keys are being looked up (the database is slow or unreachable); try again later"
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "the request did not finish within its deadline (the database is slow or unreachable); try again later"
	}
	return "the database is unavailable; try again later"
}

// unavailableError is the GraphQL error of a call that failed with an error
// for which graph.Unavailable holds.
func unavailableError(err error) *gqlerror.Error {
	return &gqlerror.Error{Message: unavailableMessage(err),
		Extensions: map[string]any{"code": CodeUnavailable, "retryAfter": unavailableRetryAfter}}
}

// writeUnavailable answers a plain HTTP call (the import, the widget path,
// authentication) that failed because Neo4j could not serve it: 503 with
// Retry-After.
func writeUnavailable(w http.ResponseWriter, err error) {
	writeRetryable(w, http.StatusServiceUnavailable, unavailableRetryAfter,
		map[string]any{"code": CodeUnavailable, "retryAfter": unavailableRetryAfter}, unavailableMessage(err))
}

// writeRetryable writes a GraphQL-shaped error with a Retry-After header.
func writeRetryable(w http.ResponseWriter, status, retryAfter int, ext map[string]any, msg string) {
	w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{{"message": msg, "extensions": ext}}})
}
