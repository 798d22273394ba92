package graph_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/graph"
	"github.com/multicontact/multicontact/identity"
)

func TestUnavailableTellsRetryableFaultsFromErrors(t *testing.T) {
	n4 := func(code string) error { return &neo4j.Neo4jError{Code: code, Msg: "m"} }
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", &neo4j.ConnectivityError{Inner: refused}, true},
		{"wrapped connectivity", fmt.Errorf("set attribute: %w", &neo4j.ConnectivityError{Inner: errors.New("EOF")}), true},
		{"raw dial error", fmt.Errorf("open: %w", refused), true},
		{"retries exhausted", &neo4j.TransactionExecutionLimit{Cause: "timeout", Errors: []error{n4("Neo.TransientError.Transaction.DeadlockDetected")}}, true},
		{"deadline while acquiring", fmt.Errorf("read: %w", context.DeadlineExceeded), true},
		{"database unavailable", n4("Neo.TransientError.General.DatabaseUnavailable"), true},
		{"lock client stopped", fmt.Errorf("write: %w", n4("Neo.TransientError.Transaction.LockClientStopped")), true},
		{"not a leader", n4("Neo.ClientError.Cluster.NotALeader"), true},
		{"syntax error", n4("Neo.ClientError.Statement.SyntaxError"), false},
		{"constraint", n4("Neo.ClientError.Schema.ConstraintValidationFailed"), false},
		{"domain error", identity.Errorf("phone", "INVALID_PHONE", "not a phone"), false},
		{"caller went away", context.Canceled, false},
		{"anything else", errors.New("boom"), false},
		{"nil", nil, false},
	} {
		if got := graph.Unavailable(tc.err); got != tc.want {
			t.Errorf("%s: Unavailable(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
