package graph

import (
	"testing"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// Open waits for the indexes the schema creates, found by name in each
// statement: a statement whose name it cannot find would not be waited for.
func TestEveryIndexOfTheSchemaIsWaitedFor(t *testing.T) {
	for _, q := range schema {
		if q == searchIndexSchema { // not waited for: search may rebuild while the rest works
			continue
		}
		if schemaName.FindStringSubmatch(q) == nil {
			t.Errorf("Open would not wait for the index of %q", q)
		}
	}
}

// A schema statement that fails because another replica, opening at the
// same moment, created the same index meanwhile is not a failure; any
// other error is.
func TestAnIndexCreatedMeanwhileIsNotAFailure(t *testing.T) {
	for code, meanwhile := range map[string]bool{
		"Neo.ClientError.Schema.EquivalentSchemaRuleAlreadyExists": true,
		"Neo.ClientError.Schema.IndexAlreadyExists":                true,
		"Neo.ClientError.Schema.ConstraintAlreadyExists":           true,
		"Neo.ClientError.Schema.IndexNotFound":                     false,
		"Neo.ClientError.Statement.SyntaxError":                    false,
	} {
		if got := createdMeanwhile(&neo4j.Neo4jError{Code: code}); got != meanwhile {
			t.Errorf("%s: created meanwhile %v, want %v", code, got, meanwhile)
		}
	}
}
