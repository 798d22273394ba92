package resolver

import (
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/multicontact/multicontact/identity"
)

// MarshalTime writes the schema's Time scalar: RFC 3339 with nanoseconds.
func MarshalTime(t time.Time) graphql.Marshaler { return graphql.MarshalTime(t) }

// UnmarshalTime reads the schema's Time scalar. A value that is not a time
// is the caller's mistake, refused as BAD_USER_INPUT on the field that
// holds it, never an internal error.
func UnmarshalTime(v any) (time.Time, error) {
	t, err := graphql.UnmarshalTime(v)
	if err != nil {
		return time.Time{}, identity.Errorf("", identity.CodeInvalidTime, "a time is an RFC 3339 string, such as 2025-06-01T12:00:00Z")
	}
	return t, nil
}
