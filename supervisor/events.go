package supervisor

import (
	"time"

	"github.com/anthdm/hollywood/actor"
)

// Events are published on the engine's event stream; subscribe an actor with
// engine.Subscribe to receive them. For one executor they are published in the
// order they happen: Started, then any of Stalled/Recovered, Restarted and
// Down/Revived, then Stopped.

// ExecutorStarted is published when an executor's goroutine is running. Pinned is
// false and PinError says why when the thread could not be pinned (or affinity is
// off, with a nil PinError).
type ExecutorStarted struct {
	Index, CPU int        // the executor's index and the CPU it runs on
	PID        *actor.PID // the executor's PID
	Pinned     bool       // its thread is pinned to CPU
	PinError   error      // why it is not, under BestEffort
}

// ExecutorRestarted is published when a replacement goroutine runs on the
// mailbox of an executor whose goroutine ended unexpectedly, before it takes
// a token. Restarts counts the restarts within the policy's window, this one
// included; a handler's runtime.Goexit (Reason actors.ErrGoexit) does not
// count against the policy, so for it Restarts is the count before it.
// Backoff is how long the replacement waited.
type ExecutorRestarted struct {
	Index, CPU int        // the executor's index and the CPU it runs on
	PID        *actor.PID // the executor's PID
	Reason     error      // the failure: the loop's, a failed pin, or actors.ErrGoexit
	Restarts   int
	Backoff    time.Duration
	Pinned     bool  // its thread is pinned to CPU
	PinError   error // why it is not, under BestEffort
}

// ExecutorStalled is published when one token, or one actor's turn, has been
// running on the executor for longer than the stall threshold (Running, at
// least). Until it recovers the
// executor gets no unpinned work.
type ExecutorStalled struct {
	Index, CPU int        // the executor's index and the CPU it runs on
	PID        *actor.PID // the executor's PID
	Running    time.Duration
	Moved      int // queued tokens moved to healthy executors
}

// ExecutorRecovered is published when a stalled executor made progress again
// (its token or turn ended), after Stalled.
type ExecutorRecovered struct {
	Index, CPU int        // the executor's index and the CPU it runs on
	PID        *actor.PID // the executor's PID
	Stalled    time.Duration
}

// ExecutorDown is published when an executor failed past its restart policy:
// it is out of service, the weight ranges are recomputed over the live
// executors, what was queued on it was moved to them (Rerouted counts the
// jobs: its tokens, and the actors scheduled there, each once; a token that
// had moved here before counts again, unlike Stats' Rerouted, which counts
// each token once, where it was accepted), and it is tried again after
// Cooldown (unless the runtime stops first).
type ExecutorDown struct {
	Index, CPU int        // the executor's index and the CPU it runs on
	PID        *actor.PID // the executor's PID
	Reason     error      // the failure past the policy: the loop's, or a failed pin
	Restarts   int
	Rerouted   int
	Cooldown   time.Duration
}

// ExecutorRevived is published when a down executor runs again after its
// cool-down, back in the weight ranges, before it takes a token.
type ExecutorRevived struct {
	Index, CPU int        // the executor's index and the CPU it runs on
	PID        *actor.PID // the executor's PID
	Pinned     bool       // its thread is pinned to CPU
	PinError   error      // why it is not, under BestEffort
}

// ExecutorStopped is published when an executor's goroutine ended for good
// because the runtime stopped. An executor that is down when the runtime
// stops has no goroutine to end: its last event stays ExecutorDown.
type ExecutorStopped struct {
	Index, CPU int        // the executor's index and the CPU it runs on
	PID        *actor.PID // the executor's PID
}
