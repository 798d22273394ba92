package main

import (
	"context"
	"testing"
	"time"

	"github.com/multicontact/multicontact/graph/graphtest"
)

// A short soak: the service killed twice under mixed load loses no
// acknowledged write, and ends with the oracle's multi-contacts, IDLE, and
// every event delivered once to the subscriber. `make soak` runs it for
// an hour.
func TestSoakLosesNothingAcrossKills(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the service")
	}
	graphtest.Require(t)
	cfg := graphtest.Config()
	if cfg.User == "" {
		cfg.User = "neo4j"
	}
	m := &SoakMain{Neo4j: cfg, Duration: 20 * time.Second, KillEvery: 7 * time.Second, Writers: 8, Clients: 12, Values: 4,
		ImportEvery: 5 * time.Second, ImportClients: 300, Seed: uint64(time.Now().UnixNano()), WorkDir: t.TempDir(), Binary: serviceBinary(t)}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := m.Soak(ctx, t.Logf)
	t.Logf("seed %d\n%s", m.Seed, res.Table())
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Failed(); err != nil {
		t.Fatal(err)
	}
	if res.Kills != 2 || len(res.Recover) != 2 {
		t.Errorf("%d kills, want 2", res.Kills)
	}
	if res.AckedWrites == 0 || res.Imports == 0 || res.Checked == 0 || res.Events == 0 {
		t.Errorf("nothing to check: %d writes and %d imports acknowledged, %d values decided, %d events", res.AckedWrites, res.Imports, res.Checked, res.Events)
	}
}

// TestSoakEndState: the write that committed last decides whether a value
// is held; a write that ended before the last acknowledged one began cannot
// be last; overlapping writes that disagree, or only unacknowledged ones,
// decide nothing.
func TestSoakEndState(t *testing.T) {
	at := func(s int) time.Time { return time.Unix(int64(s), 0) }
	set := func(a, b int, acked bool) soakOp { return soakOp{acked: acked, start: at(a), end: at(b)} }
	remove := func(a, b int, acked bool) soakOp { return soakOp{remove: true, acked: acked, start: at(a), end: at(b)} }
	cases := []struct {
		name          string
		ops           []soakOp
		held, decided bool
	}{
		{"one set", []soakOp{set(1, 2, true)}, true, true},
		{"set then remove", []soakOp{set(1, 2, true), remove(3, 4, true)}, false, true},
		{"remove then set", []soakOp{remove(1, 2, true), set(3, 4, true)}, true, true},
		{"overlapping set and remove", []soakOp{set(1, 4, true), remove(2, 3, true)}, false, false},
		{"an unknown remove after the last set", []soakOp{set(1, 2, true), remove(3, 4, false)}, false, false},
		{"an unknown remove before the last set", []soakOp{remove(1, 2, false), set(3, 4, true)}, true, true},
		{"an unknown remove that may commit late", []soakOp{remove(1, int(farFuture.Unix()), false), set(3, 4, true)}, false, false},
		{"only unknown writes", []soakOp{set(1, 2, false)}, false, false},
		{"an earlier set overlapping the last", []soakOp{set(1, 4, true), set(2, 3, true)}, true, true},
	}
	for _, tc := range cases {
		held, decided := endState(tc.ops)
		if held != tc.held || decided != tc.decided {
			t.Errorf("%s: endState = %v, %v; want %v, %v", tc.name, held, decided, tc.held, tc.decided)
		}
	}
}
