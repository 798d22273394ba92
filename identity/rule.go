package identity

import (
	"maps"
	"slices"
	"strings"
	"unicode/utf8"
)

// MaxRuleFields bounds the fields of one rule, which keeps the number of
// match keys a client yields (a product over the fields) small.
const MaxRuleFields = 8

// MaxRules bounds a project's rules, and the rules of one preview: each
// rule gives every client keys of its own, and a preview holds them all.
const MaxRules = 50

// MaxKeysPerRule bounds the match keys one client yields for one rule, so
// a client holding many values cannot blow up the graph. It is above the
// largest cap of values per field, so a rule of one field always keys
// every value, and a write that would pass it is refused (Combinations).
const MaxKeysPerRule = 1000

// KeySep joins the parts of a match key. Normalized values never hold
// control characters, so it cannot occur inside a part.
const KeySep = "\x1f"

// Rule is a merge rule of a project: two clients match when, for every
// field of the rule, they share at least one value.
type Rule struct {
	ID              string
	Name            string
	Fields          []string
	Enabled         bool
	RequireVerified bool
}

// Validate checks a rule before it is stored: its name is non-empty (after
// trimming) and at most 100 characters, it has 1 to MaxRuleFields distinct
// fields, each known to the catalog. Errors carry Field "name" or "fields".
func (r Rule) Validate(c *Catalog) error {
	name := strings.TrimSpace(r.Name)
	if name == "" {
		return Errorf("name", CodeInvalidRule, "a rule needs a name")
	}
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxLabelRunes {
		return Errorf("name", CodeInvalidRule, "the rule name is too long (at most %d characters)", maxLabelRunes)
	}
	if len(r.Fields) == 0 || len(r.Fields) > MaxRuleFields {
		return Errorf("fields", CodeInvalidRule, "a rule has 1 to %d fields", MaxRuleFields)
	}
	seen := make(map[string]bool, len(r.Fields))
	for _, f := range r.Fields {
		if seen[f] {
			return Errorf("fields", CodeInvalidRule, "field %q appears twice in the rule", f)
		}
		seen[f] = true
		if _, ok := c.Field(f); !ok {
			return Errorf("fields", CodeUnknownField, "unknown field %q", f)
		}
	}
	return nil
}

// LinksLike says whether r links exactly the clients that o links: the
// same fields in any order, switch and verification; a name is not part of
// it.
func (r Rule) LinksLike(o Rule) bool {
	return slices.Equal(r.Canonical().Fields, o.Canonical().Fields) &&
		r.Enabled == o.Enabled && r.RequireVerified == o.RequireVerified
}

// Combinations is how many match keys a client holding counts[f] values
// of each field f can yield under r at most (0 when a field has none),
// counted up to just past MaxKeysPerRule.
func (r Rule) Combinations(counts map[string]int) int {
	n := 1
	for _, f := range r.Fields {
		n = min(n*counts[f], MaxKeysPerRule+1)
	}
	return n
}

// CheckNewValues checks the values that a client holding counts values of
// each field is given (fresh: field and value, each new to it): at most
// valueCap values of a field, and at most MaxKeysPerRule keys under each
// of rules that uses a field given (the keys past it would not be made,
// and partners sharing them would silently not merge).
func CheckNewValues(counts map[string]int, fresh [][2]string, valueCap int, rules []Rule) error {
	after := make(map[string]int, len(counts)+len(fresh))
	maps.Copy(after, counts)
	for _, fv := range fresh {
		if after[fv[0]]++; after[fv[0]] > valueCap {
			return Errorf(fv[0], CodeTooManyValues, "a client holds at most %d values of %s; remove one first", valueCap, fv[0])
		}
	}
	for _, r := range rules {
		for _, fv := range fresh {
			if slices.Contains(r.Fields, fv[0]) && r.Combinations(after) > MaxKeysPerRule {
				return Errorf(fv[0], CodeTooManyValues, "with this value the client's values would make more than %d "+
					"combinations under the rule %q; remove one of its values first", MaxKeysPerRule, r.Name)
			}
		}
	}
	return nil
}

// Canonical returns the rule with its Fields sorted (in a new slice), the
// order match keys are built in, so equal rules compare equal.
func (r Rule) Canonical() Rule {
	r.Fields = slices.Clone(r.Fields)
	slices.Sort(r.Fields)
	return r
}

// Value is one normalized value a client holds, as rules see it.
type Value struct {
	Field    string
	Value    string
	Verified bool
	Source   Source
}

// LinkingValues returns the values that may yield match keys: all but the
// unverified values from the website widget, unless acceptUnverifiedWidget.
// Anyone who opens the business's website can type any e-mail into the
// widget, so such a value is kept and shown but links nobody by default.
// It returns values itself when nothing is left out.
func LinkingValues(values []Value, acceptUnverifiedWidget bool) []Value {
	if acceptUnverifiedWidget {
		return values
	}
	keep := func(v Value) bool { return v.Verified || v.Source != SourceWidget }
	if !slices.ContainsFunc(values, func(v Value) bool { return !keep(v) }) {
		return values
	}
	out := make([]Value, 0, len(values))
	for _, v := range values {
		if keep(v) {
			out = append(out, v)
		}
	}
	return out
}

// MatchKeys returns the match keys a client with these values yields under
// rule r; clients sharing a key match. For every field of r (sorted by key)
// it takes the client's distinct values of that field (only verified ones
// if r.RequireVerified) and forms every combination of one value per field;
// a key is the parts "field=value" joined with "\x1f" in field order. If
// any field has no value there are no keys. Keys are sorted; when more than
// MaxKeysPerRule combinations exist, the first MaxKeysPerRule are returned
// and truncated is true, which depends only on the set of values. Values
// that cannot be normalized ones (empty, or holding bytes below 0x20) are
// ignored. MatchKeys does not look at r.Enabled.
func MatchKeys(r Rule, values []Value) (keys []string, truncated bool) {
	fields := slices.Compact(r.Canonical().Fields)
	if len(fields) == 0 {
		return nil, false
	}
	pos := make(map[string]int, len(fields))
	for i, f := range fields {
		pos[f] = i
	}
	lists := make([][]string, len(fields))
	for _, v := range values {
		i, ok := pos[v.Field]
		if !ok || (r.RequireVerified && !v.Verified) || !keyable(v.Value) {
			continue
		}
		lists[i] = append(lists[i], v.Value)
	}
	// Each list sorted: since every byte of a value is above the separator,
	// an odometer over sorted lists yields the keys in lexicographic order.
	total := 1
	for i, l := range lists {
		slices.Sort(l)
		l = slices.Compact(l)
		if len(l) == 0 {
			return nil, false
		}
		lists[i] = l
		if total <= MaxKeysPerRule {
			total *= len(l)
		}
	}
	n := min(total, MaxKeysPerRule)
	keys = make([]string, 0, n)
	idx := make([]int, len(lists))
	var b strings.Builder
	for len(keys) < n {
		b.Reset()
		for i, f := range fields {
			if i > 0 {
				b.WriteString(KeySep)
			}
			b.WriteString(f)
			b.WriteByte('=')
			b.WriteString(lists[i][idx[i]])
		}
		keys = append(keys, b.String())
		for i := len(idx) - 1; i >= 0; i-- {
			idx[i]++
			if idx[i] < len(lists[i]) {
				break
			}
			idx[i] = 0
		}
	}
	return keys, total > MaxKeysPerRule
}

// keyable reports whether v can be a part of a match key: non-empty and
// free of bytes at or below the separator.
func keyable(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 {
			return false
		}
	}
	return true
}
