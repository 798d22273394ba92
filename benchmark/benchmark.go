// Package benchmark holds the service to its performance targets and to
// what Neo4j itself does: it generates a population, measures the Neo4j
// ceiling (the same work done with the least Cypher, through the same
// driver, on the same server), runs the real service as a separate
// process, imports through HTTP, changes a rule, writes and reads through
// the GraphQL API (each figure beside its ceiling, as a ratio), compares
// contended writers with disjoint ones, counts the Bolt traffic of each
// kind of call, and checks the result against the offline oracle.
package benchmark

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/multicontact/multicontact/graph"
	"github.com/multicontact/multicontact/identity"
	"github.com/multicontact/multicontact/population"
)

// Config of one benchmark run.
type Config struct {
	Clients   int
	Seed      uint64
	Writes    int    // incremental writes per phase (1 writer, then 8)
	Reads     int    // lookups per reader
	Binary    string // the multicontact binary to run as the service
	Neo4j     graph.Config
	Neo4jData string // Neo4j's data folder, for the store size; "" to skip
	WorkDir   string // where the generated files go
	Log       func(format string, args ...any)
}

// Row is one line of the result table. Ceiling is what Neo4j itself did
// for the same kind of work in the same run, and Ratio the service's
// throughput over the ceiling's ("0.27×": the service does 27% of what
// Neo4j can); both are empty when there is nothing to compare with.
type Row struct{ Measure, Value, Ceiling, Ratio, Target string }

// Run runs the benchmark and returns its table.
func Run(ctx context.Context, cfg Config) ([]Row, error) {
	r := &run{cfg: cfg, admin: "bench-" + strconv.FormatInt(time.Now().UnixNano(), 36)}
	defer r.stop()
	if p, err := newBoltProxy(cfg.Neo4j.URI); err != nil {
		cfg.Log("no Bolt counts: %v", err)
	} else {
		r.proxy = p
	}
	steps := []func(context.Context) error{r.generate, r.ceiling, r.start, r.setup, r.importData, r.ruleChange,
		r.writes, r.upserts, r.lookups, r.contention, r.profileService, r.resources, r.check}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return r.rows, err
		}
	}
	return r.rows, nil
}

type run struct {
	cfg          Config
	admin        string
	svc          *exec.Cmd
	api          *api
	project      string
	write, read  string
	data, truth  string
	clients      []string          // every client the import created
	mcOf         map[string]string // client -> multi-contact after the rule change
	held         []heldValue       // a sample of the phones and e-mails clients hold, for merges
	persons      map[string]string // client -> true person (the generator's, some of whose lines are refused)
	rows         []Row
	idleDeadline time.Duration
	ceil         ceilingResult
	proxy        *boltProxy // counts the Bolt traffic of the profiled calls; nil when it cannot
}

func (r *run) add(row Row) {
	r.rows = append(r.rows, row)
	line := row.Value
	if row.Ceiling != "" {
		line += "   (Neo4j: " + row.Ceiling + "; " + row.Ratio + ")"
	}
	r.cfg.Log("%-55s %s", row.Measure, line)
}

// against fills a row's ceiling and the ratio of the service's rate to it.
func against(row Row, rate float64, ceiling string, ceilingRate float64) Row {
	row.Ceiling, row.Ratio = ceiling, ratio(rate, ceilingRate)
	return row
}

// ratio formats a/b with two significant digits: "0.27×", "0.0041×", "1.3×".
func ratio(a, b float64) string {
	if b <= 0 {
		return "n/a"
	}
	v := a / b
	if v >= 10 {
		return fmt.Sprintf("%.0f×", v)
	}
	return strconv.FormatFloat(v, 'g', 2, 64) + "×"
}

func (r *run) generate(ctx context.Context) error {
	r.data = filepath.Join(r.cfg.WorkDir, fmt.Sprintf("population-%d-%d.ndjson", r.cfg.Clients, r.cfg.Seed))
	r.truth = r.data + ".truth.tsv"
	start := time.Now()
	out, err := os.Create(r.data)
	if err != nil {
		return err
	}
	truth, err := os.Create(r.truth)
	if err != nil {
		out.Close()
		return err
	}
	bw, tw := bufio.NewWriterSize(out, 1<<20), bufio.NewWriterSize(truth, 1<<20)
	st, err := population.Write(bw, tw, population.Config{Clients: r.cfg.Clients, Seed: r.cfg.Seed})
	err = errors.Join(err, bw.Flush(), tw.Flush(), out.Close(), truth.Close())
	if err != nil {
		return err
	}
	r.cfg.Log("generated %d lines (%d clients of %d persons) in %s", st.Lines, st.Clients, st.Persons, time.Since(start).Round(time.Millisecond))
	f, err := os.Open(r.truth)
	if err != nil {
		return err
	}
	defer f.Close()
	r.persons = make(map[string]string, r.cfg.Clients)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		c, p, _ := strings.Cut(sc.Text(), "\t")
		r.persons[c] = p
	}
	return sc.Err()
}

// start runs the service as its own process, so that its memory is its own.
func (r *run) start(ctx context.Context) error {
	svc, a, err := r.startService(r.cfg.Neo4j.URI, "service.log")
	r.svc, r.api = svc, a
	return err
}

// startService runs `multicontact serve` on a free port against the Neo4j
// at uri, logging to logName in the work folder, and waits until it is ready.
func (r *run) startService(uri, logName string) (*exec.Cmd, *api, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	svc := exec.Command(r.cfg.Binary, "serve", "-addr", addr, "-graphiql=false",
		"-neo4j-uri", uri, "-neo4j-user", r.cfg.Neo4j.User, "-neo4j-database", r.cfg.Neo4j.Database)
	svc.Env = append(os.Environ(), "MULTICONTACT_ADMIN_TOKEN="+r.admin, "NEO4J_PASSWORD="+r.cfg.Neo4j.Password)
	logf, err := os.Create(filepath.Join(r.cfg.WorkDir, logName))
	if err != nil {
		return nil, nil, err
	}
	defer logf.Close() // the child holds its own descriptor
	svc.Stdout, svc.Stderr = logf, logf
	if err := svc.Start(); err != nil {
		return nil, nil, err
	}
	a := newAPI("http://" + addr)
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		res, err := http.Get(a.url + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return svc, a, nil
			}
		}
	}
	stopService(svc)
	return nil, nil, fmt.Errorf("the service did not become ready; see %s", logName)
}

func (r *run) stop() {
	stopService(r.svc)
	if r.proxy != nil {
		r.proxy.Close()
	}
}

// stopService interrupts a service process and waits up to 15s before it
// kills it.
func stopService(svc *exec.Cmd) {
	if svc == nil || svc.Process == nil {
		return
	}
	_ = svc.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = svc.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = svc.Process.Kill()
		<-done
	}
}

func (r *run) setup(ctx context.Context) error {
	r.project = fmt.Sprintf("bench-%d", time.Now().Unix())
	if err := r.api.do(ctx, r.admin, `mutation($id: ID!) { createProject(input: {id: $id, name: "Benchmark", defaultRegion: "RU"}) { id } }`,
		map[string]any{"id": r.project}, nil); err != nil {
		return err
	}
	for role, dst := range map[string]*string{"WRITE": &r.write, "READ": &r.read} {
		var out struct{ CreateApiKey struct{ Secret string } }
		if err := r.api.do(ctx, r.admin, `mutation($p: ID!, $r: Role!) { createApiKey(projectId: $p, role: $r) { secret } }`,
			map[string]any{"p": r.project, "r": role}, &out); err != nil {
			return err
		}
		*dst = out.CreateApiKey.Secret
	}
	for _, f := range []string{"phone", "email"} {
		if err := r.api.do(ctx, r.admin, `mutation($p: ID!, $n: String!, $f: [String!]!) { addRule(projectId: $p, input: {name: $n, fields: $f}) { id } }`,
			map[string]any{"p": r.project, "n": "by " + f, "f": []string{f}}, nil); err != nil {
			return err
		}
	}
	_, err := r.waitIdle(ctx)
	return err
}

// waitIdle polls the project's resolution state and returns how long it
// took to become IDLE.
func (r *run) waitIdle(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	for {
		var out struct {
			Project struct{ Resolution struct{ State string } }
		}
		if err := r.api.do(ctx, r.read0(), `query($p: ID!) { project(id: $p) { resolution { state } } }`, map[string]any{"p": r.project}, &out); err != nil {
			return 0, err
		}
		if out.Project.Resolution.State == "IDLE" {
			return time.Since(start), nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (r *run) read0() string {
	if r.read != "" {
		return r.read
	}
	return r.admin
}

func (r *run) importData(ctx context.Context) error {
	f, err := os.Open(r.data)
	if err != nil {
		return err
	}
	defer f.Close()
	start := time.Now()
	sum, err := r.api.importFile(ctx, r.write, r.project, bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return err
	}
	took := time.Since(start)
	if e, _ := sum["error"].(string); e != "" {
		return fmt.Errorf("import: %s", e)
	}
	rate := float64(r.cfg.Clients) / took.Seconds()
	r.add(against(Row{Measure: "import over HTTP: clients/s (lines/s)", Value: fmt.Sprintf("%.0f (%.0f)", rate, sum["lines"].(float64)/took.Seconds()),
		Target: "≥ 20,000"}, rate, fmt.Sprintf("%.0f (bulk load)", r.ceil.bulk), r.ceil.bulk))
	r.add(Row{Measure: "import: total time; lines read / applied / refused / skipped", Value: fmt.Sprintf("%s; %.0f / %.0f / %.0f / %.0f",
		took.Round(time.Second), sum["lines"], sum["applied"], sum["refused"], sum["skipped"])})
	// Where the import's time goes: its writes, then (a large import) the
	// resolution of everything it wrote, by the batch path.
	resolving := time.Duration(num(sum["resolutionMs"])) * time.Millisecond
	writing := took - resolving
	r.add(against(Row{Measure: "  import: writing, then resolving: clients/s of the writes alone; time writing / resolving",
		Value: fmt.Sprintf("%.0f; %s / %s", float64(r.cfg.Clients)/writing.Seconds(), writing.Round(time.Second), resolving.Round(time.Second))},
		float64(r.cfg.Clients)/writing.Seconds(), fmt.Sprintf("%.0f (bulk load)", r.ceil.bulk), r.ceil.bulk))
	return nil
}

// num is a JSON number, 0 when absent.
func num(v any) float64 {
	f, _ := v.(float64)
	return f
}

// ruleChange adds a rule and times the background re-resolution, against
// the in-memory union-find over the same edges.
func (r *run) ruleChange(ctx context.Context) error {
	// First the preview of that change, as the console shows it before a
	// rule is saved: one streamed read of the project.
	var pv struct {
		PreviewRules struct{ Merges, Splits, MultiContacts, Largest int }
	}
	start := time.Now()
	if err := r.api.do(ctx, r.admin, `query($p: ID!) { previewRules(projectId: $p, rules: [
		{name: "phone", fields: ["phone"]}, {name: "email", fields: ["email"]}, {name: "external id", fields: ["externalId"]}]) {
		merges splits multiContacts largest } }`, map[string]any{"p": r.project}, &pv); err != nil {
		return err
	}
	r.add(Row{Measure: "previewRules of adding the rule: time; merges / splits; multi-contacts afterwards",
		Value: fmt.Sprintf("%s; %d / %d; %d", time.Since(start).Round(time.Millisecond), pv.PreviewRules.Merges, pv.PreviewRules.Splits,
			pv.PreviewRules.MultiContacts)})
	start = time.Now()
	if err := r.api.do(ctx, r.admin, `mutation($p: ID!) { addRule(projectId: $p, input: {name: "external id", fields: ["externalId"]}) { id } }`,
		map[string]any{"p": r.project}, nil); err != nil {
		return err
	}
	if _, err := r.waitIdle(ctx); err != nil {
		return err
	}
	took := time.Since(start)
	dump, err := r.dump(ctx)
	if err != nil {
		return err
	}
	r.add(Row{Measure: "  multi-contacts after adding the rule: previewed; made", Value: fmt.Sprintf("%d; %d",
		pv.PreviewRules.MultiContacts, len(dump.Stored()))})
	ids, keys, links := dump.OracleInput()
	r.clients = ids
	r.mcOf = make(map[string]string, len(dump.Clients))
	for _, c := range dump.Clients {
		r.mcOf[c.ID] = c.MultiContactID
	}
	r.held = sampleHeld(dump, 50_000)
	ufStart := time.Now()
	identity.Components(ids, keys, links)
	uf := time.Since(ufStart)
	r.add(Row{Measure: "re-resolution after adding a rule", Value: took.Round(10 * time.Millisecond).String(), Target: "≤ 60 s"})
	r.add(Row{Measure: "  in-memory union-find on the same edges (ratio)", Value: fmt.Sprintf("%s (%.0f×)", uf.Round(time.Millisecond), took.Seconds()/uf.Seconds())})
	return nil
}

func (r *run) dump(ctx context.Context) (graph.Dump, error) {
	s, err := graph.Open(ctx, r.cfg.Neo4j, graph.WithoutResuming())
	if err != nil {
		return graph.Dump{}, err
	}
	defer s.Close(ctx)
	return s.DumpProject(ctx, r.project)
}

// heldValue is a phone or e-mail that a client holds, and the
// multi-contact it was in after the import.
type heldValue struct{ client, mc, field, value string }

// sampleHeld takes up to max phones and e-mails from the dump, spread over it.
func sampleHeld(d graph.Dump, max int) []heldValue {
	var all []heldValue
	for _, c := range d.Clients {
		for _, v := range c.Values {
			if v.Field == "phone" || v.Field == "email" {
				all = append(all, heldValue{c.ID, c.MultiContactID, v.Field, v.Value})
			}
		}
	}
	if len(all) <= max {
		return all
	}
	out := make([]heldValue, max)
	for i := range out {
		out[i] = all[i*len(all)/max]
	}
	return out
}

const setAttribute = `mutation($p: ID!, $c: ID!, $f: String!, $v: String!) {
	setAttribute(projectId: $p, clientId: $c, field: $f, value: $v) { accepted error { code } }
}`

const removeAttribute = `mutation($p: ID!, $c: ID!, $f: String!, $v: String!) {
	removeAttribute(projectId: $p, clientId: $c, field: $f, value: $v) { id }
}`

// writes measures writes with 1 and with 8 concurrent writers. Of five
// writes, three give a client a new e-mail; one gives a client a phone or
// e-mail that a client of another multi-contact holds (a merge); one takes
// such a value away again from the client that got it (a split). The
// merges and splits that happened are counted from the event log.
func (r *run) writes(ctx context.Context) error {
	if len(r.held) < 2 {
		return errors.New("writes: no phones or e-mails to merge through")
	}
	for _, writers := range []int{1, 8} {
		before, err := r.lastSeq(ctx)
		if err != nil {
			return err
		}
		metricsBefore, err := r.metrics(ctx)
		if err != nil {
			return err
		}
		given := make([][]heldValue, writers) // per writer, the values it gave and may take away
		var refused atomic.Int64
		t, err := r.parallel(ctx, writers, r.cfg.Writes, func(ctx context.Context, rnd *rand.Rand, w, n int) error {
			op := rnd.IntN(5)
			if op == 1 && len(given[w]) == 0 {
				op = 0
			}
			vars := map[string]any{"p": r.project}
			switch op {
			case 0: // a merge: a value held in another multi-contact
				to, from := r.held[rnd.IntN(len(r.held))], r.held[rnd.IntN(len(r.held))]
				for try := 0; from.mc == to.mc && try < 100; try++ {
					from = r.held[rnd.IntN(len(r.held))]
				}
				given[w] = append(given[w], heldValue{client: to.client, field: from.field, value: from.value})
				vars["c"], vars["f"], vars["v"] = to.client, from.field, from.value
			case 1: // a split: take the last given value away again
				g := given[w][len(given[w])-1]
				given[w] = given[w][:len(given[w])-1]
				vars["c"], vars["f"], vars["v"] = g.client, g.field, g.value
				return r.api.do(ctx, r.write, removeAttribute, vars, nil)
			default: // an update: a new e-mail
				vars["c"], vars["f"], vars["v"] = r.clients[rnd.IntN(len(r.clients))], "email", fmt.Sprintf("w%d-%d-%d@bench.example", writers, n, rnd.Uint32())
			}
			var out struct{ SetAttribute struct{ Accepted bool } }
			if err := r.api.do(ctx, r.write, setAttribute, vars, &out); err != nil {
				return err
			}
			if !out.SetAttribute.Accepted {
				refused.Add(1)
			}
			return nil
		})
		if err != nil {
			return err
		}
		metricsAfter, err := r.metrics(ctx)
		if err != nil {
			return err
		}
		merged, split, err := r.countEvents(ctx, before)
		if err != nil {
			return err
		}
		target, ceil := "", r.ceil.write1
		if writers == 8 {
			target, ceil = "p99 ≤ 30 ms, ≥ 1,000/s", r.ceil.write8
		}
		r.add(against(Row{Measure: fmt.Sprintf("setAttribute/removeAttribute, %d writer(s): p50 / p99, writes/s", writers), Value: t.summary(), Target: target},
			t.rate(), ceil.summary(), ceil.rate()))
		r.add(Row{Measure: fmt.Sprintf("  %d writer(s): merges / splits (events); values refused", writers),
			Value: fmt.Sprintf("%d / %d; %d", merged, split, refused.Load())})
		r.add(Row{Measure: fmt.Sprintf("  %d writer(s): group commit: transactions; writes per transaction; time of one", writers),
			Value: groupCommits(metricsBefore, metricsAfter)})
		change := r.ceil.change1
		if writers == 8 {
			change = r.ceil.change8
		}
		r.add(against(Row{Measure: fmt.Sprintf("  %d writer(s) against the same graph change in one statement, no checks, no resolution: writes/s", writers),
			Value: fmt.Sprintf("%.0f/s", t.rate())}, t.rate(), change.summary(), change.rate()))
		if writers == 8 {
			g := r.ceil.grouped
			r.add(against(Row{Measure: fmt.Sprintf("  %d writer(s) against %d such changes in one statement, one tx at a time (one project's group commit at its best): writes/s", writers, ceilingRows),
				Value: fmt.Sprintf("%.0f/s", t.rate())}, t.rate(), fmt.Sprintf("%.0f/s", g.rate()*ceilingRows), g.rate()*ceilingRows))
		}
	}
	return nil
}

const eventsAfter = `query($p: ID!, $after: String, $first: Int) {
	events(projectId: $p, after: $after, first: $first) { edges { node { type } } pageInfo { endCursor hasNextPage } }
}`

type eventPage struct {
	Events struct {
		Edges []struct {
			Node struct{ Type string }
		}
		PageInfo struct {
			EndCursor   *string
			HasNextPage bool
		}
	}
}

// lastSeq finds the project's last event number with a few probes of the
// events query (a cursor is an event's number), instead of reading the
// whole log that the import wrote.
func (r *run) lastSeq(ctx context.Context) (int64, error) {
	some := func(after int64) (bool, error) {
		var out eventPage
		err := r.api.do(ctx, r.read, eventsAfter, map[string]any{"p": r.project, "after": graph.Cursor(after), "first": 1}, &out)
		return len(out.Events.Edges) > 0, err
	}
	if ok, err := some(0); err != nil || !ok {
		return 0, err
	}
	lo, hi := int64(0), int64(1) // events after lo, none after hi
	for {
		ok, err := some(hi)
		if err != nil {
			return 0, err
		}
		if !ok {
			break
		}
		lo, hi = hi, 2*hi
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		ok, err := some(mid)
		if err != nil {
			return 0, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi, nil
}

// countEvents counts the MERGED and SPLIT events after the event numbered after.
func (r *run) countEvents(ctx context.Context, after int64) (merged, split int, err error) {
	cursor := graph.Cursor(after)
	for {
		var out eventPage
		if err := r.api.do(ctx, r.read, eventsAfter, map[string]any{"p": r.project, "after": cursor, "first": 1000}, &out); err != nil {
			return 0, 0, err
		}
		for _, e := range out.Events.Edges {
			switch e.Node.Type {
			case "MERGED":
				merged++
			case "SPLIT":
				split++
			}
		}
		if !out.Events.PageInfo.HasNextPage || out.Events.PageInfo.EndCursor == nil {
			return merged, split, nil
		}
		cursor = *out.Events.PageInfo.EndCursor
	}
}

const upsertClient = `mutation($p: ID!, $in: ClientInput!) { upsertClient(projectId: $p, input: $in) { id } }`

// upsertVars is a new client with a new e-mail, as a CRM would create it.
func (r *run) upsertVars(prefix string, n int, rnd *rand.Rand) map[string]any {
	id := fmt.Sprintf("%s-%d-%d", prefix, n, rnd.Uint32())
	return map[string]any{"p": r.project, "in": map[string]any{
		"id": id, "channel": map[string]any{"kind": "web", "account": "main"}, "displayName": "Bench " + id,
		"attributes": []any{map[string]any{"field": "email", "value": id + "@bench.example"}},
	}}
}

// upserts measures upsertClient, one new client per request, with 8 writers.
func (r *run) upserts(ctx context.Context) error {
	before, err := r.metrics(ctx)
	if err != nil {
		return err
	}
	t, err := r.parallel(ctx, 8, r.cfg.Writes, func(ctx context.Context, rnd *rand.Rand, _, n int) error {
		return r.api.do(ctx, r.write, upsertClient, r.upsertVars("up", n, rnd), nil)
	})
	if err != nil {
		return err
	}
	after, err := r.metrics(ctx)
	if err != nil {
		return err
	}
	r.add(against(Row{Measure: "upsertClient (a new client, one a request), 8 writers: p50 / p99, writes/s", Value: t.summary()},
		t.rate(), r.ceil.write8.summary(), r.ceil.write8.rate()))
	r.add(Row{Measure: "  group commit: transactions; writes per transaction; time of one", Value: groupCommits(before, after)})
	return nil
}

const clientLookup = `query($p: ID!, $c: ID!) { client(projectId: $p, id: $c) { multiContact { id size clients { nodes { id } } } } }`

const multiContactLookup = `query($p: ID!, $id: ID!) { multiContact(projectId: $p, id: $id) { id size clients { nodes { id channel { kind } lastSeenAt } } } }`

const findClients = `query($p: ID!, $v: String!) { findClients(projectId: $p, field: "phone", value: $v) { nodes { id multiContact { id } } } }`

// lookupSample is a multi-contact id and a phone that a client holds.
type lookupSample struct{ mc, phone string }

// lookupSamples reads 500 random clients that hold a phone: their
// multi-contacts and phones are what the lookups ask for.
func (r *run) lookupSamples(ctx context.Context) ([]lookupSample, error) {
	var samples []lookupSample
	rnd := rand.New(rand.NewPCG(r.cfg.Seed, 99))
	for tries := 0; len(samples) < 500 && tries < 50_000; tries++ {
		var out struct {
			Client struct {
				MultiContact struct{ ID string }
				Attributes   []struct{ Field, Value string }
			}
		}
		id := r.clients[rnd.IntN(len(r.clients))]
		if err := r.api.do(ctx, r.read, `query($p: ID!, $c: ID!) { client(projectId: $p, id: $c) { multiContact { id } attributes { field value } } }`,
			map[string]any{"p": r.project, "c": id}, &out); err != nil {
			return nil, err
		}
		for _, a := range out.Client.Attributes {
			if a.Field == "phone" {
				samples = append(samples, lookupSample{out.Client.MultiContact.ID, a.Value})
				break
			}
		}
	}
	if len(samples) == 0 {
		return nil, errors.New("lookups: no client holds a phone")
	}
	return samples, nil
}

// lookups measures a client's multi-contact, multiContact and findClients
// with 8 concurrent readers, each beside Neo4j's point read.
func (r *run) lookups(ctx context.Context) error {
	samples, err := r.lookupSamples(ctx)
	if err != nil {
		return err
	}
	queries := []struct {
		name string
		run  func(context.Context, *rand.Rand) error
	}{
		{"client { multiContact { id size clients { id } } }", func(ctx context.Context, rnd *rand.Rand) error {
			return r.api.do(ctx, r.read, clientLookup, map[string]any{"p": r.project, "c": r.clients[rnd.IntN(len(r.clients))]}, nil)
		}},
		{"multiContact(id)", func(ctx context.Context, rnd *rand.Rand) error {
			return r.api.do(ctx, r.read, multiContactLookup, map[string]any{"p": r.project, "id": samples[rnd.IntN(len(samples))].mc}, nil)
		}},
		{"findClients(phone)", func(ctx context.Context, rnd *rand.Rand) error {
			return r.api.do(ctx, r.read, findClients, map[string]any{"p": r.project, "v": samples[rnd.IntN(len(samples))].phone}, nil)
		}},
	}
	for _, q := range queries {
		t, err := r.parallel(ctx, 8, r.cfg.Reads*8, func(ctx context.Context, rnd *rand.Rand, _, _ int) error { return q.run(ctx, rnd) })
		if err != nil {
			return err
		}
		r.add(against(Row{Measure: q.name + ", 8 readers: p50 / p99, queries/s", Value: t.summary(), Target: "p99 ≤ 10 ms, ≥ 3,000/s"},
			t.rate(), r.ceil.read.summary(), r.ceil.read.rate()))
	}
	return nil
}

// timing is the latency of each call of a phase and the phase's wall time.
type timing struct {
	lat  []time.Duration
	took time.Duration
}

// rate is calls per second of wall time.
func (t timing) rate() float64 {
	if t.took <= 0 {
		return 0
	}
	return float64(len(t.lat)) / t.took.Seconds()
}

func (t timing) pct(p int) string { return pct(t.lat, p) }

// summary is "p50 / p99, rate".
func (t timing) summary() string {
	return fmt.Sprintf("%s / %s, %.0f/s", t.pct(50), t.pct(99), t.rate())
}

// parallel runs total calls of fn over workers goroutines and returns each
// call's latency and the wall time. fn gets its worker's number and the
// call's.
func (r *run) parallel(ctx context.Context, workers, total int, fn func(context.Context, *rand.Rand, int, int) error) (timing, error) {
	lat := make([]time.Duration, total)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(r.cfg.Seed, uint64(w)))
			for i := w; i < total; i += workers {
				t := time.Now()
				if err := fn(ctx, rnd, w, i); err != nil {
					errs <- err
					return
				}
				lat[i] = time.Since(t)
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	close(errs)
	return timing{lat, took}, <-errs
}

func pct(lat []time.Duration, p int) string {
	if len(lat) == 0 {
		return "-"
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)].Round(10 * time.Microsecond).String()
}

func (r *run) resources(ctx context.Context) error {
	if hwm, err := peakRSS(r.svc.Process.Pid); err == nil {
		r.add(Row{Measure: "service peak RSS", Value: fmt.Sprintf("%.0f MB", float64(hwm)/1e6), Target: "≤ 300 MB"})
	}
	if r.cfg.Neo4jData != "" {
		if size, err := dirSize(r.cfg.Neo4jData); err == nil {
			r.add(Row{Measure: "Neo4j store on disk (data folder)", Value: fmt.Sprintf("%.0f MB", float64(size)/1e6)})
		}
	}
	return nil
}

// peakRSS reads a process's high-water resident set size (Linux).
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("no VmHWM")
}

func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			n += info.Size()
		}
		return err
	})
	return n, err
}

// check compares every multi-contact with the oracle's components over the
// final graph, and, for information, with the generator's true persons.
func (r *run) check(ctx context.Context) error {
	dump, err := r.dump(ctx)
	if err != nil {
		return err
	}
	byMC := map[string][]string{}
	for _, c := range dump.Clients {
		byMC[c.MultiContactID] = append(byMC[c.MultiContactID], c.ID)
	}
	got := map[string]bool{}
	for _, members := range byMC {
		slices.Sort(members)
		got[strings.Join(members, " ")] = true
	}
	mismatches := 0
	for _, comp := range dump.Components() {
		if !got[strings.Join(comp, " ")] {
			mismatches++
		}
	}
	r.add(Row{Measure: "multi-contacts differing from the oracle's components", Value: strconv.Itoa(mismatches), Target: "0"})
	// Against the truth: persons split over several multi-contacts, and
	// multi-contacts holding several persons (shared family or office phones).
	mcOf := map[string]string{}
	for mc, members := range byMC {
		for _, c := range members {
			mcOf[c] = mc
		}
	}
	personMCs, mcPersons := map[string]map[string]bool{}, map[string]map[string]bool{}
	for c, p := range r.persons {
		mc, ok := mcOf[c]
		if !ok {
			continue // a refused client line
		}
		if personMCs[p] == nil {
			personMCs[p] = map[string]bool{}
		}
		personMCs[p][mc] = true
		if mcPersons[mc] == nil {
			mcPersons[mc] = map[string]bool{}
		}
		mcPersons[mc][p] = true
	}
	split, mixed := 0, 0
	for _, m := range personMCs {
		if len(m) > 1 {
			split++
		}
	}
	for _, m := range mcPersons {
		if len(m) > 1 {
			mixed++
		}
	}
	r.add(Row{Measure: "truth: persons split / multi-contacts of several persons", Value: fmt.Sprintf("%d of %d / %d of %d", split, len(personMCs), mixed, len(mcPersons))})
	if mismatches > 0 {
		return fmt.Errorf("%d multi-contacts differ from the oracle", mismatches)
	}
	return nil
}
