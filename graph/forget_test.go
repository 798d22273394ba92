package graph_test

import "testing"

// Forgetting a person leaves none of their values in the log: not one
// they gave and took back while they shared another person's
// multi-contact, whose events stay with that person's own values.
func TestForgettingAPersonBlanksTheValuesTheirEarlierEventsNamed(t *testing.T) {
	f := newFixture(t, []string{"phone"})
	f.client("q", "web", "phone", "+79161234567")
	f.client("p", "telegram", "phone", "+79161234567")
	f.set("q", "email", "quinn@example.com") // q's own, on the multi-contact they share
	f.set("p", "skype", "paul.private")
	if err := f.s.RemoveAttribute(f.ctx, f.project, "p", "skype", "paul.private"); err != nil {
		t.Fatal(err)
	}
	if err := f.s.RemoveAttribute(f.ctx, f.project, "p", "phone", "+79161234567"); err != nil { // p leaves q's multi-contact
		t.Fatal(err)
	}
	f.wantGroups([][]string{{"q"}, {"p"}}, "q", "p")
	before, _ := f.eventsSince(0)
	named := 0
	for _, e := range before {
		if e.Cause.Value == "paul.private" {
			named++
		}
	}
	if named == 0 {
		t.Fatalf("no event names the value before the forget: %+v", before)
	}
	if _, err := f.s.ForgetMultiContact(f.ctx, f.project, f.mc("p")); err != nil {
		t.Fatal(err)
	}
	after, _ := f.eventsSince(0)
	kept := false
	for _, e := range after {
		if e.Cause.Value == "paul.private" {
			t.Errorf("after the forget, event %d (%s of %s) still names %q", e.Seq, e.Type, e.MultiContactID, e.Cause.Value)
		}
		kept = kept || e.Cause.Value == "quinn@example.com"
	}
	if !kept {
		t.Errorf("forgetting p blanked the cause of q's own e-mail: %+v", after)
	}
}
