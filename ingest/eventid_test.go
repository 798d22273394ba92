package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/multicontact/multicontact/ingest"
)

// clientLine is an import line creating client id with one e-mail, under an event id.
func clientLine(eventID, id string) string {
	return fmt.Sprintf(`{"op":"client","eventId":%q,"id":%q,"channel":{"kind":"web","account":"site"},"attributes":[{"field":"email","value":"%s@example.com"}]}`+"\n",
		eventID, id, id)
}

// clientsOf is the set of client ids in the project.
func clientsOf(t *testing.T, im *ingest.Importer, project string) map[string]bool {
	t.Helper()
	d, err := im.Store.DumpProject(context.Background(), project)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, c := range d.Clients {
		out[c.ID] = true
	}
	return out
}

// An event id applies once per project, whichever client a later line with
// the same id names: in one batch, across batches and concurrent writer
// transactions, on the incremental and the batch path.
func TestAnEventIDAppliesOnceWhicheverClientItNames(t *testing.T) {
	s := openStore(t)
	const n = 300
	var in strings.Builder
	for i := range n { // each event id for two or three clients, on adjacent lines
		in.WriteString(clientLine(fmt.Sprintf("e%d", i), fmt.Sprintf("first-%d", i)))
		in.WriteString(clientLine(fmt.Sprintf("e%d", i), fmt.Sprintf("again-%d", i)))
		if i%3 == 0 {
			in.WriteString(clientLine(fmt.Sprintf("e%d", i), fmt.Sprintf("third-%d", i)))
		}
	}
	cases := map[string]*ingest.Importer{
		"incremental, one batch":       {Store: s, Small: 100000, Batch: 100000},
		"incremental, small batches":   {Store: s, Small: 100000, Batch: 7},
		"batch path, one batch":        {Store: s, Small: 10, Batch: 100000, Workers: 1},
		"batch path, two writers":      {Store: s, Small: 10, Batch: 13, Workers: 2},
		"batch path, eight writers":    {Store: s, Small: 10, Batch: 5, Workers: 8},
		"batch path, batches of three": {Store: s, Small: 10, Batch: 3, Workers: 2},
	}
	for name, im := range cases {
		t.Run(name, func(t *testing.T) {
			project := newProject(t, s)
			sum, err := im.Import(context.Background(), project, strings.NewReader(in.String()))
			if err != nil {
				t.Fatal(err)
			}
			if sum.Applied != n || sum.Skipped != n+n/3 {
				t.Errorf("applied %d, skipped %d; want %d and %d", sum.Applied, sum.Skipped, n, n+n/3)
			}
			got := clientsOf(t, im, project)
			inOrder := im.Workers == 1 || im.Small > n // one writer: the first line of an id wins
			for i := range n {
				present := 0
				for _, c := range []string{"first", "again", "third"} {
					if got[fmt.Sprintf("%s-%d", c, i)] {
						present++
					}
				}
				if present != 1 || inOrder && !got[fmt.Sprintf("first-%d", i)] {
					t.Errorf("event id e%d applied for %d clients (first-%d present: %v); want once, the first line with one writer",
						i, present, i, got[fmt.Sprintf("first-%d", i)])
				}
			}
			if len(got) != n {
				t.Errorf("%d clients, want %d: a repeated event id was applied again", len(got), n)
			}
			state(t, s, project)
		})
	}
}

// Two imports of overlapping files into one project at once: each event
// id of the overlap applies once, from one file or the other.
func TestConcurrentImportsOfOverlappingFilesApplyEachEventIDOnce(t *testing.T) {
	s := openStore(t)
	project := newProject(t, s)
	const n, overlap = 400, 200
	file := func(name string, from int) []byte {
		var b bytes.Buffer
		for i := from; i < from+n; i++ {
			b.WriteString(clientLine(fmt.Sprintf("e%d", i), fmt.Sprintf("%s-%d", name, i)))
		}
		return b.Bytes()
	}
	files := map[string][]byte{"a": file("a", 0), "b": file("b", n-overlap)}
	var wg sync.WaitGroup
	sums := map[string]ingest.Summary{}
	var mu sync.Mutex
	for name, data := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			im := &ingest.Importer{Store: s, Small: 10, Batch: 9, Workers: 2}
			sum, err := im.Import(context.Background(), project, bytes.NewReader(data))
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			sums[name] = sum
			mu.Unlock()
		}()
	}
	wg.Wait()
	got := clientsOf(t, &ingest.Importer{Store: s}, project)
	for i := range 2*n - overlap {
		a, b := got[fmt.Sprintf("a-%d", i)], got[fmt.Sprintf("b-%d", i)]
		if a == b {
			t.Errorf("event id e%d: client a-%d present %v, b-%d present %v; want exactly one", i, i, a, i, b)
		}
	}
	applied := sums["a"].Applied + sums["b"].Applied
	skipped := sums["a"].Skipped + sums["b"].Skipped
	if applied != 2*n-overlap || skipped != overlap || len(got) != 2*n-overlap {
		t.Errorf("applied %d, skipped %d, %d clients; want %d, %d, %d", applied, skipped, len(got), 2*n-overlap, overlap, 2*n-overlap)
	}
	state(t, s, project)
}

// A line refused before it reaches the store (an unknown op) but carrying
// an event id is recorded like any other refused line: importing the file
// again skips it instead of reporting it again.
func TestARefusedLinesEventIDIsRecordedWhateverRefusedIt(t *testing.T) {
	s := openStore(t)
	project := newProject(t, s)
	data := `{"op":"merge","eventId":"odd-1","client":"a"}
{"op":"client","eventId":"ok-1","id":"a","channel":{"kind":"web","account":"x"}}
`
	first, err := (&ingest.Importer{Store: s}).Import(context.Background(), project, strings.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if first.Refused != 1 || first.Applied != 1 {
		t.Fatalf("first import: %+v, want one line refused and one applied", first.Progress)
	}
	again, err := (&ingest.Importer{Store: s}).Import(context.Background(), project, strings.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if again.Skipped != 2 || again.Refused != 0 || again.Applied != 0 {
		t.Errorf("second import: %+v, want both lines skipped", again.Progress)
	}
}
