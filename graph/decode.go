package graph

import (
	"sort"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/identity"
)

// The decoders below read one column of a record written by this package's
// own queries; a missing record or column, or a null, reads as the zero value.

func get[T neo4j.RecordValue](rec *neo4j.Record, key string) T {
	var zero T
	if rec == nil {
		return zero
	}
	v, _, _ := neo4j.GetRecordValue[T](rec, key)
	return v
}

func str(rec *neo4j.Record, key string) string { return get[string](rec, key) }

func i64(rec *neo4j.Record, key string) int64 { return get[int64](rec, key) }

func f64(rec *neo4j.Record, key string) float64 { return get[float64](rec, key) }

func boolean(rec *neo4j.Record, key string) bool { return get[bool](rec, key) }

func when(rec *neo4j.Record, key string) time.Time { return get[time.Time](rec, key) }

func list(rec *neo4j.Record, key string) []any { return get[[]any](rec, key) }

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

// valuesColumn is the "values" column that valuesOf reads: the unblocked
// values of the client bound to c, as rules see them.
const valuesColumn = `[(c)-[h:HAS]->(v:Value) WHERE NOT coalesce(v.blocked, false) |
	{field: v.field, value: v.value, verified: h.verified, source: h.source}] AS values`

// valuesOf reads the "values" column of this package's queries: a list of
// {field, value, verified, source} maps.
func valuesOf(rec *neo4j.Record) []identity.Value {
	var out []identity.Value
	for _, v := range list(rec, "values") {
		m, _ := v.(map[string]any)
		out = append(out, identity.Value{Field: mapStr(m, "field"), Value: mapStr(m, "value"), Verified: mapBool(m, "verified"),
			Source: identity.Source(mapStr(m, "source"))})
	}
	return out
}
