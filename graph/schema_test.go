package graph

import "testing"

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
