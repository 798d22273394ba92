package graph

import (
	"testing"

	"github.com/multicontact/multicontact/identity"
)

// An event of a batch carries the cause of the first applied op that wrote
// to its clients: an op that did not apply (here the refused phone) is
// passed over.
func TestAnEventsCauseIsTheFirstOpThatWroteToItsClients(t *testing.T) {
	ops := []Op{
		{Line: 1, Kind: OpAddAttribute, ClientID: "a", Attribute: identity.AttributeInput{Field: "phone", Value: "garbage"}},
		{Line: 2, Kind: OpUpsertClient, Client: identity.ClientInput{ID: "a"}},
		{Line: 3, Kind: OpAddAttribute, ClientID: "b", Attribute: identity.AttributeInput{Field: "email", Value: "b@example.com"}},
	}
	events := []identity.Event{
		{Type: identity.EventMerged, ClientIDs: []string{"a", "b"}},
		{Type: identity.EventUpdated, ClientIDs: []string{"b"}},
	}
	attributeCauses(events, ops, []string{"", "", "b@example.com"}, []int{1, 2}) // the phone was refused
	if got := events[0].Cause.Action; got != "upsertClient" {
		t.Errorf("the merge of a and b is caused by %q, want upsertClient (the phone was refused)", got)
	}
	if got := events[1].Cause; got.Action != "setAttribute" || got.Field != "email" || got.Value != "b@example.com" {
		t.Errorf("b's update is caused by %+v, want setAttribute of email b@example.com", got)
	}
}

// A re-resolution's events say what changed since the project was last
// IDLE: the rule when it alone changed, rules or the cap, or neither (a
// large import's clients).
func TestARoundsCauseIsWhatChangedSinceTheProjectWasIdle(t *testing.T) {
	for _, tt := range []struct {
		rules      []string
		capChanged bool
		want       identity.Cause
	}{
		{[]string{"r1"}, false, identity.Cause{Kind: identity.CauseRuleChange, Action: "reresolve", Rule: "r1"}},
		{[]string{"r1", "r2"}, false, identity.Cause{Kind: identity.CauseRuleChange, Action: "reresolve"}},
		{[]string{everyRule}, false, identity.Cause{Kind: identity.CauseRuleChange, Action: "reresolve"}},
		{[]string{"r1"}, true, identity.Cause{Kind: identity.CauseRuleChange, Action: "reresolve"}},
		{nil, true, identity.Cause{Kind: identity.CauseRuleChange, Action: "reresolve"}},
		{nil, false, identity.Cause{Kind: identity.CauseClient, Action: "reresolve"}},
	} {
		if got := roundCause(tt.rules, tt.capChanged); got != tt.want {
			t.Errorf("rules %v, cap changed %v: cause %+v, want %+v", tt.rules, tt.capChanged, got, tt.want)
		}
	}
}
