package benchmark_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
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
	want := []string{"import: clients/s", "re-resolution after adding a rule", "in-memory union-find",
		"setAttribute, 1 writer", "setAttribute, 8 writer", "merges / splits", "multiContact, 8 readers", "findClients, 8 readers",
		"service peak RSS", "differing from the oracle", "truth:"}
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
	// The write phases merge and split for real: one write in five gives a
	// client a value of another multi-contact, one takes it away again.
	phases := 0
	for _, r := range rows {
		if !strings.Contains(r.Measure, "merges / splits") {
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
