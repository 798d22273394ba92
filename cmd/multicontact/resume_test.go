package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

const resumed = `subscription($p: ID!, $after: String, $c: ID) {
	multiContactChanged(projectId: $p, after: $after, clientId: $c) { type clientIds cursor }
}`

// A subscriber that reconnects with the last cursor it saw gets what was
// committed while it was away, in order, then the live events, none
// missed or doubled; a cursor the service never gave is refused.
func TestASubscriptionResumesAfterItsCursor(t *testing.T) {
	a := startAPI(t)
	p := a.project()
	a.client(p, "web-1", "web", "email", "ann@example.com")
	var head struct {
		Events struct{ PageInfo struct{ EndCursor string } }
	}
	a.ok(p.read, `query($p: ID!) { events(projectId: $p, first: 1000) { pageInfo { endCursor } } }`, map[string]any{"p": p.id}, &head)
	// While the subscriber is away: two clients join, one on another person.
	a.client(p, "tg-2", "telegram", "email", "ANN@example.com")
	a.client(p, "vk-9", "vk", "email", "bob@example.com")
	a.client(p, "wa-3", "whatsapp", "email", "ann@example.com")

	ws, err := a.dialWS(p.read)
	if err != nil {
		t.Fatal(err)
	}
	ws.subscribe("1", resumed, map[string]any{"p": p.id, "after": head.Events.PageInfo.EndCursor, "c": "web-1"})
	var got []string
	last := head.Events.PageInfo.EndCursor
	take := func() {
		t.Helper()
		e := ws.event(t)
		if len(e.Cursor) < len(last) || len(e.Cursor) == len(last) && e.Cursor <= last {
			t.Fatalf("cursor %s after %s: out of order or doubled", e.Cursor, last)
		}
		last = e.Cursor
		got = append(got, fmt.Sprintf("%s %v", e.Type, e.ClientIds))
	}
	take()
	take()
	a.client(p, "ig-4", "instagram", "email", "ann@example.com") // live, after the replay
	take()
	want := "[UPDATED [tg-2 web-1] UPDATED [tg-2 wa-3 web-1] UPDATED [ig-4 tg-2 wa-3 web-1]]"
	if fmt.Sprint(got) != want {
		t.Errorf("events = %v, want the two joins while away, then the live one: %s", got, want)
	}

	bad, err := a.dialWS(p.read)
	if err != nil {
		t.Fatal(err)
	}
	bad.subscribe("2", resumed, map[string]any{"p": p.id, "after": "not-a-cursor"})
	m, err := bad.next(10 * time.Second)
	if err != nil || !strings.Contains(string(m.Payload), "cursor") {
		t.Errorf("a bad cursor: %s %s %v, want an error naming the cursor", m.Type, m.Payload, err)
	}
}
