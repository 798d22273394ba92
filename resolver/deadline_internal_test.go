package resolver

import (
	"context"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// A query or mutation that arrives without a deadline (over a websocket)
// runs under one of its own; a subscription runs on; a request's own
// deadline is kept.
func TestOperationsOverAWebsocketHaveADeadline(t *testing.T) {
	ext := operationDeadline{d: 10 * time.Second}
	deadline := func(ctx context.Context, op ast.Operation) (time.Duration, bool) {
		ctx = graphql.WithOperationContext(ctx, &graphql.OperationContext{Operation: &ast.OperationDefinition{Operation: op}})
		var left time.Duration
		var has bool
		ext.InterceptResponse(ctx, func(ctx context.Context) *graphql.Response {
			var at time.Time
			at, has = ctx.Deadline()
			left = time.Until(at)
			return nil
		})
		return left, has
	}
	for _, op := range []ast.Operation{ast.Query, ast.Mutation} {
		if left, has := deadline(context.Background(), op); !has || left <= 0 || left > 10*time.Second {
			t.Errorf("a %s without a deadline runs with %v left (deadline %v), want one of 10 s", op, left, has)
		}
	}
	if _, has := deadline(context.Background(), ast.Subscription); has {
		t.Error("a subscription was given a deadline")
	}
	short, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if left, _ := deadline(short, ast.Query); left > time.Second {
		t.Errorf("a request's own deadline of 1 s became %v", left)
	}
}
