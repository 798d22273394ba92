package resolver

import (
	"strings"
	"testing"
)

// TestEveryPageIsWeighed keeps pageSizes complete: a list field that takes
// first and is missing there would cost as one object, whatever its size.
func TestEveryPageIsWeighed(t *testing.T) {
	schema := NewExecutableSchema(Config{}).Schema()
	for _, def := range schema.Types {
		if strings.HasPrefix(def.Name, "__") {
			continue
		}
		for _, f := range def.Fields {
			if _, ok := pageSizes[def.Name+"."+f.Name]; f.Arguments.ForName("first") != nil && !ok {
				t.Errorf("%s.%s takes first but its page is not weighed (pageSizes)", def.Name, f.Name)
			}
		}
	}
}
