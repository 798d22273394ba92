package identity

import (
	"maps"
	"slices"
	"sort"
	"time"
)

// DeriveEvents turns one resolution's assignments into events: a SPLIT for
// every old id whose members now lie in several parts, a MERGED for every
// component that absorbed ids, CREATED for a component of clients that had
// none, DELETED for an old id left without members, and UPDATED for a
// component that only gained, lost or changed members. It is pure: the
// store calls it inside the transaction that resolves.
func DeriveEvents(project string, as []Assignment, members map[string]Member,
	old map[string]MCInfo, updated []string, cause Cause, now time.Time) []Event {
	ev := func(t EventType, mc string, clients []string) Event {
		return Event{Project: project, Type: t, MultiContactID: mc, ClientIDs: clients, Cause: cause, At: now}
	}
	partOf := map[string]string{} // client -> its new id
	for _, a := range as {
		for _, c := range a.Members {
			partOf[c] = a.ID
		}
	}
	// Parts of each old id: where its former members went.
	parts := map[string][]string{}
	formers := map[string][]string{}
	for _, m := range members {
		if m.MC == "" {
			continue
		}
		formers[m.MC] = append(formers[m.MC], m.ID)
		if !slices.Contains(parts[m.MC], partOf[m.ID]) {
			parts[m.MC] = append(parts[m.MC], partOf[m.ID])
		}
	}
	isUpdated := map[string]bool{}
	for _, c := range updated {
		isUpdated[c] = true
	}
	var out []Event
	for _, id := range slices.Sorted(maps.Keys(old)) {
		if len(formers[id]) == 0 {
			out = append(out, ev(EventDeleted, id, nil))
			continue
		}
		if len(parts[id]) > 1 {
			e := ev(EventSplit, id, slices.Sorted(slices.Values(formers[id])))
			for _, p := range parts[id] {
				if p != id {
					e.NewIDs = append(e.NewIDs, p)
				}
			}
			sort.Strings(e.NewIDs)
			out = append(out, e)
		}
	}
	for _, a := range as {
		switch {
		case len(a.Absorbed) > 0:
			e := ev(EventMerged, a.ID, a.Members)
			e.PreviousIDs = slices.Clone(a.Absorbed)
			out = append(out, e)
		case a.New && len(a.Previous) == 0:
			out = append(out, ev(EventCreated, a.ID, a.Members))
		case a.New:
			// A part split off an old id: its SPLIT event names it.
		default:
			changed := old[a.ID].Size != len(a.Members) || len(parts[a.ID]) > 1
			for _, c := range a.Members {
				if members[c].MC != a.ID || isUpdated[c] {
					changed = true
				}
			}
			if changed && len(parts[a.ID]) <= 1 {
				out = append(out, ev(EventUpdated, a.ID, a.Members))
			}
		}
	}
	return out
}
