package webhook_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/multicontact/multicontact/graph"
	"github.com/multicontact/multicontact/graph/graphtest"
	"github.com/multicontact/multicontact/identity"
	"github.com/multicontact/multicontact/keyring"
	"github.com/multicontact/multicontact/webhook"
)

// received is one request that the receiver got.
type received struct {
	eventID, attempt, signature string
	body                        []byte
	status                      int
	cursor                      int64
	mc                          string
}

// receiver is a CRM on loopback; answer decides each request's status from
// how many came before it.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []received
	answer func(n int, r received) int
}

func newReceiver(t *testing.T, answer func(n int, r received) int) *receiver {
	rc := &receiver{answer: answer}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var p struct {
			Cursor         string `json:"cursor"`
			MultiContactID string `json:"multiContactId"`
		}
		_ = json.Unmarshal(body, &p)
		cur, _ := strconv.ParseInt(p.Cursor, 10, 64)
		got := received{eventID: r.Header.Get(webhook.HeaderEventID), attempt: r.Header.Get(webhook.HeaderAttempt),
			signature: r.Header.Get(webhook.HeaderSignature), body: body, cursor: cur, mc: p.MultiContactID}
		rc.mu.Lock()
		got.status = rc.answer(len(rc.got), got)
		rc.got = append(rc.got, got)
		rc.mu.Unlock()
		w.WriteHeader(got.status)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

// delivered returns the requests answered 2xx.
func (rc *receiver) delivered() []received {
	var out []received
	for _, r := range rc.requests() {
		if r.status/100 == 2 {
			out = append(out, r)
		}
	}
	return out
}

func always(status int) func(int, received) int { return func(int, received) int { return status } }

// fixture is a project with a webhook to a receiver.
type fixture struct {
	t       *testing.T
	store   *graph.Store
	keys    *keyring.Keyring
	project string
	hook    graph.Webhook
	secret  string
	start   int64 // the log's end when the webhook was made
}

func newKeys(t *testing.T) *keyring.Keyring {
	raw := make([]byte, keyring.KeySize)
	_, _ = rand.Read(raw)
	k, err := keyring.New(raw)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newFixture(t *testing.T, rc *receiver, events []identity.EventType) *fixture {
	t.Helper()
	ctx := context.Background()
	s := graphtest.Store(t)
	project := fmt.Sprintf("webhook-%d", time.Now().UnixNano())
	if _, err := s.CreateProject(ctx, project, "webhook test", "RU"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddRule(ctx, project, identity.Rule{Name: "phone", Fields: []string{"phone"}, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitResolved(ctx, project); err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, store: s, keys: newKeys(t), project: project}
	var err error
	if f.start, err = s.LastSeq(ctx, project); err != nil {
		t.Fatal(err)
	}
	if f.hook, f.secret, err = s.CreateWebhook(ctx, project, rc.URL+"/hook", events, f.keys); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.DeleteWebhook(context.Background(), project, f.hook.ID) })
	return f
}

func (f *fixture) ref() webhook.Ref { return webhook.Ref{Project: f.project, ID: f.hook.ID} }

// manager starts a delivery manager on store with a fast schedule.
func (f *fixture) manager(store webhook.Store, first time.Duration) *webhook.Manager {
	m := webhook.New(webhook.Config{Keys: f.keys, Guard: webhook.Guard{AllowPrivate: true},
		Schedule: webhook.Schedule{First: first, Max: 4 * first, GiveUp: time.Hour},
		Timeout:  2 * time.Second, Poll: 50 * time.Millisecond, Scan: 100 * time.Millisecond, LeaseTTL: 3 * time.Second,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	m.Start(store)
	f.t.Cleanup(m.Close)
	return m
}

// client writes a client with a phone: one event, or a merge with an
// earlier client of the same phone.
func (f *fixture) client(id, phone string) {
	f.t.Helper()
	refused, err := f.store.UpsertClient(context.Background(), f.project, identity.ClientInput{ID: id,
		Channel: identity.Channel{Kind: "telegram", Account: "main"}, Attributes: []identity.AttributeInput{{Field: "phone", Value: phone, Source: identity.SourceIntegration}}})
	if err != nil || len(refused) > 0 {
		f.t.Fatalf("upsert %s: %v %v", id, err, refused)
	}
}

// email gives a client an e-mail: an UPDATED event of its multi-contact.
func (f *fixture) email(id, email string) {
	f.t.Helper()
	if _, err := f.store.SetAttribute(context.Background(), f.project, id, identity.AttributeInput{Field: "email", Value: email, Source: identity.SourceIntegration}); err != nil {
		f.t.Fatal(err)
	}
}

// phone gives a client a phone.
func (f *fixture) phone(id, phone string) {
	f.t.Helper()
	if _, err := f.store.SetAttribute(context.Background(), f.project, id, identity.AttributeInput{Field: "phone", Value: phone, Source: identity.SourceIntegration}); err != nil {
		f.t.Fatal(err)
	}
}

// log returns the project's events since the webhook was made.
func (f *fixture) log() []identity.Event {
	f.t.Helper()
	evs, err := f.store.EventsAfter(context.Background(), f.project, f.start, 1000)
	if err != nil {
		f.t.Fatal(err)
	}
	return evs
}

func eventually(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// verify checks a request's signature as docs/api.md tells a receiver to.
func verify(t *testing.T, secret string, r received) {
	t.Helper()
	if !Verify(secret, r.signature, r.body, time.Now()) {
		t.Errorf("%s: signature %s does not verify", r.eventID, r.signature)
	}
}

// Every event after the webhook's creation arrives once, signed, in log
// order (so in order per multi-contact), with its stable id in the header
// and the body.
func TestDeliversSignedEventsInOrder(t *testing.T) {
	rc := newReceiver(t, always(http.StatusNoContent))
	f := newFixture(t, rc, nil)
	f.manager(f.store, 50*time.Millisecond)
	f.client("a", "+79161234567")
	f.client("b", "+79161234568")
	for i := range 4 {
		f.email("a", fmt.Sprintf("a%d@example.com", i))
		f.email("b", fmt.Sprintf("b%d@example.com", i))
	}
	f.client("c", "+79161234567") // joins a
	want := f.log()
	eventually(t, 20*time.Second, "every event delivered", func() bool { return len(rc.delivered()) >= len(want) })
	got := rc.requests()
	if len(got) != len(want) {
		t.Fatalf("%d requests for %d events", len(got), len(want))
	}
	last := map[string]int64{}
	for i, r := range got {
		e := want[i]
		if id := webhook.EventID(f.project, e.Seq); r.eventID != id || r.cursor != e.Seq || r.attempt != "1" {
			t.Errorf("request %d: event id %s, cursor %d, attempt %s; want %s, %d, 1", i, r.eventID, r.cursor, r.attempt, id, e.Seq)
		}
		if !strings.Contains(string(r.body), `"eventId":"`+r.eventID+`"`) || !strings.Contains(string(r.body), `"projectId":"`+f.project+`"`) {
			t.Errorf("request %d: body %s lacks its ids", i, r.body)
		}
		if r.cursor <= last[r.mc] {
			t.Errorf("multi-contact %s: event %d after %d", r.mc, r.cursor, last[r.mc])
		}
		last[r.mc] = r.cursor
		verify(t, f.secret, r)
	}
	hooks, err := f.store.Webhooks(context.Background(), f.project)
	if err != nil || len(hooks) != 1 || hooks[0].Cursor != want[len(want)-1].Seq {
		t.Errorf("webhooks = %+v, %v; want its cursor at %d", hooks, err, want[len(want)-1].Seq)
	}
}

// A receiver that fails twice gets the event a third time, with the same
// event id; the attempts are listed newest first.
func TestRetriesWithTheSameEventID(t *testing.T) {
	rc := newReceiver(t, func(n int, _ received) int {
		if n < 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	f := newFixture(t, rc, nil)
	f.manager(f.store, 50*time.Millisecond)
	f.client("a", "+79161234567")
	eventually(t, 20*time.Second, "the event delivered", func() bool { return len(rc.delivered()) == 1 })
	got := rc.requests()
	if len(got) != 3 {
		t.Fatalf("%d requests, want 3", len(got))
	}
	for i, r := range got {
		if r.eventID != got[0].eventID || r.attempt != strconv.Itoa(i+1) {
			t.Errorf("request %d: event id %s attempt %s, want %s attempt %d", i, r.eventID, r.attempt, got[0].eventID, i+1)
		}
		verify(t, f.secret, r)
	}
	var p graph.Page[graph.WebhookDelivery]
	eventually(t, 5*time.Second, "the third attempt recorded", func() bool {
		var err error
		p, err = f.store.WebhookDeliveriesPage(context.Background(), f.project, f.hook.ID, "", 2)
		return err == nil && len(p.Items) > 0 && p.Items[0].Delivered
	})
	if !p.HasNext || p.Items[0].Attempt != 3 || p.Items[0].Status != 200 || p.Items[1].Attempt != 2 ||
		p.Items[1].Status != 503 || p.Items[1].Error == "" || p.Items[1].NextTryAt.IsZero() {
		t.Errorf("first page = %+v", p)
	}
	rest, err := f.store.WebhookDeliveriesPage(context.Background(), f.project, f.hook.ID, p.Cursors[1], 2)
	if err != nil || len(rest.Items) != 1 || rest.HasNext || rest.Items[0].Attempt != 1 || rest.Items[0].EventID != got[0].eventID {
		t.Errorf("second page = %+v, %v", rest, err)
	}
}

// The worker and its store stop between two attempts; a new store and
// worker go on from the stored state: the next attempt, same event id.
func TestDeliveryResumesAfterRestart(t *testing.T) {
	rc := newReceiver(t, func(n int, _ received) int {
		if n == 0 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	f := newFixture(t, rc, nil)
	open := func() *graph.Store {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		s, err := graph.Open(ctx, graphtest.Config())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s1 := open()
	m1 := webhook.New(webhook.Config{Keys: f.keys, Guard: webhook.Guard{AllowPrivate: true},
		Schedule: webhook.Schedule{First: 2 * time.Second, Max: 2 * time.Second, GiveUp: time.Hour},
		Poll:     50 * time.Millisecond, Scan: 100 * time.Millisecond, LeaseTTL: 3 * time.Second,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	m1.Start(s1)
	f.client("a", "+79161234567")
	eventually(t, 10*time.Second, "the first attempt recorded", func() bool {
		p, err := s1.WebhookDeliveriesPage(context.Background(), f.project, f.hook.ID, "", 1)
		return err == nil && len(p.Items) == 1 && !p.Items[0].FinishedAt.IsZero()
	})
	m1.Close()
	if err := s1.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(rc.requests()); n != 1 {
		t.Fatalf("%d requests before the restart, want 1", n)
	}
	s2 := open()
	t.Cleanup(func() { s2.Close(context.Background()) })
	f.manager(s2, 2*time.Second)
	eventually(t, 20*time.Second, "the event delivered after the restart", func() bool { return len(rc.delivered()) == 1 })
	got := rc.requests()
	if len(got) != 2 || got[1].eventID != got[0].eventID || got[1].attempt != "2" {
		t.Fatalf("requests = %+v, want attempts 1 and 2 of one event", got)
	}
	f.email("a", "a@example.com") // and it goes on
	eventually(t, 10*time.Second, "the next event delivered", func() bool { return len(rc.delivered()) == 2 })
}

// Two replicas work one webhook, one of them stops midway: every event is
// delivered, in order, and no attempt is ever made twice. An event whose
// POST the stopping replica cut may arrive twice (at least once, as
// documented): a receiver that skips a repeated eventId sees the log.
func TestTwoReplicasNeverRepeatAnAttempt(t *testing.T) {
	rc := newReceiver(t, func(n int, _ received) int {
		if n%4 == 3 {
			return http.StatusBadGateway
		}
		return http.StatusOK
	})
	f := newFixture(t, rc, nil)
	other := graphtest.Store(t, graph.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))) // a second replica's store
	a := f.manager(f.store, 20*time.Millisecond)
	f.manager(other, 20*time.Millisecond)
	for i := range 8 {
		f.client(fmt.Sprintf("c%d", i), fmt.Sprintf("+7916123450%d", i))
	}
	eventually(t, 20*time.Second, "some events delivered", func() bool { return len(rc.delivered()) >= 4 })
	a.Close() // the replica holding the lease, or the other: either way one goes on
	for i := range 8 {
		f.email(fmt.Sprintf("c%d", i), fmt.Sprintf("c%d@example.com", i))
	}
	want := f.log()
	delivered := func() []received { // as a receiver keeps them: a repeated eventId skipped
		var out []received
		seen := map[string]bool{}
		for _, r := range rc.delivered() {
			if !seen[r.eventID] {
				seen[r.eventID] = true
				out = append(out, r)
			}
		}
		return out
	}
	eventually(t, 30*time.Second, "every event delivered", func() bool { return len(delivered()) >= len(want) })
	seen := map[string]bool{}
	for _, r := range rc.requests() {
		k := r.eventID + "#" + r.attempt
		if seen[k] {
			t.Errorf("attempt %s of %s made twice", r.attempt, r.eventID)
		}
		seen[k] = true
	}
	if n := len(rc.delivered()) - len(delivered()); n > 1 {
		t.Errorf("%d events delivered twice; only the one in flight when a replica stopped may be", n)
	}
	got := delivered()
	if len(got) != len(want) {
		t.Fatalf("%d delivered, want %d", len(got), len(want))
	}
	for i, r := range got {
		if r.cursor != want[i].Seq {
			t.Errorf("delivery %d is event %d, want %d", i, r.cursor, want[i].Seq)
		}
	}
}

// A webhook for MERGED only gets the merge; the other events are passed by.
func TestOnlyTheTypesAsked(t *testing.T) {
	rc := newReceiver(t, always(http.StatusOK))
	f := newFixture(t, rc, []identity.EventType{identity.EventMerged})
	f.manager(f.store, 50*time.Millisecond)
	f.client("a", "+79161234567")
	f.client("b", "+79161234568")
	f.email("a", "a@example.com")
	f.phone("b", "+79161234567") // b's multi-contact joins a's
	eventually(t, 20*time.Second, "the merge delivered", func() bool { return len(rc.delivered()) == 1 })
	if got := rc.requests(); len(got) != 1 || !strings.Contains(string(got[0].body), `"type":"MERGED"`) {
		t.Fatalf("requests = %+v", got)
	}
	f.email("b", "b@example.com")
	last := f.log()[len(f.log())-1].Seq
	eventually(t, 10*time.Second, "the cursor past the later events", func() bool {
		hooks, err := f.store.Webhooks(context.Background(), f.project)
		return err == nil && hooks[0].Cursor == last
	})
	if n := len(rc.requests()); n != 1 {
		t.Errorf("%d requests, want only the merge", n)
	}
}

// A webhook that fails for longer than GiveUp is paused, visibly; resumed,
// it delivers the event it stopped at. A replay delivers again, same ids.
func TestPauseResumeAndReplay(t *testing.T) {
	failing := true
	var mu sync.Mutex
	rc := newReceiver(t, func(int, received) int {
		mu.Lock()
		defer mu.Unlock()
		if failing {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	f := newFixture(t, rc, nil)
	ctx := context.Background()
	m := webhook.New(webhook.Config{Keys: f.keys, Guard: webhook.Guard{AllowPrivate: true},
		Schedule: webhook.Schedule{First: 20 * time.Millisecond, Max: 50 * time.Millisecond, GiveUp: time.Second},
		Poll:     50 * time.Millisecond, Scan: 100 * time.Millisecond, LeaseTTL: 3 * time.Second,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	m.Start(f.store)
	t.Cleanup(m.Close)
	f.client("a", "+79161234567")
	var hook graph.Webhook
	eventually(t, 10*time.Second, "the webhook paused", func() bool {
		hooks, err := f.store.Webhooks(ctx, f.project)
		hook = hooks[0]
		return err == nil && hook.Paused
	})
	if hook.PausedReason == "" || hook.PausedAt.IsZero() || hook.Cursor != f.start {
		t.Errorf("paused webhook = %+v", hook)
	}
	tried := len(rc.requests())
	time.Sleep(300 * time.Millisecond)
	if n := len(rc.requests()); n != tried || tried < 3 {
		t.Errorf("%d attempts before the pause, %d after it", tried, n)
	}
	mu.Lock()
	failing = false
	mu.Unlock()
	if _, err := f.store.ResumeWebhook(ctx, f.project, f.hook.ID); err != nil {
		t.Fatal(err)
	}
	m.Changed(f.ref())
	eventually(t, 10*time.Second, "delivered once resumed", func() bool { return len(rc.delivered()) == 1 })
	first := rc.delivered()[0]

	if _, err := f.store.Redeliver(ctx, f.project, f.hook.ID, graph.Cursor(f.start)); err != nil {
		t.Fatal(err)
	}
	m.Changed(f.ref())
	eventually(t, 10*time.Second, "delivered again", func() bool { return len(rc.delivered()) == 2 })
	again := rc.delivered()[1]
	if again.eventID != first.eventID || again.attempt == first.attempt {
		t.Errorf("replay: %s attempt %s after %s attempt %s", again.eventID, again.attempt, first.eventID, first.attempt)
	}
	if _, err := f.store.Redeliver(ctx, f.project, f.hook.ID, "999999"); identity.ErrorCode(err) != identity.CodeInvalidArgument {
		t.Errorf("replay past the log's end: %v", err)
	}
}

// A URL that passed its check but resolves, when dialed, to a private
// address (here: created in the store directly, as if DNS had changed) is
// refused at the connection, and the receiver never hears of it. The
// attempt's record, which the project's admin reads, says why without
// naming the address.
func TestDialRefusesPrivateAddresses(t *testing.T) {
	rc := newReceiver(t, always(http.StatusOK))
	f := newFixture(t, rc, nil) // rc.URL is http://127.0.0.1:port
	var mu sync.Mutex
	var outcomes []string
	m := webhook.New(webhook.Config{Keys: f.keys, Guard: webhook.Guard{},
		Schedule: webhook.Schedule{First: time.Second, Max: time.Second, GiveUp: time.Hour},
		Poll:     50 * time.Millisecond, Scan: 100 * time.Millisecond, LeaseTTL: 3 * time.Second,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnAttempt: func(outcome string, _ time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			outcomes = append(outcomes, outcome)
		}})
	m.Start(f.store)
	t.Cleanup(m.Close)
	f.client("a", "+79161234567")
	var p graph.Page[graph.WebhookDelivery]
	eventually(t, 10*time.Second, "the attempt recorded", func() bool {
		var err error
		p, err = f.store.WebhookDeliveriesPage(context.Background(), f.project, f.hook.ID, "", 1)
		return err == nil && len(p.Items) == 1 && !p.Items[0].FinishedAt.IsZero()
	})
	if d := p.Items[0]; d.Delivered || d.Status != 0 || !strings.Contains(d.Error, "private") || strings.Contains(d.Error, "127.0.0.1") {
		t.Errorf("attempt = %+v, want refused", d)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(outcomes) == 0 || outcomes[0] != webhook.OutcomeRefused {
		t.Errorf("outcomes = %v, want refused", outcomes)
	}
	if n := len(rc.requests()); n != 0 {
		t.Errorf("the receiver got %d requests", n)
	}
}

// A replica that dies holding the lease, mid-attempt, delays the webhook
// until its lease expires; the next replica marks the attempt it left and
// makes the next one.
func TestTakesOverFromADeadReplica(t *testing.T) {
	rc := newReceiver(t, always(http.StatusOK))
	f := newFixture(t, rc, nil)
	ctx := context.Background()
	f.client("a", "+79161234567")
	e := f.log()[0]
	const ttl = 2 * time.Second
	h, ok, _, err := f.store.AcquireWebhook(ctx, f.ref(), "dead-replica", ttl)
	if err != nil || !ok {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	n, ok, err := f.store.ClaimDelivery(ctx, webhook.Claim{Ref: f.ref(), Owner: "dead-replica", Epoch: h.Epoch, Cursor: h.Cursor,
		Seq: e.Seq, EventID: webhook.EventID(f.project, e.Seq), Type: e.Type, At: time.Now().UTC()}, ttl)
	if err != nil || !ok || n != 1 {
		t.Fatalf("claim: %d %v %v", n, ok, err)
	}
	died := time.Now()
	m := webhook.New(webhook.Config{Keys: f.keys, Guard: webhook.Guard{AllowPrivate: true},
		Poll: 50 * time.Millisecond, Scan: 100 * time.Millisecond, LeaseTTL: ttl,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	m.Start(f.store)
	t.Cleanup(m.Close)
	eventually(t, 10*time.Second, "delivered by the next replica", func() bool { return len(rc.delivered()) == 1 })
	if waited := time.Since(died); waited < ttl-200*time.Millisecond {
		t.Errorf("delivered %s after the death, before the lease expired", waited)
	}
	if got := rc.requests(); len(got) != 1 || got[0].attempt != "2" {
		t.Errorf("requests = %+v, want attempt 2 only", got)
	}
	p, err := f.store.WebhookDeliveriesPage(ctx, f.project, f.hook.ID, "", 10)
	if err != nil || len(p.Items) != 2 || p.Items[1].Attempt != 1 || p.Items[1].FinishedAt.IsZero() ||
		!strings.Contains(p.Items[1].Error, "no outcome recorded") {
		t.Errorf("attempts = %+v, %v", p.Items, err)
	}
}

// An attempt whose outcome could not be stored (Neo4j away at that moment)
// is closed by the next attempt of the same replica, not listed as in
// flight until another replica takes the webhook over.
func TestAnAttemptLeftWithoutOutcomeIsClosedByTheNext(t *testing.T) {
	rc := newReceiver(t, always(http.StatusOK))
	f := newFixture(t, rc, nil)
	ctx := context.Background()
	f.client("a", "+79161234567")
	e := f.log()[0]
	const ttl = 10 * time.Second
	h, ok, _, err := f.store.AcquireWebhook(ctx, f.ref(), "replica", ttl)
	if err != nil || !ok {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	claim := webhook.Claim{Ref: f.ref(), Owner: "replica", Epoch: h.Epoch, Cursor: h.Cursor,
		Seq: e.Seq, EventID: webhook.EventID(f.project, e.Seq), Type: e.Type, At: time.Now().UTC()}
	for want := 1; want <= 2; want++ { // no FinishDelivery between them
		if n, ok, err := f.store.ClaimDelivery(ctx, claim, ttl); err != nil || !ok || n != want {
			t.Fatalf("claim %d: %d %v %v", want, n, ok, err)
		}
	}
	p, err := f.store.WebhookDeliveriesPage(ctx, f.project, f.hook.ID, "", 10)
	if err != nil || len(p.Items) != 2 {
		t.Fatalf("attempts = %+v, %v", p.Items, err)
	}
	if first := p.Items[1]; first.Attempt != 1 || first.FinishedAt.IsZero() || first.Delivered || !strings.Contains(first.Error, "no outcome recorded") {
		t.Errorf("the first attempt = %+v, want closed without outcome", first)
	}
	if second := p.Items[0]; second.Attempt != 2 || !second.FinishedAt.IsZero() {
		t.Errorf("the second attempt = %+v, want in flight", second)
	}
}

// Redelivering moves a webhook's cursor back only: a cursor past what the
// webhook has delivered (here nothing yet: no manager runs) would skip the
// events between, and is refused.
func TestRedeliverNeverSkipsAnEvent(t *testing.T) {
	rc := newReceiver(t, always(http.StatusOK))
	f := newFixture(t, rc, nil)
	f.client("a", "+79161230001")
	f.client("b", "+79161230002")
	ctx := context.Background()
	if _, err := f.store.Redeliver(ctx, f.project, f.hook.ID, graph.Cursor(f.start+2)); identity.ErrorCode(err) != identity.CodeInvalidArgument {
		t.Errorf("redeliver after %d, with the webhook at %d: %v, want INVALID_ARGUMENT", f.start+2, f.start, err)
	}
	hook, err := f.store.Redeliver(ctx, f.project, f.hook.ID, graph.Cursor(f.start))
	if err != nil {
		t.Fatal(err)
	}
	if hook.Cursor != f.start {
		t.Errorf("cursor %d after redelivering from %d", hook.Cursor, f.start)
	}
}
