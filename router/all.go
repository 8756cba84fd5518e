package router

import (
	"context"

	"github.com/coregate/coregate/actors"
)

// allChunk bounds what [Router.SubmitAll] pushes to one executor at a time.
const allChunk = 256

// SubmitAll places n plain tokens of rule (no key, no seed, nothing
// nearby), job(k) for k from 0 to n-1, as many [Router.Submit] calls in a
// row would: job k takes position pos+k of its class, so a burst is
// staggered as one job at a time would be. Each executor's share goes in up
// to allChunk jobs at a time, round robin over the shares, under one lock
// and with one wake-up each ([actors.Executor.PushAll]); a share whose
// executor is asleep goes to an awake one of the range that no share was
// given ([Shares]). What the shares could not push (a mailbox full, an executor
// unhealthy or gone) goes, in k's order, to whichever executor of the range
// has room and holds no later job of the batch (so each executor runs the
// batch's jobs in k's order) while its share's executor is healthy and in the
// range, else to whichever has room, healthy ones first, waiting for room
// while none has, as Submit does.
//
// It returns nil once every job is queued. Otherwise it returns the error
// that stopped it (as Submit's) and calls unplaced with each k it did not
// queue, in ascending order.
func (r *Router) SubmitAll(ctx context.Context, rule *Rule, n int, job func(k int) actors.Job, unplaced func(k int)) error {
	if n <= 0 {
		return nil
	}
	w := rule.Weight
	set := r.view.Load().eligible(w)
	b := &batch{n: n, s: len(set), job: job, pos: r.pos[w].n.Add(uint64(n)) - uint64(n)}
	b.took = make([]int, b.s)
	b.last = make([]int, len(r.execs))
	for i := range b.last {
		b.last[i] = -1
	}
	r.pushShares(b, set)
	if b.skip(); b.next == n {
		return nil
	}
	_, err := r.WaitRoom(ctx, w, func() (int, actors.PushResult) {
		return -1, r.pushLeft(b, w) // over the range, maybe on several executors
	})
	for k := b.next; k < n; k++ {
		if !b.placed(k) {
			unplaced(k)
		}
	}
	return err
}

// Shares returns the executors of set a batch of n jobs from position pos
// goes to, one per share (the jobs c, c+s, c+2s, ... for s executors in
// set; min(n, s) shares): share c to the staggered choice at pos+c, unless
// that one is asleep, then to the first executor of set, in staggered order,
// that no share was given and for which awake reports true (it may claim
// the executor, so it is asked once per executor), as [Awake] does for one
// token. A batch of as many jobs as set has executors wakes them all.
func Shares(set []int, pos uint64, n int, asleep, awake func(int) bool) []int {
	to := make([]int, min(n, len(set)))
	for c := range to {
		to[c] = Candidate(set, pos, c)
	}
	spare := len(to) // the next executor, in staggered order, no share was given
	for c, i := range to {
		if !asleep(i) {
			continue
		}
		for spare < len(set) {
			a := Candidate(set, pos, spare)
			spare++
			if awake(a) {
				to[c] = a
				break
			}
		}
	}
	return to
}

// batch is a SubmitAll's progress: share c (the jobs k = c, c+s, c+2s, ...
// for the s executors of the range) has its first took[c] queued; past
// that, every job before next is queued too.
type batch struct {
	n, s int
	pos  uint64
	job  func(k int) actors.Job
	took []int
	next int
	// last is, by executor, the largest k queued there, or -1: a job left
	// over by its share goes only where no later job of the batch is, so
	// that the batch keeps its order on each executor, as Submit calls in
	// a row do, while its share's executor (to) is healthy and in the range.
	// An unhealthy one may never have room again (down, stalled), and its
	// own tokens move off it; one out of the range takes none: the
	// leftover goes where there is room, as Submit's would.
	last []int
	to   []int // by share, its executor
}

// ordered reports whether job k, left over by its share, must keep the
// batch's order: its share's executor is healthy and still in the class's
// range set (every live executor from set[0] on), so it will take the job
// once it has room. One that left the range (another went down, and the
// range was recomputed over fewer) never will.
func (r *Router) ordered(b *batch, v *view, set []int, k int) bool {
	if b.to == nil {
		return false
	}
	i := b.to[k%b.s]
	return r.execs[i].Healthy() && i >= set[0] && v.isLive[i]
}

// placed reports whether job k is queued.
func (b *batch) placed(k int) bool { return k < b.next || b.s > 0 && k/b.s < b.took[k%b.s] }

// skip advances next past the jobs queued.
func (b *batch) skip() {
	for b.next < b.n && b.placed(b.next) {
		b.next++
	}
}

// pushShares pushes each share to its executor ([Shares]), allChunk jobs
// at a time round robin over the shares, until each is pushed or its
// executor takes no more (full, unhealthy, closed or gone).
func (r *Router) pushShares(b *batch, set []int) {
	to := make([]*actors.Executor, b.s)
	b.to = Shares(set, b.pos, b.n, func(i int) bool { return r.execs[i].Asleep() },
		func(i int) bool { return r.execs[i].Healthy() && r.execs[i].Claim(false) })
	for c, i := range b.to {
		if e := r.execs[i]; e.Healthy() {
			to[c] = e // else left for pushLeft, which tries healthy executors first
		}
	}
	var chunk [allChunk]actors.Job
	for more := true; more; {
		more = false
		for c, e := range to {
			if e == nil {
				continue
			}
			m := 0
			for k := c + b.took[c]*b.s; k < b.n && m < allChunk; k += b.s {
				chunk[m] = b.job(k)
				m++
			}
			if m == 0 {
				continue
			}
			got, _ := e.PushAll(chunk[:m])
			if got > 0 {
				b.last[e.Index()] = c + (b.took[c]+got-1)*b.s
			}
			b.took[c] += got
			if got < m {
				to[c] = nil // the rest of the share is left for pushLeft
			} else {
				more = true
			}
		}
	}
}

// pushLeft pushes the jobs left from b.next on, in k's order, allChunk at a
// time round robin over the executors of class w from staggered position
// b.pos: over the healthy ones first; when none of the range is healthy,
// then the range over the healthy executors; then the unhealthy ones. It
// returns Pushed once all are queued, else why not (Full, Closed, Gone or
// NoExecutor).
func (r *Router) pushLeft(b *batch, w Weight) actors.PushResult {
	v := r.view.Load()
	set := v.eligible(w)
	if len(set) == 0 {
		return actors.NoExecutor
	}
	res := actors.Full
	var chunk [allChunk]actors.Job
	var ks [allChunk]int
	// fill pushes to the executors of ins, round robin, until all is
	// queued or closed (true) or none takes more.
	fill := func(ins ...int) bool {
		for more := true; more; {
			more = false
			for _, i := range ins {
				m, k := 0, b.next
				for ; k < b.n && m < allChunk; k++ {
					if b.placed(k) {
						continue
					}
					if k < b.last[i] && r.ordered(b, v, set, k) {
						// A later job of the batch is queued on i: k
						// goes elsewhere, and what follows it waits,
						// each job judged by its own share, not by the
						// chunk's first.
						break
					}
					chunk[m], ks[m] = b.job(k), k
					m++
				}
				if m == 0 {
					if k < b.n {
						continue
					}
					b.next, res = b.n, actors.Pushed
					return true
				}
				got, why := r.execs[i].PushAll(chunk[:m])
				if got > 0 {
					// Not lower: the jobs pushed may come before
					// one the share queued there.
					b.last[i] = max(b.last[i], ks[got-1])
				}
				if got == m {
					b.next = ks[m-1] + 1
				} else {
					b.next = ks[got]
				}
				b.skip()
				switch {
				case b.next == b.n:
					res = actors.Pushed
					return true
				case why == actors.Closed:
					res = actors.Closed
					return true
				case why == actors.Gone:
					res = actors.Gone
				case got == m:
					more = true
				}
			}
		}
		return false
	}
	var healthy, sick []int
	for k := range set {
		if i := Candidate(set, b.pos, k); r.execs[i].Healthy() {
			healthy = append(healthy, i)
		} else {
			sick = append(sick, i)
		}
	}
	if fill(healthy...) {
		return res
	}
	if len(healthy) == 0 {
		if i := healthyRange(v.live, r.healthy, w, b.pos); i >= 0 && fill(i) {
			return res
		}
	}
	fill(sick...)
	return res
}
