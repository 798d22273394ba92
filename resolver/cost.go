package resolver

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// What an operation may cost, checked before anything runs. Three bounds,
// in the order they apply:
//
//   - maxTokens bounds the document itself: validating a document takes
//     time that grows faster than its length (fields of one name are
//     compared pairwise), and this runs before any key is checked.
//   - maxExpandedFields bounds the fields once every fragment spread is
//     replaced by its fragment: a fragment spread twice in a fragment
//     spread twice... doubles at each level, so a short document can name
//     billions of fields. The walks that follow (complexity, depth,
//     introspection, the plan of a lookup) expand fragments, so this check
//     counts each fragment once and runs first.
//   - the complexity limit (ServerConfig.ComplexityLimit) weighs what the
//     operation may make the service read: every object it may return
//     costs 1 (scalar fields nothing), a page costs its items' cost times
//     the page's size (first, or the field's default), and a few fields
//     cost what they ask of Neo4j (fieldWeights).

// maxTokens bounds an operation's document (gqlparser's tokens: names,
// punctuation, literals). The largest the console sends has about 150.
const maxTokens = 4000

// maxExpandedFields bounds an operation's fields with its fragments expanded.
const maxExpandedFields = 10000

// pageSizes are the default page sizes of the fields that take first, by
// "Type.field"; TestEveryPageIsWeighed keeps it complete.
var pageSizes = map[string]int{
	"Query.findClients":          clientsPageSize,
	"Query.searchClients":        searchPageSize,
	"Query.events":               eventsPageSize,
	"Query.apiKeys":              apiKeysPageSize,
	"Query.webhookDeliveries":    webhookDeliveriesPageSize,
	"Client.conversations":       conversationsPageSize,
	"MultiContact.clients":       clientsPageSize,
	"MultiContact.conversations": conversationsPageSize,
	"MultiContact.history":       historyPageSize,
}

// fieldWeights are the fields that cost more than the objects they return.
var fieldWeights = map[string]int{
	// a path in the graph, one query per member after the first (at most 49)
	"MultiContact.links": 50,
	// reads every client of the project
	"Query.previewRules": 5000,
	// ranks up to 2,000 full-text hits, whatever the page
	"Query.searchClients": 2000,
}

// listBounds are the lists without pages that may be long, by the most
// items they return: each item costs what its selection costs.
var listBounds = map[string]int{
	"Project.blockedValues":   1000, // up to 10,000 short values; a tenth, so the console's settings page fits
	"Project.quarantinedKeys": 1000,
}

// costedSchema is the generated schema with the complexity of pages and of
// the fields in fieldWeights.
type costedSchema struct{ graphql.ExecutableSchema }

func (s costedSchema) Complexity(ctx context.Context, typeName, field string, child int, args map[string]any) (int, bool) {
	name := typeName + "." + field
	if size, ok := pageSizes[name]; ok {
		if first, ok := intArg(args["first"]); ok && first > 0 {
			size = first
		}
		return fieldWeights[name] + safeMul(size, child) + 1, true
	}
	if size, ok := listBounds[name]; ok { // each item an object (1) and its selection
		return safeMul(size, child+1) + 1, true
	}
	if w, ok := fieldWeights[name]; ok {
		return w + child, true
	}
	return 0, false // gqlgen's own: 1 for an object and its children's cost
}

// intArg reads an Int argument, whether written in the document or passed
// as a variable.
func intArg(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case float64:
		return int(n), true
	case json.Number:
		i, err := n.Int64()
		return int(i), err == nil
	}
	return 0, false
}

func safeMul(a, b int) int {
	const most = 1 << 40
	if b != 0 && a > most/b {
		return most
	}
	return a * b
}

// fragmentLimit refuses an operation whose fields, fragments expanded,
// exceed maxExpandedFields, with COMPLEXITY_LIMIT_EXCEEDED. It must run
// before every other walk of the operation.
type fragmentLimit struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = fragmentLimit{}

func (fragmentLimit) ExtensionName() string                   { return "FragmentLimit" }
func (fragmentLimit) Validate(graphql.ExecutableSchema) error { return nil }
func (fragmentLimit) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	memo := map[string]int{}
	if n := expandedFields(oc.Operation.SelectionSet, oc.Doc, memo); n > maxExpandedFields {
		return &gqlerror.Error{
			Message:    fmt.Sprintf("the operation has more than %d fields once its fragments are expanded", maxExpandedFields),
			Extensions: map[string]any{"code": "COMPLEXITY_LIMIT_EXCEEDED"},
		}
	}
	return nil
}

// expandedFields counts the fields of set with each fragment spread
// replaced by its fragment's fields, counting each fragment once (memo).
// It stops counting past maxExpandedFields; a fragment cycle, which
// validation refuses before, counts as too many.
func expandedFields(set ast.SelectionSet, doc *ast.QueryDocument, memo map[string]int) int {
	n := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			n += 1 + expandedFields(s.SelectionSet, doc, memo)
		case *ast.InlineFragment:
			n += expandedFields(s.SelectionSet, doc, memo)
		case *ast.FragmentSpread:
			c, seen := memo[s.Name]
			if !seen {
				memo[s.Name] = maxExpandedFields + 1 // in progress: a cycle is too many
				if f := doc.Fragments.ForName(s.Name); f != nil {
					c = expandedFields(f.SelectionSet, doc, memo)
				}
				memo[s.Name] = c
			}
			n += c
		}
		if n > maxExpandedFields {
			return maxExpandedFields + 1
		}
	}
	return n
}
