// Package supervisor starts a runtime's executors, watches them, restarts the
// ones that fail within a restart policy, takes the ones past it out of
// service until a cool-down brings them back, reports stalls and moves work
// off them, and stops them all gracefully, bounded by a context. Erlang/OTP
// supervisors and circuit breakers are the model; hollywood's own restart
// path is not used (it drops the failing message and crashes the process at
// its limit): executors are custom processes that hollywood never restarts.
//
// Guarantees:
//
//   - User code failing is not the executor failing. A handler's panic fails
//     its token with *actors.PanicError and the executor goes on; a handler's
//     runtime.Goexit fails its token with actors.ErrGoexit and ends the
//     goroutine running it, and a replacement takes the same CPU and mailbox
//     at once ([ExecutorRestarted] with that Reason), outside the restart
//     intensity. No flood of either takes an executor down.
//   - Kept: an executor that fails itself (its loop, or pinning its thread
//     under Strict affinity) is replaced on the same CPU, locked and pinned
//     like the first, draining the same mailbox: the tokens queued behind the
//     failure stay queued and run in their order. Sticky pins and seeds on it
//     stay valid.
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
//   - Down, then back: the failure past the policy takes the executor out of
//     service. [Rerouter.Down] (the runtime) recomputes the weight ranges over
//     the live executors and moves the queue: each token follows its seed
//     (moved as a whole, its tokens in order) or sticky pin (re-placed), or is
//     staggered over its class's live executors. After Policy.Cooldown the
//     executor is tried again ([ExecutorRevived], [Rerouter.Up]); each time it
//     goes down again the cool-down doubles up to MaxCooldown, and once it
//     stayed up a whole Window it starts from Cooldown again. Tokens fail with
//     actors.ErrNoExecutor only while no executor is up.
//   - Stalls: a watchdog samples the token or actor turn each executor runs;
//     one running longer than Config.StallAfter marks its executor Stalled
//     (no unpinned work goes there), moves the unpinned tokens queued behind
//     it to healthy executors ([Rerouter.Stalled]; pinned, anchored and
//     retried ones wait; again at each later look while it stays stalled, so
//     what had nowhere to go moves once an executor is healthy) and publishes
//     [ExecutorStalled]; the executor's next
//     token or turn publishes [ExecutorRecovered]. Go cannot kill a goroutine: a stalled handler keeps
//     running until it returns. Handlers that may run long should watch their
//     context, which Stop and Token.Cancel cancel.
//   - [Supervisor.Stop] refuses new tokens, relaunches at once any executor
//     waiting out a backoff (one down stays down), and lets the executors
//     drain their mailboxes, retries waiting out a backoff included, until its
//     context ends (a failure meanwhile restarts at once, even past the
//     policy for another MaxRestarts failures; a relaunch that keeps failing
//     past the policy, or a loop past that, goes down). Then it aborts:
//     every token still queued resolves with actors.ErrStopped at once, every
//     retry waiting out a backoff with its last attempt's error, and running
//     handlers see their context cancelled and get Config.Grace to return. It
//     returns nil when nothing was cut short, else a [*StopError] that says
//     what was: a handler whose context it cancelled was cut short even when
//     it returned within the grace. It names the ops of handlers still
//     running; their goroutines exit when they return, leaking nothing after
//     that.
//   - What can still hang: nothing in the supervisor; a handler that ignores
//     its context runs on (Go cannot kill it), and whoever waits on its token
//     with a context that never ends waits as long.
//   - Events: [ExecutorStarted], [ExecutorRestarted], [ExecutorStalled],
//     [ExecutorRecovered], [ExecutorDown], [ExecutorRevived] and
//     [ExecutorStopped] are published on the engine's event stream, in order
//     for each executor.
package supervisor
