package identity

import "strings"

// KeyParts splits a match key made by MatchKeys back into its field values,
// for people reading quarantined keys and evidence. Field keys never hold
// '=' and normalized values never hold the separator.
func KeyParts(key string) []KeyPart {
	var out []KeyPart
	for _, p := range strings.Split(key, KeySep) {
		field, value, _ := strings.Cut(p, "=")
		out = append(out, KeyPart{Field: field, Value: value})
	}
	return out
}
