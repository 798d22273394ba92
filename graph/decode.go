package graph

import (
	"sort"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/identity"
)

// The decoders below read one column of a record written by this package's
// own queries; a missing or null column reads as the zero value.

func str(rec *neo4j.Record, key string) string {
	v, _, _ := neo4j.GetRecordValue[string](rec, key)
	return v
}

func i64(rec *neo4j.Record, key string) int64 {
	v, _, _ := neo4j.GetRecordValue[int64](rec, key)
	return v
}

func f64(rec *neo4j.Record, key string) float64 {
	v, _, _ := neo4j.GetRecordValue[float64](rec, key)
	return v
}

func boolean(rec *neo4j.Record, key string) bool {
	v, _, _ := neo4j.GetRecordValue[bool](rec, key)
	return v
}

func when(rec *neo4j.Record, key string) time.Time {
	v, _, _ := neo4j.GetRecordValue[time.Time](rec, key)
	return v
}

func list(rec *neo4j.Record, key string) []any {
	v, _, _ := neo4j.GetRecordValue[[]any](rec, key)
	return v
}

func strs(rec *neo4j.Record, key string) []string {
	var out []string
	for _, v := range list(rec, key) {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func mapStr(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

func mapBool(m map[string]any, key string) bool {
	b, _ := m[key].(bool)
	return b
}

func mapStrs(m map[string]any, key string) []string {
	var out []string
	l, _ := m[key].([]any)
	for _, v := range l {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func sortAttributes(a []identity.Attribute) {
	sort.Slice(a, func(i, j int) bool {
		if a[i].Field != a[j].Field {
			return a[i].Field < a[j].Field
		}
		return a[i].Value < a[j].Value
	})
}
