package broker_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/multicontact/multicontact/broker"
	"github.com/multicontact/multicontact/identity"
)

// memLog is an event log in memory. Events can be stored out of order (a
// gap, then what fills it) to exercise the tailer's handling of gaps.
type memLog struct {
	mu     sync.Mutex
	events map[string][]identity.Event // per project, sorted by Seq
	reads  int
	fail   error
	// beforeHead, if set, runs once in LastSeq after the head is read and
	// before it is returned: commits that land meanwhile.
	beforeHead func()
}

func newMemLog() *memLog { return &memLog{events: map[string][]identity.Event{}} }

// add stores events numbered seqs.
func (l *memLog) add(project string, seqs ...int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, seq := range seqs {
		es := append(l.events[project], identity.Event{Project: project, Seq: seq, Type: identity.EventUpdated})
		for i := len(es) - 1; i > 0 && es[i].Seq < es[i-1].Seq; i-- {
			es[i], es[i-1] = es[i-1], es[i]
		}
		l.events[project] = es
	}
}

func (l *memLog) LastSeq(_ context.Context, project string) (int64, error) {
	l.mu.Lock()
	var head int64
	if es := l.events[project]; len(es) > 0 {
		head = es[len(es)-1].Seq
	}
	then := l.beforeHead
	l.beforeHead = nil
	l.mu.Unlock()
	if then != nil {
		then()
	}
	return head, nil
}

func (l *memLog) EventsAfter(_ context.Context, project string, seq int64, max int) ([]identity.Event, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reads++
	if l.fail != nil {
		return nil, l.fail
	}
	var out []identity.Event
	for _, e := range l.events[project] {
		if e.Seq > seq && len(out) < max {
			out = append(out, e)
		}
	}
	return out, nil
}

// newBroker returns a started broker over log that polls every poll,
// closed when the test ends.
func newBroker(t *testing.T, log broker.Log, poll time.Duration) *broker.Broker {
	t.Helper()
	b := broker.New(poll)
	b.Start(log)
	t.Cleanup(b.Close)
	return b
}

func subscribe(t *testing.T, b *broker.Broker, project string, buf int) *broker.Subscription {
	t.Helper()
	s, err := b.Subscribe(context.Background(), project, buf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// next returns the subscription's next event, failing after within.
func next(t *testing.T, s *broker.Subscription, within time.Duration) identity.Event {
	t.Helper()
	select {
	case e, ok := <-s.C:
		if !ok {
			t.Fatal("the subscription ended")
		}
		return e
	case <-time.After(within):
		t.Fatalf("no event within %s", within)
	}
	return identity.Event{}
}

func quiet(t *testing.T, s *broker.Subscription, d time.Duration) {
	t.Helper()
	select {
	case e, ok := <-s.C:
		t.Fatalf("unexpected event %+v (open %v)", e, ok)
	case <-time.After(d):
	}
}

func TestSubscribersGetWhatIsCommittedAfterThemInOrderPerProject(t *testing.T) {
	log := newMemLog()
	log.add("a", 1, 2) // before anyone subscribed: not delivered
	b := newBroker(t, log, time.Hour)
	first := subscribe(t, b, "a", 10)
	other := subscribe(t, b, "b", 10)
	log.add("a", 3)
	b.Nudge("a")
	if got := next(t, first, time.Second).Seq; got != 3 {
		t.Fatalf("first event %d, want 3", got)
	}
	log.add("a", 4)
	second := subscribe(t, b, "a", 10) // joins a running tailer after 4
	log.add("a", 5, 6)
	b.Nudge("a")
	for _, want := range []int64{4, 5, 6} {
		if got := next(t, first, time.Second).Seq; got != want {
			t.Errorf("first: %d, want %d", got, want)
		}
	}
	for _, want := range []int64{5, 6} {
		if got := next(t, second, time.Second).Seq; got != want {
			t.Errorf("second: %d, want %d", got, want)
		}
	}
	quiet(t, other, 50*time.Millisecond)
}

func TestThePollFindsEventsThatNobodyAnnounced(t *testing.T) {
	log := newMemLog()
	b := newBroker(t, log, 20*time.Millisecond)
	s := subscribe(t, b, "a", 10)
	log.add("a", 1, 2) // another process's commits: no nudge
	for _, want := range []int64{1, 2} {
		if got := next(t, s, time.Second).Seq; got != want {
			t.Errorf("got %d, want %d", got, want)
		}
	}
}

// A subscriber that stops reading is dropped once it has held the others
// back (had no room for events they could take) for the broker's patience;
// the project's other subscribers wait for it until then, and get every
// event.
func TestASlowSubscriberIsDroppedAndTheOthersGoOn(t *testing.T) {
	log := newMemLog()
	b := newBroker(t, log, time.Hour)
	b.Patience = 50 * time.Millisecond
	n := broker.DefaultBuffer + 1 // one more than the slow subscriber holds
	drops := make(chan string, 10)
	b.OnDrop = func(p string) { drops <- p }
	fast := subscribe(t, b, "a", broker.DefaultBuffer)
	slow := subscribe(t, b, "a", broker.DefaultBuffer)
	for seq := range n {
		log.add("a", int64(seq+1))
	}
	b.Nudge("a")
	for want := int64(1); want <= int64(n); want++ {
		if got := next(t, fast, 5*time.Second).Seq; got != want {
			t.Errorf("fast got seq %d, want %d", got, want)
		}
	}
	select {
	case p := <-drops:
		if p != "a" {
			t.Errorf("OnDrop(%q), want a", p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the slow subscriber was not dropped")
	}
	for want := int64(1); want <= int64(broker.DefaultBuffer); want++ {
		if got := next(t, slow, time.Second).Seq; got != want {
			t.Errorf("slow got seq %d, want %d", got, want)
		}
	}
	if _, ok := <-slow.C; ok || !slow.Dropped() {
		t.Error("the slow subscriber should be dropped with its channel closed")
	}
	if len(drops) != 0 {
		t.Errorf("%d more drops, want one", len(drops))
	}
	slow.Close() // closing a dropped subscription is harmless
	if got := b.Subscribers(); got != 1 {
		t.Errorf("Subscribers() = %d, want 1", got)
	}
}

// A burst of events larger than a subscriber's buffer (another replica's
// commits, found a poll's worth at a time) waits in the log: a subscriber
// that keeps reading gets every event, in order, and is not dropped.
func TestABurstLargerThanTheBufferDropsNobody(t *testing.T) {
	log := newMemLog()
	b := newBroker(t, log, time.Hour)
	dropped := make(chan struct{}, 1)
	b.OnDrop = func(string) {
		select {
		case dropped <- struct{}{}:
		default:
		}
	}
	s := subscribe(t, b, "a", 4)
	const n = 300
	for seq := range n {
		log.add("a", int64(seq+1))
	}
	b.Nudge("a")
	for want := int64(1); want <= n; want++ {
		if got := next(t, s, 5*time.Second).Seq; got != want {
			t.Fatalf("got seq %d, want %d", got, want)
		}
	}
	select {
	case <-dropped:
		t.Error("a subscriber that kept reading was dropped")
	default:
	}
}

// TestATailerWaitsForAMissingNumberThenSkipsIt: the store's numbering has
// no gaps, but if one appeared, the tailer holds the later events back for
// GapWait (the missing one may still become visible) and then goes on.
func TestATailerWaitsForAMissingNumberThenSkipsIt(t *testing.T) {
	log := newMemLog()
	b := broker.New(10 * time.Millisecond)
	b.GapWait = 300 * time.Millisecond
	var skipped []error
	var mu sync.Mutex
	b.OnError = func(_ string, err error) { mu.Lock(); skipped = append(skipped, err); mu.Unlock() }
	b.Start(log)
	t.Cleanup(b.Close)
	s := subscribe(t, b, "a", 10)

	log.add("a", 1, 3)
	if got := next(t, s, time.Second).Seq; got != 1 {
		t.Fatalf("got %d, want 1", got)
	}
	quiet(t, s, 100*time.Millisecond) // 3 waits for 2
	log.add("a", 2)                   // 2 shows up in time
	for _, want := range []int64{2, 3} {
		if got := next(t, s, time.Second).Seq; got != want {
			t.Fatalf("got %d, want %d", got, want)
		}
	}

	log.add("a", 5)
	start := time.Now()
	if got := next(t, s, 2*time.Second).Seq; got != 5 {
		t.Fatalf("got %d, want 5", got)
	}
	if waited := time.Since(start); waited < b.GapWait {
		t.Errorf("5 was delivered after %s, before 4 had been missing for %s", waited, b.GapWait)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(skipped) != 1 {
		t.Errorf("errors reported: %v, want one skipped gap", skipped)
	}
}

func TestTailersStopWithTheirLastSubscriber(t *testing.T) {
	log := newMemLog()
	b := newBroker(t, log, time.Millisecond)
	base := runtime.NumGoroutine()
	var subs []*broker.Subscription
	for _, p := range []string{"a", "b", "c"} {
		for range 3 {
			s, err := b.Subscribe(context.Background(), p, 1)
			if err != nil {
				t.Fatal(err)
			}
			subs = append(subs, s)
		}
	}
	if n := runtime.NumGoroutine(); n != base+3 {
		t.Errorf("%d goroutines for 3 projects' subscribers, want %d (one tailer per project)", n, base+3)
	}
	for _, s := range subs {
		s.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after every subscriber left, want %d", runtime.NumGoroutine(), base)
		}
		time.Sleep(5 * time.Millisecond)
	}
	log.mu.Lock()
	reads := log.reads
	log.mu.Unlock()
	time.Sleep(20 * time.Millisecond)
	log.mu.Lock()
	defer log.mu.Unlock()
	if log.reads != reads {
		t.Errorf("the log is still polled without subscribers")
	}
}

func TestCloseEndsSubscriptionsAndRefusesNewOnes(t *testing.T) {
	log := newMemLog()
	b := broker.New(time.Millisecond)
	b.Start(log)
	s, err := b.Subscribe(context.Background(), "a", 1)
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	if _, ok := <-s.C; ok || s.Dropped() {
		t.Error("Close should end the subscription without calling it dropped")
	}
	if _, err := b.Subscribe(context.Background(), "a", 1); !errors.Is(err, broker.ErrClosed) {
		t.Errorf("Subscribe after Close: %v, want ErrClosed", err)
	}
}

// TestAFailingLogIsReportedAndReadAgain: while the log cannot be read the
// tailer reports it and reads less and less often; once it can, it delivers.
func TestAFailingLogIsReportedAndReadAgain(t *testing.T) {
	log := newMemLog()
	b := broker.New(5 * time.Millisecond)
	reported := make(chan error, 100)
	b.OnError = func(_ string, err error) { reported <- err }
	b.Start(log)
	t.Cleanup(b.Close)
	s := subscribe(t, b, "a", 10)
	away := errors.New("neo4j is away")
	log.mu.Lock()
	log.fail = away
	log.mu.Unlock()
	log.add("a", 1)
	select {
	case err := <-reported:
		if !errors.Is(err, away) {
			t.Errorf("reported %v", err)
		}
	case <-time.After(time.Second):
		t.Fatal("a failing read was not reported")
	}
	time.Sleep(300 * time.Millisecond)
	log.mu.Lock()
	reads := log.reads
	log.fail = nil
	log.mu.Unlock()
	if reads > 12 { // a 5 ms poll without backing off reads about 60 times
		t.Errorf("a failing log was read %d times in 300 ms: no backing off", reads)
	}
	if got := next(t, s, 2*time.Second).Seq; got != 1 {
		t.Errorf("after the log came back: %d, want 1", got)
	}
}

// TestReadsAndProjectsCountWhatATailerCosts: a project with subscribers is
// read about once per poll and once per nudge, however many subscribers it
// has; one without subscribers is not read at all.
func TestReadsAndProjectsCountWhatATailerCosts(t *testing.T) {
	log := newMemLog()
	log.add("p", 1)
	log.add("q", 1)
	b := newBroker(t, log, 50*time.Millisecond)
	if b.Projects() != 0 || b.Reads() != 0 {
		t.Fatalf("before any subscriber: %d projects, %d reads", b.Projects(), b.Reads())
	}
	s1, s2 := subscribe(t, b, "p", 8), subscribe(t, b, "p", 8)
	if got := b.Projects(); got != 1 {
		t.Errorf("two subscribers of one project: Projects() = %d, want 1", got)
	}
	time.Sleep(500 * time.Millisecond)
	// 10 polls in 500 ms; a loaded machine may fire fewer.
	if got := b.Reads(); got < 3 || got > 12 {
		t.Errorf("one project for 500 ms at a 50 ms poll: %d reads, want about 10", got)
	}
	s1.Close()
	s2.Close()
	before := b.Reads()
	time.Sleep(200 * time.Millisecond)
	if got := b.Reads() - before; got > 1 || b.Projects() != 0 {
		t.Errorf("after the last subscriber left: %d more reads, %d projects; want none", got, b.Projects())
	}
}

// A subscriber that joins a project's tailer while the tailer hands out
// events committed after the head the subscriber read starts after those
// events: whoever replays the log up to After() reads them, and the live
// stream goes on from the next one. Nothing falls between the two.
func TestASubscriberJoiningAMovingTailerMissesNothing(t *testing.T) {
	log := newMemLog()
	log.add("p", 1, 2, 3)
	b := newBroker(t, log, time.Hour) // only nudges move the tailer
	first := subscribe(t, b, "p", 16)
	log.beforeHead = func() { // 4 and 5 are delivered between the head and the join
		log.add("p", 4, 5)
		b.Nudge("p")
		for e := next(t, first, 5*time.Second); e.Seq < 5; e = next(t, first, 5*time.Second) {
		}
	}
	second := subscribe(t, b, "p", 16)
	log.add("p", 6)
	b.Nudge("p")
	if e := next(t, second, 5*time.Second); e.Seq != second.After()+1 {
		t.Errorf("After() = %d and the first event delivered is %d: events %d to %d are lost",
			second.After(), e.Seq, second.After()+1, e.Seq-1)
	}
}

// A subscriber that takes an event now and then, never going Patience
// without one, frees one slot of its buffer at a time: it still holds the
// project's other subscribers back for no more than Patience in all. It is
// dropped, having received a gap-free prefix of the log, and a fast
// subscriber gets the whole backlog soon after.
func TestASubscriberThatTakesAnEventNowAndThenHoldsTheOthersBackAtMostPatience(t *testing.T) {
	log := newMemLog()
	b := newBroker(t, log, time.Hour)
	b.Patience = 250 * time.Millisecond
	fast := subscribe(t, b, "a", broker.DefaultBuffer)
	slow := subscribe(t, b, "a", broker.DefaultBuffer)
	const n = 500
	for seq := range n {
		log.add("a", int64(seq+1))
	}
	stop := make(chan struct{})
	took := make(chan []int64, 1)
	go func() { // takes an event every 3/4 of Patience until told to stop
		var seqs []int64
		defer func() { took <- seqs }()
		for {
			select {
			case e, ok := <-slow.C:
				if !ok {
					return
				}
				seqs = append(seqs, e.Seq)
			case <-stop:
				return
			}
			select {
			case <-time.After(b.Patience * 3 / 4):
			case <-stop:
				return
			}
		}
	}()
	start, bound := time.Now(), 4*b.Patience
	b.Nudge("a")
	deadline := time.After(bound)
	for want := int64(1); want <= n; want++ {
		select {
		case e := <-fast.C:
			if e.Seq != want {
				t.Fatalf("fast got seq %d, want %d", e.Seq, want)
			}
		case <-deadline:
			close(stop)
			t.Fatalf("the fast subscriber got %d of %d events in %s beside one that takes an event every %s (Patience %s)",
				want-1, n, bound, b.Patience*3/4, b.Patience)
		}
	}
	t.Logf("the fast subscriber got all %d events in %s", n, time.Since(start))
	for !slow.Dropped() { // it may be dropped only once the fast one is done
		if time.Since(start) > 5*time.Second {
			t.Fatal("the slow subscriber was not dropped")
		}
		time.Sleep(time.Millisecond)
	}
	close(stop)
	seqs := <-took
	for e := range slow.C { // what it had not taken yet when it was dropped
		seqs = append(seqs, e.Seq)
	}
	for i, seq := range seqs {
		if seq != int64(i+1) {
			t.Fatalf("the slow subscriber got %v: not 1 to %d in order", seqs, len(seqs))
		}
	}
	if got := b.Subscribers(); got != 1 {
		t.Errorf("Subscribers() = %d, want 1", got)
	}
}

// A subscriber that is behind the others while no event waits for it holds
// nobody back: it is not dropped, however long it takes to read its buffer.
func TestASubscriberThatHoldsNobodyBackIsNotDropped(t *testing.T) {
	log := newMemLog()
	b := newBroker(t, log, 10*time.Millisecond)
	b.Patience = 50 * time.Millisecond
	fast := subscribe(t, b, "a", broker.DefaultBuffer)
	slow := subscribe(t, b, "a", broker.DefaultBuffer)
	for seq := range broker.DefaultBuffer { // exactly what slow holds
		log.add("a", int64(seq+1))
	}
	b.Nudge("a")
	for want := int64(1); want <= broker.DefaultBuffer; want++ {
		if got := next(t, fast, 5*time.Second).Seq; got != want {
			t.Fatalf("fast got seq %d, want %d", got, want)
		}
	}
	time.Sleep(6 * b.Patience) // slow reads nothing meanwhile, with a full buffer
	for want := int64(1); want <= broker.DefaultBuffer; want++ {
		if got := next(t, slow, time.Second).Seq; got != want {
			t.Fatalf("slow got seq %d, want %d", got, want)
		}
	}
	log.add("a", broker.DefaultBuffer+1)
	b.Nudge("a")
	for _, s := range []*broker.Subscription{fast, slow} {
		if got := next(t, s, 5*time.Second).Seq; got != broker.DefaultBuffer+1 || s.Dropped() {
			t.Errorf("got seq %d (dropped %v), want %d", got, s.Dropped(), broker.DefaultBuffer+1)
		}
	}
}

// hangingLog is a log whose first read hangs until its context ends, as a
// read over a connection that a partition cut without a reset does.
type hangingLog struct {
	*memLog
	hung atomic.Bool
}

func (l *hangingLog) EventsAfter(ctx context.Context, project string, seq int64, max int) ([]identity.Event, error) {
	if !l.hung.Swap(true) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return l.memLog.EventsAfter(ctx, project, seq, max)
}

// A read of the log that hangs is given up after ReadTimeout and made
// again: the subscribers are late by that much, not stopped.
func TestAHangingReadOfTheLogIsGivenUp(t *testing.T) {
	log := &hangingLog{memLog: newMemLog()}
	b := broker.New(20 * time.Millisecond)
	b.ReadTimeout = 100 * time.Millisecond
	b.Start(log)
	t.Cleanup(b.Close)
	sub, err := b.Subscribe(context.Background(), "p", 8)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	log.add("p", 1)
	b.Nudge("p")
	select {
	case e := <-sub.C:
		if e.Seq != 1 {
			t.Errorf("got event %d, want 1", e.Seq)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event 5 s after a read of the log hung")
	}
}

// Subscribers that keep pace with each other through a burst far longer
// than Patience are not dropped, whatever the jitter between them.
func TestSubscribersKeepingPaceThroughALongBurstAreNotDropped(t *testing.T) {
	log := newMemLog()
	b := newBroker(t, log, time.Hour)
	b.Patience = 200 * time.Millisecond
	var dropped atomic.Int32
	b.OnDrop = func(string) { dropped.Add(1) }
	subs := []*broker.Subscription{subscribe(t, b, "a", 64), subscribe(t, b, "a", 64)}
	const n = 2000
	for seq := range n {
		log.add("a", int64(seq+1))
	}
	b.Nudge("a")
	var wg sync.WaitGroup
	for _, s := range subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for got := 0; got < n; got++ {
				if _, ok := <-s.C; !ok {
					return
				}
				time.Sleep(100 * time.Microsecond) // a burst of seconds (sleeps round up): many times Patience
			}
		}()
	}
	wg.Wait()
	if d := dropped.Load(); d != 0 {
		t.Errorf("%d of two subscribers reading at one pace dropped during a burst of %d events", d, n)
	}
}

// A subscriber that joins while the project's only other subscriber has
// stopped reading gets its events after about Patience: the stalled one is
// dropped, although the events it holds up are older than the newcomer.
func TestASubscriberJoiningBesideAStalledOneIsServed(t *testing.T) {
	log := newMemLog()
	b := newBroker(t, log, 10*time.Millisecond)
	b.Patience = 100 * time.Millisecond
	stalled := subscribe(t, b, "p", 4) // never read
	for seq := int64(1); seq <= 20; seq++ {
		log.add("p", seq)
	}
	b.Nudge("p")
	time.Sleep(50 * time.Millisecond)
	late := subscribe(t, b, "p", 64)
	time.Sleep(50 * time.Millisecond) // the stalled one's events are read, waiting for its room
	log.add("p", 21)
	b.Nudge("p")
	select {
	case e := <-late.C:
		if e.Seq != 21 {
			t.Errorf("the newcomer got event %d, want 21", e.Seq)
		}
	case <-time.After(3 * time.Second):
		t.Fatalf("the newcomer got nothing in 3 s beside a stalled subscriber (Patience %s)", b.Patience)
	}
	if !stalled.Dropped() {
		t.Error("the stalled subscriber was not dropped")
	}
}

// A subscriber reading slowly through events that only it needs holds
// nobody back: one that subscribes meanwhile, at the log's head, waits for
// none of them while nothing is committed, and the slow one is not
// dropped for it, however long its backlog.
func TestASubscriberJoiningAtTheHeadDropsNobodyBehindIt(t *testing.T) {
	log := newMemLog()
	b := newBroker(t, log, 10*time.Millisecond)
	b.Patience = 200 * time.Millisecond
	slow := subscribe(t, b, "p", 8)
	const n = 100 // 1.5 s at the slow pace: several times Patience, more than a read
	for seq := int64(1); seq <= n; seq++ {
		log.add("p", seq)
	}
	b.Nudge("p")
	var late *broker.Subscription
	for got := int64(1); got <= n; got++ {
		select {
		case e, ok := <-slow.C:
			if !ok {
				t.Fatalf("the slow subscriber was dropped after %d of %d events", got-1, n)
			}
			if e.Seq != got {
				t.Fatalf("got event %d, want %d", e.Seq, got)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("event %d did not come", got)
		}
		if got == 3 {
			late = subscribe(t, b, "p", 64)
		}
		time.Sleep(15 * time.Millisecond)
	}
	if late.Dropped() || len(late.C) != 0 {
		t.Errorf("the late subscriber: dropped %v, %d events (want none: all were before it)", late.Dropped(), len(late.C))
	}
}
