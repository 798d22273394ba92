package resolver

import (
	"context"
	"slices"
	"strconv"

	"github.com/multicontact/multicontact/graph"
)

// replayEvents sends the project's events after the log position after and
// up to upTo (inclusive) that the subscription's filters let through, in
// order: those of the followed multi-contact (watch, its survivor today,
// followed across merges) or of the id the subscriber named (requested,
// which it may have had before a merge in the replayed span). It returns
// the last event it went past (after, if none); it reports false when the
// subscription ended meanwhile or the log could not be read (the
// subscription then completes, and its client resumes again from the last
// cursor it saw).
func replayEvents(ctx context.Context, store *graph.Store, project string, after, upTo int64,
	requested string, watch *string, client string, out chan<- *MultiContactEvent) (int64, bool) {
	for {
		page, err := store.Events(ctx, project, graph.Cursor(after), eventsPageSize)
		if err != nil {
			return after, false
		}
		for _, e := range page {
			if e.Seq > upTo {
				return after, true
			}
			named := requested != "" && e.MultiContactID == requested && (client == "" || slices.Contains(e.ClientIDs, client))
			if matches(e, watch, client) || named {
				select {
				case out <- eventOf(e, graph.Cursor(e.Seq)):
				case <-ctx.Done():
					return after, false
				}
			}
			after = e.Seq
		}
		if len(page) < eventsPageSize {
			return after, true
		}
	}
}

// cursorSeq is the log position of a cursor that Store.Events accepted.
func cursorSeq(cursor string) int64 {
	n, _ := strconv.ParseInt(cursor, 10, 64)
	return n
}
