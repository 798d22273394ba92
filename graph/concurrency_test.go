package graph_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"testing"

	"github.com/multicontact/multicontact/identity"
)

// TestConcurrentWritersMatchTheOracle races 8 writers applying a random mix
// of value adds and removals, manual links and unlinks, exclusions and rule
// switches to one project. Each writer owns a slice of the clients (so the
// final state of every acknowledged write is known), links cross between
// owners, and rule switches re-resolve the project while the others write.
// Afterwards every acknowledged write must be in the graph and every
// client's multi-contact must equal the component that the offline
// union-find computes from the final graph.
func TestConcurrentWritersMatchTheOracle(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { raceWriters(t, seed, 8, 120) })
	}
}

// model is what one writer knows its clients must end with.
type model struct {
	values map[string]map[string]bool // client -> "field=value"
	links  map[[2]string]bool
}

func raceWriters(t *testing.T, seed uint64, writers, opsPerWriter int) {
	f := newFixture(t, []string{"phone"}, []string{"email"})
	big := 1000
	if _, err := f.s.UpdateProjectSettings(f.ctx, f.project, identity.Settings{KeyCap: &big}); err != nil {
		t.Fatal(err)
	}
	contract := f.addRule("by contract", "contract")
	const clients = 48
	id := func(i int) string { return fmt.Sprintf("c%02d", i) }
	for i := range clients {
		f.client(id(i), []string{"web", "telegram", "whatsapp", "vk"}[i%4])
	}
	phones := make([]string, 14)
	for i := range phones {
		phones[i] = fmt.Sprintf("+7916%07d", 1000000+i)
	}
	pick := func(r *rand.Rand) (string, string) {
		switch r.IntN(3) {
		case 0:
			return "phone", phones[r.IntN(len(phones))]
		case 1:
			return "email", fmt.Sprintf("p%d@example.com", r.IntN(14))
		default:
			return "contract", fmt.Sprintf("k-%d", r.IntN(8))
		}
	}

	models := make([]model, writers)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(w)))
			m := model{values: map[string]map[string]bool{}, links: map[[2]string]bool{}}
			mine := func() string { return id(w + writers*r.IntN(clients/writers)) }
			ctx := context.Background()
			for range opsPerWriter {
				var err error
				switch op := r.IntN(100); {
				case op < 50: // add a value
					c := mine()
					field, value := pick(r)
					_, err = f.s.SetAttribute(ctx, f.project, c, identity.AttributeInput{Field: field, Value: value, Source: identity.SourceBot})
					if err == nil {
						if m.values[c] == nil {
							m.values[c] = map[string]bool{}
						}
						m.values[c][field+"="+value] = true
					}
				case op < 75: // remove one of its values
					c := mine()
					held := sortedKeys(m.values[c])
					if len(held) == 0 {
						continue
					}
					fv := held[r.IntN(len(held))]
					field, value, _ := cut(fv)
					if err = f.s.RemoveAttribute(ctx, f.project, c, field, value); err == nil {
						delete(m.values[c], fv)
					}
				case op < 90: // link or unlink to a client of a higher id, owned by any writer
					a, b := mine(), id(r.IntN(clients))
					if a >= b {
						continue
					}
					pair := [2]string{a, b} // owned by the owner of its smaller end: this writer
					if m.links[pair] {
						if err = f.s.UnlinkClients(ctx, f.project, a, b); err == nil {
							delete(m.links, pair)
						}
					} else if err = f.s.LinkClients(ctx, f.project, a, b); err == nil {
						m.links[pair] = true
					}
				case op < 95: // exclude or include
					c := mine()
					if r.IntN(2) == 0 {
						err = f.s.ExcludeClient(ctx, f.project, c)
					} else {
						err = f.s.IncludeClient(ctx, f.project, c)
					}
				default: // switch the contract rule
					rule := contract
					rule.Enabled = r.IntN(2) == 0
					_, err = f.s.UpdateRule(ctx, f.project, rule)
				}
				if err != nil && identity.ErrorCode(err) != identity.CodeTooManyValues {
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
			}
			models[w] = m
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	f.settle()

	dump, err := f.s.DumpProject(f.ctx, f.project)
	if err != nil {
		t.Fatal(err)
	}
	// No acknowledged write was lost, and nothing appeared that was not written.
	wantLinks := map[[2]string]bool{}
	wantValues := map[string]map[string]bool{}
	for _, m := range models {
		for c, vs := range m.values {
			wantValues[c] = vs
		}
		for l := range m.links {
			wantLinks[l] = true
		}
	}
	for _, c := range dump.Clients {
		got := map[string]bool{}
		for _, v := range c.Values {
			got[v.Field+"="+v.Value] = true
		}
		if fmt.Sprint(sortedKeys(got)) != fmt.Sprint(sortedKeys(wantValues[c.ID])) {
			t.Errorf("client %s values = %v, want %v", c.ID, sortedKeys(got), sortedKeys(wantValues[c.ID]))
		}
	}
	gotLinks := map[[2]string]bool{}
	for _, l := range dump.Links {
		gotLinks[l] = true
	}
	if fmt.Sprint(gotLinks) != fmt.Sprint(wantLinks) {
		t.Errorf("links = %v, want %v", gotLinks, wantLinks)
	}

	// Multi-contacts equal the oracle's components.
	want := dump.Components()
	byMC := map[string][]string{}
	for _, c := range dump.Clients {
		byMC[c.MultiContactID] = append(byMC[c.MultiContactID], c.ID)
	}
	var got [][]string
	for _, members := range byMC {
		sort.Strings(members)
		got = append(got, members)
	}
	sort.Slice(got, func(i, j int) bool { return got[i][0] < got[j][0] })
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("multi-contacts differ from the oracle\n got  %v\n want %v", got, want)
	}
	if _, ok := byMC[""]; ok {
		t.Errorf("clients without a multi-contact: %v", byMC[""])
	}
	f.checkSizes()
	merges := 0
	for _, e := range published.of(f.project) {
		if e.Type == identity.EventMerged || e.Type == identity.EventSplit {
			merges++
		}
	}
	if merges == 0 {
		t.Errorf("the run merged and split nothing: the test exercised too little")
	}
	t.Logf("seed %d: %d components of %d clients, %d merge/split events", seed, len(want), clients, merges)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func cut(fv string) (string, string, bool) {
	for i := range fv {
		if fv[i] == '=' {
			return fv[:i], fv[i+1:], true
		}
	}
	return fv, "", false
}
