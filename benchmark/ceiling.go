package benchmark

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/config"

	"github.com/multicontact/multicontact/graph"
	"github.com/multicontact/multicontact/identity"
)

// The Neo4j ceiling: what the server does, in the same run and through the
// same Go driver, with the least work that the service's figures stand for.
// Its nodes are the service's Client and Value nodes, under the same
// uniqueness constraints and indexes (graph.Open applies them), in a
// project of their own that no Project node names; they are deleted before
// the service starts.
const (
	ceilingBatch = 1000 // clients per UNWIND transaction of the bulk load
	ceilingRows  = 8    // writes per transaction in the batched write
)

// The minimal identity graph: a client node, its values deduplicated by a
// MERGE on their unique key, and HAS edges. MERGE rather than CREATE
// because the service's import must be idempotent too.
const ceilingLoad = `UNWIND $rows AS row
MERGE (c:Client {project: $p, id: row.id})
SET c.mc = row.mc
WITH c, row
UNWIND row.values AS v
MERGE (x:Value {project: $p, field: v[0], value: v[1]})
MERGE (c)-[:HAS]->(x)`

const ceilingRead = `MATCH (c:Client {project: $p, id: $id}) RETURN c.mc AS mc`

const ceilingWrite = `MATCH (c:Client {project: $p, id: $id}) SET c.touched = $n`

// ceilingChange is the graph change of a setAttribute that gives a client a
// new e-mail, in one statement and on the service's labels and indexes: the
// value, its HAS edge, the rule's match key and its MATCHES edge, and an
// event. It reads nothing first and resolves nothing: what the service's
// write adds to it is the price of checking and resolving.
const ceilingChange = `MATCH (c:Client {project: $p, id: $id})
MERGE (v:Value {project: $p, field: 'email', value: $value}) ON CREATE SET v.blocked = false
MERGE (c)-[:HAS]->(v)
MERGE (k:MatchKey {project: $p, rule: 'email', key: 'email=' + $value}) ON CREATE SET k.quarantined = false, k.allowed = false
MERGE (c)-[:MATCHES]->(k)
CREATE (:Event {project: $p, seq: $n, type: 'UPDATED', mc: c.mc, clients: [c.id], at: datetime()})`

// ceilingChanges is ceilingChange for several clients in one statement: the
// graph change of a group of writes, as one project's group commit makes
// it, one transaction at a time.
const ceilingChanges = `UNWIND $rows AS row
MATCH (c:Client {project: $p, id: row.id})
MERGE (v:Value {project: $p, field: 'email', value: row.value}) ON CREATE SET v.blocked = false
MERGE (c)-[:HAS]->(v)
MERGE (k:MatchKey {project: $p, rule: 'email', key: 'email=' + row.value}) ON CREATE SET k.quarantined = false, k.allowed = false
MERGE (c)-[:MATCHES]->(k)
CREATE (:Event {project: $p, seq: row.n, type: 'UPDATED', mc: c.mc, clients: [c.id], at: datetime()})`

// ceilingChangesByValue is ceilingChanges without the match key: the graph
// change if a one-field rule linked its clients through their shared Value
// node, as a model without MatchKey nodes for one-field rules would.
const ceilingChangesByValue = `UNWIND $rows AS row
MATCH (c:Client {project: $p, id: row.id})
MERGE (v:Value {project: $p, field: 'email', value: row.value}) ON CREATE SET v.blocked = false
MERGE (c)-[:HAS]->(v)
CREATE (:Event {project: $p, seq: row.n, type: 'UPDATED', mc: c.mc, clients: [c.id], at: datetime()})`

// ceilingResult holds the ceiling's figures, for the service's rows to be
// compared with.
type ceilingResult struct {
	bulk     float64 // clients/s
	read     timing  // point reads, 8 workers
	write1   timing  // one-statement write transactions, 1 worker
	write8   timing  // the same, 8 workers
	change1  timing  // a setAttribute's graph change in one statement, 1 worker
	change8  timing  // the same, 8 workers
	batched  timing  // transactions of ceilingRows writes, 8 workers; lat per transaction
	grouped  timing  // ceilingRows graph changes in one statement, one transaction at a time; lat per transaction
	byValue  timing  // the same without the match key
	profiled bool
	readRT   perCall // Bolt traffic of one point read
	writeRT  perCall // and of one one-statement write transaction
}

// ceilingClient is a client of the population as the bulk load writes it:
// its final values, normalized as the service normalizes them.
type ceilingClient struct {
	ID     string
	Values [][2]string
}

// readPopulation reads the final values of every client of an NDJSON
// import file (added by client and attribute lines, taken away by
// removeAttribute lines), normalized with the project's region; values
// the service would refuse are left out.
func readPopulation(path, region string) ([]ceilingClient, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	type attr struct{ Field, Value string }
	var line struct {
		Op, ID, Client, Field, Value string
		Attributes                   []attr
	}
	index := map[string]int{}
	var clients []ceilingClient
	held := map[string]map[[2]string]bool{}
	norm := func(field, raw string) (string, bool) {
		var v string
		var err error
		switch field {
		case "phone":
			v, err = identity.NormalizePhone(region, raw)
		case "email":
			v, err = identity.NormalizeEmail(raw)
		default:
			v = strings.TrimSpace(raw)
		}
		return v, err == nil && v != ""
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line.Op, line.ID, line.Client, line.Field, line.Value, line.Attributes = "", "", "", "", "", nil
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		var id string
		var attrs []attr
		switch line.Op {
		case "client":
			id, attrs = line.ID, line.Attributes
			if _, ok := index[id]; !ok {
				index[id] = len(clients)
				clients = append(clients, ceilingClient{ID: id})
				held[id] = map[[2]string]bool{}
			}
		case "attribute", "removeAttribute":
			id, attrs = line.Client, []attr{{line.Field, line.Value}}
			if _, ok := index[id]; !ok {
				continue // the service refuses it too: no such client
			}
		default:
			continue
		}
		for _, a := range attrs {
			v, ok := norm(a.Field, a.Value)
			if !ok {
				continue
			}
			held[id][[2]string{a.Field, v}] = line.Op != "removeAttribute"
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for i := range clients {
		for fv, on := range held[clients[i].ID] {
			if on {
				clients[i].Values = append(clients[i].Values, fv)
			}
		}
	}
	return clients, nil
}

// ceilingRun is the driver and data of one ceiling measurement.
type ceilingRun struct {
	driver   neo4j.DriverWithContext
	database string
	project  string
	clients  []ceilingClient
}

// newDriver opens a driver configured as the service's store does.
func newDriver(ctx context.Context, cfg graph.Config, uri string) (neo4j.DriverWithContext, error) {
	d, err := neo4j.NewDriverWithContext(uri, neo4j.BasicAuth(cfg.User, cfg.Password, ""), func(c *config.Config) {
		c.MaxTransactionRetryTime = 60 * time.Second
		c.MaxConnectionPoolSize = 64
	})
	if err != nil {
		return nil, err
	}
	if err := d.VerifyConnectivity(ctx); err != nil {
		d.Close(ctx)
		return nil, err
	}
	return d, nil
}

// ceiling measures Neo4j's own figures before the service runs: the bulk
// load of the population's minimal graph, point reads, one-statement
// write transactions with 1 and 8 workers, and 8 writes per transaction.
func (r *run) ceiling(ctx context.Context) error {
	clients, err := readPopulation(r.data, "RU")
	if err != nil {
		return err
	}
	// The service's schema, on a fresh server too: the ceiling runs first.
	s, err := graph.Open(ctx, r.cfg.Neo4j, graph.WithoutResuming())
	if err != nil {
		return err
	}
	if err := s.Close(ctx); err != nil {
		return err
	}
	d, err := newDriver(ctx, r.cfg.Neo4j, r.cfg.Neo4j.URI)
	if err != nil {
		return fmt.Errorf("ceiling: %w", err)
	}
	defer d.Close(context.WithoutCancel(ctx))
	c := &ceilingRun{driver: d, database: r.cfg.Neo4j.Database, project: "ceiling-" + strconv.FormatInt(time.Now().UnixNano(), 36), clients: clients}
	defer func() {
		start := time.Now()
		if err := c.cleanup(context.WithoutCancel(ctx)); err != nil {
			r.cfg.Log("ceiling: cleanup of %s: %v", c.project, err)
		} else {
			r.cfg.Log("ceiling: deleted its nodes in %s", time.Since(start).Round(time.Millisecond))
		}
	}()

	values := 0
	start := time.Now()
	for i := 0; i < len(clients); i += ceilingBatch {
		rows := make([]any, 0, ceilingBatch)
		for _, cl := range clients[i:min(i+ceilingBatch, len(clients))] {
			vs := make([]any, len(cl.Values))
			for j, v := range cl.Values {
				vs[j] = []any{v[0], v[1]}
			}
			values += len(vs)
			rows = append(rows, map[string]any{"id": cl.ID, "mc": "mc-" + cl.ID, "values": vs})
		}
		if err := c.write(ctx, func(tx neo4j.ManagedTransaction) error {
			return run0(ctx, tx, ceilingLoad, map[string]any{"p": c.project, "rows": rows})
		}); err != nil {
			return fmt.Errorf("ceiling bulk load: %w", err)
		}
	}
	took := time.Since(start)
	res := &r.ceil
	res.bulk = float64(len(clients)) / took.Seconds()
	r.add(Row{Measure: fmt.Sprintf("Neo4j ceiling: bulk load, UNWIND %d clients a tx, MERGE values + HAS: clients/s", ceilingBatch),
		Value: fmt.Sprintf("%.0f (%s; %d values)", res.bulk, took.Round(10*time.Millisecond), values)})

	// A server just started plans and compiles its queries as they first
	// come: warm it with as many reads and writes as are measured, so that
	// the ceiling is not measured cold while the service, which runs after
	// it, meets a warm server.
	reads := r.cfg.Reads * 8
	if _, err := r.parallel(ctx, 8, reads, func(ctx context.Context, rnd *rand.Rand, _, n int) error {
		if n%4 == 0 {
			return c.write(ctx, func(tx neo4j.ManagedTransaction) error { return c.touch(ctx, tx, rnd, n) })
		}
		return c.read(ctx, rnd)
	}); err != nil {
		return fmt.Errorf("ceiling warm-up: %w", err)
	}
	if res.read, err = r.parallel(ctx, 8, reads, func(ctx context.Context, rnd *rand.Rand, _, _ int) error {
		return c.read(ctx, rnd)
	}); err != nil {
		return fmt.Errorf("ceiling read: %w", err)
	}
	r.add(Row{Measure: "Neo4j ceiling: point read of a client's mc by (project, id), 8 workers: p50 / p99, reads/s", Value: res.read.summary()})

	// One-statement writes: the least write, then what a setAttribute writes.
	var seq atomic.Int64 // the change's event numbers, unique in the project
	change := func(ctx context.Context, tx neo4j.ManagedTransaction, rnd *rand.Rand, n int) error {
		return run0(ctx, tx, ceilingChange, map[string]any{"p": c.project, "id": c.clients[rnd.IntN(len(c.clients))].ID,
			"value": fmt.Sprintf("ceiling-%d-%d@bench.example", n, rnd.Uint32()), "n": seq.Add(1)})
	}
	for _, w := range []struct {
		what    string
		workers int
		dst     *timing
		op      func(context.Context, neo4j.ManagedTransaction, *rand.Rand, int) error
	}{
		{"one-statement write tx (SET on a random client)", 1, &res.write1, c.touch},
		{"one-statement write tx (SET on a random client)", 8, &res.write8, c.touch},
		{"a setAttribute's graph change in one statement (Value, HAS, MatchKey, MATCHES, Event)", 1, &res.change1, change},
		{"a setAttribute's graph change in one statement (Value, HAS, MatchKey, MATCHES, Event)", 8, &res.change8, change},
	} {
		if *w.dst, err = r.parallel(ctx, w.workers, r.cfg.Writes, func(ctx context.Context, rnd *rand.Rand, _, n int) error {
			return c.write(ctx, func(tx neo4j.ManagedTransaction) error { return w.op(ctx, tx, rnd, n) })
		}); err != nil {
			return fmt.Errorf("ceiling %s: %w", w.what, err)
		}
		r.add(Row{Measure: fmt.Sprintf("Neo4j ceiling: %s, %d worker(s): p50 / p99, tx/s", w.what, w.workers), Value: w.dst.summary()})
	}
	if res.batched, err = r.parallel(ctx, 8, max(1, r.cfg.Writes/ceilingRows), func(ctx context.Context, rnd *rand.Rand, _, n int) error {
		return c.write(ctx, func(tx neo4j.ManagedTransaction) error {
			for i := range ceilingRows {
				if err := c.touch(ctx, tx, rnd, n*ceilingRows+i); err != nil {
					return err
				}
			}
			return nil
		})
	}); err != nil {
		return fmt.Errorf("ceiling batched write: %w", err)
	}
	r.add(Row{Measure: fmt.Sprintf("Neo4j ceiling: %d one-statement writes in one tx, 8 workers: tx p50 / p99, writes/s", ceilingRows),
		Value: fmt.Sprintf("%s / %s, %.0f/s", res.batched.pct(50), res.batched.pct(99), res.batched.rate()*ceilingRows)})

	// One project's writes are committed a group at a time: the most its
	// group commit could reach is the graph change of a group in one
	// statement, one transaction after the other.
	for _, g := range []struct {
		what, query string
		dst         *timing
	}{
		{"(Value, HAS, MatchKey, MATCHES, Event)", ceilingChanges, &res.grouped},
		{"without the MatchKey (Value, HAS, Event)", ceilingChangesByValue, &res.byValue},
	} {
		if *g.dst, err = r.parallel(ctx, 1, max(1, r.cfg.Writes/ceilingRows), func(ctx context.Context, rnd *rand.Rand, _, n int) error {
			rows := make([]any, ceilingRows)
			for i := range rows {
				rows[i] = map[string]any{"id": c.clients[rnd.IntN(len(c.clients))].ID, "n": seq.Add(1),
					"value": fmt.Sprintf("ceiling-%d-%d-%d@bench.example", n, i, rnd.Uint32())}
			}
			return c.write(ctx, func(tx neo4j.ManagedTransaction) error {
				return run0(ctx, tx, g.query, map[string]any{"p": c.project, "rows": rows})
			})
		}); err != nil {
			return fmt.Errorf("ceiling grouped change: %w", err)
		}
		r.add(Row{Measure: fmt.Sprintf("Neo4j ceiling: %d setAttribute graph changes %s in one statement, one tx at a time: tx p50 / p99, writes/s", ceilingRows, g.what),
			Value: fmt.Sprintf("%s / %s, %.0f/s", g.dst.pct(50), g.dst.pct(99), g.dst.rate()*ceilingRows)})
	}

	if r.proxy != nil {
		if err := r.profileCeiling(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// profileCeiling counts the Bolt traffic of the ceiling's read and
// one-statement write through the counting proxy, one call at a time.
func (r *run) profileCeiling(ctx context.Context, c *ceilingRun) error {
	d, err := newDriver(ctx, r.cfg.Neo4j, r.proxy.URI())
	if err != nil {
		return fmt.Errorf("ceiling through the proxy: %w", err)
	}
	defer d.Close(context.WithoutCancel(ctx))
	pc := *c
	pc.driver = d
	rnd := rand.New(rand.NewPCG(r.cfg.Seed, 7))
	calls := r.profileCalls()
	var err2 error
	if r.ceil.readRT, err2 = r.profile("Neo4j ceiling point read", calls, func(int) error { return pc.read(ctx, rnd) }); err2 != nil {
		return err2
	}
	if r.ceil.writeRT, err2 = r.profile("Neo4j ceiling one-statement write", calls, func(n int) error {
		return pc.write(ctx, func(tx neo4j.ManagedTransaction) error { return pc.touch(ctx, tx, rnd, n) })
	}); err2 != nil {
		return err2
	}
	r.ceil.profiled = true
	return nil
}

func (c *ceilingRun) read(ctx context.Context, rnd *rand.Rand) error {
	id := c.clients[rnd.IntN(len(c.clients))].ID
	sess := c.driver.NewSession(ctx, neo4j.SessionConfig{DatabaseName: c.database, AccessMode: neo4j.AccessModeRead})
	defer sess.Close(ctx)
	mc, err := neo4j.ExecuteRead(ctx, sess, func(tx neo4j.ManagedTransaction) (string, error) {
		res, err := tx.Run(ctx, ceilingRead, map[string]any{"p": c.project, "id": id})
		if err != nil {
			return "", err
		}
		rec, err := res.Single(ctx)
		if err != nil {
			return "", err
		}
		mc, _, err := neo4j.GetRecordValue[string](rec, "mc")
		return mc, err
	})
	if err == nil && mc != "mc-"+id {
		err = fmt.Errorf("client %s read mc %q", id, mc)
	}
	return err
}

func (c *ceilingRun) touch(ctx context.Context, tx neo4j.ManagedTransaction, rnd *rand.Rand, n int) error {
	return run0(ctx, tx, ceilingWrite, map[string]any{"p": c.project, "id": c.clients[rnd.IntN(len(c.clients))].ID, "n": n})
}

// write runs work in a managed write transaction of a session of its own,
// as the service's store does.
func (c *ceilingRun) write(ctx context.Context, work func(neo4j.ManagedTransaction) error) error {
	sess := c.driver.NewSession(ctx, neo4j.SessionConfig{DatabaseName: c.database, AccessMode: neo4j.AccessModeWrite})
	defer sess.Close(ctx)
	_, err := neo4j.ExecuteWrite(ctx, sess, func(tx neo4j.ManagedTransaction) (struct{}, error) {
		return struct{}{}, work(tx)
	})
	return err
}

func run0(ctx context.Context, tx neo4j.ManagedTransaction, q string, params map[string]any) error {
	res, err := tx.Run(ctx, q, params)
	if err != nil {
		return err
	}
	_, err = res.Consume(ctx)
	return err
}

// cleanup deletes the ceiling's nodes, in transactions of 10,000.
func (c *ceilingRun) cleanup(ctx context.Context) error {
	var errs []error
	for _, label := range []string{"Client", "Value", "MatchKey", "Event"} {
		sess := c.driver.NewSession(ctx, neo4j.SessionConfig{DatabaseName: c.database, AccessMode: neo4j.AccessModeWrite})
		res, err := sess.Run(ctx, "MATCH (n:"+label+" {project: $p}) CALL { WITH n DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS",
			map[string]any{"p": c.project})
		if err == nil {
			_, err = res.Consume(ctx)
		}
		errs = append(errs, err, sess.Close(ctx))
	}
	return errors.Join(errs...)
}
