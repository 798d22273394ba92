package graph_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/multicontact/multicontact/identity"
)

// The races below run 8 writers over clients and values that they share:
// any writer may write to any client, and the values come from one small
// pool, so writes to one client and to one match key really race. Each
// (client, value), link and exclusion is owned by one writer, which alone
// adds and removes it, so the final state of every acknowledged write is
// known exactly. The expected multi-contacts are computed offline from that
// model alone (never from the graph under test) and compared with what the
// store holds.

func TestRacingIncrementalWritersMatchTheOracleWithoutRepair(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			r := newRace(t, raceConfig{seed: seed, writers: 8, ops: 60, clients: 40, removes: true, keyCap: 1000})
			r.run(false)
			r.check(false) // no re-resolution ran: what the writes resolved is what is compared
		})
	}
}

func TestRacingWritersAndRuleSwitchesMatchTheOracle(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	for _, seed := range []uint64{4, 5} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			r := newRace(t, raceConfig{seed: seed, writers: 8, ops: 50, clients: 40, removes: true, keyCap: 1000})
			r.run(true)
			r.f.settle()
			r.check(true)
			// Then incremental writes alone on the re-resolved project,
			// compared before anything could repair them.
			r.cfg.seed += 100
			r.run(false)
			r.check(false)
		})
	}
}

// With a low cap on clients per key, keys are quarantined while writers
// race. Values are only added, so a key's holders only grow and the keys
// that must be quarantined follow from the writes: those held by more than
// the cap. (With removals a key stays quarantined after its holders fall
// back under the cap, which depends on the interleaving; that case is left
// to the races above, where the cap is never reached.)
func TestRacingWritersQuarantineExactlyTheKeysOverTheCap(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	for _, seed := range []uint64{7, 8} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			r := newRace(t, raceConfig{seed: seed, writers: 8, ops: 30, clients: 40, keyCap: 4})
			r.run(false)
			if len(r.wantQuarantined()) == 0 {
				t.Fatal("no key went over the cap: the test exercised too little")
			}
			r.check(false)
		})
	}
}

type raceConfig struct {
	seed     uint64
	writers  int
	ops      int // per writer and run
	clients  int
	removes  bool // values and links are taken away and clients excluded, not only added
	keyCap   int
	switches bool
}

// race is a project, the rules that link it, and what each writer knows
// it was acknowledged for the things it owns.
type race struct {
	t      *testing.T
	f      *fixture
	cfg    raceConfig
	rules  []identity.Rule // phone, email, contract
	models []raceModel     // by writer
	phones []string
}

type raceModel struct {
	values   map[string]map[string]bool // client -> "field=value" -> held
	links    map[[2]string]bool
	excluded map[string]bool
	contract *bool // writer 0's last switch of the contract rule
}

func newRace(t *testing.T, cfg raceConfig) *race {
	f := newFixture(t)
	if _, err := f.s.UpdateProjectSettings(f.ctx, f.project, identity.Settings{KeyCap: &cfg.keyCap}); err != nil {
		t.Fatal(err)
	}
	r := &race{t: t, f: f, cfg: cfg}
	r.rules = []identity.Rule{f.addRule("phone", "phone"), f.addRule("email", "email"), f.addRule("contract", "contract")}
	for i := range cfg.clients {
		f.client(r.id(i), []string{"web", "telegram", "whatsapp", "vk"}[i%4])
	}
	for i := range 12 {
		r.phones = append(r.phones, fmt.Sprintf("+7916%07d", 1000000+i))
	}
	for range cfg.writers {
		r.models = append(r.models, raceModel{values: map[string]map[string]bool{}, links: map[[2]string]bool{}, excluded: map[string]bool{}})
	}
	return r
}

func (r *race) id(i int) string { return fmt.Sprintf("c%02d", i) }

// owner is the writer that alone adds and removes a thing.
func (r *race) owner(parts ...string) int {
	h := fnv.New32a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return int(h.Sum32() % uint32(r.cfg.writers))
}

func (r *race) pick(rnd *rand.Rand) (string, string) {
	switch rnd.IntN(3) {
	case 0:
		return "phone", r.phones[rnd.IntN(len(r.phones))]
	case 1:
		return "email", fmt.Sprintf("p%d@example.com", rnd.IntN(12))
	default:
		return "contract", fmt.Sprintf("k-%d", rnd.IntN(8))
	}
}

// run races the writers once; with switches, writer 0 also switches the
// contract rule, which re-resolves the project in the background.
func (r *race) run(switches bool) {
	f, cfg := r.f, r.cfg
	var wg sync.WaitGroup
	errs := make(chan error, cfg.writers)
	for w := range cfg.writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(cfg.seed, uint64(w)))
			m := &r.models[w]
			ctx := context.Background()
			client := func() string { return r.id(rnd.IntN(cfg.clients)) }
			for range cfg.ops {
				var err error
				switch op := rnd.IntN(100); {
				case op < 55 || !cfg.removes && op < 85: // add a value to any client
					c, field, value := client(), "", ""
					for field, value = r.pick(rnd); r.owner(c, field, value) != w; field, value = r.pick(rnd) {
						c = client() // until it picks a value of a client that it owns
					}
					_, err = f.s.SetAttribute(ctx, f.project, c, identity.AttributeInput{Field: field, Value: value, Source: identity.SourceBot})
					if err == nil {
						if m.values[c] == nil {
							m.values[c] = map[string]bool{}
						}
						m.values[c][field+"="+value] = true
					}
				case op < 75 && cfg.removes: // remove a value it added
					var held []string
					for c, vs := range m.values {
						for fv, ok := range vs {
							if ok {
								held = append(held, c+" "+fv)
							}
						}
					}
					if len(held) == 0 {
						continue
					}
					slices.Sort(held)
					c, fv, _ := cutAt(held[rnd.IntN(len(held))], ' ')
					field, value, _ := cutAt(fv, '=')
					if err = f.s.RemoveAttribute(ctx, f.project, c, field, value); err == nil {
						m.values[c][fv] = false
					}
				case op < 90: // link or unlink two clients
					a, b := client(), client()
					for a >= b || r.owner(a, b) != w {
						a, b = client(), client()
					}
					pair := [2]string{a, b}
					if m.links[pair] && cfg.removes {
						if err = f.s.UnlinkClients(ctx, f.project, a, b); err == nil {
							m.links[pair] = false
						}
					} else if !m.links[pair] {
						if err = f.s.LinkClients(ctx, f.project, a, b); err == nil {
							m.links[pair] = true
						}
					}
				case op < 97 && cfg.removes: // exclude or include a client it owns
					i := rnd.IntN(cfg.clients)
					if i%cfg.writers != w {
						continue
					}
					c := r.id(i)
					if m.excluded[c] {
						err = f.s.IncludeClient(ctx, f.project, c)
					} else {
						err = f.s.ExcludeClient(ctx, f.project, c)
					}
					if err == nil {
						m.excluded[c] = !m.excluded[c]
					}
				case switches && w == 0: // switch the contract rule
					rule := r.rules[2]
					rule.Enabled = rnd.IntN(2) == 0
					if _, err = f.s.UpdateRule(ctx, f.project, rule); err == nil {
						m.contract = &rule.Enabled
					}
				}
				if err != nil && identity.ErrorCode(err) != identity.CodeTooManyValues {
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		r.t.Fatal(err)
	}
	r.bridge()
}

// bridge ends a run with writes that nothing after them repairs: each
// writer creates two clients of its own and gives both one new phone, all
// writers at once, which must merge each pair. A write whose resolution
// was skipped or wrong shows at once, and in the comparison that follows,
// as no later write touches those components.
func (r *race) bridge() {
	f := r.f
	var wg sync.WaitGroup
	for w := range r.cfg.writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			phone := fmt.Sprintf("+7903%03d%04d", r.cfg.seed%1000, w)
			pair := []string{fmt.Sprintf("bridge-%d-%d-a", r.cfg.seed, w), fmt.Sprintf("bridge-%d-%d-b", r.cfg.seed, w)}
			for _, c := range pair {
				if _, err := f.s.UpsertClient(context.Background(), f.project, identity.ClientInput{ID: c,
					Channel: identity.Channel{Kind: "web", Account: "acme"}}); err != nil {
					r.t.Error(err)
					return
				}
			}
			held := 0
			for _, c := range pair {
				_, err := f.s.SetAttribute(context.Background(), f.project, c, identity.AttributeInput{Field: "phone", Value: phone, Source: identity.SourceBot})
				if err == nil {
					held++
					m := &r.models[w]
					if m.values[c] == nil {
						m.values[c] = map[string]bool{}
					}
					m.values[c]["phone="+phone] = true
				} else if identity.ErrorCode(err) != identity.CodeTooManyValues {
					r.t.Error(err)
				}
			}
			// Bridges only merge, so once both writes are answered the two
			// clients are together, whatever the other writers do now.
			if held == 2 {
				a, errA := f.s.Client(context.Background(), f.project, pair[0])
				b, errB := f.s.Client(context.Background(), f.project, pair[1])
				if errA != nil || errB != nil || a.MultiContactID != b.MultiContactID {
					r.t.Errorf("%s and %s share %s, answered, yet are in %s and %s (%v %v)",
						pair[0], pair[1], phone, a.MultiContactID, b.MultiContactID, errA, errB)
				}
			}
		}()
	}
	wg.Wait()
}

// merged is the union of the writers' models: what the graph must hold.
func (r *race) merged() (values map[string]map[string]bool, links map[[2]string]bool, excluded map[string]bool, contract bool) {
	values, links, excluded, contract = map[string]map[string]bool{}, map[[2]string]bool{}, map[string]bool{}, true
	for _, m := range r.models {
		for c, vs := range m.values {
			for fv, held := range vs {
				if held {
					if values[c] == nil {
						values[c] = map[string]bool{}
					}
					values[c][fv] = true
				}
			}
		}
		for l, held := range m.links {
			if held {
				links[l] = true
			}
		}
		for c, ex := range m.excluded {
			if ex {
				excluded[c] = true
			}
		}
		if m.contract != nil {
			contract = *m.contract
		}
	}
	return values, links, excluded, contract
}

// wantQuarantined are the keys held by more clients than the cap, as
// "ruleID\x1ekey" (only exact when values are never removed).
func (r *race) wantQuarantined() map[string]bool {
	values, _, excluded, contract := r.merged()
	holders := map[string]int{}
	for c, vs := range values {
		if !excluded[c] {
			for _, k := range r.keys(vs, contract, nil) {
				holders[k]++
			}
		}
	}
	out := map[string]bool{}
	for k, n := range holders {
		if n > r.cfg.keyCap {
			out[k] = true
		}
	}
	return out
}

// keys are the linking keys of a client's values under the enabled rules.
func (r *race) keys(values map[string]bool, contract bool, quarantined map[string]bool) []string {
	var vals []identity.Value
	for fv := range values {
		field, value, _ := cutAt(fv, '=')
		vals = append(vals, identity.Value{Field: field, Value: value})
	}
	var out []string
	for i, rule := range r.rules {
		if i == 2 && !contract {
			continue
		}
		ks, _ := identity.MatchKeys(rule, vals)
		for _, k := range ks {
			if id := rule.ID + "\x1e" + k; !quarantined[id] {
				out = append(out, id)
			}
		}
	}
	return out
}

// check compares the store with the model. Without settled, the project
// must be IDLE as it is, with no re-resolution run before the comparison.
func (r *race) check(settled bool) {
	t, f := r.t, r.f
	t.Helper()
	if !settled {
		p, err := f.s.Project(f.ctx, f.project)
		if err != nil || p.Resolution.State != identity.ResolutionIdle {
			t.Fatalf("project after incremental writes: %+v %v, want IDLE", p.Resolution, err)
		}
	}
	dump, err := f.s.DumpProject(f.ctx, f.project)
	if err != nil {
		t.Fatal(err)
	}
	values, modelLinks, excluded, contract := r.merged()
	// Every acknowledged write is there, and nothing else.
	var ids []string
	for _, c := range dump.Clients {
		ids = append(ids, c.ID)
		got := map[string]bool{}
		for _, v := range c.Values {
			got[v.Field+"="+v.Value] = true
		}
		if g, w := sortedKeys(got), sortedKeys(values[c.ID]); !slices.Equal(g, w) {
			t.Errorf("client %s values = %v, want %v", c.ID, g, w)
		}
		if c.Excluded != excluded[c.ID] {
			t.Errorf("client %s excluded = %v, want %v", c.ID, c.Excluded, excluded[c.ID])
		}
	}
	gotLinks := map[[2]string]bool{}
	for _, l := range dump.Links {
		gotLinks[l] = true
	}
	if fmt.Sprint(gotLinks) != fmt.Sprint(modelLinks) {
		t.Errorf("links = %v, want %v", gotLinks, modelLinks)
	}
	enabled := 0
	for _, rule := range dump.Rules {
		if rule.ID == r.rules[2].ID {
			enabled++
		}
	}
	if enabled == 1 != contract {
		t.Errorf("the contract rule is enabled: %v, want %v", enabled == 1, contract)
	}
	quarantined := r.wantQuarantined()
	if r.cfg.removes {
		quarantined = map[string]bool{} // the cap is out of reach in these races
	}
	if fmt.Sprint(dump.Quarantined) != fmt.Sprint(quarantined) {
		t.Errorf("quarantined keys = %v, want %v", dump.Quarantined, quarantined)
	}

	// The stored multi-contacts are the components of the model.
	keys := map[string][]string{}
	for _, c := range ids {
		if !excluded[c] {
			keys[c] = r.keys(values[c], contract, quarantined)
		}
	}
	var links [][2]string
	for l := range modelLinks {
		if !excluded[l[0]] && !excluded[l[1]] {
			links = append(links, l)
		}
	}
	want := identity.Components(ids, keys, links)
	got := dump.Stored()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("multi-contacts differ from the oracle\n got  %v\n want %v", got, want)
	}
	for _, c := range dump.Clients {
		if c.MultiContactID == "" {
			t.Errorf("client %s has no multi-contact", c.ID)
		}
	}
	f.checkSizes()
	r.checkEvents()
}

// checkEvents: the log is numbered without gaps, and every absorbed id
// still resolves, to where its survivor resolves.
func (r *race) checkEvents() {
	t, f := r.t, r.f
	t.Helper()
	events := published.of(f.project)
	last, err := f.s.LastSeq(f.ctx, f.project)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(events)) != last {
		t.Errorf("the log holds %d events, the last number given is %d", len(events), last)
	}
	merges, splits := 0, 0
	for i, e := range events {
		if e.Seq != int64(i)+1 {
			t.Fatalf("event %d has number %d: the log has a gap or a repeat", i+1, e.Seq)
		}
		switch e.Type {
		case identity.EventMerged:
			merges++
			survivor := resolveID(f, e.MultiContactID)
			for _, old := range e.PreviousIDs {
				if got := resolveID(f, old); got != survivor {
					t.Errorf("absorbed id %s resolves to %q, its survivor %s to %q", old, got, e.MultiContactID, survivor)
				}
			}
		case identity.EventSplit:
			splits++
		}
	}
	if merges == 0 || splits == 0 && r.cfg.removes {
		t.Errorf("%d merges and %d splits: the race exercised too little", merges, splits)
	}
	t.Logf("%d events: %d merges, %d splits", len(events), merges, splits)
}

// resolveID is the live multi-contact an id resolves to ("" when none).
func resolveID(f *fixture, id string) string {
	mc, err := f.s.MultiContact(f.ctx, f.project, id)
	if identity.ErrorCode(err) == identity.CodeNotFound {
		return ""
	}
	if err != nil {
		f.t.Fatalf("multi-contact %s: %v", id, err)
	}
	return mc.ID
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k, held := range m {
		if held {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func cutAt(s string, sep byte) (string, string, bool) {
	for i := range len(s) {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
