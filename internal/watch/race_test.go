//go:build race

package watch

// raceEnabled reports a race-detector build, under which sync.Pool drops
// items at random: allocation counts of pooled code mean nothing there.
const raceEnabled = true
