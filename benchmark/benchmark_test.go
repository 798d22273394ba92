package benchmark_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/multicontact/multicontact/benchmark"
	"github.com/multicontact/multicontact/graph/graphtest"
)

// TestASmallRunProducesTheWholeTable runs the benchmark end to end on a
// few hundred clients: the real binary as the service, every measure, and
// the oracle check (Run fails when a multi-contact differs from it).
func TestASmallRunProducesTheWholeTable(t *testing.T) {
	graphtest.Require(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "multicontact")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/multicontact").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	rows, err := benchmark.Run(context.Background(), benchmark.Config{Clients: 300, Seed: 3, Writes: 40, Reads: 5,
		Binary: bin, Neo4j: graphtest.Config(), WorkDir: dir, Log: t.Logf})
	if err != nil {
		t.Fatalf("run: %v (rows so far: %v)", err, rows)
	}
	want := []string{"Neo4j ceiling: bulk load", "Neo4j ceiling: point read", "Neo4j ceiling: one-statement write tx", "one-statement writes in one tx",
		"import over HTTP: clients/s", "import: writing, then resolving", "re-resolution after adding a rule", "in-memory union-find",
		"setAttribute/removeAttribute, 1 writer", "setAttribute/removeAttribute, 8 writer", "merges / splits", "upsertClient",
		"client { multiContact", "multiContact(id), 8 readers", "findClients(phone), 8 readers",
		"on disjoint clients", "shared clients", "tx retries", "contended / disjoint",
		"service peak RSS", "differing from the oracle", "truth:",
		"graph change in one statement", "group commit", "previewRules of adding the rule", "previewed; made"}
	for _, w := range want {
		found := false
		for _, r := range rows {
			if strings.Contains(r.Measure, w) {
				found = true
				if w == "differing from the oracle" && r.Value != "0" {
					t.Errorf("%s = %s", r.Measure, r.Value)
				}
			}
		}
		if !found {
			t.Errorf("no row %q in %v", w, rows)
		}
	}
	// Neo4j's own figures come first, each a positive rate, and every
	// service figure that has a ceiling beside it has a positive ratio.
	ceilings, compared := 0, 0
	for i, r := range rows {
		if strings.HasPrefix(r.Measure, "Neo4j ceiling:") {
			ceilings++
			if compared > 0 {
				t.Errorf("ceiling row %q after a service row that compares with it", r.Measure)
			}
			if rate := lastNumber(r.Value); rate <= 0 {
				t.Errorf("%s = %q, want a positive rate", r.Measure, r.Value)
			}
			if i >= 9 {
				t.Errorf("ceiling row %q at %d, want the ceiling measured before the service", r.Measure, i)
			}
			continue
		}
		if r.Ceiling == "" {
			continue
		}
		compared++
		x, err := strconv.ParseFloat(strings.TrimSuffix(r.Ratio, "×"), 64)
		if err != nil || x <= 0 || !strings.HasSuffix(r.Ratio, "×") {
			t.Errorf("%s: ratio %q, want a positive number followed by ×", r.Measure, r.Ratio)
		}
	}
	if ceilings != 9 {
		t.Errorf("%d ceiling rows, want 9 (bulk, read, write with 1 and 8 workers, a setAttribute's change with 1 and 8, batched write, a group's changes with and without the key)", ceilings)
	}
	// import and its writes alone, 2 write phases (each against both write
	// ceilings, the 8 writers also against a group's change), upsert, 3
	// lookups, 2 contention phases, 5 profiled calls
	if compared != 18 {
		t.Errorf("%d rows compared with a ceiling, want 18", compared)
	}
	// The write phases merge and split for real: one write in five gives a
	// client a value of another multi-contact, one takes it away again.
	phases := 0
	for _, r := range rows {
		if !strings.Contains(r.Measure, "writer(s): merges / splits") {
			continue
		}
		phases++
		var merges, splits, refused int
		if _, err := fmt.Sscanf(r.Value, "%d / %d; %d", &merges, &splits, &refused); err != nil {
			t.Errorf("%s = %q: %v", r.Measure, r.Value, err)
			continue
		}
		if merges == 0 || splits == 0 {
			t.Errorf("%s = %d merges, %d splits; want some of each", r.Measure, merges, splits)
		}
	}
	if phases != 2 {
		t.Errorf("%d rows of merges and splits, want one per write phase (1 and 8 writers)", phases)
	}
}

// lastNumber is the first number of a figure such as "41000 (12s)" or
// "1.2ms / 3.4ms, 900/s": its rate, the number before "/s" when there is one.
func lastNumber(v string) float64 {
	if head, _, ok := strings.Cut(v, "/s"); ok {
		f := strings.Fields(head)
		v = f[len(f)-1]
	} else {
		v = strings.Fields(v)[0]
	}
	x, _ := strconv.ParseFloat(v, 64)
	return x
}
