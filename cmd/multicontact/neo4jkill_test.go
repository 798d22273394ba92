package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/multicontact/multicontact/graph"
	"github.com/multicontact/multicontact/graph/graphtest"
)

// neo4jInstance is a Neo4j server of the test's own (scripts/neo4j.sh), so
// that the test may kill it without touching the server the others share.
type neo4jInstance struct {
	t              *testing.T
	name, script   string
	port           int
	uri, password  string
	home, pidFile  string
	startedInitial time.Duration
}

func startNeo4jInstance(t *testing.T) *neo4jInstance {
	t.Helper()
	script, err := filepath.Abs("../../scripts/neo4j.sh")
	if err != nil {
		t.Fatal(err)
	}
	// Named after the run's own server when scripts/with-neo4j.sh started
	// one, which then removes it even if this binary is killed.
	name := fmt.Sprintf("kill-%d", os.Getpid())
	if run := os.Getenv("MULTICONTACT_TEST_INSTANCE"); run != "" {
		name = run + "-" + name
	}
	n := &neo4jInstance{t: t, name: name, script: script, port: freePortPair(t)}
	n.uri = "bolt://127.0.0.1:" + strconv.Itoa(n.port)
	t.Cleanup(func() { _ = exec.Command(script, "destroy", n.name).Run() })
	start := time.Now()
	n.start()
	n.startedInitial = time.Since(start)
	n.password = strings.TrimSpace(n.run("password"))
	n.home = strings.TrimSpace(n.run("home"))
	n.pidFile = filepath.Join(n.home, "run", "neo4j.pid")
	return n
}

func (n *neo4jInstance) run(args ...string) string {
	n.t.Helper()
	out, err := exec.Command(n.script, append(args, n.name)...).Output()
	if err != nil {
		n.t.Fatalf("neo4j.sh %v: %v", args, err)
	}
	return string(out)
}

// start starts the server (again) and returns once Bolt accepts connections.
func (n *neo4jInstance) start() {
	n.t.Helper()
	if out, err := exec.Command(n.script, "start", n.name, strconv.Itoa(n.port)).CombinedOutput(); err != nil {
		n.t.Fatalf("start Neo4j %s: %v\n%s", n.name, err, out)
	}
}

// kill ends the server at once, as a crash or kill -9 would.
func (n *neo4jInstance) kill() {
	n.t.Helper()
	raw, err := os.ReadFile(n.pidFile)
	if err != nil {
		n.t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		n.t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); syscall.Kill(pid, 0) == nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			n.t.Fatal("Neo4j did not die")
		}
	}
}

func freePortPair(t *testing.T) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+1))
		l.Close()
		if err == nil {
			l2.Close()
			return port
		}
	}
	t.Fatal("no two free ports in a row")
	return 0
}

// TestNeo4jKilledAndRestarted kills the Neo4j server (SIGKILL) under
// writers and starts it again, as a crash and a supervisor would: /readyz
// turns 503 within 5 s, calls fail with UNAVAILABLE within their deadline
// and never INTERNAL, the same service process serves again once Neo4j is
// back, and every write acknowledged before the kill and after the restart
// is in the graph, resolved as the offline oracle says.
func TestNeo4jKilledAndRestarted(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Neo4j server of its own")
	}
	graphtest.Require(t)
	db := startNeo4jInstance(t)
	t.Logf("own Neo4j started in %s", db.startedInitial.Round(time.Millisecond))
	t.Setenv("NEO4J_PASSWORD", db.password)
	const deadline = 5 * time.Second
	a := startAPI(t, "-neo4j-uri", db.uri, "-request-timeout", deadline.String())
	p := a.project()

	var (
		mu       sync.Mutex
		acked    = map[string]bool{}
		lastFail outcome
		internal []outcome
		slow     []outcome
	)
	stop := a.writeNewClients(p, 4, "k", "kill.test", func(client, _ string, o outcome) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case written(o):
			acked[client] = true
		case o.code == "INTERNAL":
			internal = append(internal, o)
		default:
			lastFail = o
		}
		if o.took > deadline+3*time.Second {
			slow = append(slow, o)
		}
	})
	// A fresh server plans every statement once: the first writes are slow.
	var before int
	for start := time.Now(); before < 20; time.Sleep(100 * time.Millisecond) {
		mu.Lock()
		before = len(acked)
		mu.Unlock()
		if time.Since(start) > time.Minute {
			t.Fatalf("%d writes acknowledged in a minute before the kill; last failure: %+v (%s)", before, lastFail, lastFail.data)
		}
	}

	db.kill()
	killed := time.Now()
	for {
		status, _ := a.readyz()
		if status == http.StatusServiceUnavailable {
			t.Logf("/readyz 503 %s after Neo4j was killed", time.Since(killed).Round(time.Millisecond))
			break
		}
		if time.Since(killed) > 5*time.Second {
			t.Fatalf("/readyz answered %d %s after the kill; want 503 within 5 s", status, time.Since(killed))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if o := a.newClient(p, "during", "during@kill.test"); o.code != "UNAVAILABLE" || o.took > deadline+3*time.Second {
		t.Errorf("a write while Neo4j is down: code %q after %s (err %v); want UNAVAILABLE within the %s deadline", o.code, o.took, o.err, deadline)
	}

	db.start() // recovers its transaction log
	restarted := time.Now()
	t.Logf("Neo4j restarted %s after the kill", restarted.Sub(killed).Round(time.Millisecond))
	for {
		o := a.newClient(p, "after", "after@kill.test")
		if written(o) {
			t.Logf("the same service wrote again %s after Neo4j accepted connections", time.Since(restarted).Round(time.Millisecond))
			break
		}
		if o.code != "UNAVAILABLE" {
			t.Errorf("a write after the restart answered %q (%v), want success or UNAVAILABLE", o.code, o.err)
		}
		// A restarted Neo4j plans every statement anew: reads answer at
		// once, the first writes may wait for their plans.
		status, _ := a.readyz()
		read := a.gql(p.read, `query($p: ID!) { project(id: $p) { id } }`, map[string]any{"p": p.id})
		t.Logf("  %s after the restart: write %s after %s; /readyz %d; a read answered %q in %s", time.Since(restarted).Round(time.Millisecond),
			o.code, o.took.Round(time.Millisecond), status, read.code, read.took.Round(time.Millisecond))
		if time.Since(restarted) > time.Minute {
			t.Fatal("the service did not write again within a minute of Neo4j's restart")
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second) // writers go on after the restart
	stop()
	if status, _ := a.readyz(); status != http.StatusOK {
		t.Errorf("/readyz %d after the restart, want 200", status)
	}
	for _, o := range internal {
		t.Errorf("a call answered INTERNAL: %+v", o)
	}
	for _, o := range slow {
		t.Errorf("a call took %s, beyond its deadline: %+v", o.took, o)
	}

	ctx := context.Background()
	s, err := graph.Open(ctx, graph.Config{URI: db.uri, User: "neo4j", Password: db.password}, graph.WithoutResuming())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	a.waitIdle(p)
	d, err := s.DumpProject(ctx, p.id)
	if err != nil {
		t.Fatal(err)
	}
	held := map[string]bool{}
	for _, c := range d.Clients {
		held[c.ID] = true
		if c.MultiContactID == "" {
			t.Errorf("client %s has no multi-contact", c.ID)
		}
	}
	lost := 0
	for c := range acked {
		if !held[c] {
			lost++
			t.Errorf("acknowledged client %s is not in the graph after Neo4j's restart", c)
		}
	}
	if fmt.Sprint(d.Stored()) != fmt.Sprint(d.Components()) {
		t.Error("the stored multi-contacts differ from the oracle's components")
	}
	t.Logf("%d writes acknowledged (%d before the kill), %d lost", len(acked), before, lost)
}
