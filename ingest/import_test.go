package ingest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
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
		{`{"op":"client","id":"a","channel":{"kind":"web","account":"x"}}}]]`, "line"},
	}
	for _, c := range cases {
		_, err := ingest.ParseLine(7, []byte(c.line))
		var e *identity.Error
		if !asIdentity(err, &e) || e.Field != c.field || e.Code != identity.CodeInvalidArgument {
			t.Errorf("ParseLine(%s) = %v, want an INVALID_ARGUMENT error on %q", c.line, err, c.field)
		}
	}
	// Another op's property is refused, not dropped without a word.
	for line, field := range map[string]string{
		`{"op":"client","id":"a","channel":{"kind":"web","account":"x"},"field":"phone","value":"+79161234567"}`: "field",
		`{"op":"attribute","client":"a","field":"phone","value":"1","attributes":[]}`:                            "attributes",
		`{"op":"removeAttribute","client":"a","field":"phone","value":"1","displayName":"Anna"}`:                 "displayName",
		`{"op":"conversation","id":"v1","client":"a","value":"x"}`:                                               "value",
	} {
		op, err := ingest.ParseLine(7, []byte(line))
		var e *identity.Error
		if !asIdentity(err, &e) || e.Field != field || e.Code != identity.CodeInvalidArgument {
			t.Errorf("ParseLine(%s) = %+v, %v; want an INVALID_ARGUMENT error on %q", line, op, err, field)
		}
	}
	// An event id that could not be kept is refused before anything records it.
	long := `{"op":"client","eventId":"` + strings.Repeat("e", 10000) + `","id":"a","channel":{"kind":"web","account":"x"}}`
	if op, err := ingest.ParseLine(7, []byte(long)); identity.ErrorCode(err) != identity.CodeTooLong || op.EventID != "" {
		t.Errorf("a line with a 10,000-byte event id = event id of %d bytes, %v; want TOO_LONG and no event id", len(op.EventID), err)
	}
	kept := `{"op":"client","eventId":"` + strings.Repeat("e", 1000) + `","id":"a","channel":{"kind":"web","account":"x"}}`
	if op, err := ingest.ParseLine(7, []byte(kept)); err != nil || len(op.EventID) != 1000 {
		t.Errorf("a line with a 1,000-byte event id (kept by earlier imports) = %v; want it taken", err)
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
	if err := s.WaitResolved(ctx, id); err != nil {
		t.Fatal(err)
	}
	return id
}

// state is a project's clients, values and multi-contacts as text,
// comparable between two projects: each client with its values, then the
// stored multi-contacts as sets of members. It fails the test when a client
// has no multi-contact, when the stored multi-contacts are not the offline
// oracle's components, or when the project is not IDLE.
func state(t *testing.T, s *graph.Store, project string) string {
	t.Helper()
	ctx := context.Background()
	if p, err := s.Project(ctx, project); err != nil || p.Resolution.State != identity.ResolutionIdle {
		t.Errorf("project %s: %+v %v, want IDLE", project, p.Resolution, err)
	}
	d, err := s.DumpProject(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, c := range d.Clients {
		fmt.Fprintf(&b, "%s %v %v\n", c.ID, c.Excluded, c.Values)
		if c.MultiContactID == "" {
			t.Errorf("project %s: client %s has no multi-contact", project, c.ID)
		}
	}
	got, want := fmt.Sprint(d.Stored()), fmt.Sprint(d.Components())
	if got != want {
		t.Errorf("project %s: stored multi-contacts differ from the oracle's components:\n%s", project, diffLines(got, want))
	}
	fmt.Fprintln(&b, got)
	return b.String()
}

// ids is each client's multi-contact id: a re-run must keep them all.
func ids(t *testing.T, s *graph.Store, project string) map[string]string {
	t.Helper()
	d, err := s.DumpProject(context.Background(), project)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, c := range d.Clients {
		out[c.ID] = c.MultiContactID
	}
	return out
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
	// The batch path says how much of its time went to resolving after its
	// writes; the incremental one resolves as it writes.
	if sumSmall.Resolution != 0 || sumBulk.Resolution <= 0 || sumBulk.Resolution >= sumBulk.Duration {
		t.Errorf("resolution: incremental %v (of %v), batch %v (of %v); want 0, and a part of the batch import's time",
			sumSmall.Resolution, sumSmall.Duration, sumBulk.Resolution, sumBulk.Duration)
	}
	if sumSmall.Applied != sumBulk.Applied || sumSmall.Refused != sumBulk.Refused || sumSmall.Applied+sumSmall.Refused != sumSmall.Lines {
		t.Errorf("summaries differ: incremental %+v, batch %+v", sumSmall.Progress, sumBulk.Progress)
	}
	if sumSmall.Refused+sumSmall.RefusedValues == 0 || len(refusedLines) != sumSmall.Refused+sumSmall.RefusedValues {
		t.Errorf("refused %d lines and %d values, reported %d: the generator's bad values should be refused and reported",
			sumSmall.Refused, sumSmall.RefusedValues, len(refusedLines))
	}
	if got, want := state(t, s, bulk), state(t, s, small); got != want {
		t.Errorf("the batch path ends in another state than the incremental one:\n%s", diffLines(got, want))
	}
	if sumSmall.Events[identity.EventMerged]+sumSmall.Events[identity.EventCreated] == 0 || sumBulk.Events[identity.EventCreated] == 0 {
		t.Errorf("events: incremental %v, batch %v", sumSmall.Events, sumBulk.Events)
	}
	// Both paths report the import the same way, and the report is the project.
	d, err := s.DumpProject(ctx, bulk)
	if err != nil {
		t.Fatal(err)
	}
	shared, largest := 0, 0
	for _, m := range d.Stored() {
		if len(m) > 1 {
			shared += len(m)
		}
		largest = max(largest, len(m))
	}
	want := graph.Shape{MultiContacts: len(d.Stored()), SharedClients: shared, Largest: largest}
	for name, sum := range map[string]ingest.Summary{"incremental": sumSmall, "batch": sumBulk} {
		if sum.NewClients != len(d.Clients) || sum.Before != (graph.Shape{}) || sum.After != want || sum.Joined() != shared || shared == 0 {
			t.Errorf("%s summary: %d new clients, before %+v, after %+v, joined %d; want %d new clients, after %+v, %d joined",
				name, sum.NewClients, sum.Before, sum.After, sum.Joined(), len(d.Clients), want, shared)
		}
	}

	before, beforeIDs := state(t, s, bulk), ids(t, s, bulk)
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
	if got := ids(t, s, bulk); !maps.Equal(got, beforeIDs) {
		t.Errorf("the second import changed multi-contact ids")
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

	// Lines read ahead past the stop are not counted as the import's.
	var b strings.Builder
	for i := range 100 {
		value := fmt.Sprintf("+7916%07d", i)
		if i == 9 {
			value = "12345"
		}
		fmt.Fprintf(&b, `{"op":"client","id":"s%d","channel":{"kind":"web","account":"x"},"attributes":[{"field":"phone","value":"%s"}]}`+"\n", i, value)
	}
	sum, err = (&ingest.Importer{Store: s, Strict: true, Batch: 5}).Import(context.Background(), project, strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Stopped != 10 || sum.Lines != 10 || sum.Applied != 9 {
		t.Errorf("summary = %+v, want 10 lines, stopped at line 10 after 9 applied", sum)
	}
}

// A line the parser refuses stops a strict import as a line the store
// refuses does: the lines before it apply, the small import stays small,
// and the summary names the first bad line of either kind.
func TestStrictStopsAtALineThatDoesNotParse(t *testing.T) {
	s := openStore(t)
	project := newProject(t, s)
	data := `{"op":"client","id":"a","channel":{"kind":"web","account":"x"}}
{not json
{"op":"client","id":"b","channel":{"kind":"web","account":"x"}}
`
	sum, err := (&ingest.Importer{Store: s, Strict: true}).Import(context.Background(), project, strings.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Stopped != 2 || sum.Applied != 1 || sum.Bulk || sum.Refused != 1 {
		t.Errorf("summary = %+v, want stopped at line 2, line 1 applied, incrementally", sum)
	}
	for id, want := range map[string]bool{"a": true, "b": false} {
		_, err := s.Client(context.Background(), project, id)
		if got := err == nil; got != want {
			t.Errorf("client %s written: %v, want %v (%v)", id, got, want, err)
		}
	}
	// The store's refusal at line 1 comes before the parser's at line 3.
	data = `{"op":"attribute","client":"ghost","field":"phone","value":"+79161234567"}
{"op":"client","id":"c","channel":{"kind":"web","account":"x"}}
{not json
`
	var order []int
	im := &ingest.Importer{Store: s, Strict: true, Refused: func(e graph.LineError) { order = append(order, e.Line) }}
	if sum, err = im.Import(context.Background(), project, strings.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if sum.Stopped != 1 || !slices.Equal(order, []int{1}) {
		t.Errorf("stopped at %d, refused lines %v; want 1 and [1]", sum.Stopped, order)
	}
}

// Refused lines come back in line order, whichever refused them: the
// parser (a line that is not JSON) or the store (a client that does not
// exist).
func TestRefusedLinesComeBackInLineOrder(t *testing.T) {
	s := openStore(t)
	project := newProject(t, s)
	data := `{"op":"attribute","client":"ghost","field":"phone","value":"+79161234567"}
not json
{"op":"client","id":"a","channel":{"kind":"web","account":"x"},"attributes":[{"field":"phone","value":"12345"}]}
{"op":"what"}
`
	var order []int
	im := &ingest.Importer{Store: s, Refused: func(e graph.LineError) { order = append(order, e.Line) }}
	if _, err := im.Import(context.Background(), project, strings.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(order, []int{1, 2, 3, 4}) {
		t.Errorf("refused lines reported as %v, want [1 2 3 4]", order)
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

// One malformed value does not cost its client: the line applies without
// it, the value is reported with its line number, and later lines about
// the client apply. Strict keeps all or nothing.
func TestABadValueIsRefusedAloneAndItsClientKept(t *testing.T) {
	s := openStore(t)
	data := `{"op":"client","id":"a","channel":{"kind":"web","account":"x"},"attributes":[{"field":"phone","value":"12345"},{"field":"email","value":"a@example.com"}]}
{"op":"attribute","client":"a","field":"phone","value":"+79161234567"}
`
	var reported []graph.LineError
	sum, err := (&ingest.Importer{Store: s, Refused: func(e graph.LineError) { reported = append(reported, e) }}).
		Import(context.Background(), newProject(t, s), strings.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Applied != 2 || sum.Refused != 0 || sum.RefusedValues != 1 || len(reported) != 1 ||
		reported[0].Line != 1 || !reported[0].Applied || identity.ErrorCode(reported[0].Err) != identity.CodeInvalidPhone {
		t.Errorf("summary %+v, reported %+v; want both lines applied and the bad phone of line 1 reported", sum.Progress, reported)
	}

	strict := newProject(t, s)
	sum, err = (&ingest.Importer{Store: s, Strict: true}).Import(context.Background(), strict, strings.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Stopped != 1 || sum.Applied != 0 {
		t.Errorf("strict summary %+v, want stopped at line 1", sum)
	}
	if _, err := s.Client(context.Background(), strict, "a"); identity.ErrorCode(err) != identity.CodeNotFound {
		t.Errorf("a strict import wrote the client of a refused line: %v", err)
	}
}

// failingReader gives its data, then fails as a broken connection does.
type failingReader struct{ data *bytes.Reader }

func (r failingReader) Read(p []byte) (int, error) {
	if r.data.Len() == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	return r.data.Read(p)
}

// A large import whose reader fails midway reports the failure, and what
// it wrote is resolved all the same, in the background: the project does
// not stay RUNNING with clients that have no multi-contact.
func TestALargeImportThatFailsMidwayIsResolvedAllTheSame(t *testing.T) {
	s := openStore(t)
	project := newProject(t, s)
	data := generate(t, 400)
	half := data[:bytes.LastIndexByte(data[:len(data)/2], '\n')+1]
	im := &ingest.Importer{Store: s, Small: 10, Batch: 50}
	if _, err := im.Import(context.Background(), project, failingReader{bytes.NewReader(half)}); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("import from a reader that fails: %v, want the reader's error", err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		p, err := s.Project(context.Background(), project)
		if err != nil {
			t.Fatal(err)
		}
		if p.Resolution.State == identity.ResolutionIdle {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a minute after the import failed, the project is %s", p.Resolution.State)
		}
	}
	state(t, s, project) // every client written has its multi-contact, the oracle's
}

// An import of few lines but many bytes is held a few megabytes at a time:
// past 16 MB read ahead it is large (the batch path), and its batches are
// cut by bytes as well as by lines. (Each line here is refused: a display
// name is at most 256 bytes.)
func TestAnImportOfLongLinesIsHeldInPieces(t *testing.T) {
	s := openStore(t)
	project := newProject(t, s)
	var b bytes.Buffer
	const lines = 40
	name := strings.Repeat("x", 1_000_000)
	for i := range lines {
		fmt.Fprintf(&b, `{"op":"client","id":"c%d","channel":{"kind":"web","account":"acme"},"displayName":"%s"}`+"\n", i, name)
	}
	batches := 0
	im := &ingest.Importer{Store: s, Progress: func(ingest.Progress) { batches++ }}
	sum, err := im.Import(context.Background(), project, &b)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Bulk || sum.Lines != lines || sum.Refused != lines || batches < 5 {
		t.Errorf("40 lines of 1 MB: batch path %v, %d lines, %d refused, in %d batches; want the batch path, all refused, in at least 5 batches",
			sum.Bulk, sum.Lines, sum.Refused, batches)
	}
}
