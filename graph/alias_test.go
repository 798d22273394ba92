package graph_test

import (
	"fmt"
	"testing"
)

// TestAnAliasChainResolvesToTheLastSurvivor: A is absorbed into B, then B
// into C; A, B and C all resolve to C, which lists both as aliases.
func TestAnAliasChainResolvesToTheLastSurvivor(t *testing.T) {
	f := newFixture(t, []string{"email"})
	f.client("a", "web", "email", "a@example.com")
	f.client("b1", "web", "email", "b@example.com")
	f.client("b2", "vk", "email", "b@example.com")
	f.client("c1", "web", "email", "c@example.com")
	f.client("c2", "vk", "email", "c@example.com")
	f.client("c3", "telegram", "email", "c@example.com")
	f.client("c4", "whatsapp", "email", "c@example.com")
	a, b, c := f.mc("a"), f.mc("b1"), f.mc("c1")
	if a == b || b == c || a == c {
		t.Fatalf("three people share multi-contacts: %s %s %s", a, b, c)
	}

	f.set("a", "email", "b@example.com") // A (1) into B (2)
	if got := f.mc("a"); got != b {
		t.Fatalf("a is in %s after joining B, want %s", got, b)
	}
	f.set("b1", "email", "c@example.com") // B (3) into the larger C (4)
	f.wantGroups([][]string{{"a", "b1", "b2", "c1", "c2", "c3", "c4"}}, "a", "b1", "b2", "c1", "c2", "c3", "c4")
	if got := f.mc("a"); got != c {
		t.Fatalf("a is in %s after B joined C, want %s", got, c)
	}

	for _, id := range []string{a, b, c} {
		mc, err := f.s.MultiContact(f.ctx, f.project, id)
		if err != nil {
			t.Errorf("MultiContact(%s): %v", id, err)
			continue
		}
		var members []string
		for _, cl := range mc.Clients {
			members = append(members, cl.ID)
		}
		if mc.ID != c || mc.Size != 7 || fmt.Sprint(members) != "[a b1 b2 c1 c2 c3 c4]" || fmt.Sprint(mc.Aliases) != fmt.Sprint(sortedPair(a, b)) {
			t.Errorf("MultiContact(%s) = %s size %d members %v aliases %v; want %s size 7 members [a b1 b2 c1 c2 c3 c4] aliases %v",
				id, mc.ID, mc.Size, members, mc.Aliases, c, sortedPair(a, b))
		}
	}
}

func sortedPair(x, y string) []string {
	if y < x {
		return []string{y, x}
	}
	return []string{x, y}
}
