package natsviews

// SetCrash makes the runner call f at its crash points: "flush" (before
// writing), "chunk" (between the parts of a split flush) and "ack" (after
// writing, before acknowledging). An error from f is returned at once,
// leaving everything as a crash there would.
func (r *Runner) SetCrash(f func(stage string) error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hook = f
}

// SetBatchLimit lowers the messages per atomic batch, to exercise split
// flushes.
func (v *Views) SetBatchLimit(n int) { v.limit = n }
