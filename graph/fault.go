package graph

import (
	"context"
	"errors"
	"net"
	"strings"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// Unavailable reports whether err means that Neo4j could not serve the call
// in time, rather than that the call was wrong: a refused or lost
// connection, no connection acquired before the deadline, a transient error
// (a lock wait, a leader switch, the database unavailable while it starts)
// still failing after the driver's retries, or the caller's deadline
// reached while waiting for any of these. The same call may succeed when
// made again, so callers are told to retry, not that something broke.
//
// This is the one place where driver errors are classified for callers;
// everything else that is not a domain error stays internal.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var (
		conn  *neo4j.ConnectivityError         // refused, reset, pool timeout, read/write timeout
		limit *neo4j.TransactionExecutionLimit // retryable errors until the driver's retry time ran out
		n4    *neo4j.Neo4jError
		nerr  net.Error
	)
	switch {
	case errors.As(err, &conn), errors.As(err, &limit), errors.As(err, &nerr):
		return true
	case errors.As(err, &n4):
		// Neo.TransientError.* (DatabaseUnavailable, LockClientStopped,
		// deadlocks that outlived the retries, ...) and the cluster's
		// NotALeader / ForbiddenOnReadOnlyDatabase during a leader switch.
		// The prefix is read first: the driver reclassifies a few transient
		// codes of older servers (LockClientStopped) as client errors.
		return strings.HasPrefix(n4.Code, "Neo.TransientError.") || n4.IsRetriable()
	}
	return false
}
