// Package broker fans committed identity events out to in-process
// subscribers. Publishing never blocks the writer: a subscriber whose
// buffer is full is dropped (its channel closed, Dropped reports true)
// instead of being waited for. Between replicas a real broker (NATS) would
// take its place behind the same graph.Publisher interface.
package broker

import (
	"sync"
	"sync/atomic"

	"github.com/multicontact/multicontact/graph"
	"github.com/multicontact/multicontact/identity"
)

var _ graph.Publisher = (*Broker)(nil)

// Broker is an in-process publish/subscribe hub keyed by project.
type Broker struct {
	mu   sync.Mutex
	subs map[string]map[*Subscription]struct{}

	// OnDrop, if set, is called (without locks held) when a slow subscriber is dropped.
	OnDrop func(project string)
	// OnPublish, if set, is called for every event published.
	OnPublish func(e identity.Event)
}

// New returns an empty broker.
func New() *Broker { return &Broker{subs: map[string]map[*Subscription]struct{}{}} }

// Subscription receives a project's events on C until it is closed or dropped.
type Subscription struct {
	// C delivers events in commit order; it is closed by Close or when the
	// subscriber fell behind by more than its buffer.
	C <-chan identity.Event

	c       chan identity.Event
	b       *Broker
	project string
	once    sync.Once
	dropped atomic.Bool
}

// Subscribe starts receiving the events of project, buffering up to buf of them.
func (b *Broker) Subscribe(project string, buf int) *Subscription {
	if buf < 1 {
		buf = 1
	}
	c := make(chan identity.Event, buf)
	s := &Subscription{C: c, c: c, b: b, project: project}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.subs[project] == nil {
		b.subs[project] = map[*Subscription]struct{}{}
	}
	b.subs[project][s] = struct{}{}
	return s
}

// Close stops the subscription and closes C; it is safe to call more than once.
func (s *Subscription) Close() {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.closeLocked()
}

func (s *Subscription) closeLocked() {
	s.once.Do(func() {
		delete(s.b.subs[s.project], s)
		if len(s.b.subs[s.project]) == 0 {
			delete(s.b.subs, s.project)
		}
		close(s.c)
	})
}

// Dropped reports whether the broker dropped this subscriber for being slow.
func (s *Subscription) Dropped() bool { return s.dropped.Load() }

// Publish hands events to the subscribers of their projects without waiting.
func (b *Broker) Publish(events []identity.Event) {
	var dropped []string
	b.mu.Lock()
	for _, e := range events {
		for s := range b.subs[e.Project] {
			select {
			case s.c <- e:
			default:
				s.dropped.Store(true)
				s.closeLocked()
				dropped = append(dropped, e.Project)
			}
		}
	}
	b.mu.Unlock()
	if b.OnPublish != nil {
		for _, e := range events {
			b.OnPublish(e)
		}
	}
	if b.OnDrop != nil {
		for _, p := range dropped {
			b.OnDrop(p)
		}
	}
}

// Subscribers returns the number of open subscriptions, for tests and metrics.
func (b *Broker) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, m := range b.subs {
		n += len(m)
	}
	return n
}
