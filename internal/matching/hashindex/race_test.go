//go:build race

package hashindex

// raceEnabled scales the exhaustive comparisons down under the race
// detector, which slows them tenfold and checks nothing more there.
const raceEnabled = true
