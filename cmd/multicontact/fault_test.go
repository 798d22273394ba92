package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/graph"
	"github.com/multicontact/multicontact/graph/graphtest"
)

// boltProxy forwards TCP connections to the test Neo4j, so that a test can
// take Neo4j away from one service (cut) and give it back (restore)
// without touching the server that every test shares.
type boltProxy struct {
	t      *testing.T
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener // nil while cut
	conns map[net.Conn]bool
}

func startProxy(t *testing.T) *boltProxy {
	t.Helper()
	u, err := url.Parse(graphtest.Config().URI)
	if err != nil {
		t.Fatal(err)
	}
	p := &boltProxy{t: t, target: u.Host, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

// uri is the Bolt URI that reaches Neo4j through the proxy.
func (p *boltProxy) uri() string { return "bolt://" + p.addr }

func (p *boltProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.pipe(c)
		}
	}()
}

func (p *boltProxy) pipe(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(c, up) {
		return
	}
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, c); done <- struct{}{} }()
	go func() { io.Copy(c, up); done <- struct{}{} }()
	<-done
	c.Close()
	up.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// track registers a forwarded pair, or closes it when the proxy was cut meanwhile.
func (p *boltProxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		for _, c := range conns {
			c.Close()
		}
		return false
	}
	for _, c := range conns {
		p.conns[c] = true
	}
	return true
}

// cut closes the listener and every forwarded connection: new connections
// are refused until restore.
func (p *boltProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// restore listens again on the same address.
func (p *boltProxy) restore() {
	p.t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("restore the proxy on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

// outcome is what one call answered, for tests that run many at once
// (and so cannot stop the test from their goroutines).
type outcome struct {
	status     int
	retryAfter string
	code       string // the first error's extensions.code, "" without errors
	scope      string // extensions.scope of a RATE_LIMITED refusal
	data       json.RawMessage
	started    time.Time
	took       time.Duration
	err        error // no answer at all
}

var faultClient = &http.Client{Timeout: 60 * time.Second}

// send posts body to path with the key and decodes a GraphQL-shaped answer.
func (a *api) send(key, path, contentType string, body []byte) outcome {
	o := outcome{started: time.Now()}
	req, _ := http.NewRequest(http.MethodPost, a.url+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := faultClient.Do(req)
	if err != nil {
		o.err, o.took = err, time.Since(o.started)
		return o
	}
	raw, err := io.ReadAll(res.Body)
	res.Body.Close()
	o.took, o.status, o.retryAfter = time.Since(o.started), res.StatusCode, res.Header.Get("Retry-After")
	if err != nil {
		o.err = err
		return o
	}
	if contentType == "application/x-ndjson" && res.StatusCode == http.StatusOK {
		return o // the import's stream of lines
	}
	var out gqlResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		o.err = fmt.Errorf("answer %d is not JSON: %s", res.StatusCode, raw)
		return o
	}
	o.data, o.code = out.Data, out.code()
	if len(out.Errors) > 0 {
		o.scope, _ = out.Errors[0].Extensions["scope"].(string)
	}
	return o
}

// gql runs one GraphQL operation without failing the test.
func (a *api) gql(key, query string, vars map[string]any) outcome {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	return a.send(key, "/graphql", "application/json", body)
}

func (a *api) readyz() (int, time.Duration) {
	start := time.Now()
	res, err := faultClient.Get(a.url + "/readyz")
	if err != nil {
		return 0, time.Since(start)
	}
	res.Body.Close()
	return res.StatusCode, time.Since(start)
}

// metric returns the value of one series of /metrics ("" when absent).
func (a *api) metric(series string) string {
	a.t.Helper()
	return readMetric(a.t, a.url, series)
}

// readMetric returns the value of one series of the /metrics of the
// service at url ("" when absent).
func readMetric(t *testing.T, url, series string) string {
	t.Helper()
	res, err := faultClient.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return ""
}

// clientsInGraph reads, straight from Neo4j, the ids of a project's clients.
func clientsInGraph(t *testing.T, project string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for w := range emailsInGraph(t, project) {
		id, _, _ := strings.Cut(w, " ")
		out[id] = true
	}
	return out
}

// emailsInGraph reads, straight from Neo4j, the e-mail values of a
// project's clients as "client value".
func emailsInGraph(t *testing.T, project string) map[string]bool {
	t.Helper()
	ctx := context.Background()
	cfg := graphtest.Config()
	driver := graphtest.Driver(t)
	res, err := neo4j.ExecuteQuery(ctx, driver,
		`MATCH (c:Client {project: $p})-[:HAS]->(v:Value {project: $p, field: 'email'}) RETURN c.id AS c, v.value AS v`,
		map[string]any{"p": project}, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase(cfg.Database))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, rec := range res.Records {
		c, _ := rec.Get("c")
		v, _ := rec.Get("v")
		out[fmt.Sprint(c)+" "+fmt.Sprint(v)] = true
	}
	return out
}

const setEmail = `mutation($p: ID!, $c: ID!, $v: String!) {
	setAttribute(projectId: $p, clientId: $c, field: "email", value: $v) { accepted normalized }
}`

// accepted reports whether a setAttribute answer accepted its value.
func accepted(o outcome) bool {
	var out struct{ SetAttribute struct{ Accepted bool } }
	return o.err == nil && o.code == "" && json.Unmarshal(o.data, &out) == nil && out.SetAttribute.Accepted
}

// newClient writes a new client with one e-mail.
func (a *api) newClient(p testProject, id, email string) outcome {
	return a.gql(p.write, `mutation($p: ID!, $c: ID!, $v: String!) {
		upsertClient(projectId: $p, input: {id: $c, channel: {kind: "telegram", account: "acme"}, attributes: [{field: "email", value: $v}]}) { id }
	}`, map[string]any{"p": p.id, "c": id, "v": email})
}

// written reports whether a newClient answer says the client was written.
func written(o outcome) bool {
	var out struct{ UpsertClient struct{ ID string } }
	return o.err == nil && o.code == "" && json.Unmarshal(o.data, &out) == nil && out.UpsertClient.ID != ""
}

// writeNewClients starts n writers that each write a new client with an
// e-mail of its own (<prefix><writer>-<n>@<domain>) every 20 ms, handing
// every answer to record, which they call concurrently; stop ends them and
// waits for them.
func (a *api) writeNewClients(p testProject, n int, prefix, domain string, record func(client, email string, o outcome)) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; ; k++ {
				select {
				case <-done:
					return
				case <-time.After(20 * time.Millisecond):
				}
				client := fmt.Sprintf("%s%d-%d", prefix, i, k)
				email := client + "@" + domain
				record(client, email, a.newClient(p, client, email))
			}
		}()
	}
	return func() {
		close(done)
		wg.Wait()
	}
}

// A service that starts while Neo4j cannot be reached yet (both started
// at once, or Neo4j restarting) waits for it and serves once it is there,
// instead of exiting.
func TestServeWaitsForNeo4jAtStart(t *testing.T) {
	proxy := startProxy(t)
	proxy.cut()
	const away = 2 * time.Second
	back := time.AfterFunc(away, proxy.restore)
	defer back.Stop()
	start := time.Now()
	a := startAPI(t, "-neo4j-uri", proxy.uri())
	if took := time.Since(start); took < away {
		t.Fatalf("the service started in %s, before Neo4j could be reached (%s)", took, away)
	}
	p := a.project()
	a.ok(p.write, `mutation($p: ID!) { upsertClient(projectId: $p, input: {id: "c1", channel: {kind: "telegram", account: "bot"}}) { id } }`,
		map[string]any{"p": p.id}, nil)
}

// TestNeo4jAwayAndBack takes Neo4j away from a running service while
// writers write, and gives it back: /readyz turns 503 within 5 s, every
// call fails within its deadline with UNAVAILABLE (the import and the
// widget path with 503 and Retry-After), never INTERNAL; once Neo4j is
// back the same process is ready and writes again, the subscription opened
// before the fault delivers again, and every write acknowledged before,
// during or after the fault is in the graph.
func TestNeo4jAwayAndBack(t *testing.T) {
	// The deadline is above /readyz's own bound (2 s), so that the test
	// sees that bound, and long enough for a loaded machine.
	const deadline = 5 * time.Second
	proxy := startProxy(t)
	a := startAPI(t, "-neo4j-uri", proxy.uri(), "-request-timeout", deadline.String())
	p := a.project()
	const writers = 4
	ws, err := a.dialWS(p.read)
	if err != nil {
		t.Fatal(err)
	}
	ws.subscribe("1", changed, map[string]any{"p": p.id})

	// Writers write new clients, each with an e-mail of its own, until told
	// to stop, recording what was acknowledged and every failure.
	var (
		mu       sync.Mutex
		acked    = map[string]bool{}
		failures []outcome
	)
	stop := a.writeNewClients(p, writers, "w", "fault.test", func(client, email string, o outcome) {
		mu.Lock()
		defer mu.Unlock()
		if written(o) {
			acked[client+" "+email] = true
		} else {
			failures = append(failures, o)
		}
	})
	time.Sleep(500 * time.Millisecond)
	// The widget and import keys are looked up once before the fault, as a
	// live page's would be.
	widget := func() outcome {
		return a.send(p.widget, "/widget/identify", "application/json", []byte(`{"identifiers":[{"field":"email","value":"visitor@fault.test"}]}`))
	}
	importLine := func() outcome {
		return a.send(p.write, "/projects/"+p.id+"/import", "application/x-ndjson",
			[]byte(`{"op":"client","eventId":"fault-1","id":"imp-1","channel":{"kind":"telegram","account":"acme"}}`+"\n"))
	}
	if o := widget(); o.status != http.StatusOK {
		t.Fatalf("widget before the fault: %+v", o)
	}
	if o := importLine(); o.status != http.StatusOK {
		t.Fatalf("import before the fault: %+v", o)
	}

	proxy.cut()
	cut := time.Now()
	t.Log("Neo4j cut")
	for {
		status, _ := a.readyz()
		if time.Since(cut) > 5*time.Second {
			t.Fatalf("/readyz answered %d only %s after Neo4j went away; want 503 within 5 s", status, time.Since(cut))
		}
		if status == http.StatusServiceUnavailable {
			t.Logf("/readyz 503 after %s", time.Since(cut).Round(time.Millisecond))
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var plain sync.WaitGroup
	for name, call := range map[string]func() outcome{"widget": widget, "import": importLine} {
		plain.Add(1)
		go func() {
			defer plain.Done()
			o := call()
			if o.status != http.StatusServiceUnavailable || o.code != "UNAVAILABLE" || o.retryAfter == "" || o.took > 2*deadline {
				t.Errorf("%s with Neo4j away: %d %s Retry-After %q after %s, want 503 UNAVAILABLE with Retry-After within %s",
					name, o.status, o.code, o.retryAfter, o.took, 2*deadline)
			}
		}()
	}
	plain.Wait()
	// Long enough for the keys' cache (5 s) to expire and the writers' next
	// calls to fail at authentication, which must say UNAVAILABLE too.
	time.Sleep(deadline)
	restored := time.Now()
	proxy.restore()
	t.Log("Neo4j restored")

	for {
		status, _ := a.readyz()
		if time.Since(restored) > 5*time.Second {
			t.Fatalf("/readyz answered %d only %s after Neo4j came back; want 200 within 5 s", status, time.Since(restored))
		}
		if status == http.StatusOK {
			t.Logf("/readyz 200 again after %s", time.Since(restored).Round(time.Millisecond))
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Writes succeed again, in the same process.
	for n := 0; ; n++ {
		client := fmt.Sprintf("after-%d", n)
		o := a.newClient(p, client, client+"@fault.test")
		if written(o) {
			mu.Lock()
			acked[client+" "+client+"@fault.test"] = true
			mu.Unlock()
			t.Logf("a write succeeded %s after Neo4j came back", time.Since(restored).Round(time.Millisecond))
			break
		}
		if time.Since(restored) > 15*time.Second {
			t.Fatalf("no write succeeded 15 s after Neo4j came back: %+v", o)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if o := widget(); o.status != http.StatusOK {
		t.Errorf("widget after the fault: %+v", o)
	}
	time.Sleep(time.Second) // the writers too
	stop()

	unavailable, atAuthentication := 0, 0
	for _, o := range failures {
		switch {
		case o.err != nil:
			t.Errorf("a call got no answer after %s: %v", o.took, o.err)
		case o.code != "UNAVAILABLE":
			t.Errorf("a call started %s after the cut answered %d %q, want UNAVAILABLE", o.started.Sub(cut), o.status, o.code)
		case o.took > 2*deadline:
			t.Errorf("an UNAVAILABLE answer took %s, more than twice the deadline %s", o.took, deadline)
		default:
			unavailable++
			if o.status == http.StatusServiceUnavailable {
				atAuthentication++
				if o.retryAfter == "" {
					t.Errorf("a 503 without Retry-After")
				}
			}
		}
	}
	if unavailable == 0 || atAuthentication == 0 {
		t.Errorf("%d writes answered UNAVAILABLE, %d of them at authentication: want some of each", unavailable, atAuthentication)
	}
	slowest := time.Duration(0)
	for _, o := range failures {
		slowest = max(slowest, o.took)
	}
	t.Logf("%d writes acknowledged, %d answered UNAVAILABLE (%d at authentication; slowest in %s)", len(acked), unavailable, atAuthentication, slowest)

	inGraph := emailsInGraph(t, p.id)
	for w := range acked {
		if !inGraph[w] {
			t.Errorf("acknowledged %q is not in the graph", w)
		}
	}

	// The subscription opened before the fault is still open and delivers.
	a.client(p, "after-client", "telegram", "email", "fresh@fault.test")
	for {
		m, err := ws.next(30 * time.Second)
		if err != nil {
			t.Fatalf("the subscription opened before the fault: %v (close status %v)", err, websocket.CloseStatus(err))
		}
		if m.Type != "next" {
			t.Fatalf("the subscription opened before the fault ended: %s %s", m.Type, m.Payload)
		}
		var ev struct {
			Data struct{ MultiContactChanged changeEvent }
		}
		_ = json.Unmarshal(m.Payload, &ev)
		if slices.Contains(ev.Data.MultiContactChanged.ClientIds, "after-client") {
			break
		}
	}
}

// TestWorkWithoutADeadlineGivesUpWhileNeo4jIsAway: a transaction whose
// caller set no deadline (a group of writes, a subscription's read of the
// log, a re-resolution) gives up within the driver's retry time (10 s, the
// last run about 14 s after the first) with an error that says UNAVAILABLE,
// instead of sleeping between runs for up to half a minute past Neo4j's
// return.
func TestWorkWithoutADeadlineGivesUpWhileNeo4jIsAway(t *testing.T) {
	proxy := startProxy(t)
	cfg := graphtest.Config()
	cfg.URI = proxy.uri()
	ctx := context.Background()
	store, err := graph.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close(ctx) })
	proxy.cut()
	start := time.Now()
	bounded, cancel := context.WithTimeout(ctx, time.Minute) // only so that a broken test ends
	defer cancel()
	err = store.Ready(bounded)
	took := time.Since(start)
	t.Logf("gave up after %s: %v", took.Round(time.Millisecond), err)
	if !graph.Unavailable(err) || took > 20*time.Second {
		t.Errorf("a read without a deadline while Neo4j is away: %v after %s, want an UNAVAILABLE error within 20 s", err, took)
	}
}

// holdImport starts an import into project whose body stays open until
// the returned function is called, so that it holds its in-flight slot;
// it returns once the service counts it (inflight, the gauge's value then).
func (a *api) holdImport(key, project string, inflight int) (release func()) {
	a.t.Helper()
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, a.url+"/projects/"+project+"/import", pr)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/x-ndjson")
	done := make(chan struct{})
	go func() {
		defer close(done)
		if res, err := faultClient.Do(req); err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
	}()
	want := fmt.Sprint(inflight)
	for deadline := time.Now().Add(10 * time.Second); a.metric("multicontact_inflight_requests") != want; {
		if time.Now().After(deadline) {
			a.t.Fatalf("in flight %s, want %s after an import started", a.metric("multicontact_inflight_requests"), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
	release = func() {
		pw.Close()
		<-done
	}
	a.t.Cleanup(func() { pw.Close() })
	return release
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	ds = slices.Clone(ds)
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// TestOverloadIsShedNotQueued runs the service with at most 4 calls in
// flight, 2 per project: a call beyond either bound is refused at once
// with RATE_LIMITED (429 and Retry-After on the import and the widget
// path) and changes nothing, the calls admitted are all applied, and
// /metrics counts what was shed.
func TestOverloadIsShedNotQueued(t *testing.T) {
	a := startAPI(t, "-max-inflight", "4", "-max-inflight-per-project", "2")
	pa, pb, pc := a.project(), a.project(), a.project()
	var refused []string // ids of clients whose write was refused

	// Two imports hold project A's two slots.
	releaseA1 := a.holdImport(pa.write, pa.id, 1)
	releaseA2 := a.holdImport(pa.write, pa.id, 2)
	o := a.newClient(pa, "refused-a", "refused-a@shed.test")
	if o.code != "RATE_LIMITED" || o.scope != "project" {
		t.Errorf("a write to a project at its limit: %d %q scope %q, want RATE_LIMITED by the project's limit", o.status, o.code, o.scope)
	}
	refused = append(refused, "refused-a")
	o = a.send(pa.widget, "/widget/identify", "application/json", []byte(`{"identifiers":[{"field":"email","value":"refused-widget@shed.test"}]}`))
	if o.status != http.StatusTooManyRequests || o.code != "RATE_LIMITED" || o.retryAfter != "1" {
		t.Errorf("widget call to a project at its limit: %d %q Retry-After %q, want 429 RATE_LIMITED with Retry-After 1", o.status, o.code, o.retryAfter)
	}
	o = a.send(pa.write, "/projects/"+pa.id+"/import", "application/x-ndjson",
		[]byte(`{"op":"client","eventId":"shed-1","id":"refused-import","channel":{"kind":"telegram","account":"acme"}}`+"\n"))
	if o.status != http.StatusTooManyRequests || o.code != "RATE_LIMITED" || o.retryAfter != "1" {
		t.Errorf("import into a project at its limit: %d %q Retry-After %q, want 429 RATE_LIMITED with Retry-After 1", o.status, o.code, o.retryAfter)
	}
	refused = append(refused, "refused-import")
	if o := a.newClient(pb, "b-1", "b-1@shed.test"); !written(o) {
		t.Errorf("a write to another project while A is at its limit: %+v", o)
	}

	// Two more fill the process.
	releaseB1 := a.holdImport(pb.write, pb.id, 3)
	releaseB2 := a.holdImport(pb.write, pb.id, 4)
	if o := a.newClient(pc, "refused-c", "refused-c@shed.test"); o.code != "RATE_LIMITED" || o.scope != "process" {
		t.Errorf("a write while the process is at its limit: %d %q scope %q, want RATE_LIMITED by the process's limit", o.status, o.code, o.scope)
	}
	refused = append(refused, "refused-c")
	for _, release := range []func(){releaseA1, releaseA2, releaseB1, releaseB2} {
		release()
	}
	if got := a.metric("multicontact_inflight_requests"); got != "0" {
		t.Errorf("in flight after the imports ended: %s, want 0", got)
	}

	// A burst at one project: some writes are admitted and applied, the
	// rest refused, faster than the admitted ones are answered.
	const burst = 24
	if o := a.gql(pc.write, `query($p: ID!) { project(id: $p) { id } }`, map[string]any{"p": pc.id}); o.code != "" {
		t.Fatalf("read before the burst: %+v", o) // and the key is known, as a busy client's is
	}
	outcomes := make([]outcome, burst)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range burst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			id := fmt.Sprintf("burst-%d", i)
			outcomes[i] = a.newClient(pc, id, id+"@shed.test")
		}()
	}
	close(start)
	wg.Wait()
	var admitted []string
	var admittedTook, refusedTook []time.Duration
	for i, o := range outcomes {
		id := fmt.Sprintf("burst-%d", i)
		switch {
		case written(o):
			admitted = append(admitted, id)
			admittedTook = append(admittedTook, o.took)
		case o.code == "RATE_LIMITED":
			refused = append(refused, id)
			refusedTook = append(refusedTook, o.took)
		default:
			t.Errorf("%s: %d %q %v, want written or RATE_LIMITED", id, o.status, o.code, o.err)
		}
	}
	t.Logf("burst of %d: %d admitted (median %s), %d refused (median %s)", burst,
		len(admitted), median(admittedTook), len(refusedTook), median(refusedTook))
	if len(admitted) == 0 || len(refusedTook) == 0 {
		t.Fatalf("a burst of %d at a limit of 2 should be partly admitted, partly refused", burst)
	}
	if median(refusedTook) >= median(admittedTook) {
		t.Errorf("refusals took %s (median), admitted writes %s: a refusal should not wait", median(refusedTook), median(admittedTook))
	}
	if slowest := slices.Max(refusedTook); slowest > 2*time.Second {
		t.Errorf("the slowest refusal took %s: refusals should come at once, not near the deadline (10 s)", slowest)
	}

	inGraph := map[string]bool{}
	for _, p := range []testProject{pa, pc} {
		for id := range clientsInGraph(t, p.id) {
			inGraph[id] = true
		}
	}
	for _, id := range admitted {
		if !inGraph[id] {
			t.Errorf("admitted %s is not in the graph", id)
		}
	}
	for _, id := range refused {
		if inGraph[id] {
			t.Errorf("refused %s is in the graph", id)
		}
	}
	if emailsInGraph(t, pa.id)["refused-widget@shed.test"] {
		t.Error("the refused widget call wrote its value")
	}

	shed := 0
	for _, series := range []string{
		`multicontact_shed_requests_total{scope="process",surface="graphql"}`,
		`multicontact_shed_requests_total{scope="project",surface="graphql"}`,
	} {
		var n int
		fmt.Sscan(a.metric(series), &n)
		shed += n
	}
	if want := len(refusedTook) + 2; shed != want {
		t.Errorf("shed GraphQL calls counted %d, want %d", shed, want)
	}
	for series, want := range map[string]string{
		`multicontact_shed_requests_total{scope="process",surface="graphql"}`: "1",
		`multicontact_shed_requests_total{scope="project",surface="widget"}`:  "1",
		`multicontact_shed_requests_total{scope="project",surface="import"}`:  "1",
		`multicontact_shed_requests_total{scope="process",surface="import"}`:  "0",
	} {
		if got := a.metric(series); got != want {
			t.Errorf("%s = %q, want %s", series, got, want)
		}
	}
}

func TestFaultAndOverloadSettingsComeFromTheFlagOrTheEnvironment(t *testing.T) {
	env := map[string]string{"NEO4J_URI": "bolt://127.0.0.1:1", "MULTICONTACT_REQUEST_TIMEOUT": "3s",
		"MULTICONTACT_MAX_INFLIGHT": "100", "MULTICONTACT_MAX_INFLIGHT_PER_PROJECT": "10"}
	for _, tc := range []struct {
		args               []string
		timeout            time.Duration
		inflight, per      int
		withoutEnvironment bool
	}{
		{nil, 3 * time.Second, 100, 10, false},
		{[]string{"-request-timeout", "5s", "-max-inflight", "0", "-max-inflight-per-project", "7"}, 5 * time.Second, 0, 7, false},
		{nil, 10 * time.Second, 256, 64, true},
	} {
		m := NewServeMain(slog.New(slog.NewTextHandler(io.Discard, nil)))
		getenv := func(k string) string { return env[k] }
		if tc.withoutEnvironment {
			getenv = func(k string) string { return map[string]string{"NEO4J_URI": env["NEO4J_URI"]}[k] }
		}
		if err := m.ParseFlags(tc.args, getenv); err != nil {
			t.Fatal(err)
		}
		if m.RequestTimeout != tc.timeout || m.MaxInFlight != tc.inflight || m.MaxInFlightPerProject != tc.per {
			t.Errorf("ParseFlags(%v): %s %d %d, want %s %d %d", tc.args, m.RequestTimeout, m.MaxInFlight, m.MaxInFlightPerProject,
				tc.timeout, tc.inflight, tc.per)
		}
	}
}
