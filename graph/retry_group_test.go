package graph_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/multicontact/multicontact/graph"
	"github.com/multicontact/multicontact/graph/graphtest"
	"github.com/multicontact/multicontact/identity"
)

// A group of writes whose transaction fails just before it commits (as a
// deadlock does) is run again from scratch: every write applies exactly
// once, answers once, and the log has each event once, without gaps.
func TestAGroupRunAgainAppliesEachWriteOnce(t *testing.T) {
	f := newFixture(t, []string{"phone"})
	for i := range 8 {
		f.client(fmt.Sprint("c", i), "web")
	}
	before := len(published.of(f.project))
	failed, restore := graph.FailGroupsOnce(2)
	defer restore()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Pairs share a phone: c0-c1, c2-c3, ...
			_, errs[i] = f.s.SetAttribute(context.Background(), f.project, fmt.Sprint("c", i),
				identity.AttributeInput{Field: "phone", Value: fmt.Sprintf("+7916000%04d", i/2), Source: identity.SourceBot})
		}()
	}
	wg.Wait()
	restore()
	if failed() != 2 {
		t.Fatalf("%d transactions failed before commit, want 2: the test did not exercise a retry", failed())
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("write %d: %v", i, err)
		}
	}
	f.wantGroups([][]string{{"c0", "c1"}, {"c2", "c3"}, {"c4", "c5"}, {"c6", "c7"}}, "c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7")
	events := published.of(f.project)[before:]
	merged, updated := 0, 0
	for i, e := range events {
		if e.Seq != int64(before+i+1) {
			t.Fatalf("event %d has number %d: a gap or a repeat", before+i+1, e.Seq)
		}
		switch e.Type {
		case identity.EventMerged:
			merged++
		case identity.EventUpdated:
			updated++
		}
	}
	// Each pair merges once; the first of a pair may be reported UPDATED
	// when it is written in a group before its partner.
	if merged != 4 || updated > 4 {
		t.Errorf("%d MERGED and %d UPDATED events, want 4 MERGED and at most 4 UPDATED", merged, updated)
	}
}

// Concurrent single writes to one project share transactions: 8 writers
// of 10 writes each need fewer than 80, and no transaction holds more
// writes than there are writers waiting. The observer sees every write once.
func TestConcurrentWritesShareTransactions(t *testing.T) {
	f := newFixture(t, []string{"email"})
	var mu sync.Mutex
	groups, writes, largest := 0, 0, 0
	s := graphtest.Store(t, graph.WithGroupObserver(func(n int, _ time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		groups, writes, largest = groups+1, writes+n, max(largest, n)
	}))
	for i := range 8 {
		f.client(fmt.Sprint("c", i), "web")
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range 10 {
				if _, err := s.SetAttribute(context.Background(), f.project, fmt.Sprint("c", w), identity.AttributeInput{
					Field: "email", Value: fmt.Sprintf("w%d-%d@example.com", w, n), Source: identity.SourceBot}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if writes != 80 || groups >= 80 || largest > 8 {
		t.Errorf("80 writes from 8 writers went in %d transactions holding %d writes, the largest %d: want fewer than 80 transactions, 80 writes, at most 8 a transaction",
			groups, writes, largest)
	}
	for w := range 8 {
		for n := range 10 {
			if held, _ := f.attribute(fmt.Sprint("c", w), "email", fmt.Sprintf("w%d-%d@example.com", w, n)); !held {
				t.Errorf("c%d lacks its e-mail %d", w, n)
			}
		}
	}
}

// A write decided under the project's rules commits after a rule was added
// and the project re-resolved to IDLE without seeing it: the write runs
// again under the new rule, so the client it created links through it.
func TestAWriteDecidedUnderOldRulesRunsAgainUnderTheNewOnes(t *testing.T) {
	f := newFixture(t, []string{"phone"})
	const email = "ann@example.com"
	f.client("b", "web", "email", email)
	held, release := graph.HoldNextGroup()
	defer release()
	done := make(chan error, 1)
	go func() {
		_, err := f.s.UpsertClient(context.Background(), f.project, identity.ClientInput{ID: "a",
			Channel:    identity.Channel{Kind: "telegram", Account: "acme"},
			Attributes: []identity.AttributeInput{{Field: "email", Value: email, Source: identity.SourceOperator}}})
		done <- err
	}()
	<-held // decided under {phone}, its locks taken, not committed
	f.addRule("e-mail", "email")
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	f.settle()
	f.wantGroups([][]string{{"a", "b"}}, "a", "b")
}

// A rule changed again while the keys of its previous change are built is
// built again: the project ends IDLE with the keys of the rule as it is.
func TestARuleChangedWhileItsKeysAreBuiltIsBuiltAgain(t *testing.T) {
	f := newFixture(t)
	rule := f.addRule("contact", "phone")
	f.client("a", "web", "email", "ann@example.com")
	f.client("b", "telegram", "email", "ann@example.com")
	f.client("c", "web", "phone", "+79161234567")
	f.client("d", "telegram", "phone", "+79161234567")
	f.wantGroups([][]string{{"a"}, {"b"}, {"c", "d"}}, "a", "b", "c", "d")
	back := rule
	restore := graph.OnKeysBuilt(func(string) { // the e-mail keys are built: back to the phone
		if _, err := f.s.UpdateRule(context.Background(), f.project, back); err != nil {
			t.Error(err)
		}
	})
	defer restore()
	rule.Fields = []string{"email"}
	if _, err := f.s.UpdateRule(f.ctx, f.project, rule); err != nil {
		t.Fatal(err)
	}
	f.settle()
	f.wantGroups([][]string{{"a"}, {"b"}, {"c", "d"}}, "a", "b", "c", "d")
}

// A value unblocked while a write gives one of its holders another value:
// whichever commits first, the keys the two make together are made. Rule
// {email, phone}; the phone P is blocked; a holds P, b holds P and the
// e-mail E. A write gives a E and waits before its commit (it read P
// blocked); P is unblocked meanwhile. a and b end in one multi-contact.
func TestAValueUnblockedWhileAWriteGivesItsHolderAnotherLinks(t *testing.T) {
	f := newFixture(t, []string{"email", "phone"})
	const email, phone = "ann@example.com", "+79161234567"
	if _, err := f.s.BlockValue(f.ctx, f.project, "phone", phone); err != nil {
		t.Fatal(err)
	}
	f.client("a", "web", "phone", phone)
	f.client("b", "telegram", "phone", phone, "email", email)
	f.wantGroups([][]string{{"a"}, {"b"}}, "a", "b")
	held, release := graph.HoldNextGroup()
	defer release()
	wrote := make(chan error, 1)
	go func() {
		_, err := f.s.SetAttribute(context.Background(), f.project, "a",
			identity.AttributeInput{Field: "email", Value: email, Source: identity.SourceOperator})
		wrote <- err
	}()
	<-held
	unblocked := make(chan error, 1)
	go func() {
		_, err := f.s.UnblockValue(context.Background(), f.project, "phone", phone)
		unblocked <- err
	}()
	time.Sleep(200 * time.Millisecond) // the unblocking reads a's values, or waits for a's lock
	release()
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if err := <-unblocked; err != nil {
		t.Fatal(err)
	}
	f.wantGroups([][]string{{"a", "b"}}, "a", "b")
}

// An exclusion and an inclusion of one client that overlap: the second
// reads the flag under the client's lock, so it sees the first's and
// undoes it whole. The client ends included, with its keys, linked again.
func TestAnInclusionOverlappingAnExclusionUndoesItWhole(t *testing.T) {
	f := newFixture(t, []string{"phone"})
	f.client("x", "web", "phone", "+79161234567")
	f.client("y", "telegram", "phone", "+79161234567")
	held, release := graph.HoldNextChange()
	defer release()
	excluded := make(chan error, 1)
	go func() { excluded <- f.s.ExcludeClient(context.Background(), f.project, "x") }()
	<-held // x excluded, its keys gone, not committed
	included := make(chan error, 1)
	go func() { included <- f.s.IncludeClient(context.Background(), f.project, "x") }()
	time.Sleep(200 * time.Millisecond) // the inclusion reads the flag, or waits for x's lock
	release()
	for _, c := range []chan error{excluded, included} {
		if err := <-c; err != nil {
			t.Fatal(err)
		}
	}
	f.wantGroups([][]string{{"x", "y"}}, "x", "y")
}

// A client removed while a write moves it to a new multi-contact (a
// split): the removal reads its multi-contact under its lock, after the
// write, and resolves that one; every size stays its member count.
func TestAClientRemovedWhileAWriteMovesItLeavesNoStaleSize(t *testing.T) {
	f := newFixture(t, []string{"phone"}, []string{"email"})
	f.client("a", "web", "email", "abe@example.com", "phone", "+79161230001")
	f.client("b", "web", "email", "abe@example.com")
	f.client("e", "web", "email", "abe@example.com")
	f.client("c", "telegram", "phone", "+79161230001", "email", "cd@example.com")
	f.client("d", "vk", "email", "cd@example.com")
	f.wantGroups([][]string{{"a", "b", "e", "c", "d"}}, "a", "b", "e", "c", "d")
	held, release := graph.HoldNextGroup()
	defer release()
	split := make(chan error, 1)
	go func() { // c and d go to a multi-contact of their own
		err := f.s.RemoveAttribute(context.Background(), f.project, "c", "phone", "+79161230001")
		split <- err
	}()
	<-held
	removed := make(chan error, 1)
	go func() { removed <- f.s.RemoveClient(context.Background(), f.project, "c") }()
	time.Sleep(200 * time.Millisecond) // the removal reads c, or waits for its lock
	release()
	for _, ch := range []chan error{split, removed} {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	f.wantGroups([][]string{{"a", "b", "e"}, {"d"}}, "a", "b", "e", "d")
	f.checkSizes()
}

// A group whose commit's outcome is unknown (its answer lost on the way)
// is answered with the failure, never run again write by write: it may
// have committed, and a write of it run again alone would apply twice, or
// undo what a later write of the group did.
func TestAGroupWhoseCommitIsLostIsNotRunAgainWriteByWrite(t *testing.T) {
	f := newFixture(t, []string{"email"})
	f.client("c1", "web")
	ctx := context.Background()
	email := func(v string) identity.AttributeInput {
		return identity.AttributeInput{Field: "email", Value: v, Source: identity.SourceBot}
	}
	// A first write holds the project's committer while the next group
	// gathers: the setting of x, then its removal.
	held, release := graph.HoldNextGroup()
	defer release()
	first := make(chan error, 1)
	go func() {
		_, err := f.s.SetAttribute(ctx, f.project, "c1", email("first@example.com"))
		first <- err
	}()
	<-held
	removeCtx, giveUp := context.WithCancel(ctx)
	defer giveUp()
	// The remover stops waiting as the commit's answer is lost.
	defer graph.LoseNextGroupCommit(giveUp)()
	set, remove := make(chan error, 1), make(chan error, 1)
	go func() {
		_, err := f.s.SetAttribute(ctx, f.project, "c1", email("x@example.com"))
		set <- err
	}()
	time.Sleep(100 * time.Millisecond) // the setting queues first
	go func() { remove <- f.s.RemoveAttribute(removeCtx, f.project, "c1", "email", "x@example.com") }()
	time.Sleep(100 * time.Millisecond)
	release()
	if err := <-first; err != nil {
		t.Fatalf("first write: %v", err)
	}
	if err := <-set; err == nil {
		t.Error("the setting was answered as applied after its commit's answer was lost: it ran again alone")
	}
	<-remove
	if held, _ := f.attribute("c1", "email", "x@example.com"); held {
		t.Error("c1 holds x@example.com: the group removed it, and its setting ran again alone after the commit")
	}
}

// A group one of whose writes Neo4j refuses for its data is run again
// write by write: that write fails alone, every other one of the group
// applies, once.
func TestAGroupWithAWriteNeo4jRefusesIsSplit(t *testing.T) {
	f := newFixture(t, []string{"email"})
	for _, id := range []string{"c0", "c1", "c2", "c3", "bad"} {
		f.client(id, "web")
	}
	ctx := context.Background()
	var mu sync.Mutex
	largest := 0 // writes in the largest group run
	s := graphtest.Store(t, graph.WithGroupObserver(func(writes int, _ time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		largest = max(largest, writes)
	}))
	set := func(client, value string) error {
		_, err := s.SetAttribute(ctx, f.project, client, identity.AttributeInput{Field: "email", Value: value, Source: identity.SourceBot})
		return err
	}
	defer graph.RefuseOpsOf("bad")()
	// A first write holds the committer while the next group gathers.
	held, release := graph.HoldNextGroup()
	defer release()
	first := make(chan error, 1)
	go func() { first <- set("c0", "first@example.com") }()
	<-held
	clients := []string{"c1", "bad", "c2", "c3"}
	errs := make([]chan error, len(clients))
	for i, c := range clients {
		errs[i] = make(chan error, 1)
		go func() { errs[i] <- set(c, c+"@example.com") }()
	}
	time.Sleep(200 * time.Millisecond) // all four queue behind the held group
	release()
	if err := <-first; err != nil {
		t.Fatalf("first write: %v", err)
	}
	for i, c := range clients {
		err := <-errs[i]
		if c == "bad" {
			if err == nil {
				t.Error("the refused write was answered as applied")
			}
			continue
		}
		if err != nil {
			t.Errorf("%s's write failed with the refused one of its group: %v", c, err)
		}
		if held, _ := f.attribute(c, "email", c+"@example.com"); !held {
			t.Errorf("%s lacks its e-mail", c)
		}
	}
	if held, _ := f.attribute("bad", "email", "bad@example.com"); held {
		t.Error("the refused write's e-mail is in the graph")
	}
	mu.Lock()
	defer mu.Unlock()
	if largest < len(clients) {
		t.Errorf("the largest group ran %d writes, want the %d queued ones together: the split was not tested", largest, len(clients))
	}
}
