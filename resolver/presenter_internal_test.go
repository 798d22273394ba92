package resolver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// A call cancelled before it finished (its caller went away, the service
// stopping) is answered UNAVAILABLE, to be made again, and counts neither
// as an internal error, which operators are told to alert on, nor as the
// store being unavailable; an error nobody classified still does.
func TestACancelledCallIsNotAnInternalError(t *testing.T) {
	internal, unavailable := 0, 0
	present := presenter(slog.New(slog.NewTextHandler(io.Discard, nil)), func() { internal++ }, func() { unavailable++ })
	ctx := graphql.WithPathContext(context.Background(), graphql.NewPathWithField("setAttribute"))
	ctx = graphql.WithOperationContext(ctx, &graphql.OperationContext{Operation: &ast.OperationDefinition{Operation: ast.Mutation}})

	got := present(ctx, fmt.Errorf("set attribute: %w", context.Canceled))
	if code := got.Extensions["code"]; code != CodeUnavailable {
		t.Errorf("a cancelled call answered %v (%q), want %s", code, got.Message, CodeUnavailable)
	}
	if internal != 0 || unavailable != 0 {
		t.Errorf("a cancelled call counted %d internal errors and %d unavailable, want none", internal, unavailable)
	}

	got = present(ctx, errors.New("boom"))
	if code := got.Extensions["code"]; code != "INTERNAL" || internal != 1 {
		t.Errorf("an unclassified error answered %v and counted %d internal errors, want INTERNAL and 1", code, internal)
	}
}
