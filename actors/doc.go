// Package actors provides coregate's executor: one long-lived goroutine per CPU,
// locked to its OS thread and pinned to exactly one CPU, draining its own bounded
// mailbox of tokens. An executor is a hollywood process (a custom
// [actor.Processer] registered with [actor.Engine.SpawnProc]), so it has a PID.
//
// Guarantees:
//
//   - Tokens pushed onto one executor run in push order, one at a time, on the
//     executor's goroutine.
//   - Every token runs under recover: a panic resolves that token with a
//     [*PanicError] and the executor goes on with the next one. A handler that
//     calls [runtime.Goexit] resolves its token with [ErrGoexit] and ends the
//     executor goroutine (and, when it is locked, its thread); the owner is told
//     through the exit hook so it can start a replacement on the same mailbox.
//   - A pinned executor's thread is never unlocked: to stop, the goroutine returns
//     while still locked, and the Go runtime ends the thread with it.
//   - A token is resolved exactly once: by its executor, by [Task.Cancel] before it
//     starts, or by whoever drains a stopped mailbox ([Mailbox.TakeAll]) or
//     retires a down executor's ([Executor.Retire]) and cannot place its jobs
//     elsewhere. A job moved to another executor ([Executor.Adopt]) or retried
//     ([Hook]) is still counted on the executor that accepted it.
//   - An executor's health bits (Restarting, Stalled, Down) tell routers to keep
//     unpinned work away; its progress number lets a watchdog find a token that
//     runs too long without the executor reading a clock per token.
//   - [Task.Await] called on an executor's own goroutine (from inside a handler)
//     runs that executor's queued tokens while it waits, so waiting on a token
//     queued behind the waiter does not deadlock.
//
// Hollywood's normal actors cannot host an executor: each inbox activation runs on
// a fresh goroutine, so no thread could stay locked. The [Mailbox] here replaces
// hollywood's unbounded ring buffer with a bounded one that wakes its consumer
// only on the empty-to-non-empty edge.
package actors
