package coregate

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coregate/coregate/supervisor"
)

// crMsg is a message of the actor stress test: from sender, its seq'th to this
// actor; id counts its deliveries.
type crMsg struct {
	sender, seq, id int
	panics          bool
	fwd             int // forward a message to actor fwd-1 (0: none)
	ask             int // ask actor ask-1 and wait (0: none)
}

type crRec struct {
	running atomic.Int32
	last    map[int]int // sender -> last seq seen; touched in Receive only
	fwdSeq  map[int]int // target -> seq of this actor's forwards to it
}

type crActor struct {
	idx int
	s   *crStress
}

type crStress struct {
	refs      []*Ref[crMsg, int]
	recs      []*crRec
	delivered []atomic.Int32
	nextID    atomic.Int64
	errs      chan error
}

func (s *crStress) fail(err error) {
	select {
	case s.errs <- err:
	default:
	}
}

func (a *crActor) Receive(c *ActorContext, m crMsg) (int, error) {
	rec := a.s.recs[a.idx]
	if rec.running.Add(1) != 1 {
		a.s.fail(fmt.Errorf("actor %d: Receive runs twice at once", a.idx))
	}
	defer rec.running.Add(-1)
	if n := a.s.delivered[m.id].Add(1); n != 1 {
		a.s.fail(fmt.Errorf("actor %d: message %d delivered %d times", a.idx, m.id, n))
	}
	if last, ok := rec.last[m.sender]; ok && m.seq <= last {
		a.s.fail(fmt.Errorf("actor %d: from sender %d seq %d after %d", a.idx, m.sender, m.seq, last))
	}
	rec.last[m.sender] = m.seq
	if m.fwd > 0 {
		to := m.fwd - 1
		rec.fwdSeq[to]++
		fm := crMsg{sender: 1000 + a.idx, seq: rec.fwdSeq[to], id: int(a.s.nextID.Add(1))}
		// Refused: every executor down for a moment, or the runtime's Stop
		// stopped the actor already.
		if err := a.s.refs[to].Tell(c, fm); err != nil && !errors.Is(err, ErrNoExecutor) && !errors.Is(err, ErrActorStopped) {
			a.s.fail(fmt.Errorf("forward: %w", err))
		} else if err != nil {
			a.s.delivered[fm.id].Add(-100) // refused: not to be delivered
		}
	}
	if m.ask > 0 {
		to := m.ask - 1
		rec.fwdSeq[to]++
		am := crMsg{sender: 1000 + a.idx, seq: rec.fwdSeq[to], id: int(a.s.nextID.Add(1))}
		tok, err := a.s.refs[to].Ask(c, am)
		if err != nil && !errors.Is(err, ErrNoExecutor) && !errors.Is(err, ErrActorStopped) {
			a.s.fail(fmt.Errorf("ask: %w", err))
		} else if err != nil {
			a.s.delivered[am.id].Add(-100)
		} else if _, err := tok.Wait(context.Background()); err != nil && !errors.Is(err, ErrActorStopped) {
			var pe *PanicError
			if !errors.As(err, &pe) {
				a.s.fail(fmt.Errorf("ask: %w", err))
			}
		}
	}
	if m.panics {
		panic("crash")
	}
	return m.id, nil
}

func crSpawn(s *crStress, i int) func() Actor[crMsg, int] {
	return func() Actor[crMsg, int] { return &crActor{idx: i, s: s} }
}

// TestActorStress: senders outside and actors telling and asking each other
// (forwards and asks go from lower to higher index only, so no actor waits on
// itself through others), panics restarting actors, and
// executor loops failing, then a graceful Stop: each accepted message is
// delivered once, in order per sender, and no Receive overlaps another.
func TestActorStress(t *testing.T) {
	rounds := 1
	if v, err := strconv.Atoi(os.Getenv("ACTOR_STRESS_ROUNDS")); err == nil {
		rounds = v
	}
	for r := 0; r < rounds; r++ {
		// executors that restart in place
		crRound(t, int64(r), 3, RestartPolicy{MaxRestarts: 1000, Window: time.Minute, Backoff: time.Microsecond, MaxBackoff: time.Millisecond})
		// one executor: every Tell between actors goes near
		crRound(t, int64(r), 1, RestartPolicy{MaxRestarts: 1000, Window: time.Minute, Backoff: time.Microsecond, MaxBackoff: time.Millisecond})
		// executors that go down (their actors move) and come back
		crRound(t, int64(r), 3, RestartPolicy{MaxRestarts: 1, Window: time.Minute, Backoff: time.Microsecond, MaxBackoff: time.Millisecond, Cooldown: time.Millisecond, MaxCooldown: time.Millisecond})
	}
}

func crRound(t *testing.T, seed int64, cores int, policy RestartPolicy) {
	const nActors, nSenders, perSender = 8, 4, 300
	rt := start(t, Config{Cores: cores, Affinity: Off, StallAfter: -1, Restart: policy})
	s := &crStress{errs: make(chan error, 1)}
	s.delivered = make([]atomic.Int32, nSenders*perSender*3+10)
	s.nextID.Store(int64(nSenders * perSender))
	s.recs = make([]*crRec, nActors)
	for i := range nActors {
		s.recs[i] = &crRec{last: map[int]int{}, fwdSeq: map[int]int{}}
		ref, err := Spawn(rt, fmt.Sprint("a", i), crSpawn(s, i), WithMailbox(8), WithRestartPolicy(RestartPolicy{MaxRestarts: 100000, Window: time.Minute}))
		if err != nil {
			t.Fatal(err)
		}
		s.refs = append(s.refs, ref)
	}
	arms := failLoops(t)
	var armed atomic.Int32
	var wg sync.WaitGroup
	var toks sync.Map
	for snd := range nSenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(seed), uint64(snd)))
			seqs := make([]int, nActors)
			for k := range perSender {
				to := rng.IntN(nActors)
				seqs[to]++
				m := crMsg{sender: snd, seq: seqs[to], id: snd*perSender + k}
				switch x := rng.IntN(20); {
				case x == 0:
					m.panics = true
				case x < 6 && to < nActors-1:
					m.fwd = to + 1 + rng.IntN(nActors-1-to) + 1
				case x < 9 && to < nActors-1:
					m.ask = to + 1 + rng.IntN(nActors-1-to) + 1
				}
				if k%50 == 0 {
					arms.Add(1)
					armed.Add(1)
				}
				if k%3 == 0 {
					tok, err := s.refs[to].Ask(context.Background(), m)
					if errors.Is(err, ErrNoExecutor) { // every executor down for a moment
						s.delivered[m.id].Add(-100)
						continue
					} else if err != nil {
						s.fail(fmt.Errorf("ask %d: %w", m.id, err))
						continue
					}
					toks.Store(tok, m.id)
					continue
				}
				if err := s.refs[to].Tell(context.Background(), m); errors.Is(err, ErrNoExecutor) {
					s.delivered[m.id].Add(-100)
				} else if err != nil {
					s.fail(fmt.Errorf("tell %d: %w", m.id, err))
				}
			}
		}()
	}
	wg.Wait()
	if left := max(arms.Swap(0), 0); left == armed.Load() {
		t.Logf("no executor loop failed (%d armed)", armed.Load())
	} else {
		t.Logf("%d executor loops failed", armed.Load()-left)
	}
	// every ask resolves
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	toks.Range(func(k, v any) bool {
		if _, err := k.(*Token[int]).Wait(ctx); err != nil {
			var pe *PanicError
			if !errors.As(err, &pe) {
				s.fail(fmt.Errorf("ask %d: %w", v, err))
			}
		}
		return true
	})
	// Stop leaves an executor down as it is: an actor stranded with no
	// executor live refuses its messages, each counted in the error.
	refused := 0
	if err := rt.Stop(ctx); err != nil {
		var se *supervisor.StopError
		if !errors.As(err, &se) || !errors.Is(se.Cause, supervisor.ErrDownWhileDraining) {
			t.Fatalf("stop: %v", err)
		}
		refused = se.Refused
	}
	select {
	case err := <-s.errs:
		t.Fatal(err)
	default:
	}
	never := 0
	for id := range int(s.nextID.Load()) + 1 {
		switch n := s.delivered[id].Load(); {
		case id == nSenders*perSender, n == 1, n == -100:
		case n == 0:
			never++
		default:
			t.Fatalf("message %d delivered %d times", id, n)
		}
	}
	if never != refused {
		t.Fatalf("%d messages accepted and never delivered, %d refused by the Stop", never, refused)
	}
}

type crStopActor struct {
	rec  *crStopRec
	next *Ref[int, int]
}

type crStopRec struct {
	running, stopped, received atomic.Int32
	bad                        chan error
}

func (a *crStopActor) Receive(c *ActorContext, m int) (int, error) {
	if a.rec.running.Add(1) != 1 {
		a.rec.fail(errors.New("Receive runs twice at once"))
	}
	defer a.rec.running.Add(-1)
	a.rec.received.Add(1)
	if a.rec.stopped.Load() != 0 {
		a.rec.fail(errors.New("Receive after Stopped"))
	}
	if m%7 == 0 {
		panic("crash")
	}
	if a.next != nil && m%3 == 0 {
		if tok, err := a.next.Ask(c, m+1); err == nil {
			_, _ = tok.Wait(context.Background())
		}
	}
	if a.next != nil && m%2 == 0 {
		_ = a.next.Tell(c, m+1)
	}
	return m, nil
}

func (a *crStopActor) Stopped(*ActorContext) {
	if a.rec.stopped.Add(1) != 1 {
		a.rec.fail(errors.New("Stopped twice"))
	}
	if a.rec.running.Load() != 0 {
		a.rec.fail(errors.New("Stopped during Receive"))
	}
}

func (r *crStopRec) fail(err error) {
	select {
	case r.bad <- err:
	default:
	}
}

// TestActorStopStress: a chain of actors asking and telling the next while
// senders ask them, and the runtime's Stop comes at a random point with a
// context that may have ended, while executor loops fail (an executor
// restarts or goes down for a moment): every Ask resolves, Stopped runs once and never
// beside a Receive.
func TestActorStopStress(t *testing.T) {
	rounds := 5
	if v, err := strconv.Atoi(os.Getenv("ACTOR_STRESS_ROUNDS")); err == nil {
		rounds = v
	}
	arms := failLoops(t)
	for round := range rounds {
		const n = 6
		arms.Store(int32(rand.IntN(4)))
		bad := make(chan error, 1)
		rt := start(t, Config{Cores: 2, Affinity: Off, StallAfter: -1, Restart: RestartPolicy{MaxRestarts: 1, Backoff: time.Microsecond, Cooldown: time.Millisecond}})
		refs := make([]*Ref[int, int], n)
		recs := make([]*crStopRec, n)
		for i := n - 1; i >= 0; i-- {
			var next *Ref[int, int]
			if i < n-1 {
				next = refs[i+1]
			}
			rec := &crStopRec{bad: bad}
			recs[i] = rec
			refs[i] = must(Spawn(rt, fmt.Sprint("s", i), func() Actor[int, int] { return &crStopActor{rec: rec, next: next} }, WithMailbox(4)))
		}
		var wg sync.WaitGroup
		var toks sync.Map
		for s := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := 0; ; k++ {
					tok, err := refs[(s+k)%n].Ask(context.Background(), k)
					if err != nil {
						return
					}
					toks.Store(tok, k)
				}
			}()
		}
		time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rand.IntN(2000))*time.Microsecond)
		_ = rt.Stop(ctx)
		cancel()
		wg.Wait()
		wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
		toks.Range(func(k, v any) bool {
			if _, err := k.(*Token[int]).Wait(wctx); errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("round %d: ask %d never resolved", round, v)
			}
			return true
		})
		for i, ref := range refs {
			// Stop may return while a Receive runs on: its actor stops as
			// it returns.
			if err := ref.Stop(wctx); err != nil {
				t.Fatalf("round %d: actor %d never stopped: %v", round, i, err)
			}
		}
		wcancel()
		for i, r := range recs {
			if r.stopped.Load() > 1 || r.stopped.Load() == 0 && r.received.Load() > 0 {
				t.Fatalf("round %d: actor %d: Stopped ran %d times", round, i, r.stopped.Load())
			}
		}
		select {
		case err := <-bad:
			t.Fatalf("round %d: %v", round, err)
		default:
		}
	}
}
