// Package router places tokens on executors. Placement is a pure function of the
// router's state (which executors are live and healthy, a position counter per
// weight class) and the token's facts (class, seed, sticky key), so it is
// tested with tables and fuzzing, without threads, and allocates nothing.
//
// Weight ranges: class offsets are Heavy 0, Medium 1, Light 2. With n executors a
// class may use executors min(offset, n-1) through n-1, so every class has at
// least one executor and Light ⊆ Medium ⊆ Heavy:
//
//	n   Heavy  Medium  Light
//	1   0      0       0
//	2   0-1    1       1
//	3   0-2    1-2     2
//	8   0-7    1-7     2-7
//
// Within its range a class takes executors round robin from its own position
// counter (the counters start staggered, one apart, so the classes do not all
// begin on the same executor). One submitter's tokens on one executor keep their
// submission order. A full mailbox is skipped for the next in range; when every
// mailbox in range is full, [Router.Submit] waits for room until its context
// ends, in line: room freed on an executor wakes the first submitters waiting
// that may use it, as many as there are slots ([Router.WaitRoom]).
//
// Precedence is seed, then sticky pin, then staggered selection. Each op has a
// [Rule] and each token a [Ticket] (its key, and the pin or seed its placement
// took); [Decide] is the precedence as a pure function and [Router.Submit]
// places and pushes every kind of token with it. Keyed and anchored tokens are
// placed under a read lock that moving a down executor's queue takes for
// writing, so no token of a key or seed overtakes the ones being moved; an
// executor coming back up takes it too, so each such placement sees one
// set of live executors throughout.
//
// The router also moves queued work: it implements the supervisor's Rerouter
// ([Router.Down], [Router.Up], [Router.Stalled], [Router.Redirect]), placing
// each moved job again by its rule and ticket ([Placed]).
//
// The router is also a hollywood process with its own PID: engine.Send of an
// [actors.Job] to it places the job without waiting (a job finding its whole range
// full is resolved with [actors.ErrMailboxFull]); any other message becomes a dead
// letter.
package router
