package resolver

import (
	"context"
	"encoding/json"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/multicontact/multicontact/graph"
)

// selects reports whether the field being resolved asks for the named
// sub-field, so that a write need not read back what nobody asked for.
func selects(ctx context.Context, name string) bool {
	return subField(graphql.CollectFieldsCtx(ctx, nil), name) != nil
}

// onlyID reports whether the field being resolved selects nothing but the
// object's id (and __typename), so a stub answers without a store read.
func onlyID(ctx context.Context) bool {
	return onlyIDIn(selectionOf(ctx))
}

// selectionOf is what the query asks of the field being resolved.
func selectionOf(ctx context.Context) ast.SelectionSet {
	var sel ast.SelectionSet
	for _, f := range graphql.CollectFieldsCtx(ctx, nil) {
		sel = append(sel, f.Field)
	}
	return sel
}

// subField is the field named name among fields, or nil.
func subField(fields []graphql.CollectedField, name string) *ast.Field {
	for _, f := range fields {
		if f.Name == name {
			return f.Field
		}
	}
	return nil
}

// onlyIDIn reports whether a selection asks for nothing but id (and
// __typename).
func onlyIDIn(sel ast.SelectionSet) bool {
	for _, sub := range sel {
		if sf, ok := sub.(*ast.Field); !ok || sf.Name != "id" && sf.Name != "__typename" {
			return false
		}
	}
	return true
}

// membersAsked is how many members a multi-contact's selection asks for
// on its first page (clients without after), so that they are read with
// the multi-contact; 0 when it asks for none, for a later page, or for a
// page size that the store refuses (the clients resolver reports that).
func membersAsked(ctx context.Context, sel ast.SelectionSet) int {
	for _, sub := range sel {
		f, ok := sub.(*ast.Field)
		if !ok || f.Name != "clients" || f.Definition == nil {
			continue
		}
		args := f.ArgumentMap(graphql.GetOperationContext(ctx).Variables)
		if args["after"] != nil {
			return 0
		}
		first := int64(clientsPageSize)
		switch v := args["first"].(type) { // a literal, or a variable as sent
		case nil:
		case int64:
			first = v
		case int:
			first = int64(v)
		case json.Number:
			first, _ = v.Int64()
		case float64:
			first = int64(v)
		default:
			return 0
		}
		if first < 1 || first > graph.MaxClientsPage {
			return 0
		}
		return int(first)
	}
	return 0
}
