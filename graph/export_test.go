package graph

import "time"

// WaitBackground waits until no background re-resolution of the project
// is running in this store, so that a test can tell what its own calls did.
func (s *Store) WaitBackground(project string) {
	for s.batches.inBackground(project) {
		time.Sleep(10 * time.Millisecond)
	}
}
