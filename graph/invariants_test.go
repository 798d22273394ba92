package graph_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/multicontact/multicontact/graph"
	"github.com/multicontact/multicontact/identity"
)

// Each test below races 8 writers on one thing whose rule must hold however
// they interleave, and checks the rule afterwards: every write the store
// acknowledged is there, and every refusal is the rule's typed error.

// race8 runs write(w) in 8 goroutines at once and returns their errors by writer.
func race8(write func(w int) error) []error {
	const writers = 8
	errs := make([]error, writers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[w] = write(w)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

func TestRacingWritersNeverPassTheValueCap(t *testing.T) {
	f := newFixture(t, []string{"email"})
	f.client("one", "web")
	accepted := make([][]string, 8)
	errs := race8(func(w int) error {
		for i := range 5 {
			email := fmt.Sprintf("w%d-%d@example.com", w, i)
			_, err := f.s.SetAttribute(context.Background(), f.project, "one",
				identity.AttributeInput{Field: "email", Value: email, Source: identity.SourceBot})
			switch identity.ErrorCode(err) {
			case "":
				accepted[w] = append(accepted[w], email)
			case identity.CodeTooManyValues:
			default:
				return err
			}
		}
		return nil
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	c, err := f.s.Client(f.ctx, f.project, "one")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range accepted {
		n += len(a)
	}
	if len(c.Attributes) != identity.DefaultValueCap || n != len(c.Attributes) {
		t.Errorf("the client holds %d e-mails, %d were accepted; want both %d (the cap)", len(c.Attributes), n, identity.DefaultValueCap)
	}
}

func TestRacingWritersGiveAConversationToOneClient(t *testing.T) {
	f := newFixture(t)
	for w := range 8 {
		f.client(fmt.Sprint("c", w), "web")
	}
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	errs := race8(func(w int) error {
		_, err := f.s.RecordConversation(context.Background(), f.project, fmt.Sprint("c", w), graph.Conversation{ID: "conv-1", StartedAt: at})
		return err
	})
	winner := ""
	for w, err := range errs {
		switch identity.ErrorCode(err) {
		case "":
			if winner != "" {
				t.Errorf("conversation recorded for c%d and for %s", w, winner)
			}
			winner = fmt.Sprint("c", w)
		case identity.CodeConflict:
		default:
			t.Fatalf("writer %d: %v", w, err)
		}
	}
	var clients []string
	for w := range 8 {
		cs, err := f.s.Conversations(f.ctx, f.project, []string{fmt.Sprint("c", w)}, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			clients = append(clients, c.ClientID)
		}
	}
	if winner == "" || fmt.Sprint(clients) != fmt.Sprint([]string{winner}) {
		t.Errorf("conversation-1 belongs to %v; want only the one acknowledged writer, %q", clients, winner)
	}
}

func TestRacingWritersGiveAChannelUserToOneClient(t *testing.T) {
	f := newFixture(t)
	for w := range 4 { // half of them exist already, without a channel user
		if _, err := f.s.UpsertClient(f.ctx, f.project, identity.ClientInput{ID: fmt.Sprint("tg-", w),
			Channel: identity.Channel{Kind: "telegram", Account: "bot"}}); err != nil {
			t.Fatal(err)
		}
	}
	errs := race8(func(w int) error {
		_, err := f.s.UpsertClient(context.Background(), f.project, identity.ClientInput{ID: fmt.Sprint("tg-", w),
			Channel: identity.Channel{Kind: "telegram", Account: "bot"}, ChannelUserID: "5123456789"})
		return err
	})
	accepted := 0
	for w, err := range errs {
		switch identity.ErrorCode(err) {
		case "":
			accepted++
		case identity.CodeConflict:
			if c, err := f.s.Client(f.ctx, f.project, fmt.Sprint("tg-", w)); w >= 4 && identity.ErrorCode(err) != identity.CodeNotFound ||
				w < 4 && (err != nil || c.ChannelUserID != "") {
				t.Errorf("the refused upsert of tg-%d was written: %+v %v", w, c, err)
			}
		default:
			t.Fatalf("writer %d: %v", w, err)
		}
	}
	holders := 0
	for w := range 8 {
		if c, err := f.s.Client(f.ctx, f.project, fmt.Sprint("tg-", w)); err == nil && c.ChannelUserID == "5123456789" {
			holders++
		}
	}
	if accepted != 1 || holders != 1 {
		t.Errorf("%d upserts accepted, %d clients hold the channel user; want 1 and 1", accepted, holders)
	}
}

// When writers remove every member of one multi-contact at once, it
// disappears with exactly one DELETED event.
func TestRacingRemovalsDeleteAMultiContactOnce(t *testing.T) {
	f := newFixture(t, []string{"phone"})
	for w := range 8 {
		f.client(fmt.Sprint("c", w), "web", "phone", "+79161234567")
	}
	mc := f.mc("c0")
	errs := race8(func(w int) error { return f.s.RemoveClient(context.Background(), f.project, fmt.Sprint("c", w)) })
	for w, err := range errs {
		if err != nil {
			t.Fatalf("remove c%d: %v", w, err)
		}
	}
	deleted := 0
	for _, e := range published.of(f.project) {
		if e.Type == identity.EventDeleted {
			deleted++
			if e.MultiContactID != mc {
				t.Errorf("DELETED %s, want %s", e.MultiContactID, mc)
			}
		}
	}
	if deleted != 1 {
		t.Errorf("%d DELETED events, want 1", deleted)
	}
	if got := resolveID(f, mc); got != "" {
		t.Errorf("the removed multi-contact still resolves to %s", got)
	}
}

// Transactions that do not share a group commit (imports, or replicas)
// and give one channel user id to different clients: the constraint on
// VIA lets one of them have it, and the others are refused, not written.
func TestRacingTransactionsGiveAChannelUserToOneClient(t *testing.T) {
	f := newFixture(t)
	results := make([]graph.WriteResult, 8)
	errs := race8(func(w int) error {
		var err error
		results[w], err = f.s.Write(context.Background(), f.project, []graph.Op{{Kind: graph.OpUpsertClient, Line: 1,
			Client: identity.ClientInput{ID: fmt.Sprint("tg-", w), Channel: identity.Channel{Kind: "telegram", Account: "bot"},
				ChannelUserID: "5123456789"}}}, graph.WriteOptions{Resolve: true})
		return err
	})
	applied := 0
	for w, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", w, err)
		}
		res := results[w]
		switch {
		case res.Applied == 1:
			applied++
		case len(res.Refused) != 1 || identity.ErrorCode(res.Refused[0].Err) != identity.CodeConflict:
			t.Errorf("writer %d: %+v, want applied or refused as a conflict", w, res)
		}
		_, err := f.s.Client(f.ctx, f.project, fmt.Sprint("tg-", w))
		if exists := err == nil; exists != (res.Applied == 1) {
			t.Errorf("tg-%d exists = %v, applied = %d", w, exists, res.Applied)
		}
	}
	if applied != 1 {
		t.Errorf("%d writes applied, want 1", applied)
	}
}

// Transactions that each believe a client new (replicas, or an import
// beside the API) create it once: the ones that lose the race run again
// against the client the winner created, and every write applies, with
// its value, exactly once.
func TestRacingTransactionsCreateANewClientOnce(t *testing.T) {
	f := newFixture(t, []string{"email"})
	results := make([]graph.WriteResult, 8)
	errs := race8(func(w int) error {
		var err error
		results[w], err = f.s.Write(context.Background(), f.project, []graph.Op{{Kind: graph.OpUpsertClient, Line: 1,
			Client: identity.ClientInput{ID: "web-1", Channel: identity.Channel{Kind: "web", Account: "site"},
				Attributes: []identity.AttributeInput{{Field: "email", Value: fmt.Sprintf("w%d@example.com", w), Source: identity.SourceBot}}}}},
			graph.WriteOptions{Resolve: true})
		return err
	})
	created := 0
	for w, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", w, err)
		}
		if res := results[w]; res.Applied != 1 || len(res.Refused) != 0 {
			t.Errorf("writer %d: %+v, want applied", w, res)
		}
		created += results[w].NewClients
	}
	if created != 1 {
		t.Errorf("%d writes say they created the client, want 1", created)
	}
	c, err := f.s.Client(f.ctx, f.project, "web-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Attributes) != 8 {
		t.Errorf("the client holds %d e-mails, want the 8 written: %+v", len(c.Attributes), c.Attributes)
	}
	f.wantGroups([][]string{{"web-1"}}, "web-1")
}

// New clients of one channel are written by transactions that do not wait
// for each other (replicas, or an import beside the API): none of them
// locks the channel, which all its clients share.
func TestNewClientsOfOneChannelDoNotWaitForEachOther(t *testing.T) {
	f := newFixture(t)
	telegram := identity.Channel{Kind: "telegram", Account: "bot"}
	var ops []graph.Op
	for i := range 60 { // a channel with many clients, as channels are
		ops = append(ops, graph.Op{Kind: graph.OpUpsertClient, Line: i + 1,
			Client: identity.ClientInput{ID: fmt.Sprint("tg-", i), Channel: telegram, ChannelUserID: fmt.Sprint(i)}})
	}
	if _, err := f.s.Write(f.ctx, f.project, ops, graph.WriteOptions{Resolve: true}); err != nil {
		t.Fatal(err)
	}
	held, release := graph.HoldNextGroup()
	defer release()
	first := make(chan error, 1)
	go func() {
		_, err := f.s.UpsertClient(context.Background(), f.project, identity.ClientInput{ID: "tg-a", Channel: telegram, ChannelUserID: "a"})
		first <- err
	}()
	<-held
	second := make(chan error, 1)
	go func() {
		_, err := f.s.Write(context.Background(), f.project, []graph.Op{{Kind: graph.OpUpsertClient, Line: 1,
			Client: identity.ClientInput{ID: "tg-b", Channel: telegram, ChannelUserID: "b"}}}, graph.WriteOptions{Resolve: true})
		second <- err
	}()
	select {
	case err := <-second:
		second <- err
	case <-time.After(10 * time.Second):
		t.Error("the second client's transaction waited for the first one's commit")
	}
	release()
	if err := errors.Join(<-first, <-second); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"tg-a", "tg-b"} {
		if _, err := f.s.Client(f.ctx, f.project, id); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
}

// In one batch, a client given a new channel user id frees its old one for
// the ops after it: a client that takes it next is accepted, as it would
// be in a batch of its own.
func TestAChannelUserIDFreedInABatchCanBeTakenLaterInIt(t *testing.T) {
	f := newFixture(t)
	upsert := func(line int, id, user string) graph.Op {
		return graph.Op{Kind: graph.OpUpsertClient, Line: line, Client: identity.ClientInput{ID: id,
			Channel: identity.Channel{Kind: "telegram", Account: "bot"}, ChannelUserID: user}}
	}
	if _, err := f.s.Write(f.ctx, f.project, []graph.Op{upsert(1, "tg-x", "1")}, graph.WriteOptions{Resolve: true}); err != nil {
		t.Fatal(err)
	}
	res, err := f.s.Write(f.ctx, f.project, []graph.Op{upsert(1, "tg-x", "2"), upsert(2, "tg-y", "1")}, graph.WriteOptions{Resolve: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Refused) > 0 {
		t.Errorf("refused %v: tg-x gave up user 1 earlier in the batch", res.Refused)
	}
	for id, want := range map[string]string{"tg-x": "2", "tg-y": "1"} {
		if c, err := f.s.Client(f.ctx, f.project, id); err != nil || c.ChannelUserID != want {
			t.Errorf("%s: channel user %q, %v; want %q", id, c.ChannelUserID, err, want)
		}
	}
}
