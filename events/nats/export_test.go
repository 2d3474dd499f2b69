package nats

// HoldCommits stops the group committer before its next commit until the
// returned function is called, so that a test can queue several appends
// and see them committed as one group.
func (s *Store) HoldCommits() (release func()) {
	s.gate.Lock()
	return s.gate.Unlock
}
