package benchmark

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// perCall is what one call cost on the wire to Neo4j, averaged over a
// sequence of calls made one at a time through the counting proxy.
type perCall struct {
	roundTrips, statements, transactions float64
	waiting, latency                     time.Duration // mean time waiting on Neo4j, and mean call
}

func (p perCall) String() string {
	share := 0.0
	if p.latency > 0 {
		share = 100 * p.waiting.Seconds() / p.latency.Seconds()
	}
	return fmt.Sprintf("%.1f / %.1f / %.1f; %s of %s (%.0f%%)", p.roundTrips, p.statements, p.transactions,
		p.waiting.Round(10*time.Microsecond), p.latency.Round(10*time.Microsecond), share)
}

// profileCalls is how many calls each profile makes.
func (r *run) profileCalls() int { return max(20, min(200, r.cfg.Writes)) }

// profile makes calls one at a time (after a few to warm up) while only
// one client talks through the proxy, and divides what the proxy counted
// by the number of calls. It logs the statements by their time per call.
func (r *run) profile(name string, calls int, fn func(n int) error) (perCall, error) {
	for n := range 5 {
		if err := fn(-1 - n); err != nil {
			return perCall{}, err
		}
	}
	before := r.proxy.Counts()
	start := time.Now()
	for n := range calls {
		if err := fn(n); err != nil {
			return perCall{}, err
		}
	}
	took := time.Since(start)
	d := r.proxy.Counts().Sub(before)
	if d.RoundTrips == 0 {
		return perCall{}, errors.New("the counting proxy saw no Bolt request")
	}
	k := float64(calls)
	type stmt struct {
		label string
		statementTime
	}
	var stmts []stmt
	for label, st := range d.Statements {
		stmts = append(stmts, stmt{label, st})
	}
	slices.SortFunc(stmts, func(a, b stmt) int { return cmp.Compare(b.Time, a.Time) })
	r.cfg.Log("per %s, one at a time (%d calls): statement, runs per call, time per call", name, calls)
	for _, st := range stmts {
		r.cfg.Log("    %5.2f  %8s  %s", float64(st.N)/k, (st.Time / time.Duration(calls)).Round(time.Microsecond), st.label)
	}
	return perCall{
		roundTrips:   float64(d.RoundTrips) / k,
		statements:   float64(d.Requests["RUN"]) / k,
		transactions: float64(d.Requests["BEGIN"]) / k,
		waiting:      d.Waiting / time.Duration(calls),
		latency:      took / time.Duration(calls),
	}, nil
}

// profileService starts a second service process whose Bolt connections go
// through the counting proxy, and makes each kind of call one at a time:
// how many round trips, statements and transactions a call costs, and how
// much of its time is spent waiting on Neo4j. The figures of the main
// service are not slowed by the proxy.
func (r *run) profileService(ctx context.Context) error {
	if r.proxy == nil {
		return nil
	}
	svc, a, err := r.startService(r.proxy.URI(), "service-profiled.log")
	if err != nil {
		return err
	}
	defer stopService(svc)
	calls := r.profileCalls()
	rnd := rand.New(rand.NewPCG(r.cfg.Seed, 11))
	samples, err := r.lookupSamples(ctx)
	if err != nil {
		return err
	}
	// Only this process talks through the proxy now; its background work
	// (the check for revoked keys, once a second) is counted too.
	ops := []struct {
		name    string
		ceiling *perCall
		fn      func(n int) error
	}{
		{"setAttribute (a new e-mail)", &r.ceil.writeRT, func(n int) error {
			return a.do(ctx, r.write, setAttribute, map[string]any{"p": r.project, "c": r.clients[rnd.IntN(len(r.clients))],
				"f": "email", "v": fmt.Sprintf("prof-%d-%d@bench.example", n, rnd.Uint32())}, nil)
		}},
		{"upsertClient (a new client)", &r.ceil.writeRT, func(n int) error {
			return a.do(ctx, r.write, upsertClient, r.upsertVars("prof", n, rnd), nil)
		}},
		{"client { multiContact { id size clients { id } } }", &r.ceil.readRT, func(int) error {
			return a.do(ctx, r.read, clientLookup, map[string]any{"p": r.project, "c": r.clients[rnd.IntN(len(r.clients))]}, nil)
		}},
		{"multiContact(id)", &r.ceil.readRT, func(int) error {
			return a.do(ctx, r.read, multiContactLookup, map[string]any{"p": r.project, "id": samples[rnd.IntN(len(samples))].mc}, nil)
		}},
		{"findClients(phone)", &r.ceil.readRT, func(int) error {
			return a.do(ctx, r.read, findClients, map[string]any{"p": r.project, "v": samples[rnd.IntN(len(samples))].phone}, nil)
		}},
	}
	for _, op := range ops {
		p, err := r.profile(op.name, calls, op.fn)
		if err != nil {
			return fmt.Errorf("profile %s: %w", op.name, err)
		}
		row := Row{Measure: "  wire, one call at a time: " + op.name + ": round trips / statements / tx per call; waiting on Neo4j of the call",
			Value: p.String()}
		if r.ceil.profiled {
			// One call at a time, the rate is the inverse of the latency.
			row.Ceiling, row.Ratio = op.ceiling.String(), ratio(op.ceiling.latency.Seconds(), p.latency.Seconds())
		}
		r.add(row)
	}
	return nil
}
