package benchmark

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

const (
	disjointPerWriter = 5  // clients of each writer in the disjoint phase
	sharedClients     = 20 // clients all writers write in the contended phase
	sharedValues      = 5  // e-mails they give and take away
)

// retryReasons are the reasons of multicontact_tx_retries_total, in the
// order they are printed.
var retryReasons = []string{"deadlock", "transient", "race", "other"}

// contention compares 8 writers that share nothing (each gives its own
// clients new e-mails and takes them away again) with 8 writers on 20
// shared clients and 5 shared e-mails (every write may merge or split
// what the others write). The clients are in distinct multi-contacts when
// the phase starts. Retries are read from the service's metrics.
func (r *run) contention(ctx context.Context) error {
	picked, err := r.distinctClients(ctx, 8*disjointPerWriter+sharedClients)
	if err != nil {
		return err
	}
	own, shared := picked[:8*disjointPerWriter], picked[8*disjointPerWriter:]
	tag := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)

	type phase struct {
		name string
		op   func(ctx context.Context, rnd *rand.Rand, w, n int, refused *atomic.Int64) error
	}
	given := make([][][2]string, 8) // disjoint: per writer, the (client, value) it gave and may take away
	phases := []phase{
		{fmt.Sprintf("8 writers on disjoint clients (%d each, own e-mails)", disjointPerWriter), func(ctx context.Context, rnd *rand.Rand, w, n int, refused *atomic.Int64) error {
			if len(given[w]) > 0 && rnd.IntN(2) == 0 {
				g := given[w][len(given[w])-1]
				given[w] = given[w][:len(given[w])-1]
				return r.api.do(ctx, r.write, removeAttribute, map[string]any{"p": r.project, "c": g[0], "f": "email", "v": g[1]}, nil)
			}
			c := own[w*disjointPerWriter+rnd.IntN(disjointPerWriter)]
			v := fmt.Sprintf("dj-%s-%d-%d@bench.example", tag, w, n)
			given[w] = append(given[w], [2]string{c, v})
			return r.setEmail(ctx, c, v, refused)
		}},
		{fmt.Sprintf("8 writers on %d shared clients, %d shared e-mails", sharedClients, sharedValues), func(ctx context.Context, rnd *rand.Rand, w, n int, refused *atomic.Int64) error {
			c := shared[rnd.IntN(len(shared))]
			v := fmt.Sprintf("shared-%s-%d@bench.example", tag, rnd.IntN(sharedValues))
			if rnd.IntN(2) == 0 {
				return r.api.do(ctx, r.write, removeAttribute, map[string]any{"p": r.project, "c": c, "f": "email", "v": v}, nil)
			}
			return r.setEmail(ctx, c, v, refused)
		}},
	}
	var times []timing
	for _, ph := range phases {
		before, err := r.metrics(ctx)
		if err != nil {
			return err
		}
		seq, err := r.lastSeq(ctx)
		if err != nil {
			return err
		}
		var refused atomic.Int64
		t, err := r.parallel(ctx, 8, r.cfg.Writes, func(ctx context.Context, rnd *rand.Rand, w, n int) error {
			return ph.op(ctx, rnd, w, n, &refused)
		})
		if err != nil {
			return fmt.Errorf("%s: %w", ph.name, err)
		}
		after, err := r.metrics(ctx)
		if err != nil {
			return err
		}
		merged, split, err := r.countEvents(ctx, seq)
		if err != nil {
			return err
		}
		times = append(times, t)
		r.add(against(Row{Measure: ph.name + ": p50 / p99 / max, writes/s",
			Value: fmt.Sprintf("%s / %s / %s, %.0f/s", t.pct(50), t.pct(99), t.pct(100), t.rate())},
			t.rate(), r.ceil.write8.summary(), r.ceil.write8.rate()))
		r.add(Row{Measure: "  tx retries (" + strings.Join(retryReasons, " / ") + "); merges / splits; values refused",
			Value: fmt.Sprintf("%s; %d / %d; %d", retryCounts(before, after), merged, split, refused.Load())})
		r.add(Row{Measure: "  group commit: transactions; writes per transaction; time of one", Value: groupCommits(before, after)})
	}
	d, c := times[0], times[1]
	r.add(Row{Measure: "contended / disjoint: writes/s; p50; p99",
		Value: fmt.Sprintf("%s; %s; %s", ratio(c.rate(), d.rate()), ratio(quantile(c.lat, 50), quantile(d.lat, 50)), ratio(quantile(c.lat, 99), quantile(d.lat, 99)))})
	return nil
}

func (r *run) setEmail(ctx context.Context, client, value string, refused *atomic.Int64) error {
	var out struct{ SetAttribute struct{ Accepted bool } }
	if err := r.api.do(ctx, r.write, setAttribute, map[string]any{"p": r.project, "c": client, "f": "email", "v": value}, &out); err != nil {
		return err
	}
	if !out.SetAttribute.Accepted {
		refused.Add(1)
	}
	return nil
}

// distinctClients picks n random clients of the project that are, now, in
// n different multi-contacts.
func (r *run) distinctClients(ctx context.Context, n int) ([]string, error) {
	rnd := rand.New(rand.NewPCG(r.cfg.Seed, 123))
	order := rnd.Perm(len(r.clients))
	seen := map[string]bool{}
	var out []string
	for _, i := range order {
		if len(out) == n {
			return out, nil
		}
		id := r.clients[i]
		if seen[r.mcOf[id]] { // a cheap first filter: together after the rule change
			continue
		}
		var res struct {
			Client *struct{ MultiContact struct{ ID string } }
		}
		if err := r.api.do(ctx, r.read, `query($p: ID!, $c: ID!) { client(projectId: $p, id: $c) { multiContact { id } } }`,
			map[string]any{"p": r.project, "c": id}, &res); err != nil {
			return nil, err
		}
		if res.Client == nil || seen[res.Client.MultiContact.ID] {
			continue
		}
		seen[res.Client.MultiContact.ID], seen[r.mcOf[id]] = true, true
		out = append(out, id)
	}
	if len(out) < n {
		return nil, fmt.Errorf("contention: only %d clients in distinct multi-contacts, want %d", len(out), n)
	}
	return out, nil
}

// metrics reads the service's /metrics: each series (its name and
// labels, as printed) and its value.
func (r *run) metrics(ctx context.Context) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.api.url+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	res, err := r.api.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("metrics: %s", res.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		f, err := strconv.ParseFloat(line[i+1:], 64)
		if i < 0 || err != nil {
			return nil, fmt.Errorf("metrics: cannot read %q", line)
		}
		out[line[:i]] = f
	}
	if err := sc.Err(); err != nil {
		return nil, errors.Join(errors.New("metrics"), err)
	}
	return out, nil
}

// retryCounts are the transaction retries by reason between two reads of
// the metrics, in the order of retryReasons.
func retryCounts(before, after map[string]float64) string {
	var counts []string
	for _, reason := range retryReasons {
		series := `multicontact_tx_retries_total{reason="` + reason + `"}`
		counts = append(counts, strconv.FormatFloat(after[series]-before[series], 'f', 0, 64))
	}
	return strings.Join(counts, " / ")
}

// groupCommits says how the service grouped single writes between two
// reads of the metrics: transactions, the mean of writes each, and the
// mean time of one.
func groupCommits(before, after map[string]float64) string {
	delta := func(series string) float64 { return after[series] - before[series] }
	txs := delta("multicontact_write_group_size_count")
	if txs == 0 {
		return "no transaction"
	}
	return fmt.Sprintf("%.0f tx; %.1f writes / tx; %s a tx", txs, delta("multicontact_write_group_size_sum")/txs,
		time.Duration(delta("multicontact_write_group_duration_seconds_sum")/txs*float64(time.Second)).Round(10*time.Microsecond))
}

// quantile is the p-th percentile of lat in seconds (p = 100: the maximum).
func quantile(lat []time.Duration, p int) float64 {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)].Seconds()
}
