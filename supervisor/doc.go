// Package supervisor starts a runtime's executors, watches them, restarts the ones
// whose goroutine ends unexpectedly, and stops them all gracefully.
//
// Guarantees:
//
//   - An executor whose goroutine ends without being asked to (a handler called
//     runtime.Goexit, or the loop itself failed) is replaced at once on the same
//     CPU, locked and pinned like the first, draining the same mailbox: the tokens
//     queued behind the failure stay queued and run in their order. The token that
//     was running is resolved with actors.ErrGoexit and is not run again.
//   - [Supervisor.Stop] refuses new tokens, lets the executors drain their
//     mailboxes until its context ends, then aborts: running handlers see their
//     context cancelled, executors stop before their next token, and every token
//     still queued is resolved with actors.ErrStopped. It returns once every
//     executor goroutine has ended (a pinned thread ends with it), so a handler that
//     ignores its context delays Stop: Go cannot kill a goroutine.
//   - Lifecycle changes are published on the engine's event stream as
//     [ExecutorStarted], [ExecutorRestarted] and [ExecutorStopped].
package supervisor
