package graph

import (
	"errors"
	"testing"

	"github.com/multicontact/multicontact/identity"
)

// An event of a group carries the cause of the first op that wrote to its
// clients: an op refused before it wrote nothing, so it is passed over.
func TestAnEventsCauseIsTheFirstOpThatWroteToItsClients(t *testing.T) {
	ops := []Op{
		{Line: 1, Kind: OpAddAttribute, ClientID: "a", Attribute: identity.AttributeInput{Field: "phone", Value: "garbage"}},
		{Line: 2, Kind: OpUpsertClient, Client: identity.ClientInput{ID: "a"}},
		{Line: 3, Kind: OpAddAttribute, ClientID: "b", Attribute: identity.AttributeInput{Field: "email", Value: "b@example.com"}},
	}
	refused := []LineError{{Line: 1, Err: errors.New("not a phone")}}
	events := []identity.Event{
		{Type: identity.EventMerged, ClientIDs: []string{"a", "b"}},
		{Type: identity.EventUpdated, ClientIDs: []string{"b"}},
	}
	attributeCauses(events, ops, []string{"", "", "b@example.com"}, refused)
	if got := events[0].Cause.Action; got != "upsertClient" {
		t.Errorf("the merge of a and b is caused by %q, want upsertClient (the phone was refused)", got)
	}
	if got := events[1].Cause; got.Action != "setAttribute" || got.Field != "email" || got.Value != "b@example.com" {
		t.Errorf("b's update is caused by %+v, want setAttribute of email b@example.com", got)
	}
}

// The op whose cause an event takes when it names none of a group's
// clients (a multi-contact deleted) is the group's first op that applied,
// never one refused.
func TestTheFirstAppliedOpOfAGroupSkipsTheRefused(t *testing.T) {
	ops := []Op{
		{Line: 1, Kind: OpAddAttribute, ClientID: "a", Attribute: identity.AttributeInput{Field: "phone", Value: "garbage"}},
		{Line: 2, Kind: OpRemoveAttribute, ClientID: "b", Attribute: identity.AttributeInput{Field: "email", Value: "b@example.com"}},
	}
	if got := firstApplied(ops, []LineError{{Line: 1, Err: errors.New("not a phone")}}); got != 1 {
		t.Errorf("first applied op %d, want 1 (op 0 was refused)", got)
	}
	if got := firstApplied(ops, nil); got != 0 {
		t.Errorf("first applied op %d, want 0", got)
	}
}
