package resolver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/multicontact/multicontact/access"
	"github.com/multicontact/multicontact/graph"
	"github.com/multicontact/multicontact/identity"
	"github.com/multicontact/multicontact/ingest"
)

// ImportLineResult reports one refused line of an HTTP import.
type ImportLineResult struct {
	Line    int         `json:"line"`
	EventID string      `json:"eventId,omitempty"`
	Error   *InputError `json:"error"`
	// Applied says that only this value was refused: the line applied without it.
	Applied bool `json:"applied,omitempty"`
}

// ImportProgress is where an HTTP import stands, sent about once a second
// with ?progress=true.
type ImportProgress struct {
	Lines         int   `json:"lines"`
	Applied       int   `json:"applied"`
	Refused       int   `json:"refused"`
	RefusedValues int   `json:"refusedValues"`
	Skipped       int   `json:"skipped"`
	Bytes         int64 `json:"bytes"` // of the body, read so far
	ElapsedMS     int64 `json:"elapsedMs"`
}

// ImportSummary closes an HTTP import's response.
type ImportSummary struct {
	Lines         int  `json:"lines"`
	Applied       int  `json:"applied"`
	Refused       int  `json:"refused"`
	RefusedValues int  `json:"refusedValues"` // values refused in lines that applied without them
	Skipped       int  `json:"skipped"`
	Batch         bool `json:"batch"`
	// What the import did to the project's multi-contacts.
	ClientsCreated      int            `json:"clientsCreated"`
	ClientsChanged      int            `json:"clientsChanged"`
	MultiContactsBefore int            `json:"multiContactsBefore"`
	MultiContactsAfter  int            `json:"multiContactsAfter"`
	SharedClientsBefore int            `json:"sharedClientsBefore"` // clients in a multi-contact of several members
	SharedClientsAfter  int            `json:"sharedClientsAfter"`
	Joined              int            `json:"joined"` // clients that joined a multi-contact of several members
	Largest             int            `json:"largest"`
	Events              map[string]int `json:"events"`
	StoppedAt           int            `json:"stoppedAt,omitempty"`
	DurationMS          int64          `json:"durationMs"`
	ResolutionMS        int64          `json:"resolutionMs"` // of durationMs, resolving after the last write (batch path)
	Error               string         `json:"error,omitempty"`
	// ErrorCode is UNAVAILABLE when the import stopped because Neo4j went
	// away (run it again later), TIMEOUT when its body sent nothing for too
	// long, FORBIDDEN when its key was revoked, INTERNAL for anything else.
	ErrorCode string `json:"errorCode,omitempty"`
}

// ImportPattern is the route of ImportHandler.
const ImportPattern = "POST /projects/{project}/import"

// ImportHandler takes an NDJSON import (the format of `multicontact import`)
// as the request body, streamed, for a key with the WRITE role in the
// project (or the admin token). It answers NDJSON: one line per refused
// input line, as it happens, then {"summary": ...}. ?strict=true stops at
// the first bad line; ?progress=true adds {"progress": ...} lines, at the
// first batch and then about once a second. Before it answers 200 it checks the project within
// checkTimeout (0: the request's own deadline, if any), so that with Neo4j
// away it answers 503 UNAVAILABLE with Retry-After at once. Revoking the
// caller's key (auth, on any replica) stops the import at its next batch:
// the summary says so (FORBIDDEN), and the lines after are not applied.
// A body that sends nothing for idle (0: no bound) stops the import too
// (TIMEOUT), so that a stalled caller does not hold its slots for ever.
func ImportHandler(store *graph.Store, auth *Authenticator, log *slog.Logger, checkTimeout, idle time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = WithLocale(r, store) // refused lines in the caller's language
		project := r.PathValue("project")
		if err := authorize(r.Context(), project, access.RoleWrite); err != nil {
			status, code := http.StatusForbidden, "FORBIDDEN"
			if errors.Is(err, errUnauthenticated) {
				status, code = http.StatusUnauthorized, "UNAUTHENTICATED"
			}
			writeGraphQLError(w, status, code, err.Error())
			return
		}
		if err := checkProject(r.Context(), store, project, checkTimeout); err != nil {
			switch {
			case identity.ErrorCode(err) == identity.CodeNotFound:
				writeGraphQLError(w, http.StatusNotFound, "NOT_FOUND", "project not found")
			case retryable(err):
				if !cancelled(err) {
					log.Warn("import: store unavailable", "project", project, "err", err)
				}
				writeUnavailable(w, err)
			default:
				log.Error("import: read project", "project", project, "err", err)
				writeGraphQLError(w, http.StatusServiceUnavailable, "INTERNAL", "the store is unavailable")
			}
			return
		}
		// Refused lines are answered while the body is still being read: on
		// HTTP/1.1 that needs full duplex, or the server stops the body early.
		if err := http.NewResponseController(w).EnableFullDuplex(); err != nil {
			log.Warn("import: no full duplex; refused lines come at the end", "err", err)
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
		enc := json.NewEncoder(w)
		flusher, _ := w.(http.Flusher)
		im := &ingest.Importer{Store: store, Strict: r.URL.Query().Get("strict") == "true"}
		im.Refused = func(e graph.LineError) {
			var ie *identity.Error
			if !errors.As(e.Err, &ie) {
				ie = identity.Errorf("line", "INTERNAL", "the line could not be applied")
			}
			_ = enc.Encode(ImportLineResult{Line: e.Line, EventID: e.EventID, Error: localizedInputError(r.Context(), ie), Applied: e.Applied})
			if flusher != nil {
				flusher.Flush()
			}
		}
		if r.URL.Query().Get("progress") == "true" {
			var last time.Time
			im.Progress = func(p ingest.Progress) {
				if time.Since(last) < time.Second {
					return
				}
				last = time.Now()
				_ = enc.Encode(map[string]ImportProgress{"progress": {Lines: p.Lines, Applied: p.Applied, Refused: p.Refused,
					RefusedValues: p.RefusedValues, Skipped: p.Skipped, Bytes: p.Bytes, ElapsedMS: p.Elapsed.Milliseconds()}})
				if flusher != nil {
					flusher.Flush()
				}
			}
		}
		ctx := r.Context()
		if p := PrincipalFrom(ctx); p != nil && !p.Admin && auth != nil {
			var stop context.CancelCauseFunc
			ctx, stop = context.WithCancelCause(ctx)
			defer stop(nil)
			defer auth.watch(p, func(int, string) { stop(errKeyRevoked) })()
		}
		body := io.Reader(r.Body)
		if idle > 0 {
			body = &idleReader{r: r.Body, rc: http.NewResponseController(w), idle: idle}
		}
		sum, err := im.Import(ctx, project, body)
		out := ImportSummary{Lines: sum.Lines, Applied: sum.Applied, Refused: sum.Refused, RefusedValues: sum.RefusedValues, Skipped: sum.Skipped,
			Batch: sum.Bulk, Events: map[string]int{}, StoppedAt: sum.Stopped, DurationMS: sum.Duration.Milliseconds(),
			ResolutionMS:   sum.Resolution.Milliseconds(),
			ClientsCreated: sum.NewClients, ClientsChanged: sum.Changed,
			MultiContactsBefore: sum.Before.MultiContacts, MultiContactsAfter: sum.After.MultiContacts,
			SharedClientsBefore: sum.Before.SharedClients, SharedClientsAfter: sum.After.SharedClients,
			Joined: sum.Joined(), Largest: sum.After.Largest}
		for t, n := range sum.Events {
			out.Events[string(t)] = n
		}
		switch {
		case errors.Is(context.Cause(ctx), errKeyRevoked):
			log.Warn("import stopped: its key was revoked", "project", project, "line", sum.Lines)
			out.Error, out.ErrorCode = "the import stopped: its API key was revoked", "FORBIDDEN"
		case errors.Is(err, errImportIdle):
			log.Warn("import stopped: its body sent nothing", "project", project, "line", sum.Lines, "idle", idle.String())
			out.Error = fmt.Sprintf("the import stopped: its body sent nothing for %s; run it again: lines already applied are skipped", idle)
			out.ErrorCode = "TIMEOUT"
		case err != nil:
			out.Error, out.ErrorCode = "the import stopped early; run it again: lines already applied are skipped", "INTERNAL"
			switch {
			case cancelled(err):
				log.Info("import cancelled", "project", project, "line", sum.Lines)
				out.ErrorCode = CodeUnavailable
			case graph.Unavailable(err):
				log.Warn("import: store unavailable", "project", project, "line", sum.Lines, "err", err)
				out.ErrorCode = CodeUnavailable
			default:
				log.Error("import", "project", project, "line", sum.Lines, "err", err)
			}
		}
		_ = enc.Encode(map[string]ImportSummary{"summary": out})
	})
}

// errImportIdle ends an import whose body sent nothing for too long.
var errImportIdle = errors.New("the import's body sent nothing for too long")

// idleReader reads a request body, each read bounded by idle: the
// connection's read deadline moves before every read, so it bounds a
// pause of the caller, never the time the import spends writing.
type idleReader struct {
	r    io.Reader
	rc   *http.ResponseController
	idle time.Duration
}

func (ir *idleReader) Read(p []byte) (int, error) {
	_ = ir.rc.SetReadDeadline(time.Now().Add(ir.idle)) // unsupported (HTTP/2 over some proxies): no bound
	n, err := ir.r.Read(p)
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = errImportIdle
	case err != nil:
		// The body is read whole: once it is, the server reads the
		// connection to learn whether the caller went away, and a deadline
		// left here would end a long resolution that is still to come.
		_ = ir.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// errKeyRevoked ends an import whose key was revoked while it ran.
var errKeyRevoked = errors.New("the API key was revoked")

// checkProject reads the project within timeout.
func checkProject(ctx context.Context, store *graph.Store, project string, timeout time.Duration) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	_, err := store.Project(ctx, project)
	return err
}
