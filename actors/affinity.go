package actors

import "fmt"

// Affinity says how an executor binds to its CPU. The zero value is [BestEffort].
type Affinity int

const (
	// BestEffort locks the executor goroutine to its thread and pins the thread
	// to its CPU; a failed pin is recorded (ExecutorInfo.Pinned is false, an
	// event is published) and the executor runs unpinned.
	BestEffort Affinity = iota
	// Strict is BestEffort where a failed pin fails Start.
	Strict
	// Off neither locks nor pins: executors are plain goroutines, which the OS
	// and Go's scheduler move freely. It shows what pinning costs or gains,
	// and at light load on a machine whose CPUs the program's own threads
	// need, it starts tokens sooner (the README's Placement section, on
	// affinity modes).
	Off
)

// String names the mode.
func (a Affinity) String() string {
	switch a {
	case BestEffort:
		return "best-effort"
	case Strict:
		return "strict"
	case Off:
		return "off"
	}
	return fmt.Sprintf("Affinity(%d)", int(a))
}

// Valid reports whether a is one of the declared modes.
func (a Affinity) Valid() bool { return a >= BestEffort && a <= Off }
