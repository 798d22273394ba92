package graph_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/multicontact/multicontact/identity"
)

// BenchmarkSetAttribute measures single setAttribute calls against the
// test Neo4j, from 1 and from 8 concurrent writers on one project (the
// group-committed path): each gives one of 64 clients a new e-mail, which
// merges nothing (the values cap may refuse it). Compare its ns/op with the ceilings that
// `multicontact bench` measures on the same server.
func BenchmarkSetAttribute(b *testing.B) {
	for _, writers := range []int{1, 8} {
		b.Run(fmt.Sprint(writers, "writers"), func(b *testing.B) {
			f := newFixture(b, []string{"phone"}, []string{"email"})
			for i := range 64 {
				if _, err := f.s.UpsertClient(f.ctx, f.project, identity.ClientInput{ID: fmt.Sprint("c", i),
					Channel: identity.Channel{Kind: "web", Account: "site"}}); err != nil {
					b.Fatal(err)
				}
			}
			var n atomic.Int64
			b.ResetTimer()
			var wg sync.WaitGroup
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := n.Add(1)
						if i > int64(b.N) {
							return
						}
						client := fmt.Sprint("c", (int(i)*writers+w)%64)
						if _, err := f.s.SetAttribute(context.Background(), f.project, client, identity.AttributeInput{
							Field: "email", Value: fmt.Sprintf("u%d-%d@example.com", i, rand.Int64()), Source: identity.SourceBot}); err != nil &&
							identity.ErrorCode(err) != identity.CodeTooManyValues {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}
