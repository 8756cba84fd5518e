// Package coregate runs Go functions as tokens on per-core executors: one
// goroutine per CPU, locked to its OS thread and pinned to exactly that CPU, each
// draining its own bounded mailbox. A router places tokens by weight class, and a
// supervisor starts, restarts and stops the executors. Executors and the router
// are hollywood processes, so they have PIDs and show up on the engine's event
// stream.
//
// Use it in three steps:
//
//	rt, err := coregate.Start(coregate.Config{})   // Config{} is valid
//	sq, err := coregate.Define(rt, "square", func(ctx context.Context, x int) (int, error) {
//		return x * x, nil
//	})
//	tok, err := sq.Submit(ctx, 7)                  // returns at once
//	v, err := tok.Wait(ctx)                         // 49
//	err = rt.Stop(ctx)
//
// # Placement
//
// Heavy ops may run on every executor, Medium ones from the second, Light ones
// from the third, clamped so every class has at least one executor on small
// machines (see package router for the table). Within its range a class goes
// round robin; a full mailbox is skipped. Tokens of one submitter that land on one
// executor run in submission order.
//
// Precedence is seed, then sticky pin, then that staggered selection. An op
// defined [WithSticky] (or [WithStickyKey]) sends every token of a key (its name
// and argument) to the executor the key first ran on while the pin lives. An op
// defined [WithAnchor] is a lead: the tokens submitted with its handler's
// context, and their children in turn, run on the lead's executor until the
// lead and all of them have resolved. Both tables are bounded (see package
// anchor and [Config]).
//
// # Guarantees
//
//   - Every token accepted by Submit resolves exactly once: succeeded, failed (the
//     handler returned an error or called runtime.Goexit), panicked (a
//     [*PanicError] with the value and stack), cancelled, or stopped. After Stop
//     returns, Stats().Total.Submitted equals the sum of those outcomes.
//   - A panic fails only its own token; the executor goes on with the next.
//   - A handler's context tells which executor runs it ([CurrentExecutor]) and is
//     cancelled when the token is cancelled, its submitter's context ends, or Stop
//     gives up draining. Go cannot kill a goroutine: a handler that ignores its
//     context keeps its executor, and Stop, waiting.
//   - Failures are contained: an executor whose handler calls runtime.Goexit is
//     replaced on the same CPU and keeps its queue; past its [RestartPolicy] it
//     is down and its queue moves to the live executors, seeds as a whole and
//     in order; a token running past [Config.StallAfter] is reported and its
//     executor gets no unpinned work until it ends. See package supervisor for
//     what is kept and what runs at most or at least once ([WithRetry]).
//   - [Token.Wait] from inside a handler runs the executor's queued tokens while
//     it waits, so a handler may wait on tokens it submitted to its own executor.
//   - Bad input (a nil context or token, an empty or duplicate op name, a nil
//     function, an unknown weight, Cores out of range) is an error, never a panic
//     or a hang.
//
// Hot paths allocate nothing beyond the token itself: placement, mailbox push and
// pop, and running a handler.
package coregate
