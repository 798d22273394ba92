package graph

// How the store talks to Neo4j: sessions, managed and implicit
// transactions, their retries, and running one statement.

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// session opens a session that shares this store's bookmarks: on a cluster
// (a neo4j:// URI), a read after a write through this process waits for
// that write, so a caller reads its own writes. The session counts as a
// call in flight until end is called: Close waits for those.
func (s *Store) session(ctx context.Context, mode neo4j.AccessMode) (sess neo4j.SessionWithContext, end func()) {
	s.calls.Add(1)
	sess = s.driver.NewSession(ctx, neo4j.SessionConfig{DatabaseName: s.database, AccessMode: mode, BookmarkManager: s.bookmarks})
	return sess, func() {
		sess.Close(ctx)
		s.calls.Add(-1)
	}
}

// noResult is the result of a transaction that returns nothing.
type noResult struct{}

// readTx runs work in a managed read transaction (retried on transient errors).
func readTx[T any](ctx context.Context, s *Store, work func(tx neo4j.ManagedTransaction) (T, error)) (T, error) {
	return retryVanished(func() (T, error) {
		sess, end := s.session(ctx, neo4j.AccessModeRead)
		defer end()
		return neo4j.ExecuteRead(ctx, sess, work)
	})
}

// writeTx runs work in a managed write transaction. The driver retries it on
// deadlocks and transient errors, so work may run more than once: it only
// talks to the transaction and calls pure functions. Every run after the
// first is reported to the retry observer with the error of the run before
// it (nil, so "other", when that run failed outside work: at commit, or
// its connection broke).
func writeTx[T any](ctx context.Context, s *Store, work func(tx neo4j.ManagedTransaction) (T, error)) (T, error) {
	runs := 0
	var last error
	return retryVanished(func() (T, error) {
		sess, end := s.session(ctx, neo4j.AccessModeWrite)
		defer end()
		v, err := neo4j.ExecuteWrite(ctx, sess, func(tx neo4j.ManagedTransaction) (T, error) {
			if runs++; runs > 1 {
				s.retry(last)
			}
			v, err := work(tx)
			last = err
			return v, err
		})
		last = err
		return v, err
	})
}

// Reasons for running a write transaction again, as RetryReason names them.
const (
	RetryDeadlock  = "deadlock"  // Neo4j found a cycle of lock waits and chose this transaction
	RetryTransient = "transient" // any other transient error (a lock wait timed out, a leader switch)
	RetryRace      = "race"      // a concurrent write deleted or changed what this one had read
	RetryOther     = "other"     // a broken connection, a failed commit, anything else
)

// RetryReason classifies the error that made a write transaction run
// again, for the retry metric.
func RetryReason(err error) string {
	if errors.Is(err, errRace) {
		return RetryRace
	}
	var n4 *neo4j.Neo4jError
	if !errors.As(err, &n4) {
		return RetryOther
	}
	switch {
	case n4.Code == "Neo.TransientError.Transaction.DeadlockDetected":
		return RetryDeadlock
	case n4.Code == "Neo.ClientError.Statement.EntityNotFound":
		return RetryRace
	case strings.HasPrefix(n4.Code, "Neo.TransientError."):
		return RetryTransient
	default:
		return RetryOther
	}
}

// retry reports one more run of a write transaction to the observer.
func (s *Store) retry(err error) {
	if s.retried != nil {
		s.retried(RetryReason(err))
	}
}

// errRace says that a transaction found, when writing, that a concurrent
// one changed what it had checked; it is rolled back and run again.
var errRace = errors.New("a concurrent write changed what this one checked")

// retryVanished runs a managed transaction again when it failed because a
// node it had read was deleted by a concurrent one (a match key removed by
// a re-resolution, a client removed), or with errRace: under read-committed
// isolation that is a race, not an error, but the driver does not count it
// as transient.
func retryVanished[T any](run func() (T, error)) (T, error) {
	for attempt := 1; ; attempt++ {
		v, err := run()
		var n4 *neo4j.Neo4jError
		raced := errors.Is(err, errRace) || errors.As(err, &n4) && n4.Code == "Neo.ClientError.Statement.EntityNotFound"
		if err == nil || attempt == 5 || !raced {
			return v, err
		}
	}
}

// schemaQuery runs q (a schema statement, or SHOW) on its own, outside
// data transactions, as the schema and its migrations at Open need.
func (s *Store) schemaQuery(ctx context.Context, q string, params map[string]any) (*neo4j.EagerResult, error) {
	return neo4j.ExecuteQuery(ctx, s.driver, q, params, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase(s.database))
}

// autocommit runs q in an implicit transaction, as CALL { } IN TRANSACTIONS needs.
// The statement must be idempotent: it runs again after a transient error
// (a deadlock with a writer), as a managed transaction would.
func (s *Store) autocommit(ctx context.Context, q string, params map[string]any) error {
	_, err := s.implicit(ctx, neo4j.AccessModeWrite, q, params)
	return err
}

// readOne runs one read statement in an implicit transaction: a single
// round trip (RUN and PULL sent together), where a managed transaction
// takes three (BEGIN, RUN, COMMIT). The lookups that one statement answers
// use it.
func (s *Store) readOne(ctx context.Context, q string, params map[string]any) ([]*neo4j.Record, error) {
	return retryVanished(func() ([]*neo4j.Record, error) { return s.implicit(ctx, neo4j.AccessModeRead, q, params) })
}

// implicit runs q in an implicit transaction and returns its records. It
// runs again after a transient error (a write is reported to the retry
// observer), for at most 10 runs.
func (s *Store) implicit(ctx context.Context, mode neo4j.AccessMode, q string, params map[string]any) ([]*neo4j.Record, error) {
	run := func() ([]*neo4j.Record, error) {
		sess, end := s.session(ctx, mode)
		defer end()
		res, err := sess.Run(ctx, q, params)
		if err != nil {
			return nil, err
		}
		return res.Collect(ctx)
	}
	for attempt := 1; ; attempt++ {
		recs, err := run()
		if err == nil || attempt == 10 || !neo4j.IsRetryable(err) {
			return recs, err
		}
		if mode == neo4j.AccessModeWrite {
			s.retry(err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(attempt*attempt) * 50 * time.Millisecond):
		}
	}
}

// The statements of a write (the clients' lock, the outcome, values and
// keys, resolution, commit) pass their lists inside one map parameter,
// $in, and read them as $in.name. Neo4j caches a plan per query text and
// parameter types, and a list parameter's type includes its length's
// bucket (empty, one, up to 10, up to 100, ...): a statement given lists
// of other lengths (a group of four writes instead of one, a merge that
// absorbs a multi-contact) would be planned again for each combination,
// which takes 50 to 400 ms for these statements, while the writes queued
// behind it wait. A map parameter is typed as a map, whatever it holds,
// so one plan serves every length.

// single runs q and returns its only record, or nil when there is none.
func single(ctx context.Context, tx neo4j.ManagedTransaction, q string, params map[string]any) (*neo4j.Record, error) {
	res, err := tx.Run(ctx, q, params)
	if err != nil {
		return nil, err
	}
	recs, err := res.Collect(ctx)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, nil
	}
	return recs[0], nil
}

// collect runs q and returns all its records.
func collect(ctx context.Context, tx neo4j.ManagedTransaction, q string, params map[string]any) ([]*neo4j.Record, error) {
	res, err := tx.Run(ctx, q, params)
	if err != nil {
		return nil, err
	}
	return res.Collect(ctx)
}

// exec runs q and discards its result.
func exec(ctx context.Context, tx neo4j.ManagedTransaction, q string, params map[string]any) error {
	res, err := tx.Run(ctx, q, params)
	if err != nil {
		return err
	}
	_, err = res.Consume(ctx)
	return err
}
