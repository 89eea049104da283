//go:build race

package record_test

// raceEnabled reports a race-detector build, under which sync.Pool drops
// items at random: allocation counts of pooled code mean nothing there.
const raceEnabled = true
