//go:build !race

package main

// raceEnabled: this binary was built with the race detector, and so is the
// protoactor child it builds.
const raceEnabled = false
