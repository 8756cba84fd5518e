package coregate

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
	"github.com/coregate/coregate/anchor"
	"github.com/stretchr/testify/require"
)

// TestSeedEveryChildOutcome: a lead on one executor submits children that
// succeed, fail, panic, call runtime.Goexit, are cancelled while queued,
// whose context ends while queued, and that exhaust their retries. Each
// outcome leaves the seed once: it is released when the lead returns, and
// the runtime's counts balance.
func TestSeedEveryChildOutcome(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := start(t, Config{Cores: 1, Affinity: Off})
		bg := context.Background()
		child := must(Define(rt, "child", func(_ context.Context, how string) (int, error) { return outcome(how) }))
		retried := must(Define(rt, "retried", func(context.Context, int) (int, error) {
			return 0, errors.New("always")
		}, WithRetry(2, time.Millisecond)))
		lead := must(Define(rt, "lead", func(ctx context.Context, _ int) (int, error) {
			var toks []*Token[int]
			for _, how := range []string{"ok", "error", "panic", "goexit"} {
				toks = append(toks, must(child.Submit(ctx, how)))
			}
			cancelled := must(child.Submit(ctx, "ok"))
			require.True(t, cancelled.Cancel())
			cctx, cancel := context.WithCancel(ctx)
			ended := must(child.Submit(cctx, "ok"))
			cancel()
			toks = append(toks, cancelled, ended, must(retried.Submit(ctx, 0)))
			for _, tok := range toks {
				tok.Wait(ctx) //nolint:errcheck // outcomes vary
			}
			return 0, nil
		}, WithAnchor("child", "retried")))
		must(must(lead.Submit(bg, 0)).Wait(bg))
		s := rt.Stats()
		require.Zero(t, s.Seeds)
		require.Equal(t, uint64(1), s.SeedsReleased)
	})
}

// TestSeedChildRefusedForRoom: a child waiting for room on its seed's full
// executor whose context ends is refused; it leaves the seed, released once
// the lead and its queued child resolve.
func TestSeedChildRefusedForRoom(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := start(t, Config{Cores: 1, Affinity: Off, MailboxSize: 2})
		bg := context.Background()
		child := must(Define(rt, "child", where[int]))
		ctxs, gate := make(chan context.Context, 1), make(chan struct{})
		lead := must(Define(rt, "lead", func(ctx context.Context, _ int) (int, error) {
			ctxs <- ctx
			<-gate
			return 0, nil
		}, WithAnchor("child")))
		ltok := must(lead.Submit(bg, 0))
		lctx := <-ctxs
		queued := must(child.Submit(lctx, 0)) // the lead running and it: full
		tctx, cancel := context.WithTimeout(lctx, time.Second)
		_, err := child.Submit(tctx, 0)
		cancel()
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Equal(t, 1, rt.Stats().Seeds)
		close(gate)
		must(ltok.Wait(bg))
		queued.Wait(bg) //nolint:errcheck // cancelled or run, as the lead returns first or not
		s := rt.Stats()
		require.Zero(t, s.Seeds)
		require.Equal(t, uint64(1), s.SeedsReleased)
	})
}

// TestSeedStopWithQueuedChildren: Stop cuts a lead short with children
// queued behind it; they resolve with ErrStopped and the seed is released.
func TestSeedStopWithQueuedChildren(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := start(t, Config{Cores: 1, Affinity: Off})
		bg := context.Background()
		child := must(Define(rt, "child", where[int]))
		started := make(chan []*Token[int], 1)
		lead := must(Define(rt, "lead", func(ctx context.Context, _ int) (int, error) {
			var toks []*Token[int]
			for range 3 {
				toks = append(toks, must(child.Submit(ctx, 0)))
			}
			started <- toks
			<-ctx.Done()
			_, err := child.Submit(ctx, 0) // after Stop: refused
			return 0, err
		}, WithAnchor("child")))
		ltok := must(lead.Submit(bg, 0))
		toks := <-started
		ctx, cancel := context.WithCancel(bg)
		cancel()
		rt.Stop(ctx) //nolint:errcheck // cut short on purpose
		for _, tok := range toks {
			_, err := tok.Wait(bg)
			require.ErrorIs(t, err, ErrStopped)
		}
		_, err := ltok.Wait(bg)
		require.Error(t, err)
		s := rt.Stats()
		require.Zero(t, s.Seeds)
		require.Equal(t, uint64(1), s.SeedsReleased)
	})
}

// stickyIdle reports whether every pin of rt is idle: past the TTL, a new key
// of a table of cap 1 evicts the old pin rather than being hashed.
func stickyIdle(t *testing.T, rt *Runtime, op *Op[string, int], ttl time.Duration) bool {
	t.Helper()
	time.Sleep(2 * ttl)
	before := rt.Stats().KeysHashed
	must(must(op.Submit(context.Background(), "fresh-key")).Wait(context.Background()))
	return rt.Stats().KeysHashed == before
}

// TestStickyPinReleasedOnEveryOutcome: a key's tokens that succeed, fail,
// panic, Goexit, are cancelled, whose context ends queued, that are refused
// room and that TrySubmit refuses all give back their in-flight count: the
// pin is evicted once idle past the TTL.
func TestStickyPinReleasedOnEveryOutcome(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const ttl = time.Second
		rt := start(t, Config{Cores: 1, Affinity: Off, MailboxSize: 4, StickyCap: 1, StickyTTL: ttl})
		bg := context.Background()
		gate := make(chan struct{})
		op := must(Define(rt, "sticky", func(_ context.Context, how string) (int, error) {
			if how == "gate" {
				<-gate
			}
			return outcome(how)
		}, WithStickyKey(func(s string) uint64 { return uint64(len(s) / 9) })))
		holder := must(op.Submit(bg, "gate"))
		synctest.Wait()
		var toks []*Token[int]
		for _, how := range []string{"error", "panic"} {
			toks = append(toks, must(op.Submit(bg, how)))
		}
		cancelled := must(op.Submit(bg, "ok"))
		require.True(t, cancelled.Cancel())
		_, err := op.TrySubmit("ok")
		require.ErrorIs(t, err, ErrFull)
		tctx, cancel := context.WithTimeout(bg, time.Second)
		_, err = op.Submit(tctx, "ok")
		cancel()
		require.ErrorIs(t, err, context.DeadlineExceeded)
		close(gate)
		toks = append(toks, holder, must(op.Submit(bg, "goexit")))
		for _, tok := range toks {
			tok.Wait(bg) //nolint:errcheck // outcomes vary
		}
		require.True(t, stickyIdle(t, rt, op, ttl), "a pin stayed in flight: %+v", rt.Stats())
	})
}

// TestKeyedLeadsMoveWithTheirPin: two leads of one sticky key wait on
// executor 0 (each with its own seed there, where the key is pinned) when
// it goes down. They moved as their seeds did, each staggered on its own,
// so one key's tokens ran on two executors; a keyed lead's own seed now
// moves with its key's pin.
func TestKeyedLeadsMoveWithTheirPin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		arms := failLoopsOf(t, 0)
		rt := start(t, Config{Cores: 3, Affinity: Off, IdleSpin: -1, StallAfter: -1,
			Restart: RestartPolicy{MaxRestarts: 1, Cooldown: time.Hour}})
		bg := context.Background()
		gate := make(chan struct{})
		block := must(Define(rt, "block", func(context.Context, int) (int, error) { <-gate; return 0, nil }, OnExecutor(0)))
		lead := must(Define(rt, "lead", where[int], WithStickyKey(func(int) uint64 { return 1 }), WithAnchor()))
		blocker := must(block.Submit(bg, 0))
		synctest.Wait()
		arms.Store(2)
		a := requireOn(t, 0, must(lead.Submit(bg, 0)))
		b := requireOn(t, 0, must(lead.Submit(bg, 0)))
		close(gate)
		must(blocker.Wait(bg))
		synctest.Wait()
		require.True(t, rt.Executors()[0].Down)
		ea, eb := must(a.Wait(bg)), must(b.Wait(bg))
		require.Equal(t, ea, eb, "one key's leads ran on two executors")
		require.Equal(t, ea, run(t, lead, bg, 0), "a later token of the key ran elsewhere")
		require.Zero(t, rt.Stats().Seeds)
	})
}

// TestRefusedLeadReleasesItsSeed: a lead that TrySubmit refuses (ErrFull),
// or whose Submit's context ends waiting for room, created its seed when it
// was placed and releases it.
func TestRefusedLeadReleasesItsSeed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := start(t, Config{Cores: 1, Affinity: Off, MailboxSize: 1})
		bg := context.Background()
		gate := make(chan struct{})
		block := must(Define(rt, "block", func(context.Context, int) (int, error) { <-gate; return 0, nil }))
		lead := must(Define(rt, "lead", where[int], WithAnchor(), WithStickyKey(func(int) uint64 { return 3 })))
		blocker := must(block.Submit(bg, 0))
		synctest.Wait()
		_, err := lead.TrySubmit(0)
		require.ErrorIs(t, err, ErrFull)
		tctx, cancel := context.WithTimeout(bg, time.Second)
		_, err = lead.Submit(tctx, 0)
		cancel()
		require.ErrorIs(t, err, context.DeadlineExceeded)
		close(gate)
		must(blocker.Wait(bg))
		s := rt.Stats()
		require.Zero(t, s.Seeds)
		require.Equal(t, s.SeedsReleased, uint64(2))
	})
}

// TestPinOutOfRangeWithTokensInFlight: on four executors a Light key is
// pinned to executor 2, its token queued there. Executor 0 goes down, so
// Light's range, recomputed over executors 1 to 3, is executor 3 alone.
// The key's next token moved the pin to 3 and ran there beside the first,
// still queued on 2: one key's tokens on two executors at once.
func TestPinOutOfRangeWithTokensInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		arms := failLoopsOf(t, 0)
		rt := start(t, Config{Cores: 4, Affinity: Off, IdleSpin: -1, StallAfter: -1,
			Restart: RestartPolicy{MaxRestarts: 1, Cooldown: time.Hour}})
		bg := context.Background()
		gate := make(chan struct{})
		open := sync.OnceFunc(func() { close(gate) })
		defer open() // a failed check must not leave the blocker blocked
		block := must(Define(rt, "block", func(context.Context, int) (int, error) { <-gate; return 0, nil }, OnExecutor(2)))
		poke := must(Define(rt, "poke", where[int], OnExecutor(0)))
		op := must(Define(rt, "key", where[int], WithWeight(Light), WithStickyKey(func(int) uint64 { return 5 })))
		blocker := must(block.Submit(bg, 0))
		synctest.Wait()
		first := requireOn(t, 2, must(op.Submit(bg, 0)))
		arms.Store(2)
		must(poke.Submit(bg, 0))
		synctest.Wait()
		require.True(t, rt.Executors()[0].Down)
		second := must(op.Submit(bg, 0))
		require.Equal(t, first.Executor(), second.Executor(), "one key's tokens on two executors at once")
		open()
		must(blocker.Wait(bg))
		must(first.Wait(bg))
		must(second.Wait(bg))
	})
}

// outcome ends a handler as how says: "error" fails, "panic" panics,
// "goexit" calls runtime.Goexit, anything else succeeds with 1.
func outcome(how string) (int, error) {
	switch how {
	case "error":
		return 0, errors.New("failed")
	case "panic":
		panic("panicked")
	case "goexit":
		runtime.Goexit()
	}
	return 1, nil
}

// TestSeedChildKeyPanicLeavesNoShare: a lead's declared child whose
// WithStickyKey function panics as the lead submits it never joins the
// seed, so the seed is released when the lead returns (it was held for
// good: the share joined before the key was computed was never left).
func TestSeedChildKeyPanicLeavesNoShare(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := start(t, Config{Cores: 1, Affinity: Off})
		bg := context.Background()
		child := must(Define(rt, "child", where[int], WithStickyKey(func(k int) uint64 {
			if k == 13 {
				panic("bad key")
			}
			return uint64(k)
		})))
		lead := must(Define(rt, "lead", func(ctx context.Context, _ int) (int, error) {
			func() {
				defer func() { require.Equal(t, "bad key", recover()) }()
				child.Submit(ctx, 13) //nolint:errcheck // it panics
			}()
			return must(must(child.Submit(ctx, 1)).Wait(ctx)), nil
		}, WithAnchor("child")))
		must(must(lead.Submit(bg, 0)).Wait(bg))
		s := rt.Stats()
		require.Zero(t, s.Seeds)
		require.Equal(t, uint64(1), s.SeedsReleased)
	})
}

// TestHashedKeyedLeadKeepsItsSeedWhileLive: with the pin table full, a
// Light sticky lead is placed by hashing on executor 2 of four (Light's
// range is 2-3). Its first attempt leaves a child running there and fails.
// Executor 0 goes down, so Light's range, recomputed over executors 1 to
// 3, is executor 3 alone. The retry followed the hash over the new range
// and moved the seed to 3 while executor 2, live, still ran the child: the
// lead's second attempt and its next child ran on 3, the seed split.
func TestHashedKeyedLeadKeepsItsSeedWhileLive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		arms := failLoopsOf(t, 0)
		rt := start(t, Config{Cores: 4, Affinity: Off, IdleSpin: -1, StallAfter: -1, StickyCap: 1, StickyTTL: time.Hour,
			Restart: RestartPolicy{MaxRestarts: 1, Cooldown: time.Hour}})
		bg := context.Background()
		gate := make(chan struct{})
		open := sync.OnceFunc(func() { close(gate) })
		defer open() // a failed check must not leave the child blocked
		fill := must(Define(rt, "fill", where[int], WithSticky()))
		poke := must(Define(rt, "poke", where[int], OnExecutor(0)))
		child := must(Define(rt, "child", func(ctx context.Context, block bool) (int, error) {
			if block {
				<-gate
			}
			return where(ctx, 0)
		}))
		var first, second *Token[int]
		var attempts atomic.Int32
		lead := must(Define(rt, "lead", func(ctx context.Context, _ uint64) (int, error) {
			if attempts.Add(1) == 1 {
				first = must(child.Submit(context.WithoutCancel(ctx), true))
				return 0, errors.New("first attempt fails")
			}
			second = must(child.Submit(ctx, false))
			second.Wait(ctx) //nolint:errcheck // checked by the test
			return where(ctx, 0)
		}, WithWeight(Light), WithStickyKey(func(k uint64) uint64 { return k }), WithAnchor("child"), WithRetry(1, time.Minute)))
		// A key that hashing puts on executor 2 of Light's range 2-3.
		k := uint64(0)
		for anchor.Rendezvous(anchor.MixKey(xxhash.Sum64String("lead"), k), []int{2, 3}) != 2 {
			k++
		}
		run(t, fill, bg, 0) // the one pin: the lead's key is hashed
		ltok := requireOn(t, 2, must(lead.Submit(bg, k)))
		synctest.Wait() // the first attempt failed; its child runs on 2
		require.Equal(t, uint64(1), rt.Stats().KeysHashed)
		arms.Store(2)
		must(poke.Submit(bg, 0))
		synctest.Wait()
		require.True(t, rt.Executors()[0].Down)
		time.Sleep(time.Minute) // the retry is due
		synctest.Wait()
		open()
		ran := must(ltok.Wait(bg))
		require.Equal(t, 2, must(first.Wait(bg)))
		require.Equal(t, 2, must(second.Wait(bg)), "the lead's children ran on two executors")
		require.Equal(t, 2, ran, "the lead's retry left its seed's executor")
		require.Zero(t, rt.Stats().Seeds)
	})
}
