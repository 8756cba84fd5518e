// Package supervisor starts a runtime's executors, watches them, restarts the
// ones whose goroutine ends unexpectedly within a restart policy, takes the
// ones past it out of service, reports stalls, and stops them all gracefully.
// Erlang/OTP supervisors are the model; hollywood's own restart path is not
// used (it drops the failing message and crashes the process at its limit):
// executors are custom processes that hollywood never restarts.
//
// Guarantees:
//
//   - Kept: an executor whose goroutine ends without being asked to (a handler
//     called runtime.Goexit, or the loop itself failed) is replaced on the same
//     CPU, locked and pinned like the first, draining the same mailbox: the
//     tokens queued behind the failure stay queued and run in their order.
//     Sticky pins and seeds on it stay valid. The token that was running is
//     resolved with actors.ErrGoexit (a panic never ends an executor: it
//     resolves its token with *actors.PanicError and the executor goes on).
//   - At most once: the token in flight at a failure is not run again, unless
//     its op asked for retries; then it runs again at the tail of its
//     executor, at least once and at most 1+retries times. Exactly-once is not
//     offered.
//   - Restart intensity ([Policy]): at most MaxRestarts restarts within any
//     Window per executor, the first at once and the next ones after a
//     doubling, jittered backoff. The backoff is a timer, never a sleep on a
//     goroutine other work waits for; meanwhile the executor is marked
//     Restarting and gets no unpinned work, while tokens already queued (or
//     pinned to it) wait for the replacement.
//   - Down: the crash past the policy takes the executor out of service for
//     good. Config.OnDown (the runtime) recomputes the weight ranges over the
//     live executors and moves the queue: each token follows its seed (moved
//     as a whole, its tokens in order) or sticky pin (re-placed), or is
//     staggered over its class's live executors. Tokens fail with
//     actors.ErrNoExecutor only when no executor is left.
//   - Stalls: a watchdog samples each executor's progress; a token running
//     longer than Config.StallAfter marks its executor Stalled (no unpinned
//     work goes there) and publishes [ExecutorStalled]; the executor's next
//     progress publishes [ExecutorRecovered]. Go cannot kill a goroutine: a
//     stalled handler keeps its executor until it returns. Handlers that may
//     run long should watch their context, which Stop and Token.Cancel cancel.
//   - [Supervisor.Stop] refuses new tokens, relaunches at once any executor
//     waiting out a backoff, lets the executors drain their mailboxes until its
//     context ends (a crash meanwhile restarts at once), then aborts: running
//     handlers see their context cancelled, executors stop before their next
//     token, retries waiting out a backoff resolve with their last error, and
//     every token still queued is resolved with actors.ErrStopped. It returns
//     once every executor goroutine has ended (a pinned thread ends with it)
//     and no timer is left, so no token is lost or resolved twice.
//   - Events: [ExecutorStarted], [ExecutorRestarted], [ExecutorStalled],
//     [ExecutorRecovered], [ExecutorDown] and [ExecutorStopped] are published
//     on the engine's event stream, in order for each executor.
package supervisor
