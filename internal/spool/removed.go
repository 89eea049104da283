package spool

// Removed reports whether overflow removed the record that p (its
// Record.Pos) ends before that record was acked: it is then counted in
// Stats.Dropped even if the reader had read it and its output takes it
// after all. Any goroutine may call it.
func (s *Spool) Removed(p Position) bool { return p.index <= s.oldest.Load() }
