package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/multicontact/multicontact/graph"
	"github.com/multicontact/multicontact/identity"
	"github.com/multicontact/multicontact/population"
)

// SoakMain is the `soak` command: the service as a child process under
// mixed load (API writers on shared clients and values, imports, a
// subscriber), killed with SIGKILL and restarted every KillEvery; at the
// end every acknowledged write must be in the graph, every multi-contact
// must be the offline oracle's, and the subscriber must have seen every
// event once, in order.
type SoakMain struct {
	Neo4j         graph.Config
	Duration      time.Duration // of the load
	KillEvery     time.Duration // between kills
	Writers       int           // API writers
	Clients       int           // clients the writers share
	Values        int           // e-mails, and as many phones, the writers give and take
	ImportEvery   time.Duration // between imports (0: none)
	ImportClients int           // clients of each import
	Seed          uint64
	WorkDir       string // where the service's log goes
	// Binary is the service to run (`Binary serve`); empty is this program.
	Binary string

	stdout, stderr io.Writer
	usageOut       io.Writer // where -h prints the usage; nil is stderr
}

// ParseFlags reads `soak [-duration D] [-kill-every D] ...`.
func (m *SoakMain) ParseFlags(args []string, getenv func(string) string) error {
	fs := newFlagSet("soak", m.usageOut, m.stderr)
	neo4jFlags(fs, &m.Neo4j, getenv)
	fs.DurationVar(&m.Duration, "duration", time.Hour, "how long the load runs")
	fs.DurationVar(&m.KillEvery, "kill-every", time.Minute, "how often the service is killed (SIGKILL) and restarted")
	fs.IntVar(&m.Writers, "writers", 8, "API writers, on shared clients and values")
	fs.IntVar(&m.Clients, "clients", 16, "clients the writers share")
	fs.IntVar(&m.Values, "values", 6, "e-mails, and as many phones, that the writers give to and take from the clients")
	fs.DurationVar(&m.ImportEvery, "import-every", 30*time.Second, "how often a generated population is imported over HTTP (0: never)")
	fs.IntVar(&m.ImportClients, "import-clients", 1500, "clients of each import")
	fs.Uint64Var(&m.Seed, "seed", 1, "seed of the load and of the imported populations")
	fs.StringVar(&m.WorkDir, "workdir", os.TempDir(), "folder for the service's log (soak-service.log)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("soak takes no arguments, got %q", fs.Args())
	}
	if m.Duration <= 0 || m.KillEvery <= 0 || m.Writers <= 0 || m.Clients <= 0 || m.Values <= 0 || m.Values > 10 {
		return errors.New("soak needs a positive -duration, -kill-every, -writers and -clients, and -values from 1 to 10")
	}
	return checkNeo4j(&m.Neo4j, getenv)
}

// SoakResult is what a soak run found.
type SoakResult struct {
	Duration       time.Duration
	Kills          int
	AckedWrites    int // API writes answered without error (setAttribute accepted, removeAttribute done)
	AckedLines     int // import lines applied by imports that answered their summary
	Imports        int // imports acknowledged
	Unknown        int // writes and imports whose answer was lost (a kill, UNAVAILABLE): either outcome is right
	Checked        int // (client, value) pairs whose end state the acknowledged writes decide
	Lost           int // acknowledged writes, and clients of acknowledged imports, not in the graph
	Recover        []time.Duration
	OracleDiffs    int // clients whose multi-contact is not the oracle's
	Running        bool
	Internal       int // INTERNAL answers
	Events         int // delivered to the subscriber
	EventsMissed   int
	EventsRepeated int
	ServiceLog     string
}

// Failed says why the run failed, or nil.
func (r SoakResult) Failed() error {
	var errs []error
	if r.Lost > 0 {
		errs = append(errs, fmt.Errorf("%d acknowledged writes lost", r.Lost))
	}
	if r.OracleDiffs > 0 {
		errs = append(errs, fmt.Errorf("%d clients differ from the oracle", r.OracleDiffs))
	}
	if r.Running {
		errs = append(errs, errors.New("the project was left RUNNING"))
	}
	if r.Internal > 0 {
		errs = append(errs, fmt.Errorf("%d INTERNAL answers", r.Internal))
	}
	if r.EventsMissed > 0 || r.EventsRepeated > 0 {
		errs = append(errs, fmt.Errorf("the subscriber missed %d events and got %d twice", r.EventsMissed, r.EventsRepeated))
	}
	return errors.Join(errs...)
}

// Table is the run as a Markdown table.
func (r SoakResult) Table() string {
	var b strings.Builder
	p50, worst := time.Duration(0), time.Duration(0)
	if len(r.Recover) > 0 {
		s := slices.Sorted(slices.Values(r.Recover))
		p50, worst = s[(len(s)-1)/2], s[len(s)-1]
	}
	ms := func(d time.Duration) string { return d.Round(10 * time.Millisecond).String() }
	fmt.Fprintf(&b, "| soak | |\n|---|---|\n")
	fmt.Fprintf(&b, "| duration | %s |\n", r.Duration.Round(time.Second))
	fmt.Fprintf(&b, "| kills (SIGKILL, then restart) | %d |\n", r.Kills)
	fmt.Fprintf(&b, "| operations acknowledged | %d (%d API writes, %d lines of %d imports) |\n", r.AckedWrites+r.AckedLines, r.AckedWrites, r.AckedLines, r.Imports)
	fmt.Fprintf(&b, "| acknowledged lost | %d |\n", r.Lost)
	fmt.Fprintf(&b, "| (client, value) pairs checked: the acknowledged writes decide them | %d |\n", r.Checked)
	fmt.Fprintf(&b, "| unknown outcome (answer lost at a kill) | %d |\n", r.Unknown)
	fmt.Fprintf(&b, "| time to recover (kill to ready and a write acknowledged), p50 / max | %s / %s |\n", ms(p50), ms(worst))
	fmt.Fprintf(&b, "| oracle differences | %d |\n", r.OracleDiffs)
	fmt.Fprintf(&b, "| events to the subscriber (missed, repeated) | %d (%d, %d) |\n", r.Events, r.EventsMissed, r.EventsRepeated)
	fmt.Fprintf(&b, "| INTERNAL answers | %d |\n", r.Internal)
	running := 0
	if r.Running {
		running = 1
	}
	fmt.Fprintf(&b, "| projects left RUNNING | %d |\n", running)
	return b.String()
}

// Run runs the soak and prints its table; it fails when anything
// acknowledged was lost or differs.
func (m *SoakMain) Run(ctx context.Context) error {
	start := time.Now()
	res, err := m.Soak(ctx, func(format string, args ...any) { fmt.Fprintf(m.stderr, "soak: "+format+"\n", args...) })
	fmt.Fprint(m.stdout, res.Table())
	fmt.Fprintf(m.stdout, "\n%s, %s, run of %s, -duration %s -kill-every %s -writers %d -clients %d -values %d -import-every %s -import-clients %d\n",
		time.Now().UTC().Format("2006-01-02"), machine(), time.Since(start).Round(time.Second), m.Duration, m.KillEvery,
		m.Writers, m.Clients, m.Values, m.ImportEvery, m.ImportClients)
	if err != nil {
		return err
	}
	if err := res.Failed(); err != nil {
		return fmt.Errorf("%w (the service's log: %s)", err, res.ServiceLog)
	}
	return nil
}

// Soak runs the load, the kills and the checks.
func (m *SoakMain) Soak(ctx context.Context, logf func(string, ...any)) (SoakResult, error) {
	s := &soak{m: m, logf: logf, rng: mrand.New(mrand.NewPCG(m.Seed, 1))}
	s.http = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer s.http.CloseIdleConnections()
	return s.run(ctx)
}

type soak struct {
	m    *SoakMain
	logf func(string, ...any)
	rng  *mrand.Rand
	http *http.Client

	svc     *soakService
	url     string
	project string
	key     string
	store   *graph.Store

	mu      sync.Mutex
	res     SoakResult
	ops     map[string][]soakOp // by "client\x00field\x00value"
	clients map[string]bool     // clients of acknowledged imports (not refused)
}

// soakOp is one write to a (client, value): it committed, if it did,
// between start and end (end is the far future when the service may
// still commit it after answering UNAVAILABLE).
type soakOp struct {
	remove     bool
	acked      bool
	start, end time.Time
}

var farFuture = time.Unix(math.MaxInt32, 0)

func (s *soak) run(ctx context.Context) (SoakResult, error) {
	m := s.m
	bin := m.Binary
	if bin == "" {
		var err error
		if bin, err = os.Executable(); err != nil {
			return s.res, err
		}
	}
	addr, err := freeLoopbackAddr()
	if err != nil {
		return s.res, err
	}
	token := randomHex(24)
	logPath := filepath.Join(m.WorkDir, "soak-service.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return s.res, err
	}
	defer logFile.Close()
	s.res.ServiceLog = logPath
	env := append(os.Environ(), "MULTICONTACT_ADMIN_TOKEN="+token, "NEO4J_URI="+m.Neo4j.URI, "NEO4J_USER="+m.Neo4j.User,
		"NEO4J_PASSWORD="+m.Neo4j.Password, "NEO4J_DATABASE="+m.Neo4j.Database)
	s.svc = &soakService{bin: bin, addr: addr, env: env, log: logFile}
	s.url = "http://" + addr
	defer s.svc.stop()

	openCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	// The checks read the graph directly; this store resumes nothing.
	if s.store, err = graph.Open(openCtx, m.Neo4j, graph.WithoutResuming()); err != nil {
		return s.res, err
	}
	defer s.store.Close(context.Background())

	if err := s.svc.start(); err != nil {
		return s.res, err
	}
	if err := s.waitReady(ctx, 2*time.Minute); err != nil {
		return s.res, err
	}
	if err := s.setUp(ctx, token); err != nil {
		return s.res, fmt.Errorf("set up the project: %w", err)
	}
	s.logf("project %s, service %s (log %s)", s.project, s.url, logPath)
	from, err := s.store.LastSeq(ctx, s.project)
	if err != nil {
		return s.res, err
	}

	start := time.Now()
	load, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var wg sync.WaitGroup
	for w := range m.Writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.writer(load, mrand.New(mrand.NewPCG(m.Seed, uint64(w)+2)))
		}()
	}
	if m.ImportEvery > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.importer(load)
		}()
	}
	sub := &soakSubscriber{s: s, last: from}
	subCtx, stopSub := context.WithCancel(ctx)
	defer stopSub()
	subDone := make(chan struct{})
	go func() {
		defer close(subDone)
		sub.run(subCtx)
	}()

	stop := func() {
		stopLoad()
		wg.Wait()
	}
	fail := func(err error) (SoakResult, error) {
		stop()
		stopSub()
		<-subDone
		return s.res, err
	}

	// Kill and restart every KillEvery, while the load runs.
	end := start.Add(m.Duration)
	kills := 0
	for next := start.Add(m.KillEvery); next.Before(end); next = next.Add(m.KillEvery) {
		if !sleep(ctx, time.Until(next)) {
			return fail(ctx.Err())
		}
		took, err := s.killAndRecover(ctx)
		if err != nil {
			return fail(err)
		}
		kills++
		s.count(func(r *SoakResult) {
			r.Kills = kills
			r.Recover = append(r.Recover, took)
		})
		s.logf("%6.0fs kill %d: recovered in %s", time.Since(start).Seconds(), kills, took.Round(time.Millisecond))
	}
	if !sleep(ctx, time.Until(end)) {
		return fail(ctx.Err())
	}
	stop()
	s.res.Duration = time.Since(start)
	s.logf("load stopped after %s; waiting for the project to be IDLE", s.res.Duration.Round(time.Second))

	// The end state: IDLE, every acknowledged write in the graph, the
	// oracle's multi-contacts, every event delivered once.
	if err := s.waitIdle(ctx, 5*time.Minute); err != nil {
		s.res.Running = true
		return s.res, err
	}
	last, err := s.store.LastSeq(ctx, s.project)
	if err != nil {
		return s.res, err
	}
	for deadline := time.Now().Add(time.Minute); sub.seen() < last && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	stopSub()
	<-subDone
	s.res.Events, s.res.EventsMissed, s.res.EventsRepeated = sub.delivered, sub.missed, sub.repeated
	if seen := sub.seen(); seen < last {
		s.res.EventsMissed += int(last - seen)
	}
	return s.res, s.check(ctx)
}

// setUp creates the project, its rules {phone} and {email}, a WRITE key and
// the shared clients.
func (s *soak) setUp(ctx context.Context, token string) error {
	s.project = "soak-" + time.Now().UTC().Format("20060102-150405") + "-" + randomHex(3)
	if _, err := s.call(ctx, token, `mutation($id: ID!) { createProject(input: {id: $id, name: "Soak", defaultRegion: "RU"}) { id } }`,
		map[string]any{"id": s.project}); err != nil {
		return err
	}
	var key struct{ CreateApiKey struct{ Secret string } }
	data, err := s.call(ctx, token, `mutation($p: ID!) { createApiKey(projectId: $p, role: ADMIN) { secret } }`, map[string]any{"p": s.project})
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, &key); err != nil {
		return err
	}
	s.key = key.CreateApiKey.Secret
	for _, f := range []string{"phone", "email"} {
		if _, err := s.call(ctx, s.key, `mutation($p: ID!, $f: [String!]!) { addRule(projectId: $p, input: {name: "by", fields: $f}) { id } }`,
			map[string]any{"p": s.project, "f": []string{f}}); err != nil {
			return err
		}
	}
	if err := s.waitIdle(ctx, 2*time.Minute); err != nil {
		return err
	}
	s.ops, s.clients = map[string][]soakOp{}, map[string]bool{}
	for i := range s.m.Clients {
		if _, err := s.call(ctx, s.key, soakUpsert, map[string]any{"p": s.project, "c": soakClient(i), "n": "soak"}); err != nil {
			return err
		}
	}
	return nil
}

const soakUpsert = `mutation($p: ID!, $c: ID!, $n: String) {
	upsertClient(projectId: $p, input: {id: $c, channel: {kind: "web", account: "soak"}, displayName: $n}) { id }
}`

func soakClient(i int) string { return fmt.Sprintf("soak-c%02d", i) }

// soakValue is the i-th value of the pool, written as the service
// normalizes it, so that the graph's value is the same string.
func soakValue(i int) (field, value string) {
	if i%2 == 0 {
		return "email", fmt.Sprintf("soak-%d@example.com", i/2)
	}
	return "phone", fmt.Sprintf("+7916555%04d", i/2)
}

// writer gives and takes values of the shared pool until ctx ends.
func (s *soak) writer(ctx context.Context, rng *mrand.Rand) {
	for ctx.Err() == nil {
		c := soakClient(rng.IntN(s.m.Clients))
		field, value := soakValue(rng.IntN(2 * s.m.Values))
		remove := rng.IntN(5) < 2
		query := `mutation($p: ID!, $c: ID!, $f: String!, $v: String!) { setAttribute(projectId: $p, clientId: $c, field: $f, value: $v) { accepted error { code } } }`
		if remove {
			query = `mutation($p: ID!, $c: ID!, $f: String!, $v: String!) { removeAttribute(projectId: $p, clientId: $c, field: $f, value: $v) { id } }`
		}
		op := soakOp{remove: remove, start: time.Now()}
		// The end of the load lets the call in flight finish: only a kill cuts it.
		a := s.post(context.WithoutCancel(ctx), s.key, query, map[string]any{"p": s.project, "c": c, "f": field, "v": value})
		op.end = time.Now()
		switch {
		case a.notSent:
			sleep(ctx, 100*time.Millisecond) // the service is down: wait for the restart
			continue
		case a.code == "INTERNAL":
			s.count(func(r *SoakResult) { r.Internal++; r.Unknown++ })
		case a.unknown || a.code == "UNAVAILABLE":
			var timeout net.Error
			if a.code == "UNAVAILABLE" || errors.As(a.err, &timeout) && timeout.Timeout() {
				// Its transaction may commit after the answer, or after
				// the caller gave up. (A call cut by a kill committed, if
				// at all, before its connection broke.)
				op.end = farFuture
			}
			s.count(func(r *SoakResult) { r.Unknown++ })
		case a.code != "":
			sleep(ctx, 50*time.Millisecond) // refused (RATE_LIMITED, ...): nothing was applied
			continue
		default:
			var out struct{ SetAttribute struct{ Accepted bool } }
			if !remove && (json.Unmarshal(a.data, &out) != nil || !out.SetAttribute.Accepted) {
				continue // refused in the answer: nothing was applied
			}
			op.acked = true
			s.count(func(r *SoakResult) { r.AckedWrites++ })
		}
		s.mu.Lock()
		k := c + "\x00" + field + "\x00" + value
		s.ops[k] = append(s.ops[k], op)
		s.mu.Unlock()
	}
}

func (s *soak) count(f func(*SoakResult)) {
	s.mu.Lock()
	f(&s.res)
	s.mu.Unlock()
}

// importer imports a generated population every ImportEvery, each with
// client ids and a channel account of its own.
func (s *soak) importer(ctx context.Context) {
	wait := s.m.ImportEvery / 2 // the first halfway, so that a short run imports too
	for i := 1; ; i++ {
		if !sleep(ctx, wait) {
			return
		}
		wait = s.m.ImportEvery
		var data bytes.Buffer
		if _, err := population.Write(&data, nil, population.Config{Clients: s.m.ImportClients, Seed: s.m.Seed*1000 + uint64(i),
			Account: fmt.Sprintf("soak%d", i)}); err != nil {
			s.logf("generate import %d: %v", i, err)
			return
		}
		prefix := fmt.Sprintf("i%d-", i)
		var body bytes.Buffer
		var clients []string // by line, "" for lines that are not clients
		for line := range bytes.Lines(data.Bytes()) {
			for _, k := range []string{`"id":"`, `"client":"`, `"eventId":"`} {
				line = bytes.ReplaceAll(line, []byte(k), []byte(k+prefix))
			}
			body.Write(line)
			var l struct{ Op, ID string }
			_ = json.Unmarshal(line, &l)
			if l.Op == "client" {
				clients = append(clients, l.ID)
			} else {
				clients = append(clients, "")
			}
		}
		refused, applied, err := s.importNDJSON(context.WithoutCancel(ctx), &body)
		switch {
		case errors.Is(err, errNotSent):
			continue
		case err != nil:
			s.count(func(r *SoakResult) { r.Unknown++ })
			s.logf("import %d (%d lines): outcome unknown: %v", i, len(clients), err)
			continue
		}
		s.mu.Lock()
		s.res.Imports++
		s.res.AckedLines += applied
		for n, id := range clients {
			if id != "" && !refused[n+1] {
				s.clients[id] = true
			}
		}
		s.mu.Unlock()
	}
}

var errNotSent = errors.New("not sent: the service is down")

// importNDJSON posts an import and reads its answer: the lines refused
// whole, and how many applied. An error without a summary leaves its
// outcome unknown.
func (s *soak) importNDJSON(ctx context.Context, body io.Reader) (refused map[int]bool, applied int, err error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.url+"/projects/"+s.project+"/import", body)
	req.Header.Set("Authorization", "Bearer "+s.key)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Minute}
	res, err := client.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return nil, 0, errNotSent
		}
		return nil, 0, err
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusTooManyRequests || res.StatusCode == http.StatusServiceUnavailable {
		return nil, 0, errNotSent // refused before it read a line
	}
	refused = map[int]bool{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		var l struct {
			Line    int
			Applied bool
			Error   *struct{ Code string }
			Summary *struct {
				Applied   int
				Error     string
				ErrorCode string
			}
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, 0, fmt.Errorf("answer %d: %s", res.StatusCode, sc.Text())
		}
		if l.Summary != nil {
			if l.Summary.Error != "" {
				if l.Summary.ErrorCode == "INTERNAL" {
					s.count(func(r *SoakResult) { r.Internal++ })
				}
				return nil, 0, fmt.Errorf("%s: %s", l.Summary.ErrorCode, l.Summary.Error)
			}
			return refused, l.Summary.Applied, nil
		}
		if l.Error != nil && !l.Applied {
			refused[l.Line] = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, 0, err
	}
	return nil, 0, fmt.Errorf("answer %d without a summary", res.StatusCode)
}

// killAndRecover kills the service with SIGKILL, starts it again and
// returns the time from the kill until it is ready and a write is
// acknowledged.
func (s *soak) killAndRecover(ctx context.Context) (time.Duration, error) {
	killed := time.Now()
	s.svc.kill()
	s.http.CloseIdleConnections()
	if err := s.svc.start(); err != nil {
		return 0, err
	}
	if err := s.waitReady(ctx, 2*time.Minute); err != nil {
		return 0, err
	}
	for n := 0; ; n++ {
		a := s.post(ctx, s.key, soakUpsert, map[string]any{"p": s.project, "c": "soak-probe", "n": fmt.Sprint("probe ", n)})
		if !a.notSent && !a.unknown && a.code == "" {
			return time.Since(killed), nil
		}
		if time.Since(killed) > 2*time.Minute {
			return 0, fmt.Errorf("no write acknowledged within 2 minutes of the restart: %v %s", a.err, a.code)
		}
		if !sleep(ctx, 20*time.Millisecond) {
			return 0, ctx.Err()
		}
	}
}

func (s *soak) waitReady(ctx context.Context, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/readyz", nil)
		res, err := s.http.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		if s.svc.exited() {
			return fmt.Errorf("the service exited: see %s", s.res.ServiceLog)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the service was not ready within %s: %v", within, err)
		}
		if !sleep(ctx, 20*time.Millisecond) {
			return ctx.Err()
		}
	}
}

func (s *soak) waitIdle(ctx context.Context, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		p, err := s.store.Project(ctx, s.project)
		if err == nil && p.Resolution.State == identity.ResolutionIdle {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the project %s is not IDLE after %s (%v)", s.project, within, err)
		}
		if !sleep(ctx, 100*time.Millisecond) {
			return ctx.Err()
		}
	}
}

// check compares the graph with what was acknowledged and with the oracle.
func (s *soak) check(ctx context.Context) error {
	d, err := s.store.DumpProject(ctx, s.project)
	if err != nil {
		return err
	}
	held := map[string]bool{}
	exists := map[string]bool{}
	for _, c := range d.Clients {
		exists[c.ID] = true
		for _, v := range c.Values {
			held[c.ID+"\x00"+v.Field+"\x00"+v.Value] = true
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, ops := range s.ops {
		want, decided := endState(ops)
		if !decided {
			continue
		}
		s.res.Checked++
		if held[k] != want {
			s.res.Lost++
			c, v, _ := strings.Cut(k, "\x00")
			s.logf("lost: %s on %s should be held=%v after its acknowledged writes, held=%v in the graph", strings.ReplaceAll(v, "\x00", " "), c, want, held[k])
		}
	}
	for id := range s.clients {
		if !exists[id] {
			s.res.Lost++
			s.logf("lost: client %s of an acknowledged import is not in the graph", id)
		}
	}
	stored, oracle := groupOf(d.Stored()), groupOf(d.Components())
	for _, c := range d.Clients {
		if c.MultiContactID == "" || stored[c.ID] != oracle[c.ID] {
			s.res.OracleDiffs++
		}
	}
	p, err := s.store.Project(ctx, s.project)
	if err != nil {
		return err
	}
	s.res.Running = p.Resolution.State != identity.ResolutionIdle
	return nil
}

// endState is whether a (client, value) must be held after its writes,
// and whether its writes decide it. Each write committed, if it did,
// between its start and its end; the last to commit decides. The
// acknowledged write that started last committed, so a write that ended
// before that start cannot be last: the last is one of the others. When
// they all do the same (give, or take away), that is the end state;
// otherwise, or with no acknowledged write, either state is right.
func endState(ops []soakOp) (held, decided bool) {
	var lastAckedStart time.Time
	acked := false
	for _, op := range ops {
		if op.acked && op.start.After(lastAckedStart) {
			lastAckedStart, acked = op.start, true
		}
	}
	if !acked {
		return false, false // only unknown writes: held or not, both are right
	}
	kinds := map[bool]bool{}
	for _, op := range ops {
		if !op.end.Before(lastAckedStart) { // may have committed after every acknowledged one began
			kinds[!op.remove] = true
		}
	}
	if len(kinds) != 1 {
		return false, false
	}
	for k := range kinds {
		held = k
	}
	return held, true
}

// groupOf maps each client to its group, as a string.
func groupOf(groups [][]string) map[string]string {
	out := map[string]string{}
	for _, g := range groups {
		key := strings.Join(g, ",")
		for _, c := range g {
			out[c] = key
		}
	}
	return out
}

// soakAnswer is what one GraphQL call got.
type soakAnswer struct {
	notSent bool // the connection was refused: the service is down, nothing was applied
	unknown bool // no answer: it may or may not have applied
	err     error
	code    string // the first error's extensions.code
	data    json.RawMessage
}

func (s *soak) post(ctx context.Context, key, query string, vars map[string]any) soakAnswer {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := s.http.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return soakAnswer{notSent: true, err: err}
		}
		return soakAnswer{unknown: true, err: err}
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return soakAnswer{unknown: true, err: err}
	}
	var out struct {
		Data   json.RawMessage
		Errors []struct{ Extensions struct{ Code string } }
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return soakAnswer{unknown: true, err: fmt.Errorf("answer %d: %.200s", res.StatusCode, raw)}
	}
	a := soakAnswer{data: out.Data}
	if len(out.Errors) > 0 {
		a.code = out.Errors[0].Extensions.Code
		if a.code == "" {
			a.code = "UNCODED"
		}
	}
	return a
}

// call runs an operation that must succeed.
func (s *soak) call(ctx context.Context, key, query string, vars map[string]any) (json.RawMessage, error) {
	a := s.post(ctx, key, query, vars)
	if a.err != nil || a.code != "" {
		return nil, fmt.Errorf("%s: %v %s", firstLineOf(query), a.err, a.code)
	}
	return a.data, nil
}

func firstLineOf(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// soakSubscriber follows the project's events over a websocket, resuming
// after the last cursor it saw whenever the connection ends.
type soakSubscriber struct {
	s                           *soak
	mu                          sync.Mutex
	last                        int64
	delivered, missed, repeated int
}

func (sub *soakSubscriber) seen() int64 {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return sub.last
}

func (sub *soakSubscriber) run(ctx context.Context) {
	for ctx.Err() == nil {
		_ = sub.follow(ctx)
		sleep(ctx, 100*time.Millisecond)
	}
}

// follow subscribes once, after the last cursor seen, until the
// connection ends.
func (sub *soakSubscriber) follow(ctx context.Context) error {
	s := sub.s
	dial, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(dial, "ws"+strings.TrimPrefix(s.url, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		return err
	}
	defer conn.CloseNow()
	conn.SetReadLimit(1 << 20)
	type msg struct {
		ID      string          `json:"id,omitempty"`
		Type    string          `json:"type"`
		Payload json.RawMessage `json:"payload,omitempty"`
	}
	init, _ := json.Marshal(map[string]string{"authorization": "Bearer " + s.key})
	if err := wsjson.Write(dial, conn, msg{Type: "connection_init", Payload: init}); err != nil {
		return err
	}
	var ack msg
	if err := wsjson.Read(dial, conn, &ack); err != nil || ack.Type != "connection_ack" {
		return fmt.Errorf("no connection_ack: %v %s", err, ack.Type)
	}
	payload, _ := json.Marshal(map[string]any{
		"query":     `subscription($p: ID!, $after: String) { multiContactChanged(projectId: $p, after: $after) { cursor } }`,
		"variables": map[string]any{"p": s.project, "after": strconv.FormatInt(sub.seen(), 10)},
	})
	if err := wsjson.Write(dial, conn, msg{ID: "1", Type: "subscribe", Payload: payload}); err != nil {
		return err
	}
	for {
		var m msg
		if err := wsjson.Read(ctx, conn, &m); err != nil {
			return err
		}
		switch m.Type {
		case "ping":
			_ = wsjson.Write(ctx, conn, msg{Type: "pong"})
		case "next":
			var p struct {
				Data struct{ MultiContactChanged struct{ Cursor string } }
			}
			if err := json.Unmarshal(m.Payload, &p); err != nil || p.Data.MultiContactChanged.Cursor == "" {
				return fmt.Errorf("event without a cursor: %s", m.Payload)
			}
			seq, _ := strconv.ParseInt(p.Data.MultiContactChanged.Cursor, 10, 64)
			sub.mu.Lock()
			switch {
			case seq <= sub.last:
				sub.repeated++
			default:
				sub.missed += int(seq - sub.last - 1)
				sub.delivered++
				sub.last = seq
			}
			sub.mu.Unlock()
		case "error", "complete":
			return fmt.Errorf("subscription ended: %s %s", m.Type, m.Payload)
		}
	}
}

// soakService is the service as a child process.
type soakService struct {
	bin, addr string
	env       []string
	log       io.Writer
	mu        sync.Mutex
	cmd       *exec.Cmd
	done      chan struct{}
}

func (c *soakService) start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	cmd := exec.Command(c.bin, "serve", "-addr", c.addr)
	cmd.Env, cmd.Stdout, cmd.Stderr = c.env, c.log, c.log
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	c.cmd, c.done = cmd, done
	return nil
}

func (c *soakService) exited() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// kill ends the service at once, as kill -9 does.
func (c *soakService) kill() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}

// stop ends the service with SIGTERM, and SIGKILL after 30 s.
func (c *soakService) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Signal(syscall.SIGKILL)
		<-c.done
	}
}

func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// sleep waits d or until ctx ends, and reports whether it waited d.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
