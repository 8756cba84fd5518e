package actors

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// TestOpCost: an op's cost is its first sample, then a moving average
// (a quarter of each new sample); an op not timed yet, or timed under
// cheapCost, is cheap; a nil op is not. Executors time an op's first
// firstSamples tokens, then one in sampleEvery.
func TestOpCost(t *testing.T) {
	var o Op
	if !o.Cheap() {
		t.Fatal("an op never timed is not cheap")
	}
	var none *Op
	if none.Cheap() || none.sampleDue(0) {
		t.Fatal("a nil op is cheap or sampled")
	}
	o.observe(int64(8 * time.Microsecond))
	if got := o.samples.Load().cost.Load(); got != int64(8*time.Microsecond) {
		t.Fatalf("cost after one sample %v, want 8µs", time.Duration(got))
	}
	if o.Cheap() {
		t.Fatal("an op whose token took 8µs is cheap")
	}
	o.observe(0)
	if got := o.samples.Load().cost.Load(); got != int64(6*time.Microsecond) {
		t.Fatalf("cost after 8µs and 0 %v, want 6µs", time.Duration(got))
	}
	for range 20 {
		o.observe(int64(100 * time.Nanosecond))
	}
	if !o.Cheap() {
		t.Fatalf("an op whose tokens took 100ns since is not cheap (cost %v)", time.Duration(o.samples.Load().cost.Load()))
	}
	var fresh Op
	for tick := range uint32(firstSamples) {
		if !fresh.sampleDue(tick*sampleEvery + 1) {
			t.Fatalf("token %d of a fresh op not sampled", tick)
		}
		fresh.observe(1)
	}
	if fresh.sampleDue(1) || !fresh.sampleDue(sampleEvery) {
		t.Fatal("past its first samples an op is not sampled one token in sampleEvery")
	}
}

// TestClaim: what a push in place of a parked executor may claim. A parked
// executor never; a polling one once for a token that is not cheap, and up
// to claimMax cheap ones; a running one (of a polling group) up to claimMax
// cheap ones, unless the token it runs is not cheap or of an op never
// timed. An executor without an owner, or of a group that does not poll,
// takes no cheap token at work.
func TestClaim(t *testing.T) {
	cfg := GroupConfig{Engine: newEngine(t), Name: "t", CPUs: []int{0}, MailboxSize: 8, Affinity: Off, IdleSpin: DefaultIdleSpin}
	g, err := NewGroup(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Release)
	e := g.Executors()[0] // never started: its states are set by hand
	claims := func(cheap bool) int {
		n := 0
		for n <= 2*claimMax && e.Claim(cheap) {
			n++
		}
		return n
	}
	set := func(state uint32, owner bool, running *Task) {
		e.idleState.Store(state)
		e.claims.Store(0)
		if owner {
			e.owner.Store(&worker{e: e})
		} else {
			e.owner.Store(nil)
		}
		e.running.Store(running)
		e.runningOp.Store(nil)
		if running != nil {
			e.runningOp.Store(running.op)
		}
	}
	var cheapOp, longOp, freshOp Op
	longOp.observe(int64(time.Millisecond))
	cheapOp.observe(int64(100 * time.Nanosecond))
	long := newJob(1, nil)
	long.task.op = &longOp
	quick := newJob(2, nil)
	quick.task.op = &cheapOp
	fresh := newJob(3, nil)
	fresh.task.op = &freshOp // never timed: its token may run for any time

	set(idleParked, true, nil)
	if n := claims(true) + claims(false); n != 0 {
		t.Fatalf("a parked executor took %d claims", n)
	}
	set(idleSpinning, true, nil)
	if n := claims(false); n != 1 || e.idleState.Load() != idleBusy {
		t.Fatalf("a polling executor took %d claims of a token not cheap (want 1), then state %d", n, e.idleState.Load())
	}
	set(idleSpinning, true, nil)
	if n := claims(true); n != claimMax || !e.Awake() {
		t.Fatalf("a polling executor took %d cheap claims, want %d, and stays awake", n, claimMax)
	}
	for _, running := range []*Task{nil, &quick.task} {
		set(idleBusy, true, running)
		if n := claims(true); n != claimMax {
			t.Fatalf("an executor at work (running %v) took %d cheap claims, want %d", running, n, claimMax)
		}
		set(idleBusy, true, running)
		if n := claims(false); n != 0 {
			t.Fatalf("an executor at work took %d claims of a token not cheap", n)
		}
	}
	set(idleBusy, true, &long.task)
	if n := claims(true); n != 0 {
		t.Fatalf("an executor running a long token took %d cheap claims", n)
	}
	set(idleBusy, true, &fresh.task)
	if n := claims(true); n != 0 {
		t.Fatalf("an executor running a token of an op never timed took %d cheap claims", n)
	}
	set(idleBusy, false, nil)
	if n := claims(true); n != 0 {
		t.Fatalf("an executor without an owner took %d cheap claims", n)
	}
	set(idleBusy, true, nil)
	g.spin = 0
	if n := claims(true); n != 0 {
		t.Fatalf("an executor at work in a group that does not poll took %d cheap claims", n)
	}
	set(idleBusy, false, nil)
}

// TestClaimsRenewedByIdleSpell: an executor that begins to poll has given
// back the claims it took, so a small fan-out after each idle spell may
// gather on it again.
func TestClaimsRenewedByIdleSpell(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs two Ps: a polling executor holds the only one, so the test could never look at it polling")
	}
	cfg := GroupConfig{Engine: newEngine(t), Name: "t", CPUs: []int{0}, MailboxSize: 8, Affinity: Off, IdleSpin: MaxIdleSpin}
	g, err := NewGroup(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Release)
	e := g.Executors()[0] // never started: idle runs on a goroutine of the test's
	for try := 0; ; try++ {
		e.claims.Store(claimMax)
		done := make(chan bool)
		go func() { done <- e.idle() }()
		for !e.Awake() && !e.Asleep() {
			runtime.Gosched()
		}
		polled, left := e.Awake(), e.claims.Load()
		if e.Push(newJob(uint64(try), nil)) != Pushed { // ends the poll, or wakes the parked
			t.Fatal("push refused")
		}
		if !<-done {
			t.Fatal("idle reported the executor must exit")
		}
		if _, ok := e.mb.pop(); !ok {
			t.Fatal("the job pushed was not queued")
		}
		if polled {
			if left != 0 {
				t.Fatalf("a polling executor kept %d claims from before its idle spell", left)
			}
			return
		}
		if try == 100 {
			t.Fatal("never saw the executor polling")
		}
	}
}

// TestExecutorTimesItsTokens: an executor times an op's first tokens (and
// then one in sampleEvery), so the op's cost is known.
func TestExecutorTimesItsTokens(t *testing.T) {
	g := startGroup(t, GroupConfig{CPUs: []int{0}, MailboxSize: 16, Affinity: Off}, Hooks{})
	e := g.Executors()[0]
	var op Op
	for i := range firstSamples {
		j := newJob(uint64(i), func(context.Context) error {
			for start := time.Now(); time.Since(start) < 2*cheapCost; {
			}
			return nil
		})
		j.task.op = &op
		if e.Push(j) != Pushed {
			t.Fatal("push refused")
		}
		<-j.Task().Finished()
	}
	if got := op.samples.Load().costs.Load(); got != firstSamples {
		t.Fatalf("%d of the op's first %d tokens timed, want every one", got, firstSamples)
	}
	if op.Cheap() {
		t.Fatalf("an op whose tokens spin %v is cheap (cost %v)", 2*cheapCost, time.Duration(op.samples.Load().cost.Load()))
	}
}

// gatedTurn is a Scheduled runnable whose turn says it began (in) and
// waits for gate.
type gatedTurn struct{ in, gate chan struct{} }

func (g *gatedTurn) Task() *Task               { return nil }
func (g *gatedTurn) Run(context.Context) error { panic("a Scheduled runnable is not run as a token") }
func (g *gatedTurn) Unschedule()               {}
func (g *gatedTurn) Turn(context.Context)      { close(g.in); <-g.gate }

// TestNoClaimBehindATurn: an executor at work on an actor's turn, which may
// run long, takes no cheap token in place of a parked executor; the watchdog
// sees no token running.
func TestNoClaimBehindATurn(t *testing.T) {
	g := startGroup(t, GroupConfig{CPUs: []int{0}, MailboxSize: 16, Affinity: Off, IdleSpin: DefaultIdleSpin}, Hooks{})
	e := g.Executors()[0]
	turn := &gatedTurn{in: make(chan struct{}), gate: make(chan struct{})}
	defer close(turn.gate)
	if e.Schedule(turn) != Pushed {
		t.Fatal("schedule refused")
	}
	<-turn.in
	if e.Claim(true) {
		t.Fatal("an executor running a turn took a cheap token's claim")
	}
	if e.Running() != nil {
		t.Fatalf("Running reports %v during a turn, want no token", e.Running())
	}
}

// TestNoClaimBehindALongToken: an executor running a token of an op timed
// long takes no cheap token's claim, and once a cheap op's token runs
// there it does: the op of what the owner runs is published as it changes
// (runningOp), and read by Claim in place of the token itself. Nor behind
// a token of no op (Task.Init allows it), which is not cheap (see
// TestOpCost) and may run for any time: runningOp must not read nil for
// it, which says the owner runs nothing (found by review).
func TestNoClaimBehindALongToken(t *testing.T) {
	g := startGroup(t, GroupConfig{CPUs: []int{0}, MailboxSize: 16, Affinity: Off, IdleSpin: DefaultIdleSpin}, Hooks{})
	e := g.Executors()[0]
	// Each token's op is made afresh: the executor times the tokens it
	// runs, and one held at the gate would make its op's cost long.
	opOf := func(cost time.Duration) *Op {
		if cost < 0 {
			return nil // a token of no op
		}
		op := new(Op)
		op.observe(int64(cost))
		return op
	}
	for _, c := range []struct {
		name string
		cost time.Duration
		want bool
	}{{"long", time.Millisecond, false}, {"cheap", 100 * time.Nanosecond, true}, {"long", time.Millisecond, false}, {"of no op", -1, false}, {"cheap", 100 * time.Nanosecond, true}} {
		in, gate := make(chan struct{}), make(chan struct{})
		j := newJob(1, func(context.Context) error { close(in); <-gate; return nil })
		j.task.op = opOf(c.cost)
		if e.Push(j) != Pushed {
			t.Fatal("push refused")
		}
		<-in
		e.claims.Store(0)
		got := e.Claim(true)
		close(gate)
		<-j.Task().Finished()
		if got != c.want {
			t.Fatalf("an executor running a token %s: claimed %v, want %v", c.name, got, c.want)
		}
	}
}
