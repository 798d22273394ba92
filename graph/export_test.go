package graph

import (
	"errors"
	"sync"
	"time"
)

// WaitBackground waits until no background re-resolution of the project
// is running in this store, so that a test can tell what its own calls did.
func (s *Store) WaitBackground(project string) {
	for s.batches.inBackground(project) {
		time.Sleep(10 * time.Millisecond)
	}
}

// FailGroupsOnce makes the next n group transactions fail once each, just
// before they commit, as a deadlock would; the store runs them again.
// failed tells how many it failed so far.
func FailGroupsOnce(n int) (failed func() int, restore func()) {
	var mu sync.Mutex
	done := 0
	groupFault = func() error {
		mu.Lock()
		defer mu.Unlock()
		if done < n {
			done++
			return errRace
		}
		return nil
	}
	return func() int { mu.Lock(); defer mu.Unlock(); return done }, func() { groupFault = nil }
}

// HoldNextGroup makes the next group transaction wait, just before it
// commits (its locks taken), until release is called; held is closed once
// it waits there.
func HoldNextGroup() (held <-chan struct{}, release func()) { return holdAt(&groupFault) }

// HoldNextChange is HoldNextGroup for the next change that is not a
// single write (a link, an exclusion, a block, a client removed).
func HoldNextChange() (held <-chan struct{}, release func()) { return holdAt(&changeFault) }

// holdAt sets the fault hook *at to wait once, until release.
func holdAt(at *func() error) (held <-chan struct{}, release func()) {
	h, r := make(chan struct{}), make(chan struct{})
	var once sync.Once
	*at = func() error {
		once.Do(func() {
			close(h)
			<-r
		})
		return nil
	}
	return h, func() {
		*at = nil
		select {
		case <-r:
		default:
			close(r)
		}
	}
}

// OnKeysBuilt runs f once, the next time a stale rule's keys are built,
// before the rule is marked fresh; restore removes it.
func OnKeysBuilt(f func(rule string)) (restore func()) {
	var once sync.Once
	keysBuilt = func(rule string) { once.Do(func() { f(rule) }) }
	return func() { keysBuilt = nil }
}

// LoseNextGroupCommit makes the next group of at least two writes report
// a failure after its transaction committed, as a COMMIT whose answer never
// came back would; then runs then (if not nil).
func LoseNextGroupCommit(then func()) (restore func()) {
	var once sync.Once
	commitLost = func(writes int) error {
		lost := false
		if writes >= 2 {
			once.Do(func() {
				lost = true
				if then != nil {
					then()
				}
			})
		}
		if lost {
			return errors.New("connection lost while committing")
		}
		return nil
	}
	return func() { commitLost = nil }
}

// WithAdoption makes a store look for abandoned re-resolutions every
// every, and take up those whose last import batch is older than after.
func WithAdoption(every, after time.Duration) Option {
	return func(s *Store) { s.adopt = adoption{every: every, after: after} }
}

// RefuseOpsOf makes every transaction that carries a write to client fail
// in its statements, as Neo4j refusing that write's data would.
func RefuseOpsOf(client string) (restore func()) {
	opRefused = func(op Op) bool { return op.Target() == client }
	return func() { opRefused = nil }
}
