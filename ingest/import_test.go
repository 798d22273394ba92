package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/multicontact/multicontact/graph"
	"github.com/multicontact/multicontact/graph/graphtest"
	"github.com/multicontact/multicontact/identity"
	"github.com/multicontact/multicontact/ingest"
	"github.com/multicontact/multicontact/population"
)

func TestParseLineRefusesWhatIsNotTheFormat(t *testing.T) {
	cases := []struct{ line, field string }{
		{`not json`, "line"},
		{`{"op":"client","id":"a","channel":{"kind":"web","account":"x"},"colour":"red"}`, "line"},
		{`{"id":"a"}`, "op"},
		{`{"op":"merge"}`, "op"},
		{`{"op":"client","id":"a"}`, "channel"},
		{`{"op":"client"} {"op":"client"}`, "line"},
	}
	for _, c := range cases {
		_, err := ingest.ParseLine(7, []byte(c.line))
		var e *identity.Error
		if !asIdentity(err, &e) || e.Field != c.field || e.Code != identity.CodeInvalidArgument {
			t.Errorf("ParseLine(%s) = %v, want an INVALID_ARGUMENT error on %q", c.line, err, c.field)
		}
	}
	op, err := ingest.ParseLine(3, []byte(`{"op":"attribute","eventId":"e","client":"a","field":"phone","value":"8 916 123 45 67"}`))
	if err != nil || op.Kind != graph.OpAddAttribute || op.Line != 3 || op.Attribute.Source != identity.SourceImport {
		t.Errorf("attribute line = %+v, %v", op, err)
	}
}

var seq atomic.Int64

func openStore(t *testing.T) *graph.Store {
	t.Helper()
	return graphtest.Store(t)
}

// newProject makes a project with rules {phone} and {email}.
func newProject(t *testing.T, s *graph.Store) string {
	t.Helper()
	ctx := context.Background()
	id := fmt.Sprintf("imp%d-%d", time.Now().UnixNano()%1e9, seq.Add(1))
	if _, err := s.CreateProject(ctx, id, id, "RU"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"phone", "email"} {
		if _, err := s.AddRule(ctx, id, identity.Rule{Name: f, Fields: []string{f}, Enabled: true}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Reresolve(ctx, id); err != nil {
		t.Fatal(err)
	}
	return id
}

// state is a project's clients, values and multi-contacts as sets, comparable
// between two projects.
func state(t *testing.T, s *graph.Store, project string) string {
	t.Helper()
	d, err := s.DumpProject(context.Background(), project)
	if err != nil {
		t.Fatal(err)
	}
	groups := map[string][]string{}
	var b strings.Builder
	for _, c := range d.Clients {
		fmt.Fprintf(&b, "%s %v %v\n", c.ID, c.Excluded, c.Values)
		groups[c.MultiContactID] = append(groups[c.MultiContactID], c.ID)
	}
	want := d.Components()
	if len(want) != len(groups) {
		t.Errorf("project %s: %d multi-contacts, the oracle has %d components", project, len(groups), len(want))
	}
	fmt.Fprintln(&b, want)
	return b.String()
}

func generate(t *testing.T, clients int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := population.Write(&buf, nil, population.Config{Clients: clients, Seed: 42}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestImportPathsAgreeAndReRunsChangeNothing(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	data := generate(t, 600)

	small, bulk := newProject(t, s), newProject(t, s)
	var refusedLines []int
	im := &ingest.Importer{Store: s, Small: 100000, Refused: func(e graph.LineError) { refusedLines = append(refusedLines, e.Line) }}
	sumSmall, err := im.Import(ctx, small, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	imBulk := &ingest.Importer{Store: s, Small: 10, Batch: 97}
	sumBulk, err := imBulk.Import(ctx, bulk, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if sumSmall.Bulk || !sumBulk.Bulk {
		t.Fatalf("paths: small bulk=%v, large bulk=%v", sumSmall.Bulk, sumBulk.Bulk)
	}
	if sumSmall.Applied != sumBulk.Applied || sumSmall.Refused != sumBulk.Refused || sumSmall.Applied+sumSmall.Refused != sumSmall.Lines {
		t.Errorf("summaries differ: incremental %+v, batch %+v", sumSmall.Progress, sumBulk.Progress)
	}
	if sumSmall.Refused == 0 || len(refusedLines) != sumSmall.Refused {
		t.Errorf("refused %d lines, reported %d: the generator's bad values should be refused and reported", sumSmall.Refused, len(refusedLines))
	}
	if got, want := state(t, s, bulk), state(t, s, small); got != want {
		t.Errorf("the batch path ends in another state than the incremental one:\n%s", diffLines(got, want))
	}
	if sumSmall.Events[identity.EventMerged]+sumSmall.Events[identity.EventCreated] == 0 || sumBulk.Events[identity.EventCreated] == 0 {
		t.Errorf("events: incremental %v, batch %v", sumSmall.Events, sumBulk.Events)
	}

	before := state(t, s, bulk)
	again, err := imBulk.Import(ctx, bulk, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if again.Applied != 0 || again.Skipped != sumBulk.Applied+sumBulk.Refused || len(again.Events) != 0 {
		t.Errorf("second import: %+v events %v; want every line skipped and no events", again.Progress, again.Events)
	}
	if state(t, s, bulk) != before {
		t.Errorf("the second import changed the project")
	}
}

func TestAnInterruptedImportRunAgainEndsInTheSameState(t *testing.T) {
	s := openStore(t)
	data := generate(t, 400)
	whole, cut := newProject(t, s), newProject(t, s)
	im := &ingest.Importer{Store: s, Small: 10, Batch: 50}
	if _, err := im.Import(context.Background(), whole, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	// Cancel the first run after a few batches, as Ctrl-C would.
	ctx, cancel := context.WithCancel(context.Background())
	batches := 0
	interrupted := &ingest.Importer{Store: s, Small: 10, Batch: 50, Progress: func(ingest.Progress) {
		if batches++; batches == 3 {
			cancel()
		}
	}}
	if _, err := interrupted.Import(ctx, cut, bytes.NewReader(data)); err == nil {
		t.Fatal("the interrupted import reported success")
	}
	if _, err := im.Import(context.Background(), cut, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if state(t, s, cut) != state(t, s, whole) {
		t.Errorf("an interrupted and re-run import differs from an uninterrupted one")
	}
}

func TestStrictStopsAtTheFirstBadLine(t *testing.T) {
	s := openStore(t)
	project := newProject(t, s)
	data := `{"op":"client","id":"a","channel":{"kind":"web","account":"x"},"attributes":[{"field":"phone","value":"+79161234567"}]}
{"op":"attribute","client":"a","field":"phone","value":"12345"}
{"op":"client","id":"b","channel":{"kind":"web","account":"x"}}
`
	sum, err := (&ingest.Importer{Store: s, Strict: true}).Import(context.Background(), project, strings.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Stopped != 2 || sum.Applied != 1 {
		t.Errorf("summary = %+v, want stopped at line 2 after one applied line", sum)
	}
	if _, err := s.Client(context.Background(), project, "b"); identity.ErrorCode(err) != identity.CodeNotFound {
		t.Errorf("the line after the bad one was applied: %v", err)
	}
}

func diffLines(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			out = append(out, "- "+x, "+ "+y)
			if len(out) > 12 {
				break
			}
		}
	}
	return strings.Join(out, "\n")
}
