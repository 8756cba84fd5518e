package coregate

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/coregate/coregate/actors"
	"github.com/coregate/coregate/router"
	"github.com/coregate/coregate/supervisor"
)

// DefaultBlockingWorkers is Config.BlockingWorkers when 0: enough goroutines
// for handlers that mostly wait on I/O.
const DefaultBlockingWorkers = 256

// WithBlocking runs the op's tokens on the runtime's blocking lane: a bounded
// pool of unpinned goroutines (Config.BlockingWorkers at most, started as
// work comes and gone when it is done) in front of a queue bounded like a
// mailbox (Config.MailboxSize). Handlers that sleep, call slow APIs or do
// file I/O then never occupy a core's executor. The tokens are counted on an
// executor picked as for the op's weight (so, like other ops', they fail
// with ErrNoExecutor while no executor of that range is up), and cancel, retry, Pause, Map,
// groups, SubmitAfter and Stop behave as for other ops; SubmitFirst puts a
// token at the head of the lane, TrySubmit fails with ErrFull when the lane
// is full. A handler of the lane that blocks on other tokens ([Token.Wait],
// [Group.Wait], a [Map], a [Request], a Submit waiting for room) lets another worker
// start in its place meanwhile, as an executor's handler hands its executor
// on, so it may wait on tokens of the lane queued behind it; it counts
// against Config.MaxBlocked. Their handlers' contexts answer no executor
// ([CurrentExecutor] is false, [PerCore.Get] an error), and the stall
// watchdog does not watch them. It does not combine with WithSticky, WithStickyKey or WithAnchor,
// which place tokens on executors, and its tokens join no anchored seed
// when a lead declares the op. Ops only.
func WithBlocking() Option {
	return func(c *opConfig) { c.ops, c.blocking = append(c.ops, "WithBlocking"), true }
}

// lane is a runtime's blocking lane: a FIFO queue of accepted tokens and the
// goroutines running them, at most max at once. A worker exists only while
// there is work, so an idle lane holds no goroutine.
type lane struct {
	rt      *Runtime
	max     int
	bound   int
	mu      sync.Mutex
	q       []actors.Job // q[head:] waits, oldest first
	head    int
	workers int                        // goroutines running
	blocked int                        // workers whose handlers block (Blocked): not counted against max
	retries map[*actors.Task]laneRetry // tokens waiting out a retry backoff
	idle    chan struct{}              // closed while no worker runs and no retry waits
	// line is the submitters waiting for room, first come first: a freed
	// slot wakes the first not woken yet, as the executors' actors.Room
	// does, rather than every waiter (the last to wait got in first).
	line    []*laneWaiter
	aborted bool // Stop gave up draining: nothing runs any more
	// ids holds the workers by their goroutine ids, for InWorker and
	// Running, which every blocking wait of the program asks: read
	// without mu.
	ids workerSet
	// working are the workers, each with the job it took from q and runs:
	// an abort cancels those, and a scan (queuedOf) must find one taken
	// while its op is paused, which waits there, not claimed, until the
	// op's Hold decides. A job queued twice (a Resume of a token held
	// while it waited in the lane) may be two workers' at once.
	working []*laneWorker
}

func newLane(rt *Runtime, workers, bound int) *lane {
	l := &lane{rt: rt, max: workers, bound: bound, retries: map[*actors.Task]laneRetry{}, idle: make(chan struct{})}
	close(l.idle)
	return l
}

// submit accepts j on an executor picked for rule, for counting, and queues
// it, waiting for room as how says.
func (l *lane) submit(ctx context.Context, rule *router.Rule, j actors.Job, how router.How) error {
	var resume func()
	defer func() {
		if resume != nil {
			resume()
		}
	}()
	var w *laneWaiter // its place in line, once it waits
	for {
		l.mu.Lock()
		switch {
		case l.aborted || l.rt.stopping.Load():
			l.leaveLocked(w)
			l.mu.Unlock()
			return ErrStopped
		case l.heldLocked() < l.bound:
			err := l.acceptLocked(rule, j, how.First)
			l.leaveLocked(w)
			l.mu.Unlock()
			return err
		case how.NoWait:
			l.mu.Unlock()
			return errLaneFull
		}
		if w == nil {
			w = &laneWaiter{c: make(chan struct{}, 1)}
			l.line = append(l.line, w)
		}
		// Woken and found the room taken (by a submitter that did not
		// wait): it keeps its place, first for the next slot.
		w.woken = false
		l.mu.Unlock()
		if resume == nil {
			var err error
			if resume, err = actors.Block(); err != nil {
				l.mu.Lock()
				l.leaveLocked(w)
				l.mu.Unlock()
				return err
			}
		}
		select {
		case <-w.c:
			if laneWaited != nil {
				laneWaited(true)
			}
		case <-ctx.Done():
			if laneWaited != nil {
				laneWaited(false)
			}
			l.mu.Lock()
			l.leaveLocked(w)
			l.mu.Unlock()
			return ctx.Err()
		}
	}
}

// laneWaited, when a test sets it, runs as a submitter waiting for room
// in the lane was woken (woken), or its context ended, before it looks at
// the lane again.
var laneWaited func(woken bool)

// laneWaiter is a submitter's place in the lane's line.
type laneWaiter struct {
	c     chan struct{} // a wake; capacity 1
	woken bool          // a wake was sent it since it last found no room
}

// leaveLocked takes w, if not nil, out of line. Room left (a wake it did
// not use: its context ended as it came; or more slots freed than it took)
// goes to the next in line, so no slot stays free while one waits.
func (l *lane) leaveLocked(w *laneWaiter) {
	if w == nil {
		return
	}
	if i := slices.Index(l.line, w); i >= 0 {
		l.line = slices.Delete(l.line, i, i+1)
	}
	if l.heldLocked() < l.bound {
		l.freedLocked()
	}
}

// heldLocked returns what is held against the lane's bound: the tokens
// waiting and the retries waiting out a backoff, as an executor's mailbox
// counts them.
func (l *lane) heldLocked() int { return len(l.q) - l.head + len(l.retries) }

// freedLocked wakes the first submitter in line not woken yet, if any: a
// slot was freed.
func (l *lane) freedLocked() {
	for _, w := range l.line {
		if !w.woken {
			l.wakeLocked(w)
			return
		}
	}
}

func (l *lane) wakeLocked(w *laneWaiter) {
	w.woken = true
	select {
	case w.c <- struct{}{}:
	default: // a wake it has not received yet does
	}
}

func (l *lane) acceptLocked(rule *router.Rule, j actors.Job, first bool) error {
	i := l.rt.router.Next(rule.Weight)
	if i < 0 {
		return ErrNoExecutor
	}
	l.rt.execs[i].Accept(j.Task())
	l.compactLocked()
	if first {
		l.q = slices.Insert(l.q, l.head, j)
	} else {
		l.q = append(l.q, j)
	}
	l.spawnLocked()
	return nil
}

// compactLocked moves the waiting tokens to the front of the queue when it
// is full and they fill at most half of it, before a token is added. A
// lane under steady load, whose workers take a token as submitters add
// the next, never drains (takeLocked's reset), and the slots taken before
// its head would otherwise stay, its memory growing by one a token for as
// long as the load lasts. Each move copies no more tokens than were taken
// since the last one.
func (l *lane) compactLocked() {
	if len(l.q) < cap(l.q) || 2*l.head < len(l.q) {
		return
	}
	n := copy(l.q, l.q[l.head:])
	clear(l.q[n:])
	l.q, l.head = l.q[:n], 0
}

// deliver queues j, accepted before and held meanwhile (delayed, paused or
// retried), past the bound; once Stop gave up it is resolved instead.
func (l *lane) deliver(j actors.Job) {
	l.mu.Lock()
	if l.aborted {
		l.mu.Unlock()
		j.Task().Resolve(actors.Stopped, ErrStopped)
		return
	}
	l.compactLocked()
	l.q = append(l.q, j)
	l.spawnLocked()
	l.mu.Unlock()
}

// spawnLocked starts a worker when tokens wait and fewer than max run
// without blocking, with the oldest token to run first: a worker started
// for a token takes no lock before it runs it.
func (l *lane) spawnLocked() {
	if l.workers-l.blocked >= l.max || len(l.q) == l.head || l.aborted {
		return
	}
	l.busyLocked(+1)
	l.workers++
	w := &laneWorker{at: len(l.working), job: l.takeLocked()}
	l.working = append(l.working, w)
	go l.work(w)
}

// laneWorker is a worker of a lane, listed in its working.
type laneWorker struct {
	at  int        // its index in working
	job actors.Job // the job it runs; nil once it is counted out
}

// busyLocked counts work (a worker or a waiting retry) in or out, opening
// and closing idle.
func (l *lane) busyLocked(delta int) {
	before := l.workers + len(l.retries)
	after := before + delta
	switch {
	case before == 0 && after > 0:
		l.idle = make(chan struct{})
	case before > 0 && after == 0:
		close(l.idle)
	}
}

func (l *lane) work(w *laneWorker) {
	id := actors.GoID()
	l.ids.add(id, w)
	defer func() {
		l.ids.remove(id)
		if w.job == nil {
			return // next counted the worker out
		}
		// runtime.Goexit in a handler ended this goroutine.
		l.mu.Lock()
		l.retireLocked(w)
		l.spawnLocked()
		l.mu.Unlock()
	}()
	// w.job is the worker's until its next look at the queue (one lock a
	// token).
	for {
		if laneTook != nil {
			laneTook()
		}
		w.job.Task().Executor().RunDetached(w.job, l.retryAfter)
		if laneRan != nil {
			laneRan()
		}
		if !l.next(w) {
			return
		}
	}
}

// next takes the oldest waiting token for w, its last one done, and
// reports whether it did. When none waits the worker is counted out under
// the same lock, so a push never misses a worker. So is one past max,
// started while another's handler blocked that runs again.
func (l *lane) next(w *laneWorker) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.head == len(l.q) || l.aborted || l.workers-l.blocked > l.max {
		l.retireLocked(w)
		return false
	}
	w.job = l.takeLocked()
	return true
}

// retireLocked counts w out: its job done, it leaves working and the
// count of workers.
func (l *lane) retireLocked(w *laneWorker) {
	last := l.working[len(l.working)-1]
	last.at, l.working[w.at] = w.at, last
	l.working[len(l.working)-1] = nil
	l.working = l.working[:len(l.working)-1]
	if len(l.working) == 0 && cap(l.working) > laneKeep {
		l.working = nil // a burst's workers gone: not their list's memory
	}
	w.job = nil
	l.busyLocked(-1)
	l.workers--
}

// takeLocked takes the oldest waiting token for a worker to run, and
// wakes a submitter waiting for room.
func (l *lane) takeLocked() actors.Job {
	j := l.q[l.head]
	l.q[l.head] = nil
	l.head++
	if l.head == len(l.q) {
		l.q, l.head = l.q[:0], 0
		if cap(l.q) > laneKeep {
			l.q = nil // a burst drained: its memory goes
		}
	}
	l.freedLocked()
	return j
}

// laneKeep is the most a lane's queue and list of workers keep of their
// memory once they are empty, as nats-server's queues recycle theirs up
// to a cap: a burst's thousands of slots are given back.
const laneKeep = 256

// retryAfter queues j again after delay; a Stop that gives up on it first
// resolves it with o and err, its last attempt's. Meanwhile it holds a slot
// of the lane's bound, taken even when the lane is full (running, it held
// none), and queued into when due.
func (l *lane) retryAfter(j actors.Job, delay time.Duration, o actors.Outcome, err error) {
	if laneRetryQueued != nil {
		laneRetryQueued()
	}
	t := j.Task()
	l.mu.Lock()
	defer l.mu.Unlock()
	if !t.Queued() {
		return // resolved already (cancelled): its dropRetry came first
	}
	if l.aborted {
		// Stop took t from the workers as it gave up (the worker holds j
		// until its next look at the queue), and resolves it with o and
		// err itself, counted among the retries ([actors.Task.StopNow]).
		return
	}
	// t has no entry here: a retrying token neither starts nor parks (see
	// actors.Task.RetryDue) until its timer below queues it again.
	l.busyLocked(+1)
	unwatch := t.WatchBackoff()
	l.retries[t] = laneRetry{job: j, o: o, err: err, unwatch: unwatch, timer: time.AfterFunc(delay, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if _, ok := l.retries[t]; !ok {
			return // Stop resolved it, or it was resolved (dropRetry)
		}
		if unwatch != nil {
			unwatch() // queued again, it is checked against its context as it runs
		}
		// Queued before the retry stops counting as work, under one lock:
		// the lane never looks idle in between, which let Stop return with
		// the token unresolved.
		t.RetryDue()
		l.compactLocked()
		l.q = append(l.q, j)
		l.spawnLocked()
		l.busyLocked(-1)
		delete(l.retries, t)
	})}
}

// laneAborted, when a test sets it, runs as Stop has given up draining
// the lane, before it resolves what it took.
var laneAborted func()

// laneTook, when a test sets it, runs as a worker has taken a token and
// has yet to begin it.
var laneTook func()

// laneRan, when a test sets it, runs as a worker's token is done with, and
// the worker has yet to look at the queue again.
var laneRan func()

// laneRetryQueued, when a test sets it, runs as a worker's token, queued
// again for its retry, has yet to wait out its backoff.
var laneRetryQueued func()

// laneRetry is a token of the lane waiting out a retry backoff.
type laneRetry struct {
	job     actors.Job
	timer   *time.Timer
	unwatch func() bool    // ends its watch on the submitter's context, or nil (see actors.Task.WatchBackoff)
	o       actors.Outcome // its last attempt's outcome and error
	err     error
}

// stop stops r's timer and its watch.
func (r laneRetry) stop() {
	r.timer.Stop()
	if r.unwatch != nil {
		r.unwatch()
	}
}

// dropRetry forgets the retry t waits out a backoff for, if any: t was
// resolved meanwhile (cancelled), and Stop must not wait for its timer.
func (l *lane) dropRetry(t *actors.Task) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r, ok := l.retries[t]; ok {
		r.stop()
		l.busyLocked(-1)
		delete(l.retries, t)
		l.freedLocked()
	}
}

// Blocked counts the calling worker, whose handler blocks until resume (a
// Wait on a token queued behind it, a Submit waiting for room), out of max
// meanwhile and starts another in its place when tokens wait, as an
// executor's handler hands its executor on: with few workers, waiting on
// the lane's own tokens would wait for good. [actors.Block] calls it
// and counts the caller against Config.MaxBlocked.
func (l *lane) Blocked() (resume func()) {
	l.mu.Lock()
	l.blocked++
	l.spawnLocked()
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		l.blocked--
		l.mu.Unlock()
	}
}

// InWorker reports whether the caller is one of the lane's workers.
func (l *lane) InWorker() bool {
	_, in := l.Running()
	return in
}

// Running reports whether the caller is one of the lane's workers and, when
// it is, the token it runs (a handler of that token calls it: its worker's
// job is written only by the worker itself).
func (l *lane) Running() (t *actors.Task, in bool) {
	w := l.ids.get(actors.GoID())
	if w == nil {
		return nil, false
	}
	if w.job != nil {
		t = w.job.Task()
	}
	return t, true
}

// queuedOf returns the jobs of op's tokens waiting in the lane (taken by a
// worker and not claimed yet, then queued) and, when retrying is true,
// those waiting out a retry backoff; except is as for
// [actors.Group.QueuedOf].
func (l *lane) queuedOf(op *actors.Op, retrying bool, except func(actors.Job) bool) []actors.Job {
	l.mu.Lock()
	defer l.mu.Unlock()
	var js []actors.Job
	keep := func(j actors.Job) {
		// Not a stale entry, as in actors.Group.QueuedOf.
		if t := j.Task(); t.Op() == op && t.Queued() && t.Current(j) && (except == nil || !except(j)) {
			js = append(js, j)
		}
	}
	for _, w := range l.working {
		if _, backoff := l.retries[w.job.Task()]; !backoff {
			keep(w.job) // a retry its worker queued is listed below
		}
	}
	// Taken before those still in q, and in submit order among them, once
	// each (two workers may hold one job).
	slices.SortFunc(js, func(a, b actors.Job) int { return cmp.Compare(a.Task().ID(), b.Task().ID()) })
	js = slices.Compact(js)
	for _, j := range l.q[l.head:] {
		keep(j)
	}
	if retrying {
		for _, r := range l.retries {
			keep(r.job)
		}
	}
	return js
}

// runningLocked returns the tokens the workers run, as a set (two workers
// may run one). Not one its worker is done with and has yet to count out
// (next): resolved, handed to its retry's backoff, which Stop resolves
// and counts as a retry, or queued again as that backoff ended, which
// Stop resolves and counts as queued. Stop cancelled none of them.
func (l *lane) runningLocked() map[*actors.Task]bool {
	ts := make(map[*actors.Task]bool, len(l.working))
	for _, w := range l.working {
		t := w.job.Task()
		if _, backoff := l.retries[t]; !backoff && !resolved(t) && !l.queuedLocked(t) {
			ts[t] = true
		}
	}
	return ts
}

// queuedLocked reports whether t waits in the lane's queue. Only a token
// in its queued phase is looked for (a worker's, taken and not begun, or
// due again after its backoff): a scan at Stop, not on the hot path.
func (l *lane) queuedLocked(t *actors.Task) bool {
	return t.Queued() && slices.ContainsFunc(l.q[l.head:], func(j actors.Job) bool { return j.Task() == t })
}

// resolved reports whether t reached its outcome.
func resolved(t *actors.Task) bool {
	select {
	case <-t.Finished():
		return true
	default:
		return false
	}
}

// stop waits for the lane to drain until ctx ends. Then it resolves what
// still waits with ErrStopped and a retry waiting out its backoff (or on
// its way to it) with its last attempt's outcome, cancels the running handlers' contexts and gives
// them [supervisor.DefaultGrace] to return. It returns how many of each it
// resolved, how many handlers it cancelled that returned within the grace,
// and the handlers still running.
func (l *lane) stop(ctx context.Context) (stopped, retries, cancelled int, running []*actors.Task) {
	l.mu.Lock()
	idle := l.idle
	for _, w := range l.line { // submitters waiting for room see the runtime stopping
		l.wakeLocked(w)
	}
	l.mu.Unlock()
	select {
	case <-idle:
		return 0, 0, 0, nil
	case <-ctx.Done():
	}
	l.mu.Lock()
	l.aborted = true
	for t := range l.runningLocked() { // before the queue and the retries go
		running = append(running, t)
	}
	tasks := make([]*actors.Task, 0, len(l.q)-l.head)
	for _, j := range l.q[l.head:] {
		tasks = append(tasks, j.Task())
	}
	clear(l.q)
	l.q, l.head = nil, 0
	waiting := make(map[*actors.Task]laneRetry, len(l.retries))
	for t, r := range l.retries {
		r.stop()
		waiting[t] = r
	}
	l.busyLocked(-len(l.retries))
	clear(l.retries)
	idle = l.idle
	l.mu.Unlock()
	if laneAborted != nil {
		laneAborted()
	}
	for _, t := range tasks {
		if t.Resolve(actors.Stopped, ErrStopped) {
			stopped++
		}
	}
	for t, r := range waiting {
		if t.Resolve(r.o, r.err) {
			retries++
		}
	}
	begun := running[:0]
	for _, t := range running {
		switch resolved, retry := t.StopNow(); {
		case retry: // its attempt failed, its worker has yet to hand it to its backoff
			retries++
		case resolved: // taken but not begun
			stopped++
		default:
			t.Cancel()
			begun = append(begun, t)
		}
	}
	grace := time.NewTimer(supervisor.DefaultGrace)
	defer grace.Stop()
	select {
	case <-idle:
		return stopped, retries, len(begun), nil
	case <-grace.C:
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	still := l.runningLocked()
	running = nil
	for _, t := range begun {
		if still[t] {
			running = append(running, t)
		}
	}
	return stopped, retries, len(begun) - len(running), running
}

// withLane adds to err, Stop's result for the executors, the n tokens the
// blocking lane resolved with ErrStopped, the retries it resolved with their
// last error, the handlers it cancelled that returned within the grace and
// its handlers still running.
func withLane(ctx context.Context, err error, n, retries, cancelled int, running []*actors.Task) error {
	names := make([]string, len(running))
	for i, t := range running {
		names[i] = t.OpName()
	}
	return cutShort(ctx, err, n, retries, 0, cancelled, names)
}

var errDownWhileDraining = supervisor.ErrDownWhileDraining

// cutShort adds to err, Stop's result so far, n tokens resolved with
// ErrStopped, retries resolved with their last error, refused messages
// queued to actors and never delivered, handlers (or actors' Receives)
// cancelled that returned within the grace, and what still runs (an op's
// name per handler, or an actor's).
func cutShort(ctx context.Context, err error, n, retries, refused, cancelled int, running []string) error {
	if n == 0 && retries == 0 && refused == 0 && cancelled == 0 && len(running) == 0 {
		return err
	}
	var se *supervisor.StopError
	if !errors.As(err, &se) {
		se = &supervisor.StopError{Cause: ctx.Err()}
		if se.Cause == nil { // not ctx: an executor down while draining (see Router.Dropped)
			se.Cause = errDownWhileDraining
		}
	}
	se.Stopped += n
	se.Retries += retries
	se.Refused += refused
	se.Cancelled += cancelled
	for _, name := range running {
		if se.Running == nil {
			se.Running = map[string]int{}
		}
		se.Running[name]++
	}
	return se
}

// errLaneFull is ErrFull for a blocking op, whose tokens take no executor.
var errLaneFull error = laneFull{}

type laneFull struct{}

func (laneFull) Error() string        { return "coregate: the blocking lane is full" }
func (laneFull) Is(target error) bool { return target == actors.ErrFull }

// workerSet holds a lane's workers by goroutine id, in stripes, each under
// its own lock: a lane's workers add and remove themselves as a burst
// starts and ends them, a thousand at once, and every blocking wait of the
// program asks. (A sync.Map boxed every id it stored: an allocation a
// worker.)
type workerSet struct {
	stripes [workerSetStripes]struct {
		mu  sync.Mutex
		ids map[uint64]*laneWorker
		_   [40]byte // a stripe a cache line
	}
}

const workerSetStripes = 16

// stripe returns id's stripe, from a multiplicative hash: the ids are
// addresses of goroutines on most platforms, whose low bits are alike.
func (s *workerSet) stripe(id uint64) int { return int(id * 0x9E3779B97F4A7C15 >> 60) }

func (s *workerSet) add(id uint64, w *laneWorker) {
	st := &s.stripes[s.stripe(id)]
	st.mu.Lock()
	if st.ids == nil {
		st.ids = make(map[uint64]*laneWorker)
	}
	st.ids[id] = w
	st.mu.Unlock()
}

func (s *workerSet) remove(id uint64) {
	st := &s.stripes[s.stripe(id)]
	st.mu.Lock()
	delete(st.ids, id)
	st.mu.Unlock()
}

// get returns the worker of goroutine id, or nil.
func (s *workerSet) get(id uint64) *laneWorker {
	st := &s.stripes[s.stripe(id)]
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.ids[id]
}
