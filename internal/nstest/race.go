//go:build integration && race

package nstest

const raceEnabled = true
