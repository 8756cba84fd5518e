// Package coregate runs Go functions as tokens on per-core executors: one
// goroutine per CPU, locked to its OS thread and pinned to exactly that CPU, each
// draining its own bounded mailbox. A router places tokens by weight class, and a
// supervisor starts, restarts and stops the executors. Executors and the router
// are hollywood processes, so they have PIDs and show up on the engine's event
// stream.
//
// Start a runtime, define an op, submit a token and wait for it, stop:
//
//	rt, err := coregate.Start(coregate.Config{})   // Config{} is valid
//	sq, err := coregate.Define(rt, "square", func(ctx context.Context, x int) (int, error) {
//		return x * x, nil
//	})
//	tok, err := sq.Submit(ctx, 7)                  // returns at once
//	v, err := tok.Wait(ctx)                         // 49
//	err = rt.Stop(ctx)
//
// # Actors
//
// An actor is a Go value with state whose Receive handles one message at a
// time on its executor:
//
//	type counter struct{ n int }
//
//	func (c *counter) Receive(_ *coregate.ActorContext, add int) (int, error) {
//		c.n += add
//		return c.n, nil
//	}
//
//	ref, err := coregate.Spawn(rt, "counter", func() coregate.Actor[int, int] { return &counter{} })
//	err = ref.Tell(ctx, 5)      // fire and forget
//	tok, err := ref.Ask(ctx, 1) // n, err := tok.Wait(ctx): 6
//
// A panic or runtime.Goexit in Receive fails that message and restarts the
// actor from its factory: the mailbox is kept, the state is lost (its
// [ChildOf] children are kept, see [WithRestartPolicy]). Past its
// restart intensity the actor stops and its queued Asks resolve with
// [ErrActorStopped]. Every actor is a hollywood process with a PID. Many
// actors share each executor; one placed by weight follows a hand-off from
// an actor on another executor (see [Spawn]), so a chain of actors runs on
// one core. See [Spawn], [Ref] and [ActorContext].
//
// # Ops by message, and other processes
//
// Every op is also reachable by message at the runtime's ops process
// ([Runtime.OpsPID], <Config.Name>/ops): a [Call] names the op and carries
// its argument, the op runs as one token, and a hollywood Request gets the
// result or the error ([Request] waits for it, typed, until its context
// ends, and tells a result that implements error from a failure). An unknown name or a wrong argument type is answered with
// [ErrUnknownOp] or [ErrBadArgument], never a panic.
//
// An engine configured with hollywood's remote transport, wrapped by
// [Remote], makes the runtime's actors and ops reachable from other
// processes by PID. Hollywood's remote carries protobuf messages only: an
// actor's M and R and an op's A and R must be generated protobuf types
// there, an op is called with a [wire.Call] (its argument packed in an Any),
// and errors arrive as a [*wire.Error] with a [wire.Code]. A runtime that
// stopped still answers, STOPPED or ACTOR_STOPPED (see [Remote]); a peer
// that went away answers nothing: the caller's Request ends with its
// context's error, and the next message dials the peer again. See examples/remote.
//
// # Placement
//
// Heavy ops may run on every executor, Medium ones from the second, Light ones
// from the third, clamped so every class has at least one executor on small
// machines (see package router for the table). Within its range a class goes
// round robin; a full mailbox is skipped. Tokens of one submitter that land on one
// executor run in submission order. When the round robin's choice is parked and
// another executor of the range is polling its mailbox, the token goes to the
// polling one: an idle executor polls for [Config.IdleSpin] before it parks
// (waking a parked pinned thread costs tens of microseconds), gives its P up
// when goroutines wait for one, and costs CPU while it polls; IdleSpin -1
// turns polling off. A token of a cheap op (its tokens, as the executors time
// them, run under 2 µs on average) may also go to an executor at work on a
// cheap token, up to eight between two of its idle spells: a small fan-out of
// tiny tokens then runs where a thread is awake.
//
// Precedence is seed, then sticky pin, then that staggered selection. An op
// defined [WithSticky] (or [WithStickyKey]) sends every token of a key (its name
// and argument) to the executor the key first ran on while the pin lives. An op
// defined [WithAnchor] is a lead: the tokens of the ops it declares,
// submitted with its handler's context, and their children in turn, run on the
// lead's executor until the lead and all of them have resolved. Both tables are bounded (see package
// anchor and [Config]).
//
// # Pool and service features
//
// On the same tokens, keeping placement, counts, supervision and Stop's
// promise: [Op.SubmitAll] (a burst placed as many Submits would, queued up
// to 256 tokens per lock), [Op.SubmitFirst] (head of the queue),
// [Op.TrySubmit] ([ErrFull] instead of waiting), [Op.SubmitAfter] (one heap
// and one timer for every waiting token), [Op.Every] (periodic, never
// overlapping),
// [Op.CancelQueued], [Op.Pause] and [Op.Resume], [Map] (ordered, a
// bounded window, a break cancels the rest) and [MapUnordered],
// [WithBlocking] (a bounded pool of unpinned goroutines for handlers that
// sleep or do I/O), [PerCore] (one value per executor, made on its
// thread), [WithOnDone] and [WithOnFailure] (callbacks, run where the token
// ran before its waiters wake), [SubmitFunc] (a closure without an op),
// [Group] (errgroup's semantics on tokens), and [OnExecutor] on an op and
// [Config.CPUs] to choose cores:
//
//	g := coregate.NewGroup(ctx, rt)
//	for _, id := range ids { coregate.Add(g, fetch, id) }
//	err := g.Wait() // the first error; the rest were cancelled
//
// # Guarantees
//
//   - Every token accepted by Submit resolves exactly once: succeeded, failed (the
//     handler returned an error or called runtime.Goexit), panicked (a
//     [*PanicError] with the value and stack), cancelled, or stopped. After Stop
//     returns nil, Stats().Total.Submitted equals the sum of those outcomes;
//     after a Stop whose error names handlers still running, it does once
//     they returned.
//   - A panic or runtime.Goexit fails only its own token: a Goexit ends the
//     goroutine running it and a replacement takes the same CPU and queue at
//     once. Neither counts against the executor's [RestartPolicy], which
//     counts only the executor itself failing.
//   - A handler's context tells which executor runs it ([CurrentExecutor]) and is
//     cancelled when the token is cancelled, its submitter's context ends, or Stop
//     gives up draining. Go cannot kill a goroutine: a handler that ignores its
//     context keeps running; Stop returns at its deadline anyway and names it.
//   - Failures are contained: an executor failing past its [RestartPolicy] is
//     down, its queue moves to the live executors (seeds as a whole and in
//     order), and it is tried again after a doubling cool-down; a token
//     running past [Config.StallAfter] is reported, its executor gets no
//     unpinned work until it ends, and the unpinned tokens queued behind it
//     move (so do those behind an actor's turn that runs that long). See package supervisor for what is kept and what runs at most or
//     at least once ([WithRetry]).
//   - A handler that blocks ([Token.Wait], or a Submit waiting for room) hands
//     its executor to a helper pinned to the same CPU first, so a handler may
//     wait on tokens it submitted to its own executor, and a child's Goexit
//     never unwinds its parent. So does a handler waiting on another
//     runtime of the process (its token, actor, mailbox or Stop): a cycle
//     through two runtimes does not deadlock. At most [Config.MaxBlocked]
//     handlers of a runtime block at once, whatever they wait on; past that
//     the call fails with [ErrTooManyBlocked].
//   - Every queue of work to run is bounded ([Config.MailboxSize], retries
//     included), and [Runtime.Stop] is bounded by its context. Tokens
//     waiting out [Op.SubmitAfter]'s delay or held by [Op.Pause] are not
//     bounded: each was accepted already and waits in memory, without a
//     goroutine, until it is due or resumed.
//   - Bad input (a nil context, runtime, op, token, ref, group, PerCore or
//     option, or a zero one not made by its constructor, an empty or
//     duplicate op name, a nil function, an unknown weight, Cores or
//     MailboxSize out of range) is an error, never a panic or a hang.
//
// Hot paths allocate nothing beyond the token itself: placement, mailbox push and
// pop, and running a handler.
package coregate
