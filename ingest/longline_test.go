package ingest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/multicontact/multicontact/graph"
	"github.com/multicontact/multicontact/identity"
	"github.com/multicontact/multicontact/ingest"
)

// A line over 1 MB is refused like any bad line (TOO_LONG, on "line"),
// and the lines before and after it apply; it used to stop the import
// with an internal error.
func TestALineOverOneMBIsRefusedAndTheRestApplies(t *testing.T) {
	s := openStore(t)
	p := newProject(t, s)
	long := `{"op":"client","id":"b","channel":{"kind":"web","account":"x"},"displayName":"` + strings.Repeat("я", 1<<19) + `"}`
	in := `{"op":"client","id":"a","channel":{"kind":"web","account":"x"}}` + "\n" + long + "\n" +
		`{"op":"client","id":"c","channel":{"kind":"web","account":"x"}}` + "\n"
	var refused []graph.LineError
	im := &ingest.Importer{Store: s, Refused: func(e graph.LineError) { refused = append(refused, e) }}
	sum, err := im.Import(context.Background(), p, strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Lines != 3 || sum.Applied != 2 || sum.Refused != 1 || len(refused) != 1 || refused[0].Line != 2 {
		t.Fatalf("summary %+v, refused %+v; want lines 1 and 3 applied, line 2 refused", sum.Progress, refused)
	}
	var e *identity.Error
	if !asIdentity(refused[0].Err, &e) || e.Code != identity.CodeTooLong || e.Field != "line" {
		t.Errorf("line 2 refused with %v, want TOO_LONG on line", refused[0].Err)
	}
}
