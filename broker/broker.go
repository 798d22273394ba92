// Package broker feeds live subscribers from the projects' durable event
// logs (docs/architecture.md §7: the log is the backbone, replicas read it too).
//
// For every project with at least one subscriber a tailer reads the events
// numbered after the last one it handed out, in sequence (commit) order,
// and hands each to every subscriber of the project. A commit made through
// this process nudges the tailer to look at once; a poll finds commits made
// by other processes on the same database. Events are never handed over by
// the committing goroutine, so two commits that finish in either order, or
// in different processes, still reach subscribers in cursor order, and a
// consumer that resumes from the last cursor it saw misses nothing.
//
// A tailer reads no more events than the roomiest subscriber has room for,
// and hands each one out once every subscriber that needs it has room for
// it: a burst waits in the log (but for that one read), not in memory, and
// a subscriber is never dropped for its size alone (another replica's
// commits arrive a poll's worth at a time). A subscriber that waits for
// events a slow one holds up waits at most Patience: then the slow one is
// dropped (its channel closed, Dropped reports true), whether it takes no
// event or one now and then. One that holds nobody back (its project's
// only subscriber here, or behind on events nobody else waits for) is not
// dropped.
package broker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/multicontact/multicontact/identity"
)

// Log is a project's durable event log, numbered from 1 in commit order
// without gaps: where the broker reads every event it delivers
// (graph.Store is one).
type Log interface {
	// LastSeq returns the number of the project's latest event, 0 when it has none.
	LastSeq(ctx context.Context, project string) (int64, error)
	// EventsAfter returns up to max of the project's events numbered above
	// seq, in order.
	EventsAfter(ctx context.Context, project string, seq int64, max int) ([]identity.Event, error)
}

// DefaultPatience is how long a subscriber may hold up events another one
// waits for before it is dropped (Broker.Patience).
const DefaultPatience = 2 * time.Second

// DefaultPoll is how often a tailer looks for events that no nudge
// announced (commits made by another process).
const DefaultPoll = 250 * time.Millisecond

// page is how many events a tailer reads in one query.
const page = 256

// ErrClosed is returned by Subscribe once the broker is closed.
var ErrClosed = errors.New("the event broker is closed")

// Broker delivers the events of each project's log to its subscribers.
type Broker struct {
	// OnDrop, if set, is called (without locks held) when a slow subscriber is dropped.
	OnDrop func(project string)
	// OnPublish, if set, is called once for every event read from the log
	// and handed to a project's subscribers.
	OnPublish func(e identity.Event)
	// OnError, if set, is called when a tailer cannot read the log (it
	// tries again at the next poll) or skips a gap in it.
	OnError func(project string, err error)
	// GapWait is how long a tailer waits for a missing sequence number
	// to become visible before it skips it. The store numbers events
	// under the project's lock held until commit, so a gap is not
	// expected; the wait only bounds the harm if one ever appears.
	GapWait time.Duration
	// Patience is how long a subscriber may hold up events another one
	// waits for before it is dropped.
	Patience time.Duration
	// ReadTimeout bounds one read of the log: a connection to Neo4j that
	// hangs instead of failing (a partition, a dead cluster member) would
	// otherwise stop the project's subscribers until TCP gave up.
	ReadTimeout time.Duration

	poll time.Duration

	mu     sync.Mutex
	log    Log
	tails  map[string]*tail
	closed bool
	wg     sync.WaitGroup

	reads atomic.Int64 // reads of a log (EventsAfter), for Reads
}

// tail follows one project's log while it has subscribers.
type tail struct {
	project   string
	subs      map[*Subscription]struct{}
	delivered int64         // guarded by Broker.mu: the last event handed to subs
	wake      chan struct{} // a nudge; buffered, so nudging never waits
	ctx       context.Context
	stop      context.CancelFunc // called when the last subscriber leaves
}

// New returns a broker that polls every poll (DefaultPoll if poll <= 0).
// It serves subscriptions once Start gives it a log.
func New(poll time.Duration) *Broker {
	if poll <= 0 {
		poll = DefaultPoll
	}
	return &Broker{poll: poll, GapWait: 2 * time.Second, Patience: DefaultPatience, ReadTimeout: 10 * time.Second,
		tails: map[string]*tail{}}
}

// Start makes log the source of every event the broker delivers. It is
// separate from New because the store that implements Log is opened with
// the broker as its notifier.
func (b *Broker) Start(log Log) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.log = log
}

// Subscription receives a project's events on C until it is closed or dropped.
type Subscription struct {
	// C delivers, in sequence order, every event committed after Subscribe
	// returned; it is closed by Close, by the broker's Close, or when the
	// subscriber held the project's other subscribers back for Patience.
	C <-chan identity.Event

	c       chan identity.Event
	b       *Broker
	t       *tail
	after   int64 // the log's last event when it subscribed
	closed  bool  // guarded by b.mu
	dropped atomic.Bool
}

// DefaultBuffer is how many events a subscriber holds before the others
// wait for it: the service subscribes every client with it.
const DefaultBuffer = 64

// Subscribe starts receiving the events of project that are committed from
// now on, buffering up to buf of them. It reads where the project's log
// ends, so it fails when the log cannot be read (or the project does not
// exist).
func (b *Broker) Subscribe(ctx context.Context, project string, buf int) (*Subscription, error) {
	b.mu.Lock()
	log := b.log
	b.mu.Unlock()
	if log == nil {
		return nil, errors.New("the event broker has no log: call Start")
	}
	head, err := log.LastSeq(ctx, project)
	if err != nil {
		return nil, err
	}
	c := make(chan identity.Event, max(buf, 1))
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	t := b.tails[project]
	if t == nil {
		t = &tail{project: project, subs: map[*Subscription]struct{}{}, delivered: head, wake: make(chan struct{}, 1)}
		t.ctx, t.stop = context.WithCancel(context.Background())
		b.tails[project] = t
		b.wg.Add(1)
		go b.follow(t, log, head)
	}
	// A tailer that has handed out events after head since it was read
	// will not hand them out again: the subscription starts after them,
	// and whoever replays up to After reads them from the log.
	s := &Subscription{C: c, c: c, b: b, t: t, after: max(head, t.delivered)}
	t.subs[s] = struct{}{}
	return s, nil
}

// Close stops the subscription and closes C; it is safe to call more than once.
func (s *Subscription) Close() {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.b.closeLocked(s)
}

// closeLocked ends a subscription, and its project's tailer with the last one.
func (b *Broker) closeLocked(s *Subscription) {
	if s.closed {
		return
	}
	s.closed = true
	close(s.c)
	delete(s.t.subs, s)
	if len(s.t.subs) == 0 {
		s.t.stop()
		if b.tails[s.t.project] == s.t {
			delete(b.tails, s.t.project)
		}
	}
}

// After is the sequence number of the log's last event when the
// subscription began: C delivers the events after it.
func (s *Subscription) After() int64 { return s.after }

// Dropped reports whether the broker dropped this subscriber for being slow.
func (s *Subscription) Dropped() bool { return s.dropped.Load() }

// Nudge tells the tailer of project, if it has subscribers, that its log
// has grown; it never waits. The store calls it after every commit that
// recorded events.
func (b *Broker) Nudge(project string) {
	b.mu.Lock()
	t := b.tails[project]
	b.mu.Unlock()
	if t != nil {
		select {
		case t.wake <- struct{}{}:
		default: // a nudge is already pending; it covers this commit too
		}
	}
}

// Close ends every subscription and waits for the tailers to stop.
func (b *Broker) Close() {
	b.mu.Lock()
	b.closed = true
	for _, t := range b.tails {
		for s := range t.subs {
			b.closeLocked(s)
		}
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// Subscribers returns the number of open subscriptions, for tests and metrics.
func (b *Broker) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, t := range b.tails {
		n += len(t.subs)
	}
	return n
}

// Projects returns the number of projects with subscribers: each costs one
// read of its log per poll interval and per local commit.
func (b *Broker) Projects() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.tails)
}

// Reads returns how many times the tailers have read a log so far (one
// query each), for metrics: what this replica costs Neo4j to feed its
// subscribers.
func (b *Broker) Reads() int64 { return b.reads.Load() }

// follow is a project's tailer: it delivers the events after seq, then
// waits for a nudge or the next poll, until the last subscriber leaves.
func (b *Broker) follow(t *tail, log Log, seq int64) {
	defer b.wg.Done()
	p := position{seq: seq}
	timer := time.NewTimer(b.poll)
	defer timer.Stop()
	for {
		b.catchUp(t, log, &p)
		timer.Reset(b.pause(p))
		select {
		case <-t.ctx.Done():
			return
		case <-t.wake:
		case <-timer.C:
		}
	}
}

// position is where a tailer is in its project's log.
type position struct {
	seq      int64            // the last event read
	pending  []identity.Event // read, not yet handed out: a subscriber had no room
	head     int64            // the log's last event as last seen (reads, and looks while blocked)
	lookedAt time.Time        // when the head was last looked up while blocked
	blocked  time.Time        // since when a subscriber has waited for pending events (zero: none waits)
	more     bool             // the last read got all it asked for: the log may hold more
	gapSince time.Time        // when the number after seq was first seen missing
	failures int              // reads of the log that failed in a row
	waiting  bool             // a subscriber's buffer is full: look again soon
}

// waitForRoom is how often a tailer looks again for room in its
// subscribers' buffers while one of them is full.
const waitForRoom = 10 * time.Millisecond

// maxBackoff bounds the pause between reads of a log that cannot be read.
const maxBackoff = 10 * time.Second

// pause is how long a tailer waits for a nudge before it reads again: the
// poll interval; less while a number is missing; more, doubling up to
// maxBackoff, while the log cannot be read (Neo4j away), so that neither
// the database nor the log is flooded.
func (b *Broker) pause(p position) time.Duration {
	switch {
	case p.failures > 0:
		return max(b.poll, min(b.poll<<min(p.failures, 10), maxBackoff))
	case !p.gapSince.IsZero():
		return min(b.poll, max(b.GapWait/8, time.Millisecond))
	case p.waiting:
		return min(b.poll, waitForRoom)
	}
	return b.poll
}

// catchUp hands out the events read before, then reads and hands out the
// events after p.seq until the log has no more or a subscriber has no room
// for them. It stops at a missing number (see GapWait) and skips it once it
// has been missing for GapWait.
func (b *Broker) catchUp(t *tail, log Log, p *position) {
	for read := false; t.ctx.Err() == nil; read = true {
		most := b.handOut(t, p)
		if p.waiting = len(p.pending) > 0 || most == 0; p.waiting || read && !p.more {
			if len(p.pending) > 0 && time.Since(p.lookedAt) >= b.poll {
				b.lookAtHead(t, log, p)
			}
			return
		}
		want := min(page, most)
		b.reads.Add(1)
		ctx, cancel := context.WithTimeout(t.ctx, b.ReadTimeout)
		events, err := log.EventsAfter(ctx, t.project, p.seq, want)
		cancel()
		if err != nil {
			if t.ctx.Err() == nil {
				p.failures++
				if b.OnError != nil {
					b.OnError(t.project, fmt.Errorf("read the event log after %d (failure %d in a row): %w", p.seq, p.failures, err))
				}
			}
			return
		}
		p.failures = 0
		next := p.seq + 1
		n := 0 // events[:n] follow p.seq without a gap
		for _, e := range events {
			if e.Seq > next {
				if p.gapSince.IsZero() {
					p.gapSince = time.Now()
				}
				if time.Since(p.gapSince) < b.GapWait {
					break
				}
				if b.OnError != nil {
					b.OnError(t.project, fmt.Errorf("events %d to %d never appeared in the log; skipped after %s", next, e.Seq-1, b.GapWait))
				}
			}
			p.gapSince = time.Time{}
			events[n] = e
			n++
			next = e.Seq + 1
		}
		if n > 0 {
			p.seq = events[n-1].Seq
		}
		p.pending, p.more = events[:n], n == want
		if n > 0 {
			p.head = max(p.head, events[n-1].Seq)
		}
	}
}

// handOut hands out, in order, the pending events that every subscriber has
// room for (counting only those it needs: the events after the head it
// subscribed at), and returns how many events the roomiest subscriber has
// room for now. When a subscriber waits for events that the pending ones
// hold up (another subscriber has no room for them), it waits at most
// Patience: then the subscribers whose room is the shortest are dropped. So
// a slow subscriber delays the others' events by about Patience, whether it
// takes none or one now and then; one that holds nobody back (alone, as
// stuck as the others, or behind on events nobody else waits for) is not
// dropped.
func (b *Broker) handOut(t *tail, p *position) int {
	dropped := 0
	b.mu.Lock()
	room, short, waiting := b.room(t, p)
	switch {
	case room == len(p.pending) || !waiting:
		p.blocked = time.Time{}
	case p.blocked.IsZero():
		p.blocked = time.Now()
	case time.Since(p.blocked) >= b.Patience:
		for _, s := range short {
			s.dropped.Store(true)
			b.closeLocked(s)
			dropped++
		}
		p.blocked = time.Time{}
		room, _, _ = b.room(t, p)
	}
	events, most := p.pending[:room], 0
	for s := range t.subs {
		for _, e := range events {
			if e.Seq > s.after { // else committed before it subscribed
				s.c <- e // never waits: room counted what each takes
			}
		}
		most = max(most, cap(s.c)-len(s.c))
	}
	if room > 0 {
		t.delivered = events[room-1].Seq
	}
	b.mu.Unlock()
	p.pending = p.pending[room:]
	if b.OnPublish != nil {
		for _, e := range events {
			b.OnPublish(e)
		}
	}
	b.dropped(t.project, dropped)
	return most
}

// room is how many of the pending events every subscriber of the tail has
// room for now; short are the subscribers with no room for more than that
// when it is not all of them, and waiting says whether another subscriber
// waits for events they hold up: one of them, or one after them (read only
// once these are handed out) that it needs (after what it subscribed at).
// Called with b.mu held.
func (b *Broker) room(t *tail, p *position) (room int, short []*Subscription, waiting bool) {
	room = len(p.pending)
	fits := map[*Subscription]int{}
	for s := range t.subs {
		free, n := cap(s.c)-len(s.c), len(p.pending)
		for i, e := range p.pending {
			if e.Seq > s.after {
				if free == 0 {
					n = i
					break
				}
				free--
			}
		}
		fits[s], room = n, min(room, n)
	}
	if room == len(p.pending) {
		return room, nil, false
	}
	for s, n := range fits {
		if n == room {
			short = append(short, s)
		} else if p.head > s.after {
			waiting = true
		}
	}
	return room, short, waiting
}

// lookAtHead learns how far the log goes while pending events are held up:
// whether a subscriber that needs none of them waits for later ones.
func (b *Broker) lookAtHead(t *tail, log Log, p *position) {
	p.lookedAt = time.Now()
	ctx, cancel := context.WithTimeout(t.ctx, b.ReadTimeout)
	defer cancel()
	if head, err := log.LastSeq(ctx, t.project); err == nil {
		p.head = max(p.head, head)
	}
}

func (b *Broker) dropped(project string, n int) {
	if b.OnDrop != nil {
		for range n {
			b.OnDrop(project)
		}
	}
}
