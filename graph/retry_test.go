package graph

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

func TestRetryReasonNamesTheCauseOfARetry(t *testing.T) {
	n4 := func(code string) error { return &neo4j.Neo4jError{Code: code, Msg: "m"} }
	for _, tc := range []struct {
		err  error
		want string
	}{
		{n4("Neo.TransientError.Transaction.DeadlockDetected"), RetryDeadlock},
		{fmt.Errorf("resolve: %w", n4("Neo.TransientError.Transaction.DeadlockDetected")), RetryDeadlock},
		{n4("Neo.TransientError.Transaction.LockClientStopped"), RetryTransient},
		{n4("Neo.TransientError.General.DatabaseUnavailable"), RetryTransient},
		{n4("Neo.ClientError.Statement.EntityNotFound"), RetryRace},
		{fmt.Errorf("link: %w", errRace), RetryRace},
		{n4("Neo.ClientError.Cluster.NotALeader"), RetryOther},
		{errors.New("connection reset"), RetryOther},
		{nil, RetryOther}, // the run before failed at commit, outside the work function
	} {
		if got := RetryReason(tc.err); got != tc.want {
			t.Errorf("RetryReason(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// TestADeadlockIsRetriedAndCounted makes two write transactions lock two
// nodes in opposite orders, each taking its second lock only once the
// other holds its first: Neo4j must pick one of them as the deadlock's
// victim, the driver runs it again, both commit, and the observer hears
// exactly one retry, for a deadlock.
func TestADeadlockIsRetriedAndCounted(t *testing.T) {
	if os.Getenv("NEO4J_URI") == "" {
		if testing.Short() {
			t.Skip("no Neo4j under -short")
		}
		t.Fatal("NEO4J_URI is not set: run the tests with `make test`, which starts a local Neo4j")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var mu sync.Mutex
	reasons := map[string]int{}
	s, err := Open(ctx, Config{URI: os.Getenv("NEO4J_URI"), User: os.Getenv("NEO4J_USER"),
		Password: os.Getenv("NEO4J_PASSWORD"), Database: os.Getenv("NEO4J_DATABASE")},
		WithRetryObserver(func(reason string) {
			mu.Lock()
			defer mu.Unlock()
			reasons[reason]++
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	project := fmt.Sprintf("deadlock%d", time.Now().UnixNano())
	params := func(id string) map[string]any { return map[string]any{"project": project, "id": id} }
	if _, err := writeTx(ctx, s, func(tx neo4j.ManagedTransaction) (noResult, error) {
		return noResult{}, exec(ctx, tx, `CREATE (:LockProbe {project: $project, id: 'a', n: 0}), (:LockProbe {project: $project, id: 'b', n: 0})`, params(""))
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		writeTx(context.Background(), s, func(tx neo4j.ManagedTransaction) (noResult, error) {
			return noResult{}, exec(context.Background(), tx, `MATCH (n:LockProbe {project: $project}) DELETE n`, params(""))
		})
	})

	const lock = `MATCH (n:LockProbe {project: $project, id: $id}) SET n.n = n.n + 1`
	var holding sync.WaitGroup // both hold their first lock
	holding.Add(2)
	lockBoth := func(first, second string) error {
		runs := 0
		_, err := writeTx(ctx, s, func(tx neo4j.ManagedTransaction) (noResult, error) {
			runs++
			if err := exec(ctx, tx, lock, params(first)); err != nil {
				return noResult{}, err
			}
			if runs == 1 {
				holding.Done()
				holding.Wait()
			}
			return noResult{}, exec(ctx, tx, lock, params(second))
		})
		return err
	}
	errs := make(chan error, 2)
	go func() { errs <- lockBoth("a", "b") }()
	go func() { errs <- lockBoth("b", "a") }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("a transaction failed instead of being retried: %v", err)
		}
	}

	rec, err := readTx(ctx, s, func(tx neo4j.ManagedTransaction) (*neo4j.Record, error) {
		return single(ctx, tx, `MATCH (n:LockProbe {project: $project}) RETURN collect(n.n) AS ns`, params(""))
	})
	if err != nil {
		t.Fatal(err)
	}
	if ns := fmt.Sprint(list(rec, "ns")); ns != "[2 2]" {
		t.Errorf("counters = %s, want [2 2]: both transactions committed once", ns)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(reasons) != "map[deadlock:1]" {
		t.Errorf("retries observed = %v, want one deadlock", reasons)
	}
}
