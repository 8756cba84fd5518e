package router

import "fmt"

// Weight is a token's weight class; it decides which executors may run it. The
// zero value is Heavy: every executor.
type Weight int

const (
	Heavy  Weight = iota // every executor
	Medium               // executors 1 and up
	Light                // executors 2 and up
)

// NumWeights is the number of weight classes.
const NumWeights = 3

// String names the class.
func (w Weight) String() string {
	switch w {
	case Heavy:
		return "heavy"
	case Medium:
		return "medium"
	case Light:
		return "light"
	}
	return fmt.Sprintf("Weight(%d)", int(w))
}

// Valid reports whether w is Heavy, Medium or Light.
func (w Weight) Valid() bool { return w >= Heavy && w <= Light }

// Range returns the executors [lo, hi] that class w may use when n executors are
// live. n must be at least 1.
func Range(w Weight, n int) (lo, hi int) {
	return min(int(w), n-1), n - 1
}

// Eligible returns the executors class w may use among live, the ascending
// indexes of the live executors: Range over their count, so ranges are
// recomputed over whatever executors are left. It is a subslice of live
// (nothing is allocated) and empty only when live is.
func Eligible(w Weight, live []int) []int {
	if len(live) == 0 {
		return nil
	}
	lo, _ := Range(w, len(live))
	return live[lo:]
}

// Candidate returns the k-th executor to try (k = 0, 1, ...) in a class's
// eligible set (non-empty) for position pos: round robin over the set,
// starting at pos.
func Candidate(set []int, pos uint64, k int) int {
	return set[(int(pos%uint64(len(set)))+k)%len(set)]
}
