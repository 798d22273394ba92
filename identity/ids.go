package identity

import (
	"cmp"
	"slices"
)

// Member is a client as the id assignment sees it: when it was created
// and which multi-contact it belonged to before the change.
type Member struct {
	ID        string
	CreatedAt int64  // unix milliseconds
	MC        string // current multi-contact id, "" if none yet
}

// MCInfo describes an existing multi-contact, whose size and age decide
// which id survives a merge.
type MCInfo struct {
	ID        string
	Size      int
	CreatedAt int64 // unix milliseconds
}

// Assignment is the id given to one new component, and where it came
// from, so the store can write aliases and tell subscribers what happened.
type Assignment struct {
	ID       string   // kept old id, or a new one
	New      bool     // ID was made by newID
	Members  []string // sorted
	Absorbed []string // old ids merged into ID, which become its aliases; sorted
	Previous []string // every old id its members had, sorted
}

// AssignIDs gives each new component an id, keeping multi-contact ids
// stable as CRM integrations store them. old describes every multi-contact
// referenced by members' MC; newID makes a fresh id and is called in the
// order of components.
//
// Each old id O goes to the component holding O's oldest member (by
// CreatedAt, then ID) among the members of components whose MC is O: on a
// split the part with the oldest member keeps the id. A component receiving
// several old ids keeps the one with the largest Size (tie: smaller
// CreatedAt, then smaller ID) and absorbs the others: on a merge the larger
// keeps its id. A component receiving none gets newID(). Members missing
// from members count as new clients; an old id missing from old counts with
// the number of its members here as Size and its oldest member's CreatedAt.
func AssignIDs(components [][]string, members map[string]Member, old map[string]MCInfo, newID func() string) []Assignment {
	type holder struct {
		comp   int    // component receiving the id
		oldest Member // its oldest member seen so far
		count  int    // members seen
	}
	holders := make(map[string]*holder)
	for ci, comp := range components {
		for _, id := range comp {
			m, ok := members[id]
			if !ok || m.MC == "" {
				continue
			}
			m.ID = id
			h := holders[m.MC]
			if h == nil {
				holders[m.MC] = &holder{comp: ci, oldest: m, count: 1}
				continue
			}
			h.count++
			if m.CreatedAt < h.oldest.CreatedAt || m.CreatedAt == h.oldest.CreatedAt && m.ID < h.oldest.ID {
				h.comp, h.oldest = ci, m
			}
		}
	}
	info := func(o string) MCInfo {
		if mi, ok := old[o]; ok {
			return mi
		}
		h := holders[o]
		return MCInfo{ID: o, Size: h.count, CreatedAt: h.oldest.CreatedAt}
	}
	received := make([][]string, len(components))
	for o, h := range holders {
		received[h.comp] = append(received[h.comp], o)
	}
	out := make([]Assignment, len(components))
	for ci, comp := range components {
		a := Assignment{Members: slices.Clone(comp)}
		slices.Sort(a.Members)
		for _, id := range a.Members {
			if m, ok := members[id]; ok && m.MC != "" {
				a.Previous = append(a.Previous, m.MC)
			}
		}
		slices.Sort(a.Previous)
		a.Previous = slices.Compact(a.Previous)
		got := received[ci]
		if len(got) == 0 {
			a.ID, a.New = newID(), true
			out[ci] = a
			continue
		}
		slices.SortFunc(got, func(x, y string) int {
			ix, iy := info(x), info(y)
			return cmp.Or(
				cmp.Compare(iy.Size, ix.Size),
				cmp.Compare(ix.CreatedAt, iy.CreatedAt),
				cmp.Compare(x, y),
			)
		})
		a.ID = got[0]
		if len(got) > 1 {
			a.Absorbed = slices.Clone(got[1:])
			slices.Sort(a.Absorbed)
		}
		out[ci] = a
	}
	return out
}
