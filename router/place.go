package router

import (
	"context"
	"slices"

	"github.com/coregate/coregate/actors"
	"github.com/coregate/coregate/anchor"
	"github.com/coregate/coregate/internal/faults"
)

// Rule is an op's placement rule, fixed when the op is defined.
type Rule struct {
	Weight Weight // the op's weight class, which decides its range
	Keyed  bool   // sticky: each token carries a key ([Ticket.Key])
	Lead   bool   // each token leads a seed that its children join
	Calls  []byte // a lead's canonical external call names, hashed into its seed
	Retry  bool   // failed tokens are retried: each stays on its executor, off a stall too
}

// Ticket is one token's placement: its sticky key and what placing it took.
// The zero value is a token with no key and no seed yet.
type Ticket struct {
	Near   int          // 1 + the executor of the actor whose context submitted it, or 0: used in place of staggered selection
	Key    uint64       // the sticky key, under a keyed rule
	Seed   *anchor.Seed // the seed it joined (a child), or its own once placed (a lead); nil for none
	Pinned bool         // it holds an in-flight count on its key's pin
	Hashed bool         // it was placed by rendezvous hashing, the pin table full ([anchor.Sticky.Unhash])
	placed bool
}

// Placed is a job the router can place again, by its op's rule and its
// ticket, when the executor it waits on goes down or stalls. A nil ticket is
// a plain token: staggered within its class, and free to move off a stalled
// executor. Jobs that are not Placed (sent by message) are plain Heavy tokens.
type Placed interface {
	actors.Job
	// Placement returns the op's rule and the token's ticket.
	Placement() (*Rule, *Ticket)
}

// Decide is placement's precedence as a pure function of the live executors
// (ascending indexes), which of them take unpinned work (healthy), the
// executor of the token's seed (-1 for none) and its class position pos: the
// seed's executor when it is live, whatever the token's class; else staggered
// selection in the class's range from pos, preferring healthy executors, and
// when none of the range is healthy, the range computed over the healthy ones.
// A sticky key's pin (package anchor) takes this staggered choice as the
// executor for a key that has none, or, when the choice is outside the
// class's range (none of it healthy), the range's own staggered choice. It
// returns -1 when no executor is live.
func Decide(live []int, healthy func(int) bool, w Weight, seed int, pos uint64) int {
	if seed >= 0 && contains(live, seed) {
		return seed
	}
	set := Eligible(w, live)
	if len(set) == 0 {
		return -1
	}
	for k := range set {
		if i := Candidate(set, pos, k); healthy(i) {
			return i
		}
	}
	if i := healthyRange(live, healthy, w, pos); i >= 0 {
		return i
	}
	return Candidate(set, pos, 0)
}

// Awake returns the executor of set to use in place of the staggered choice
// at pos, or -1 to keep it: when that choice is asleep (parked: a push must
// wake its thread), the first one after it in staggered order for which awake
// reports true (it may claim the executor, so it is asked once per pick). At light
// load a token then starts at once on an executor that polls its mailbox
// instead of waiting tens of microseconds for a thread to wake, and light
// work gathers on few executors; a burst is still spread by staggering, since
// busy executors are not asleep, and awake takes one for a few tokens at most.
func Awake(set []int, pos uint64, asleep, awake func(int) bool) int {
	if len(set) == 0 || !asleep(Candidate(set, pos, 0)) {
		return -1
	}
	for k := 1; k < len(set); k++ {
		if i := Candidate(set, pos, k); awake(i) {
			return i
		}
	}
	return -1
}

// healthyRange is where unpinned work of class w goes when no executor of its
// range is healthy (all stalled or restarting, as a Light op's single
// executor may be): the class's range computed over the healthy live
// executors, staggered by pos; -1 when none is healthy.
func healthyRange(live []int, healthy func(int) bool, w Weight, pos uint64) int {
	n := 0
	for _, i := range live {
		if healthy(i) {
			n++
		}
	}
	if n == 0 {
		return -1
	}
	lo, _ := Range(w, n)
	k := lo + int(pos%uint64(n-lo))
	for _, i := range live {
		if healthy(i) {
			if k == 0 {
				return i
			}
			k--
		}
	}
	return -1
}

func contains(set []int, i int) bool {
	for _, k := range set {
		if k == i {
			return true
		}
	}
	return false
}

func (r *Router) healthy(i int) bool { return r.execs[i].Healthy() }

// How says how [Router.SubmitHow] queues a token. The zero value is Submit's.
type How struct {
	First  bool // at the head of its executor's queue ([actors.Executor.PushFront])
	NoWait bool // [actors.ErrFull] at once instead of waiting for room
}

func (h How) push(e *actors.Executor, j actors.Job) actors.PushResult {
	if h.First {
		return e.PushFront(j)
	}
	return e.Push(j)
}

// Submit places j by rule and tk (nil for a plain token) and pushes it,
// waiting for room while its executor (or, for a plain token, its whole
// range) is full. Precedence is seed, then sticky pin, then staggered
// selection. A keyed or anchored token is placed and pushed under the read
// lock on moves, so an executor going down (which moves its queue under the
// write lock) never lets a token of a key or seed overtake the ones being
// moved. It returns [actors.ErrStopped] once the executors are closed,
// [actors.ErrNoExecutor] when none is live, ctx's error if ctx ends first, or
// [actors.ErrTooManyBlocked] for a handler that may not block; on error the
// ticket's pin and seed are given back.
func (r *Router) Submit(ctx context.Context, rule *Rule, tk *Ticket, j actors.Job) error {
	return r.SubmitHow(ctx, rule, tk, j, How{})
}

// SubmitHow is [Router.Submit] queueing as how says; with how.NoWait it
// returns [actors.ErrFull] instead of waiting for room.
func (r *Router) SubmitHow(ctx context.Context, rule *Rule, tk *Ticket, j actors.Job, how How) error {
	if tk == nil || (!rule.Keyed && !rule.Lead && tk.Seed == nil && tk.Near == 0) {
		pos := r.next(rule.Weight)
		if _, res := r.tryPlaceAt(rule.Weight, pos, j, how); res == actors.Pushed {
			return nil
		}
		return r.waitRoom(ctx, how, rule.Weight, func() (int, actors.PushResult) { return r.tryPlaceAt(rule.Weight, pos, j, how) })
	}
	push := func() (int, actors.PushResult) {
		r.moving.RLock()
		defer r.moving.RUnlock()
		if r.loose(rule, tk) {
			return r.tryPlaceAt(rule.Weight, r.next(rule.Weight), j, how)
		}
		exec := r.target(rule, tk, j)
		if exec < 0 {
			return -1, actors.NoExecutor
		}
		return exec, how.push(r.execs[exec], j)
	}
	if _, res := push(); res == actors.Pushed {
		return nil
	}
	err := r.waitRoom(ctx, how, rule.Weight, push)
	if err != nil {
		r.Release(tk) // it will never resolve: give back its pin and seed
	}
	return err
}

// loose reports whether tk, placed before, is held to no executor: no key,
// no seed (a lead the full seed table left unanchored), no live actor
// nearby. Staggered afresh at each try, such a token tried one executor,
// and woken by room freed there tried the next, full, and waited on with
// the room unused: it tries its whole range instead, as a plain token does.
func (r *Router) loose(rule *Rule, tk *Ticket) bool {
	return tk.placed && !rule.Keyed && tk.Seed == nil && (tk.Near == 0 || !r.Live(tk.Near-1))
}

// waitRoom is WaitRoom, or with how.NoWait, one more try that does not wait.
func (r *Router) waitRoom(ctx context.Context, how How, w Weight, push func() (int, actors.PushResult)) error {
	if !how.NoWait {
		_, err := r.WaitRoom(ctx, w, push)
		return err
	}
	for {
		switch _, res := push(); res {
		case actors.Pushed:
			return nil
		case actors.Gone:
			continue // the view changed: place again at once
		case actors.Full:
			return actors.ErrFull
		case actors.Closed:
			return actors.ErrStopped
		default:
			return actors.ErrNoExecutor
		}
	}
}

// target returns the executor a keyed or anchored token goes to, -1 when
// none is live. The first call places it, taking its pin or creating its
// seed; later calls (after a full mailbox, or to move it off an executor that
// went down) follow the seed or pin, moving them off a down executor, without
// counting again. The caller holds the read lock on moves (or the write lock).
func (r *Router) target(rule *Rule, tk *Ticket, j actors.Job) int {
	v := r.view.Load()
	if viewLoaded != nil {
		viewLoaded()
	}
	seedFrom := -1 // the executor a keyed lead's own seed moves off
	if tk.Seed != nil {
		exec := tk.Seed.Executor()
		if !tk.Pinned && v.isLive[exec] {
			// A keyed lead hashed past the pin table's cap stays with
			// its seed too: it has no pin to follow, only a hash that a
			// range recomputed over other executors changes, and moved
			// by it the seed would leave its children queued or running
			// where it was.
			return exec
		}
		if !rule.Keyed || !tk.Pinned && !tk.Hashed {
			next := Decide(v.live, r.healthy, Weight(tk.Seed.Class), -1, r.next(Weight(tk.Seed.Class)))
			if next < 0 {
				return -1
			}
			return tk.Seed.Move(exec, next)
		}
		// A keyed lead placed by its key's pin (or hashed, its seed's
		// executor down): its own seed moves where the key's pin (or
		// hash) does, or the key's leads, each moving its seed on
		// its own, would run on several executors. It follows the pin
		// even when its seed is live: a child moved off a down executor
		// before it (a retry of the lead queued behind its children)
		// moved the seed on its own. A pin that moves goes to the seed's
		// executor, where the children are, when it is in the range.
		seedFrom = exec
	}
	// A class position is taken only when staggered selection decides: a
	// token that follows its key's pin, or stays near an actor, takes none,
	// or the class's other tokens would skip the executors it took.
	var pos uint64
	took := false
	staggered := func() int {
		if !took {
			pos, took = r.next(rule.Weight), true
		}
		return Decide(v.live, r.healthy, rule.Weight, -1, pos)
	}
	near := -1
	if tk.Near > 0 && v.isLive[tk.Near-1] {
		near = tk.Near - 1 // submitted by an actor: stays near it, in place of staggering
	}
	if !rule.Keyed {
		next := near
		if next < 0 {
			next = staggered()
		}
		if next < 0 {
			return -1
		}
		if rule.Lead && !tk.placed {
			tk.Seed = r.seeds.Lead(j.Task().ID(), rule.Calls, next, int(rule.Weight)) // nil: unanchored
		}
		tk.placed = true
		return next
	}
	// A key is pinned in its class's range, neither near an actor outside
	// it nor on the healthy executor staggering falls back to when none of
	// the range is healthy: a later token of the key, placed from elsewhere
	// or once the range is healthy again, would move the pin while this one
	// runs.
	set := v.eligible(rule.Weight)
	if len(set) == 0 {
		return -1
	}
	choose := func() int {
		if seedFrom >= 0 && v.isLive[seedFrom] && slices.Contains(set, seedFrom) {
			return seedFrom
		}
		if slices.Contains(set, near) {
			return near
		}
		if i := staggered(); slices.Contains(set, i) {
			return i
		}
		return Candidate(set, pos, 0)
	}
	live := func(i int) bool { return v.isLive[i] }
	if tk.placed {
		next := r.sticky.RepinFunc(tk.Key, set, choose, live)
		if seedFrom >= 0 {
			next = tk.Seed.Move(seedFrom, next)
		}
		return next
	}
	tk.placed = true
	next, pinned := r.sticky.PlaceFunc(tk.Key, set, choose, live)
	tk.Pinned, tk.Hashed = pinned, !pinned
	if rule.Lead {
		tk.Seed = r.seeds.Lead(j.Task().ID(), rule.Calls, next, int(rule.Weight)) // nil: unanchored
	}
	return next
}

// Release gives back what placing tk took, once its token resolved (or was
// never accepted): its key's in-flight count (or its count as hashed) and
// its share of its seed.
func (r *Router) Release(tk *Ticket) {
	if tk.Pinned {
		r.sticky.Release(tk.Key)
	}
	if tk.Hashed {
		r.sticky.Unhash()
	}
	if tk.Seed != nil {
		tk.Seed.Leave()
	}
}

// Down moves the queue of an executor that went down: the ranges are
// recomputed without it, then each queued token, in order, follows its seed
// or pin (moved off e as a whole) or is staggered over the live executors of
// its class; an actor goes where it picks ([actors.Homed]), in its class's
// range. It returns how many tokens moved; with no executor left they are
// resolved with [actors.ErrNoExecutor].
func (r *Router) Down(e *actors.Executor) int {
	r.moving.Lock()
	r.setLive(e.Index(), false)
	moved := r.moveAll(e.Retire(), nil)
	r.moving.Unlock()
	r.room.Notify() // submitters waiting for room on e place again
	return moved
}

// Up puts an executor back from down into the ranges: submitters waiting
// for room may place on it, and actors left with messages when no executor
// was live go on it or another. Like Down, it changes the view under the
// write lock on moves: a keyed or anchored token placed under the read
// lock sees one view throughout, or one placed with the executor still
// down would move its pin or seed off it while a token placed with it
// back up followed them there.
func (r *Router) Up(e *actors.Executor) {
	r.moving.Lock()
	r.setLive(e.Index(), true)
	r.moving.Unlock()
	r.room.Notify()
	e.Group().PlaceStranded()
}

// Stalled moves the tokens queued on a stalled executor that nothing holds
// there (plain tokens: no sticky pin, seed or retry; never a Scheduled
// runnable) to healthy executors of
// their range, or of the range over the healthy ones when none of it is
// healthy; the others wait for it, in order. When no live executor is
// healthy, nothing moves: placed again, the tokens would go back to a
// stalled one, e itself for a class whose range is e, at its tail, behind
// tokens submitted after them. It returns how many moved.
func (r *Router) Stalled(e *actors.Executor) int {
	defer r.room.Notify() // submitters waiting for room on e place again
	r.moving.Lock()
	defer r.moving.Unlock()
	if !slices.ContainsFunc(r.view.Load().live, r.healthy) {
		return 0
	}
	moved := 0
	e.Steal(func(j actors.Job) bool {
		if p, ok := j.(Placed); ok {
			// A ticket alone does not hold a token (a group's or Map's
			// carry one to be watched): a key, a seed, a retry or an
			// executor it is near does.
			rule, tk := p.Placement()
			return tk == nil || !rule.Keyed && !rule.Lead && !rule.Retry && tk.Seed == nil && tk.Near == 0
		}
		return j.Task() != nil // a Scheduled runnable (an actor) stays
	}, func(jobs []actors.Job) { moved = r.moveAll(jobs, e) })
	return moved
}

// Redirect places one accepted job whose executor is down (one sent to a down
// executor's PID, or a retry due on it).
func (r *Router) Redirect(j actors.Job) {
	r.moving.Lock()
	defer r.moving.Unlock()
	r.reroute(j, nil)
}

// Deliver queues j, a token accepted before on the executor it names and held
// off the queues meanwhile (delayed, or paused), as [actors.Executor.Deliver]
// does; a keyed or anchored token goes where its pin or seed is now instead,
// which moved if its executor went down meanwhile, even when that one is back
// up. It returns Gone when the executor is down (place j with
// [Router.Redirect]) and Closed once the runtime aborted.
func (r *Router) Deliver(j actors.Job) actors.PushResult {
	e := j.Task().Executor()
	if rule, tk := anchored(j); tk != nil {
		r.moving.RLock()
		defer r.moving.RUnlock()
		if i := r.target(rule, tk, j); i >= 0 && i != e.Index() {
			return r.execs[i].Adopt(j)
		}
	}
	return e.Deliver(j)
}

// Follow returns the executor a keyed or anchored job, accepted before and
// held off the queues meanwhile (a retry waiting out its backoff), goes to
// now: its seed's or pin's, which moved if the executor it ran on went down
// meanwhile. It returns nil for any other job, and when none is live.
func (r *Router) Follow(j actors.Job) *actors.Executor {
	rule, tk := anchored(j)
	if tk == nil {
		return nil
	}
	r.moving.RLock()
	defer r.moving.RUnlock()
	if i := r.target(rule, tk, j); i >= 0 {
		return r.execs[i]
	}
	return nil
}

// viewLoaded, when a test sets it, runs as target has loaded the view it
// places by, before it reads a seed or pin.
var viewLoaded func()

// anchored returns j's rule and ticket when j follows a sticky pin or a
// seed, else a nil ticket.
func anchored(j actors.Job) (*Rule, *Ticket) {
	if p, ok := j.(Placed); ok {
		if rule, tk := p.Placement(); tk != nil && (rule.Keyed || tk.Seed != nil) {
			return rule, tk
		}
	}
	return nil, nil
}

// moveAll reroutes jobs in order and returns how many moved; back, if not
// nil, takes those that a drained executor refuses (see reroute). The
// caller holds the write lock on moves.
func (r *Router) moveAll(jobs []actors.Job, back *actors.Executor) int {
	moved := 0
	for _, j := range jobs {
		if back != nil {
			faults.Steal(moved) // a test holds the steal here to race Stop
		}
		if r.reroute(j, back) {
			moved++
		}
	}
	return moved
}

// reroute queues j, accepted on an executor that went down or stalled, on a
// live one past its bound, or resolves it: with ErrStopped once the runtime
// aborted, with ErrNoExecutor when none is live.
func (r *Router) reroute(j actors.Job, back *actors.Executor) bool {
	rule, tk := &Rule{}, (*Ticket)(nil)
	if p, ok := j.(Placed); ok {
		rule, tk = p.Placement()
	}
	var exec int
	switch h, homed := j.(actors.Homed); {
	case homed: // an actor, which stays where it goes: in its class's range
		exec = -1
		if e := h.Home(); e != nil {
			exec = e.Index()
		}
	case tk != nil:
		exec = r.target(rule, tk, j)
	default:
		exec = r.Next(rule.Weight)
	}
	if exec >= 0 {
		switch r.execs[exec].Adopt(j) {
		case actors.Pushed:
			return true
		case actors.Closed:
			// A graceful Stop drained that executor meanwhile. A token
			// stolen off a stall goes back to the stalled one (back),
			// whose mailbox, closed but not drained (the steal holds its
			// drain), still takes it: Stop waits for it there rather than
			// cut it short.
			if (back == nil || back.Adopt(j) != actors.Pushed) && actors.Drop(j, actors.Stopped, actors.ErrStopped) {
				r.dropped.Add(1)
			}
			return false
		}
	}
	actors.Drop(j, actors.Failed, actors.ErrNoExecutor)
	return false
}

// Dropped returns how many tokens a move resolved with ErrStopped because
// the executor it went to had drained (an executor that went down, or a
// steal, while a graceful Stop drained): Stop cut those short.
func (r *Router) Dropped() int { return int(r.dropped.Load()) }

// Place decides the executor j goes to without pushing it, taking what
// placing it takes (a pin, a seed) as Submit does, for a token accepted now
// and queued there later ([actors.Executor.Deliver]); -1 when none is live.
func (r *Router) Place(rule *Rule, tk *Ticket, j actors.Job) int {
	if tk == nil {
		return r.Next(rule.Weight)
	}
	r.moving.RLock()
	defer r.moving.RUnlock()
	return r.target(rule, tk, j)
}
