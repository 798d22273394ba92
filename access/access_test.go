package access_test

import (
	"strings"
	"testing"

	"github.com/multicontact/multicontact/access"
)

func TestRolesIncludeOneAnother(t *testing.T) {
	all := []access.Role{access.RoleAdmin, access.RoleWrite, access.RoleRead, access.RoleWidget, "OWNER"}
	// want[i][j]: all[i] may do what needs all[j].
	want := [][]bool{
		{true, true, true, false, false},
		{false, true, true, false, false},
		{false, false, true, false, false},
		{false, false, false, true, false},
		{false, false, false, false, false},
	}
	for i, r := range all {
		for j, need := range all {
			if got := r.Includes(need); got != want[i][j] {
				t.Errorf("%s.Includes(%s) = %v, want %v", r, need, got, want[i][j])
			}
		}
		if got, wantValid := r.Valid(), i < 4; got != wantValid {
			t.Errorf("%s.Valid() = %v, want %v", r, got, wantValid)
		}
	}
}

func TestSecretsAreNewAndStoredOnlyAsAHash(t *testing.T) {
	a, b := access.NewSecret(), access.NewSecret()
	if a == b || !strings.HasPrefix(a, "mck_") || len(a) < 40 {
		t.Errorf("secrets %q and %q: want distinct, mck_ and long", a, b)
	}
	// The SHA-256 of "abc", as published in FIPS 180-2.
	if got := access.Hash("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("Hash(abc) = %s", got)
	}
	if access.Hash(a) == a || access.Hash(a) != access.Hash(a) {
		t.Error("a hash must differ from its secret and be the same each time")
	}
}

// Every secret the service makes is well formed; a token that is not one
// (a typo, a guess, another service's key) is told apart without a lookup.
func TestOnlySecretsOfTheServicesShapeAreWellFormed(t *testing.T) {
	for range 100 {
		if s := access.NewSecret(); !access.WellFormed(s) {
			t.Fatalf("NewSecret() = %q is not well formed", s)
		}
	}
	good := access.NewSecret()
	for _, bad := range []string{"", "mck_", good[:len(good)-1], good + "A", "xyz_" + good[4:], strings.ToLower(good),
		good[:10] + "1" + good[11:], good[:10] + "=" + good[11:], "Bearer " + good} {
		if access.WellFormed(bad) {
			t.Errorf("WellFormed(%q) = true", bad)
		}
	}
}
