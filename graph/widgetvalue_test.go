package graph_test

import (
	"testing"

	"github.com/multicontact/multicontact/identity"
)

// A value that a visitor typed into the widget links nobody; the same value
// given again for that client by an operator (or a bot, an integration)
// links it from then on.
func TestAWidgetValueLinksOnceAnotherSourceGivesIt(t *testing.T) {
	f := newFixture(t, []string{"email"})
	f.client("tg", "telegram", "email", "anna@example.com")
	f.client("web", "web")
	if _, err := f.s.SetAttribute(f.ctx, f.project, "web",
		identity.AttributeInput{Field: "email", Value: "Anna@example.com", Source: identity.SourceWidget}); err != nil {
		t.Fatal(err)
	}
	f.wantGroups([][]string{{"tg"}, {"web"}}, "tg", "web")
	if _, err := f.s.SetAttribute(f.ctx, f.project, "web",
		identity.AttributeInput{Field: "email", Value: "anna@example.com", Source: identity.SourceOperator}); err != nil {
		t.Fatal(err)
	}
	f.wantGroups([][]string{{"tg", "web"}}, "tg", "web")
}
