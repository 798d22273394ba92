package benchmark

import (
	"context"
	"testing"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/graph/graphtest"
)

// TestBoltProxyCountsATransaction passes a driver through the counting
// proxy: one managed write transaction of two statements is one BEGIN,
// two RUNs and one COMMIT, in at least two round trips, with time waited,
// and each statement's time is counted under its text.
func TestBoltProxyCountsATransaction(t *testing.T) {
	graphtest.Require(t)
	cfg := graphtest.Config()
	p, err := newBoltProxy(cfg.URI)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	d, err := newDriver(ctx, cfg, p.URI())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	tx := func() {
		sess := d.NewSession(ctx, neo4j.SessionConfig{DatabaseName: cfg.Database})
		defer sess.Close(ctx)
		if _, err := neo4j.ExecuteWrite(ctx, sess, func(tx neo4j.ManagedTransaction) (struct{}, error) {
			for range 2 {
				if err := run0(ctx, tx, "RETURN 1", map[string]any{"p": "a parameter"}); err != nil {
					return struct{}{}, err
				}
			}
			return struct{}{}, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	tx() // the connection's HELLO and LOGON
	before := p.Counts()
	tx()
	got := p.Counts().Sub(before)
	for _, m := range []struct {
		name string
		want int64
	}{{"BEGIN", 1}, {"RUN", 2}, {"COMMIT", 1}, {"ROLLBACK", 0}} {
		if got.Requests[m.name] != m.want {
			t.Errorf("%s = %d, want %d (all: %v)", m.name, got.Requests[m.name], m.want, got.Requests)
		}
	}
	for label, want := range map[string]int64{"RETURN 1": 2, "BEGIN": 1, "COMMIT": 1} {
		if st := got.Statements[label]; st.N != want || st.Time <= 0 {
			t.Errorf("statement %q: %d runs in %s, want %d in some time (all: %v)", label, st.N, st.Time, want, got.Statements)
		}
	}
	if got.RoundTrips < 2 || got.Waiting <= 0 {
		t.Errorf("round trips %d, waiting %s; want at least 2 and some time", got.RoundTrips, got.Waiting)
	}
	t.Logf("one transaction of two statements: %d round trips, %v, %s waiting", got.RoundTrips, got.Requests, got.Waiting)
}
