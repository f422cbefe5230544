//go:build race

package operators

// raceEnabled scales the randomized tests down under the race detector, which slows
// them tenfold without finding anything more in this single-goroutine package.
const raceEnabled = true
