package identity_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/multicontact/multicontact/identity"
)

func TestRuleValidate(t *testing.T) {
	c, err := identity.NewCatalog("RU", []identity.Field{{Key: "inn", Label: "INN", Type: identity.TypeID}})
	if err != nil {
		t.Fatalf("NewCatalog: %v", err)
	}
	nine := []string{"phone", "email", "skype", "contract", "externalId", "inn", "a", "b", "c"}
	cases := []struct {
		name  string
		rule  identity.Rule
		code  string
		field string
	}{
		{name: "one field", rule: identity.Rule{Name: "By phone", Fields: []string{"phone"}}},
		{name: "custom and built-in", rule: identity.Rule{Name: "INN and email", Fields: []string{"inn", "email"}}},
		{name: "all six", rule: identity.Rule{Name: "all", Fields: nine[:6]}},
		{name: "blank name", rule: identity.Rule{Name: "  ", Fields: []string{"phone"}}, code: identity.CodeInvalidRule, field: "name"},
		{name: "long name", rule: identity.Rule{Name: strings.Repeat("я", 101), Fields: []string{"phone"}}, code: identity.CodeInvalidRule, field: "name"},
		{name: "no fields", rule: identity.Rule{Name: "x"}, code: identity.CodeInvalidRule, field: "fields"},
		{name: "too many fields", rule: identity.Rule{Name: "x", Fields: nine}, code: identity.CodeInvalidRule, field: "fields"},
		{name: "duplicate", rule: identity.Rule{Name: "x", Fields: []string{"phone", "email", "phone"}}, code: identity.CodeInvalidRule, field: "fields"},
		{name: "unknown field", rule: identity.Rule{Name: "x", Fields: []string{"phone", "fax"}}, code: identity.CodeUnknownField, field: "fields"},
	}
	for _, tc := range cases {
		err := tc.rule.Validate(c)
		if got := identity.ErrorCode(err); got != tc.code {
			t.Errorf("%s: Validate() = %v (code %q), want code %q", tc.name, err, got, tc.code)
			continue
		}
		var e *identity.Error
		if err != nil && (!asError(err, &e) || e.Field != tc.field) {
			t.Errorf("%s: Validate() error field = %q, want %q", tc.name, e.Field, tc.field)
		}
	}
}

func TestRuleCanonical(t *testing.T) {
	r := identity.Rule{ID: "r1", Name: "x", Fields: []string{"phone", "email"}, Enabled: true}
	got := r.Canonical()
	want := identity.Rule{ID: "r1", Name: "x", Fields: []string{"email", "phone"}, Enabled: true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Canonical() = %+v, want %+v", got, want)
	}
	if r.Fields[0] != "phone" {
		t.Errorf("Canonical() changed the receiver's fields to %v", r.Fields)
	}
}

func TestMatchKeys(t *testing.T) {
	const sep = "\x1f"
	v := func(field, value string, verified bool) identity.Value {
		return identity.Value{Field: field, Value: value, Verified: verified}
	}
	cases := []struct {
		name      string
		rule      identity.Rule
		values    []identity.Value
		want      []string
		truncated bool
	}{
		{
			name:   "one field",
			rule:   identity.Rule{Fields: []string{"phone"}},
			values: []identity.Value{v("phone", "+79161234568", false), v("email", "a@b.cd", true), v("phone", "+79161234567", true), v("phone", "+79161234567", false)},
			want:   []string{"phone=+79161234567", "phone=+79161234568"},
		},
		{
			name:   "two fields, every combination, fields sorted",
			rule:   identity.Rule{Fields: []string{"phone", "email"}},
			values: []identity.Value{v("phone", "+2", false), v("phone", "+1", false), v("email", "b@x.y", false), v("email", "a@x.y", false)},
			want: []string{
				"email=a@x.y" + sep + "phone=+1", "email=a@x.y" + sep + "phone=+2",
				"email=b@x.y" + sep + "phone=+1", "email=b@x.y" + sep + "phone=+2",
			},
		},
		{
			name:   "prefix values stay sorted",
			rule:   identity.Rule{Fields: []string{"skype", "contract"}},
			values: []identity.Value{v("contract", "ab", false), v("contract", "a", false), v("contract", "a b", false), v("skype", "s", false)},
			want:   []string{"contract=a" + sep + "skype=s", "contract=a b" + sep + "skype=s", "contract=ab" + sep + "skype=s"},
		},
		{
			name:   "require verified",
			rule:   identity.Rule{Fields: []string{"phone"}, RequireVerified: true},
			values: []identity.Value{v("phone", "+1", false), v("phone", "+2", true), v("phone", "+3", false), v("phone", "+3", true)},
			want:   []string{"phone=+2", "phone=+3"},
		},
		{
			name:   "require verified, none verified",
			rule:   identity.Rule{Fields: []string{"phone"}, RequireVerified: true},
			values: []identity.Value{v("phone", "+1", false)},
		},
		{
			name:   "missing field",
			rule:   identity.Rule{Fields: []string{"phone", "email"}},
			values: []identity.Value{v("phone", "+1", true)},
		},
		{
			name: "no values",
			rule: identity.Rule{Fields: []string{"phone"}},
		},
		{
			name:   "no fields",
			rule:   identity.Rule{},
			values: []identity.Value{v("phone", "+1", true)},
		},
		{
			name:   "values that cannot be normalized are ignored",
			rule:   identity.Rule{Fields: []string{"skype"}},
			values: []identity.Value{v("skype", "", true), v("skype", "a\x1fb", true), v("skype", "ok", true)},
			want:   []string{"skype=ok"},
		},
	}
	for _, tc := range cases {
		got, truncated := identity.MatchKeys(tc.rule, tc.values)
		if !reflect.DeepEqual(got, tc.want) || truncated != tc.truncated {
			t.Errorf("%s: MatchKeys() = %q, %v; want %q, %v", tc.name, got, truncated, tc.want, tc.truncated)
		}
	}
}

func TestMatchKeysTruncated(t *testing.T) {
	fields := []string{"f7", "f6", "f5", "f4", "f3", "f2", "f1", "f0"}
	var values []identity.Value
	for i, f := range fields {
		for j := 9; j >= 0; j-- {
			values = append(values, identity.Value{Field: f, Value: fmt.Sprintf("v%d", (i*7+j)%10)})
		}
	}
	r := identity.Rule{Fields: fields}
	start := time.Now()
	got, truncated := identity.MatchKeys(r, values)
	if d := time.Since(start); d > time.Second {
		t.Errorf("MatchKeys took %v for 8 fields × 10 values, want it to stop early", d)
	}
	if !truncated || len(got) != identity.MaxKeysPerRule {
		t.Fatalf("MatchKeys() gave %d keys, truncated %v; want %d, true", len(got), truncated, identity.MaxKeysPerRule)
	}
	if !slices.IsSorted(got) {
		t.Errorf("keys not sorted: %q", got)
	}
	prefix := "f0=v0\x1ff1=v0\x1ff2=v0\x1ff3=v0\x1ff4=v0\x1ff5="
	if wantFirst := prefix + "v0\x1ff6=v0\x1ff7=v0"; got[0] != wantFirst {
		t.Errorf("first key = %q, want %q", got[0], wantFirst)
	}
	if wantLast := prefix + "v9\x1ff6=v9\x1ff7=v9"; got[len(got)-1] != wantLast {
		t.Errorf("last key = %q, want %q", got[len(got)-1], wantLast)
	}

	// The keys depend only on the set of values, not on their order.
	slices.Reverse(values)
	again, _ := identity.MatchKeys(r, values)
	if !reflect.DeepEqual(again, got) {
		t.Errorf("MatchKeys over reversed values = %q, want %q", again, got)
	}

	// Exactly MaxKeysPerRule combinations are not truncated.
	exact := []identity.Value{}
	for i := range 10 {
		for _, f := range []string{"a", "b", "c"} {
			exact = append(exact, identity.Value{Field: f, Value: fmt.Sprint(i)})
		}
	}
	keys, truncated := identity.MatchKeys(identity.Rule{Fields: []string{"a", "b", "c"}}, exact)
	if len(keys) != 1000 || truncated {
		t.Errorf("MatchKeys over 10×10×10 values gave %d keys, truncated %v; want 1000, false", len(keys), truncated)
	}
}

func BenchmarkMatchKeys(b *testing.B) {
	var values []identity.Value
	for f := range 8 {
		for j := range 10 {
			values = append(values, identity.Value{Field: fmt.Sprint("f", f), Value: fmt.Sprint("v", j)})
		}
	}
	r := identity.Rule{Fields: []string{"f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7"}}
	for b.Loop() {
		identity.MatchKeys(r, values)
	}
}

func TestRuleLinksLikeIgnoresOnlyTheNameAndFieldOrder(t *testing.T) {
	base := identity.Rule{ID: "r", Name: "Phone and e-mail", Fields: []string{"phone", "email"}, Enabled: true}
	same := base
	same.Name, same.Fields = "Renamed", []string{"email", "phone"}
	if !base.LinksLike(same) {
		t.Errorf("a rule renamed, its fields reordered, does not link like itself")
	}
	for name, change := range map[string]func(*identity.Rule){
		"fields":          func(r *identity.Rule) { r.Fields = []string{"phone"} },
		"enabled":         func(r *identity.Rule) { r.Enabled = false },
		"requireVerified": func(r *identity.Rule) { r.RequireVerified = true },
	} {
		other := base
		change(&other)
		if base.LinksLike(other) {
			t.Errorf("a rule whose %s changed links like before", name)
		}
	}
}

func TestCombinationsBoundTheKeysOfAClient(t *testing.T) {
	r := identity.Rule{Fields: []string{"email", "phone"}}
	if got := r.Combinations(map[string]int{"phone": 3, "email": 4, "skype": 9}); got != 12 {
		t.Errorf("3 phones and 4 e-mails under {email, phone}: %d combinations, want 12", got)
	}
	if got := r.Combinations(map[string]int{"phone": 3}); got != 0 {
		t.Errorf("no e-mail: %d combinations, want 0", got)
	}
	wide := identity.Rule{Fields: []string{"a", "b", "c", "d", "e", "f", "g", "h"}}
	many := map[string]int{"a": 100, "b": 100, "c": 100, "d": 100, "e": 100, "f": 100, "g": 100, "h": 100}
	if got := wide.Combinations(many); got <= identity.MaxKeysPerRule {
		t.Errorf("100 values of each of 8 fields: %d combinations, want more than %d", got, identity.MaxKeysPerRule)
	}
}

func TestCheckNewValuesRefusesWhatWouldGoUnlinked(t *testing.T) {
	both := identity.Rule{Name: "phone and e-mail", Fields: []string{"email", "phone"}}
	phone := identity.Rule{Name: "phone", Fields: []string{"phone"}}
	rules := []identity.Rule{phone, both}
	var fe *identity.Error
	err := identity.CheckNewValues(map[string]int{"phone": 10}, [][2]string{{"phone", "+1"}}, 10, rules)
	if !errors.As(err, &fe) || fe.Field != "phone" || fe.Code != identity.CodeTooManyValues {
		t.Errorf("an 11th phone under a cap of 10: %v, want TOO_MANY_VALUES on phone", err)
	}
	// 40 phones and 25 e-mails make 1,000 combinations; one more e-mail passes the bound.
	held := map[string]int{"phone": 40, "email": 24}
	if err := identity.CheckNewValues(held, [][2]string{{"email", "a@b.c"}}, 100, rules); err != nil {
		t.Errorf("a 25th e-mail (1,000 combinations): %v", err)
	}
	held["email"] = 25
	err = identity.CheckNewValues(held, [][2]string{{"email", "a@b.c"}}, 100, rules)
	if !errors.As(err, &fe) || fe.Field != "email" || fe.Code != identity.CodeTooManyValues || !strings.Contains(fe.Message, "phone and e-mail") {
		t.Errorf("a 26th e-mail (1,040 combinations): %v, want TOO_MANY_VALUES naming the rule", err)
	}
	if err := identity.CheckNewValues(held, [][2]string{{"skype", "x"}}, 100, rules); err != nil {
		t.Errorf("a value of a field no rule uses: %v", err)
	}
}
