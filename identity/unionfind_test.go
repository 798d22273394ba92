package identity_test

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/multicontact/multicontact/identity"
)

func TestUnionFind(t *testing.T) {
	u := identity.NewUnionFind()
	u.Add("c")
	u.Add("c")
	u.Union("a", "b")
	u.Union("d", "e")
	u.Union("b", "e")
	u.Find("z")
	if got, want := u.Find("a"), u.Find("d"); got != want {
		t.Errorf("Find(a) = %q, Find(d) = %q; want one set", got, want)
	}
	if u.Find("c") == u.Find("a") {
		t.Error("c joined a without a union")
	}
	got := u.Groups()
	want := [][]string{{"a", "b", "d", "e"}, {"c"}, {"z"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Groups() = %v, want %v", got, want)
	}
	if got := identity.NewUnionFind().Groups(); len(got) != 0 {
		t.Errorf("Groups() of empty = %v, want none", got)
	}
}

func TestComponents(t *testing.T) {
	cases := []struct {
		name    string
		clients []string
		keysOf  map[string][]string
		links   [][2]string
		want    [][]string
	}{
		{
			name:    "transitive through two keys",
			clients: []string{"c3", "c1", "c2", "c4"},
			keysOf:  map[string][]string{"c1": {"phone=1"}, "c2": {"phone=1", "email=x"}, "c3": {"email=x"}, "c4": {"phone=2"}},
			want:    [][]string{{"c1", "c2", "c3"}, {"c4"}},
		},
		{
			name:    "isolated clients appear",
			clients: []string{"b", "a"},
			want:    [][]string{{"a"}, {"b"}},
		},
		{
			name:    "manual link joins components",
			clients: []string{"a", "b", "c", "d"},
			keysOf:  map[string][]string{"a": {"k"}, "b": {"k"}, "c": {"m"}, "d": {"m"}},
			links:   [][2]string{{"d", "a"}},
			want:    [][]string{{"a", "b", "c", "d"}},
		},
		{
			name:    "keys and links of unknown clients ignored",
			clients: []string{"a", "b"},
			keysOf:  map[string][]string{"a": {"k"}, "x": {"k"}, "b": {"k2"}},
			links:   [][2]string{{"a", "y"}, {"y", "b"}},
			want:    [][]string{{"a"}, {"b"}},
		},
		{
			name:    "sorted by first member",
			clients: []string{"z", "y", "b", "a"},
			keysOf:  map[string][]string{"z": {"k"}, "a": {"k"}},
			want:    [][]string{{"a", "z"}, {"b"}, {"y"}},
		},
	}
	for _, tc := range cases {
		got := identity.Components(tc.clients, tc.keysOf, tc.links)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: Components() = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestComponentsChain(t *testing.T) {
	const n = 10000
	clients := make([]string, n)
	keysOf := make(map[string][]string, n)
	for i := range n {
		clients[i] = fmt.Sprintf("c%05d", i)
		keysOf[clients[i]] = []string{fmt.Sprint("k", i), fmt.Sprint("k", i+1)}
	}
	got := identity.Components(clients, keysOf, nil)
	if len(got) != 1 || len(got[0]) != n {
		t.Fatalf("Components() of a chain gave %d components, want one of %d", len(got), n)
	}
}

func BenchmarkComponents(b *testing.B) {
	const n = 100000
	clients := make([]string, n)
	keysOf := make(map[string][]string, n)
	for i := range n {
		clients[i] = fmt.Sprint("c", i)
		keysOf[clients[i]] = []string{fmt.Sprint("phone=", i/3), fmt.Sprint("email=", i/5)}
	}
	for b.Loop() {
		identity.Components(clients, keysOf, nil)
	}
}
