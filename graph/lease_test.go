package graph

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/identity"
)

// replica opens a store on the test Neo4j, as one replica of the service
// would. (An internal test cannot use graphtest, which imports this package.)
func replica(t *testing.T, opts ...Option) *Store {
	t.Helper()
	if os.Getenv("NEO4J_URI") == "" {
		if testing.Short() {
			t.Skip("no Neo4j under -short")
		}
		t.Fatal("NEO4J_URI is not set: run the tests with `make test`, which starts a local Neo4j")
	}
	cfg := Config{URI: os.Getenv("NEO4J_URI"), User: os.Getenv("NEO4J_USER"), Password: os.Getenv("NEO4J_PASSWORD"),
		Database: os.Getenv("NEO4J_DATABASE")}
	s, err := Open(context.Background(), cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

// TestTheLeaseKeepsOtherReplicasOut: while one store holds a project's
// re-resolution lease, another is told ErrResolving and changes nothing;
// once it is released, the other does the work.
func TestTheLeaseKeepsOtherReplicasOut(t *testing.T) {
	ctx := context.Background()
	a, b := replica(t), replica(t)
	project := fmt.Sprintf("lease%d", time.Now().UnixNano())
	if _, err := a.CreateProject(ctx, project, "", "RU"); err != nil {
		t.Fatal(err)
	}
	if err := a.BeginBulk(ctx, project); err != nil { // RUNNING, with no background work started
		t.Fatal(err)
	}
	release, err := a.lease(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Reresolve(ctx, project); !errors.Is(err, ErrResolving) {
		t.Fatalf("Reresolve while another store holds the lease: %v, want ErrResolving", err)
	}
	if p, _ := b.Project(ctx, project); p.Resolution.State != identity.ResolutionRunning {
		t.Errorf("state = %s, want RUNNING still", p.Resolution.State)
	}
	release()
	if _, err := b.Reresolve(ctx, project); err != nil {
		t.Fatalf("Reresolve after the release: %v", err)
	}
	if p, _ := b.Project(ctx, project); p.Resolution.State != identity.ResolutionIdle {
		t.Errorf("state = %s, want IDLE", p.Resolution.State)
	}
}

// bulkProject makes a project with a rule on phone whose clients x1, x2
// (one phone; x1 also has an e-mail), y (that e-mail) and z are written by
// a bulk import and not resolved yet: the project is RUNNING and no store
// works on it.
func bulkProject(t *testing.T, s *Store) string {
	t.Helper()
	ctx := context.Background()
	project := fmt.Sprintf("lease%d", time.Now().UnixNano())
	// A store of its own adds the rule and is closed, which ends the
	// re-resolution that AddRule starts in the background: it cannot take
	// up the bulk import below.
	setup := replica(t)
	if _, err := setup.CreateProject(ctx, project, "", "RU"); err != nil {
		t.Fatal(err)
	}
	if _, err := setup.AddRule(ctx, project, identity.Rule{Name: "phone", Fields: []string{"phone"}, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := setup.Reresolve(ctx, project); err != nil {
		t.Fatal(err)
	}
	setup.stop()
	setup.worker.Wait()
	if err := s.BeginBulk(ctx, project); err != nil {
		t.Fatal(err)
	}
	client := func(id string, kv ...string) Op {
		in := identity.ClientInput{ID: id, Channel: identity.Channel{Kind: "web", Account: "acme"}}
		for i := 0; i+1 < len(kv); i += 2 {
			in.Attributes = append(in.Attributes, identity.AttributeInput{Field: kv[i], Value: kv[i+1], Source: identity.SourceImport})
		}
		return Op{Kind: OpUpsertClient, Client: in}
	}
	res, err := s.Write(ctx, project, []Op{
		client("x1", "phone", "+79161234567", "email", "x@example.com"),
		client("x2", "phone", "8 916 123 45 67"),
		client("y", "email", "X@example.com"),
		client("z", "phone", "+79160000000"),
	}, WriteOptions{})
	if err != nil || len(res.Refused) > 0 {
		t.Fatalf("bulk write: %+v, %v", res.Refused, err)
	}
	return project
}

// setLease writes a lease as another store left it: held by owner until
// now+ttl (a negative ttl: expired).
func setLease(t *testing.T, s *Store, project, owner string, ttl time.Duration) {
	t.Helper()
	_, err := writeTx(context.Background(), s, func(tx neo4j.ManagedTransaction) (noResult, error) {
		return noResult{}, exec(context.Background(), tx, `MATCH (p:Project {id: $id})
			SET p.resolverLease = $owner, p.resolverLeaseUntil = datetime() + duration({milliseconds: $ms})`,
			map[string]any{"id": project, "owner": owner, "ms": ttl.Milliseconds()})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// leaseHolder is the store that holds the project's lease (its name, not
// the lease's own token), "" for none.
func leaseHolder(t *testing.T, s *Store, project string) string {
	t.Helper()
	owner, err := readTx(context.Background(), s, func(tx neo4j.ManagedTransaction) (string, error) {
		rec, err := single(context.Background(), tx, `MATCH (p:Project {id: $id}) RETURN p.resolverLease AS owner`, map[string]any{"id": project})
		if err != nil || rec == nil {
			return "", orNotFound(err, "project", project)
		}
		return str(rec, "owner"), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	store, _, _ := strings.Cut(owner, "/")
	return store
}

// groupsOf returns each client's multi-contact, "" when it has none, with
// the same letter for the same multi-contact in order of first appearance:
// e.g. "AAB-".
func groupsOf(t *testing.T, s *Store, project string, ids ...string) string {
	t.Helper()
	letter := map[string]byte{}
	out := make([]byte, len(ids))
	for i, id := range ids {
		c, err := s.Client(context.Background(), project, id)
		if err != nil {
			t.Fatal(err)
		}
		if c.MultiContactID == "" {
			out[i] = '-'
			continue
		}
		if _, ok := letter[c.MultiContactID]; !ok {
			letter[c.MultiContactID] = byte('A' + len(letter))
		}
		out[i] = letter[c.MultiContactID]
	}
	return string(out)
}

func state(t *testing.T, s *Store, project string) identity.ResolutionState {
	t.Helper()
	p, err := s.Project(context.Background(), project)
	if err != nil {
		t.Fatal(err)
	}
	return p.Resolution.State
}

// TestALeaseLeftByADeadReplicaIsTakenOverOnceItExpires: a replica that died
// holding the lease keeps the others out only until the lease expires;
// then another store takes it, finishes the work and lets it go.
func TestALeaseLeftByADeadReplicaIsTakenOverOnceItExpires(t *testing.T) {
	ctx := context.Background()
	b := replica(t)
	project := bulkProject(t, b)

	setLease(t, b, project, "store_dead", time.Minute) // alive as far as anyone can tell
	if _, err := b.Reresolve(ctx, project); !errors.Is(err, ErrResolving) {
		t.Fatalf("Reresolve under another owner's live lease: %v, want ErrResolving", err)
	}
	if got := state(t, b, project); got != identity.ResolutionRunning {
		t.Errorf("state under another owner's live lease = %s, want RUNNING", got)
	}
	if got := groupsOf(t, b, project, "x1", "x2", "y", "z"); got != "----" {
		t.Errorf("multi-contacts written under another owner's lease: %s, want none", got)
	}
	if got := leaseHolder(t, b, project); got != "store_dead" {
		t.Errorf("lease holder = %q, want store_dead still", got)
	}

	setLease(t, b, project, "store_dead", -time.Second) // its holder stopped renewing it
	if _, err := b.Reresolve(ctx, project); err != nil {
		t.Fatalf("Reresolve after the lease expired: %v", err)
	}
	if got := state(t, b, project); got != identity.ResolutionIdle {
		t.Errorf("state = %s, want IDLE", got)
	}
	if got := groupsOf(t, b, project, "x1", "x2", "y", "z"); got != "AABC" {
		t.Errorf("multi-contacts of x1 x2 y z = %s, want AABC (x1 and x2 share a phone)", got)
	}
	if got := leaseHolder(t, b, project); got != "" {
		t.Errorf("lease holder after the work = %q, want none", got)
	}
}

// TestAWaiterTakesOverFromAHolderThatLetsGo: an import waits for its
// project's re-resolution while another store holds the lease; that store
// lets go without finishing (its process exits, or it is closed). The
// waiter does the work itself and returns once the project is IDLE, with
// every client resolved, instead of waiting for a holder that is gone.
func TestAWaiterTakesOverFromAHolderThatLetsGo(t *testing.T) {
	ctx := context.Background()
	a, b := replica(t), replica(t)
	project := bulkProject(t, b)
	release, err := a.lease(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- b.WaitResolved(ctx, project) }()
	select {
	case err := <-done:
		t.Fatalf("WaitResolved returned (%v) while another store held the lease and the project was RUNNING", err)
	case <-time.After(2 * roundPause):
	}
	release() // a lets go, the work undone
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the waiter did not take over the re-resolution its holder let go of")
	}
	if got := state(t, b, project); got != identity.ResolutionIdle {
		t.Errorf("state = %s, want IDLE", got)
	}
	if got := groupsOf(t, b, project, "x1", "x2", "y", "z"); got != "AABC" {
		t.Errorf("multi-contacts of x1 x2 y z = %s, want AABC (x1 and x2 share a phone)", got)
	}
}

// TestTheLeaseHolderFinishesWhatOthersChangedMeanwhile: while store a
// re-resolves, store b is told ErrResolving and adds a rule; a's
// re-resolution does not end until the new rule is applied too, so the
// project reaches IDLE with it, without waiting for b to try again.
func TestTheLeaseHolderFinishesWhatOthersChangedMeanwhile(t *testing.T) {
	ctx := context.Background()
	var hook atomic.Pointer[func()]
	a := replica(t, func(s *Store) {
		s.now = func() time.Time {
			if fn := hook.Swap(nil); fn != nil {
				(*fn)()
			}
			return time.Now()
		}
	})
	b := replica(t)
	project := bulkProject(t, a)

	var mu sync.Mutex
	var fired bool
	var during error
	var meanwhile func()
	meanwhile = func() {
		// The clock is read in each write of the re-resolution, and in
		// a's work on other projects, which is not the moment: then it
		// waits for the next reading.
		p, err := a.Project(ctx, project)
		if err != nil || p.Resolution.State != identity.ResolutionRunning || leaseHolder(t, a, project) != a.owner {
			hook.Store(&meanwhile)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		fired = true
		if _, err := b.Reresolve(ctx, project); !errors.Is(err, ErrResolving) {
			during = fmt.Errorf("b's Reresolve while a holds the lease: %v, want ErrResolving", err)
			return
		}
		if _, err := b.AddRule(ctx, project, identity.Rule{Name: "email", Fields: []string{"email"}, Enabled: true}); err != nil {
			during = fmt.Errorf("b adds a rule: %v", err)
		}
	}
	hook.Store(&meanwhile)
	if _, err := a.Reresolve(ctx, project); err != nil {
		t.Fatalf("a's Reresolve: %v", err)
	}
	hook.Store(nil)
	mu.Lock()
	defer mu.Unlock()
	if !fired {
		t.Fatal("a's re-resolution wrote no ids: b never ran")
	}
	if during != nil {
		t.Fatal(during)
	}
	// b's own background re-resolution was refused and waits a whole
	// lease before it looks again: anything done now is a's.
	if got := state(t, a, project); got != identity.ResolutionIdle {
		t.Errorf("state once a finished = %s, want IDLE", got)
	}
	if got := groupsOf(t, a, project, "x1", "x2", "y", "z"); got != "AAAB" {
		t.Errorf("multi-contacts of x1 x2 y z = %s, want AAAB (y joins x1 through the e-mail rule b added)", got)
	}
	if got := leaseHolder(t, a, project); got != "" {
		t.Errorf("lease holder after the work = %q, want none", got)
	}
}

// TestAReplicaSeesAnotherReplicasRuleAtOnce: a store keeps the project's
// configuration it read last, by version. A rule that another store (a
// replica) adds is used by this store's very next write, and a field that
// the other defines is known to it at once.
func TestAReplicaSeesAnotherReplicasRuleAtOnce(t *testing.T) {
	ctx := context.Background()
	a, b := replica(t), replica(t)
	project := fmt.Sprintf("cfg%d", time.Now().UnixNano())
	if _, err := a.CreateProject(ctx, project, "", "RU"); err != nil {
		t.Fatal(err)
	}
	web := identity.Channel{Kind: "web", Account: "acme"}
	upsert := func(s *Store, id string, kv ...string) {
		t.Helper()
		in := identity.ClientInput{ID: id, Channel: web}
		for i := 0; i+1 < len(kv); i += 2 {
			in.Attributes = append(in.Attributes, identity.AttributeInput{Field: kv[i], Value: kv[i+1], Source: identity.SourceOperator})
		}
		if _, err := s.UpsertClient(ctx, project, in); err != nil {
			t.Fatalf("upsert %s: %v", id, err)
		}
	}
	upsert(a, "x", "email", "x@example.com") // a reads and keeps the configuration: no rule
	if _, err := b.AddRule(ctx, project, identity.Rule{Name: "email", Fields: []string{"email"}, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitResolved(ctx, project); err != nil {
		t.Fatal(err)
	}
	upsert(a, "y", "email", "X@example.com")
	if got := groupsOf(t, a, project, "x", "y"); got != "AA" {
		t.Errorf("after another store added the rule {email}, x and y = %s, want AA (one multi-contact)", got)
	}
	if _, err := b.DefineField(ctx, project, "loyalty", "Loyalty card", identity.TypeID); err != nil {
		t.Fatal(err)
	}
	upsert(a, "z", "loyalty", "L-1") // refused as an unknown field if a kept the old configuration
}

// A store whose lease lapsed and was taken by another replica does not
// declare the project IDLE at the end of its round: the other works on it.
func TestAStoreThatLostItsLeaseDoesNotFinish(t *testing.T) {
	ctx := context.Background()
	a, b := replica(t), replica(t)
	project := fmt.Sprintf("lost%d", time.Now().UnixNano())
	if _, err := a.CreateProject(ctx, project, "", "RU"); err != nil {
		t.Fatal(err)
	}
	if err := a.BeginBulk(ctx, project); err != nil {
		t.Fatal(err)
	}
	release, err := a.lease(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	g, err := a.generation(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	// a could not renew for a minute; b took the expired lease.
	if _, err := writeTx(ctx, a, func(tx neo4j.ManagedTransaction) (noResult, error) {
		return noResult{}, exec(ctx, tx, `MATCH (p:Project {id: $id}) SET p.resolverLease = $other`,
			map[string]any{"id": project, "other": b.owner})
	}); err != nil {
		t.Fatal(err)
	}
	if done, err := a.finish(ctx, project, g.gen); done || !errors.Is(err, ErrResolving) {
		t.Errorf("finish without the lease: done %v, %v; want ErrResolving", done, err)
	}
	if p, _ := a.Project(ctx, project); p.Resolution.State != identity.ResolutionRunning {
		t.Errorf("state = %s, want RUNNING still", p.Resolution.State)
	}
}

// A store whose lease was taken while its round ran writes nothing of that
// round: it resolved from a snapshot that is not the new holder's, and its
// writes could undo what the new holder resolved.
func TestAStoreThatLostItsLeaseWritesNothingOfItsRound(t *testing.T) {
	ctx := context.Background()
	a, b := replica(t, WithoutResuming()), replica(t, WithoutResuming())
	project := fmt.Sprintf("lostround%d", time.Now().UnixNano())
	if _, err := a.CreateProject(ctx, project, "", "RU"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.AddRule(ctx, project, identity.Rule{Name: "email", Fields: []string{"email"}, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	if err := a.WaitResolved(ctx, project); err != nil {
		t.Fatal(err)
	}
	a.WaitBackground(project) // the rule's own re-resolution is done too
	if err := a.BeginBulk(ctx, project); err != nil {
		t.Fatal(err)
	}
	var ops []Op
	for i, id := range []string{"x", "y"} {
		ops = append(ops, Op{Line: i + 1, Kind: OpUpsertClient, Client: identity.ClientInput{ID: id, Channel: identity.Channel{Kind: "web", Account: "acme"},
			Attributes: []identity.AttributeInput{{Field: "email", Value: "ann@example.com", Source: identity.SourceImport}}}})
	}
	if _, err := a.Write(ctx, project, ops, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	release, err := a.lease(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	// a could not renew for a minute; b took the expired lease.
	if _, err := writeTx(ctx, a, func(tx neo4j.ManagedTransaction) (noResult, error) {
		return noResult{}, exec(ctx, tx, `MATCH (p:Project {id: $id}) SET p.resolverLease = $other`,
			map[string]any{"id": project, "other": b.owner})
	}); err != nil {
		t.Fatal(err)
	}
	if err := a.resolveAll(ctx, project, identity.Cause{Kind: identity.CauseClient, Action: "reresolve"}, &ResolveStats{}); !errors.Is(err, errLeaseLost) {
		t.Errorf("a round without the lease: %v, want it stopped for the lease", err)
	}
	resolved, err := readTx(ctx, a, func(tx neo4j.ManagedTransaction) (int64, error) {
		rec, err := single(ctx, tx, `MATCH (c:Client {project: $id}) WHERE c.mc IS NOT NULL RETURN count(c) AS n`, map[string]any{"id": project})
		if err != nil {
			return 0, err
		}
		return i64(rec, "n"), nil
	})
	if err != nil || resolved != 0 {
		t.Errorf("%d clients given a multi-contact by the round that lost its lease (%v), want none", resolved, err)
	}
}
