package supervisor

import "github.com/anthdm/hollywood/actor"

// ExecutorStarted is published when an executor's goroutine is running. Pinned is
// false and PinError says why when the thread could not be pinned (or affinity is
// off, with a nil PinError).
type ExecutorStarted struct {
	Index, CPU int
	PID        *actor.PID
	Pinned     bool
	PinError   error
}

// ExecutorRestarted is published when an executor's goroutine ended unexpectedly
// and a replacement was started on the same mailbox.
type ExecutorRestarted struct {
	Index, CPU int
	PID        *actor.PID
	Reason     error
}

// ExecutorStopped is published when an executor's goroutine ended for good.
type ExecutorStopped struct {
	Index, CPU int
	PID        *actor.PID
}
