package resolver

import (
	"context"
	"errors"

	"github.com/99designs/gqlgen/graphql"

	"github.com/multicontact/multicontact/identity"
)

// warnRefused reports the identifiers that a write was applied without in
// the answer's extensions.warnings, each with its field, code and message,
// so that an integration sees them without a change of the field's type.
func warnRefused(ctx context.Context, refused []error) {
	if len(refused) == 0 {
		return
	}
	warnings := make([]*InputError, 0, len(refused))
	for _, err := range refused {
		var e *identity.Error
		if errors.As(err, &e) {
			warnings = append(warnings, inputError(e))
		}
	}
	graphql.RegisterExtension(ctx, "warnings", warnings)
}
