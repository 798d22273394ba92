package broker_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/multicontact/multicontact/broker"
	"github.com/multicontact/multicontact/graph"
	"github.com/multicontact/multicontact/graph/graphtest"
	"github.com/multicontact/multicontact/identity"
)

// openStore opens a store of its own on the test Neo4j, as another
// process (a replica) would.
func openStore(t *testing.T, opts ...graph.Option) *graph.Store {
	t.Helper()
	graphtest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := graph.Open(ctx, graphtest.Config(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

func newProject(t *testing.T, s *graph.Store) string {
	t.Helper()
	id := fmt.Sprintf("broker%d", time.Now().UnixNano())
	if _, err := s.CreateProject(context.Background(), id, t.Name(), "RU"); err != nil {
		t.Fatal(err)
	}
	return id
}

// upsert creates a client of its own: one CREATED event.
func upsert(t *testing.T, s *graph.Store, project, client string) {
	t.Helper()
	in := identity.ClientInput{ID: client, Channel: identity.Channel{Kind: "web", Account: "acme"}, ChannelUserID: "u-" + client}
	if _, err := s.UpsertClient(context.Background(), project, in); err != nil {
		t.Errorf("upsert %s: %v", client, err)
	}
}

// gate is the notifier of a committer that stalls between its first
// commit to project and telling anyone about it, until the test opens the
// gate. Other projects' commits (a store resumes any project left RUNNING)
// pass.
type gate struct {
	to      graph.Notifier
	project atomic.Value // string
	once    sync.Once
	entered chan struct{}
	open    chan struct{}
}

func (g *gate) Nudge(project string) {
	if p, _ := g.project.Load().(string); p == project {
		g.once.Do(func() {
			close(g.entered)
			<-g.open
		})
	}
	g.to.Nudge(project)
}

// TestALaterCommitDoesNotOvertakeAnEarlierOne: store one commits a change
// and stalls before it says so; store two commits the next change and says
// so at once. The subscriber must receive the first change before the
// second, as their cursors say, without waiting for the stalled one.
func TestALaterCommitDoesNotOvertakeAnEarlierOne(t *testing.T) {
	b := broker.New(time.Hour) // only nudges deliver: no poll rescues the order
	g := &gate{to: b, entered: make(chan struct{}), open: make(chan struct{})}
	stalled := openStore(t, graph.WithNotifier(g))
	prompt := openStore(t, graph.WithNotifier(b))
	b.Start(prompt)
	t.Cleanup(b.Close) // before the stores close, as the service does
	project := newProject(t, prompt)
	g.project.Store(project)
	sub := subscribe(t, b, project, 64)

	done := make(chan struct{})
	go func() { defer close(done); upsert(t, stalled, project, "first") }()
	select {
	case <-g.entered: // committed, not yet announced
	case <-time.After(30 * time.Second):
		t.Fatal("the first commit did not finish")
	}
	upsert(t, prompt, project, "second")

	first := next(t, sub, 5*time.Second)
	if first.ClientIDs[0] != "first" {
		t.Fatalf("received the change of %s (cursor %d) first: a later commit overtook an earlier one", first.ClientIDs, first.Seq)
	}
	if second := next(t, sub, 5*time.Second); second.ClientIDs[0] != "second" || second.Seq != first.Seq+1 {
		t.Errorf("received %s (cursor %d) after first (cursor %d), want second with the next cursor",
			second.ClientIDs, second.Seq, first.Seq)
	}
	close(g.open)
	<-done
	quiet(t, sub, 100*time.Millisecond) // the late nudge delivers nothing twice
}

// TestSubscribersSeeAnotherStoresCommitsInOrder: while this process and
// another one (a second store that never nudges this broker) write to the
// same project concurrently, a subscriber receives every event once, in
// cursor order, and the other process's last event within the poll
// interval of its commit.
func TestSubscribersSeeAnotherStoresCommitsInOrder(t *testing.T) {
	const poll = 200 * time.Millisecond
	b := broker.New(poll)
	local := openStore(t, graph.WithNotifier(b))
	remote := openStore(t)
	b.Start(local)
	t.Cleanup(b.Close) // before the stores close, as the service does
	project := newProject(t, local)
	head, err := local.LastSeq(context.Background(), project)
	if err != nil {
		t.Fatal(err)
	}
	sub := subscribe(t, b, project, 64)

	got := make(chan []identity.Event, 1)
	const writers, each = 4, 8
	go func() {
		var events []identity.Event
		for len(events) < writers*each {
			select {
			case e, ok := <-sub.C:
				if !ok {
					break
				}
				events = append(events, e)
				continue
			case <-time.After(10 * time.Second):
			}
			break
		}
		got <- events
	}()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := local
			if w%2 == 1 {
				s = remote
			}
			for i := range each {
				upsert(t, s, project, fmt.Sprintf("w%d-%d", w, i))
			}
		}()
	}
	wg.Wait()
	// The last commits may be the remote's: nothing nudges for them.
	upsert(t, remote, project, "last")
	committed := time.Now()

	events := <-got
	if len(events) != writers*each {
		t.Fatalf("received %d events, want %d", len(events), writers*each)
	}
	last := next(t, sub, poll+time.Second)
	if lag := time.Since(committed); lag > poll+time.Second {
		t.Errorf("the other store's last event arrived %s after its commit (poll %s)", lag, poll)
	}
	events = append(events, last)
	for i, e := range events {
		if want := head + int64(i) + 1; e.Seq != want {
			t.Fatalf("event %d has cursor %d, want %d (missed, doubled or out of order)", i, e.Seq, want)
		}
	}
	if last.ClientIDs[0] != "last" {
		t.Errorf("last event is of %v, want the client last", last.ClientIDs)
	}
	quiet(t, sub, poll+100*time.Millisecond)
}
