// Package actors provides coregate's executor: one long-lived owner goroutine
// per CPU, locked to its OS thread and pinned to exactly one CPU, draining its
// own bounded mailbox of tokens. An executor is a hollywood process (a custom
// [actor.Processer] registered with [actor.Engine.SpawnProc]), so it has a PID.
//
// Guarantees:
//
//   - Tokens pushed onto one executor start in push order on its owner
//     goroutine (those pushed to the head with [Executor.PushFront] ahead of
//     them, last in first out), one at a time while none blocks: a handler
//     that blocks hands the executor on and finishes beside the next owner.
//   - Every token runs under recover, with singleflight's double defer to tell
//     a panic from runtime.Goexit: a panic (panic(nil) included) resolves that
//     token with a [*PanicError] and the owner goes on; a Goexit resolves it
//     with [ErrGoexit] and ends the goroutine (and, when locked, its thread),
//     and the owner's end is reported through the exit hook so a replacement
//     takes the same mailbox.
//   - A handler that blocks ([Task.Await], or a router waiting for room) hands
//     its executor to a helper goroutine pinned to the same CPU ([Block])
//     and blocks without holding it, whichever group owns what it waits on;
//     a Goexit below it ends only the goroutine that ran it. At most
//     [GroupConfig.MaxBlocked] handlers of a group block at once
//     ([ErrTooManyBlocked]).
//   - A pinned thread is never unlocked: to stop, the goroutine returns while
//     still locked, and the Go runtime ends the thread with it.
//   - A token is resolved exactly once: its state moves out of queued once,
//     by the executor that runs it, by [Task.Cancel], or by whoever aborts or
//     retires a mailbox. A job moved to another executor ([Executor.Adopt])
//     carries a mark its old executor skips, and is still counted on the
//     executor that accepted it.
//   - Every queue is bounded: pushes stop at the mailbox size, retries hold a
//     slot, and only tokens accepted before are requeued past it.
//   - An executor's health bits (Restarting, Stalled, Down) tell routers to
//     keep unpinned work away; [Executor.Running] lets a watchdog find a token
//     that runs too long at the cost of one store per token.
//   - Anything sent to an executor's PID that is not a well-formed job (or is
//     a job sent twice) is a dead letter, answered with an error when it came
//     as a Request; hollywood's Poison and Stop are refused ([PoisonRefused])
//     and their context completes.
//
// Hollywood's normal actors cannot host an executor: each inbox activation runs on
// a fresh goroutine, so no thread could stay locked. The [Mailbox] here replaces
// hollywood's unbounded ring buffer with a bounded one that wakes its consumer
// only on the empty-to-non-empty edge.
package actors
