package graph_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/multicontact/multicontact/graph"
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
