package coregate

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// where is a handler that reports its executor.
func where[A any](ctx context.Context, _ A) (int, error) {
	e, _ := CurrentExecutor(ctx)
	return e, nil
}

func run[A any](t *testing.T, op *Op[A, int], ctx context.Context, arg A) int {
	t.Helper()
	return must(must(op.Submit(ctx, arg)).Wait(ctx))
}

// TestPlacementPrecedence: seed, then sticky pin, then staggered selection.
func TestPlacementPrecedence(t *testing.T) {
	rt := start(t, Config{})
	n := len(rt.Executors())
	bg := context.Background()
	plain := must(Define(rt, "plain", where[int], WithWeight(Light)))
	sticky := must(Define(rt, "sticky", where[string], WithSticky()))
	lightChild := must(Define(rt, "light-child", where[int], WithWeight(Light)))
	stickyChild := must(Define(rt, "sticky-child", where[string], WithSticky()))

	type result struct{ lead, light, sticky int }
	lead := must(Define(rt, "lead", func(ctx context.Context, key string) (result, error) {
		me, _ := CurrentExecutor(ctx)
		return result{me, run(t, lightChild, ctx, 0), run(t, stickyChild, ctx, key)}, nil
	}, WithAnchor("light-child", "sticky-child")))

	for _, tt := range []struct {
		name  string
		check func(t *testing.T)
	}{
		{"staggered: a plain token stays in its class's range", func(t *testing.T) {
			require.Equal(t, n-1, run(t, plain, bg, 0), "Light on %d executors", n)
		}},
		{"pin: a sticky key keeps its first executor", func(t *testing.T) {
			first := run(t, sticky, bg, "k")
			for range 10 {
				require.Equal(t, first, run(t, sticky, bg, "k"))
			}
		}},
		{"seed over weight: children run on the lead's executor", func(t *testing.T) {
			for range 4 {
				r := must(must(lead.Submit(bg, "x")).Wait(bg))
				require.Equal(t, r.lead, r.light)
			}
		}},
		{"seed over pin: a sticky child follows its lead, not its pin", func(t *testing.T) {
			if n < 2 {
				t.Skip("needs two executors for the pin and the seed to differ")
			}
			pinned := run(t, stickyChild, bg, "p") // pins "p" outside any seed
			for range 4 {
				r := must(must(lead.Submit(bg, "p")).Wait(bg))
				require.Equal(t, r.lead, r.sticky)
				if r.lead != pinned {
					return
				}
			}
			t.Fatal("no lead landed away from the pin in 4 tries")
		}},
	} {
		t.Run(tt.name, tt.check)
	}
}

func TestStickyKeysSpreadOverTheRange(t *testing.T) {
	rt := start(t, Config{})
	n := len(rt.Executors())
	op := must(Define(rt, "keyed", where[int], WithSticky()))
	bg := context.Background()
	home := map[int]int{}
	for k := range 200 {
		home[k] = run(t, op, bg, k)
	}
	per := make([]int, n)
	for round := range 3 {
		for k := range 200 {
			require.Equal(t, home[k], run(t, op, bg, k), "round %d key %d moved", round, k)
		}
	}
	for _, e := range home {
		per[e]++
	}
	for e, c := range per {
		require.Greater(t, c, 200/n/2, "executor %d got %d of 200 keys: %v", e, c, per)
	}
	require.Equal(t, 200, rt.Stats().Pins)
}

func TestStickyKeyFunction(t *testing.T) {
	rt := start(t, Config{})
	type req struct {
		user string
		meta map[string]string // not encodable: a key function is needed
	}
	_, err := Define(rt, "bad", where[req], WithSticky())
	require.ErrorContains(t, err, "map[string]string")
	_, err = Define(rt, "wrong-key", where[req], WithStickyKey(func(s string) uint64 { return 1 }))
	require.ErrorContains(t, err, "want a func(coregate.req) uint64")
	op := must(Define(rt, "by-user", where[req], WithStickyKey(func(r req) uint64 { return uint64(len(r.user)) })))
	bg := context.Background()
	first := run(t, op, bg, req{user: "ann"})
	for range 5 {
		require.Equal(t, first, run(t, op, bg, req{user: "bob", meta: map[string]string{"a": "b"}}), "same key, same executor")
	}
	_, err = Define(rt, "empty-call", where[int], WithAnchor("ok", ""))
	require.ErrorContains(t, err, "empty call name")
}

// TestLeadKeepsLightChildrenOnItsExecutor: on this machine Light ops run on the
// last executor only, yet the children of a lead on executor 0 run on 0, nested
// children too.
func TestLeadKeepsLightChildrenOnItsExecutor(t *testing.T) {
	rt := start(t, Config{})
	bg := context.Background()
	var grandchild *Op[int, int]
	child := must(Define(rt, "child", func(ctx context.Context, _ int) (int, error) {
		me, _ := CurrentExecutor(ctx)
		g := run(t, grandchild, ctx, 0)
		if g != me {
			return 0, fmt.Errorf("grandchild ran on %d, child on %d", g, me)
		}
		return me, nil
	}, WithWeight(Light)))
	grandchild = must(Define(rt, "grandchild", where[int], WithWeight(Light)))
	lead := must(Define(rt, "lead", func(ctx context.Context, _ int) ([]int, error) {
		me, _ := CurrentExecutor(ctx)
		toks := make([]*Token[int], 8)
		for i := range toks {
			toks[i] = must(child.Submit(ctx, i))
		}
		out := []int{me}
		for _, tok := range toks {
			e, err := tok.Wait(ctx)
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
		return out, nil
	}, WithAnchor("child", "grandchild")))
	for range 2 * len(rt.Executors()) {
		tok := must(lead.Submit(bg, 0))
		got := must(tok.Wait(bg))
		for _, e := range got[1:] {
			require.Equal(t, got[0], e, "children of a lead on %d", got[0])
		}
		if tok.Executor() == 0 {
			return
		}
	}
	t.Fatal("no lead landed on executor 0")
}

// TestSeedReleasedOnEveryOutcome: the pending count reaches zero and the seed is
// released whether the children succeed, fail or panic.
func TestSeedReleasedOnEveryOutcome(t *testing.T) {
	rt := start(t, Config{Cores: 1}) // children queue behind their waiting lead
	bg := context.Background()
	child := must(Define(rt, "child", func(_ context.Context, how string) (int, error) {
		switch how {
		case "error":
			return 0, errors.New("child failed")
		case "panic":
			panic("child panicked")
		}
		return 1, nil
	}))
	lead := must(Define(rt, "lead", func(ctx context.Context, how string) (int, error) {
		var toks []*Token[int]
		for range 5 {
			toks = append(toks, must(child.Submit(ctx, how)))
		}
		var first error
		for _, tok := range toks { // wait for all: the seed lives until they resolve
			if _, err := tok.Wait(ctx); err != nil && first == nil {
				first = err
			}
		}
		return len(toks), first
	}, WithAnchor("child")))
	for i, how := range []string{"ok", "error", "panic"} {
		_, err := must(lead.Submit(bg, how)).Wait(bg)
		require.Equal(t, how == "ok", err == nil, "%s: %v", how, err)
		s := rt.Stats()
		require.Zero(t, s.Seeds, "%s: seed still live", how)
		require.Equal(t, uint64(i+1), s.SeedsReleased)
	}
}

func TestSeedTableCap(t *testing.T) {
	rt := start(t, Config{Cores: 1, SeedCap: 1})
	bg := context.Background()
	release := make(chan struct{})
	var started sync.WaitGroup
	started.Add(1)
	lead := must(Define(rt, "lead", func(ctx context.Context, first bool) (int, error) {
		if first {
			started.Done()
			<-release
		}
		return 0, nil
	}, WithAnchor()))
	holder := must(lead.Submit(bg, true))
	started.Wait()
	second := must(lead.Submit(bg, false)) // the table holds the first seed
	close(release)
	must(holder.Wait(bg))
	must(second.Wait(bg))
	s := rt.Stats()
	require.Equal(t, uint64(1), s.LeadsUnanchored)
	require.Equal(t, uint64(1), s.SeedsReleased)
}

func TestStickySubmitAllocatesOnlyTheToken(t *testing.T) {
	rt := start(t, Config{})
	op := must(Define(rt, "sticky", func(_ context.Context, k string) (int, error) { return len(k), nil }, WithSticky()))
	ctx := context.Background()
	keys := []string{"a", "bb", "ccc", "dddd"}
	for _, k := range keys { // pin the keys first: a new pin may grow the table
		run(t, op, ctx, k)
	}
	const batch = 256
	toks := make([]*Token[int], batch)
	allocs := testing.AllocsPerRun(50, func() {
		for i := range toks {
			toks[i], _ = op.Submit(ctx, keys[i%len(keys)])
		}
		for _, tok := range toks {
			_, _ = tok.Wait(ctx)
		}
	})
	require.LessOrEqual(t, allocs/batch, 1.1, "allocations per sticky token")
}

// TestDeclaredCallsDecideWhoJoins: only the ops a lead declares join its
// seed; an undeclared op submitted with the lead's context is placed by its
// own rules. A declared name that no op defines is reported at the lead's
// first Submit, and no longer once it is defined.
func TestDeclaredCallsDecideWhoJoins(t *testing.T) {
	rt := start(t, Config{Cores: 3, Affinity: Off})
	bg := context.Background()
	declared := must(Define(rt, "declared", where[int], WithWeight(Light)))
	other := must(Define(rt, "other", where[int], WithWeight(Light)))
	lead := must(Define(rt, "lead", func(ctx context.Context, _ int) ([3]int, error) {
		me, _ := CurrentExecutor(ctx)
		return [3]int{me, run(t, declared, ctx, 0), run(t, other, ctx, 0)}, nil
	}, WithAnchor("declared", "later")))
	_, err := lead.Submit(bg, 0)
	require.EqualError(t, err, `coregate: op "lead": WithAnchor declares "later", which no op of this runtime defines`)
	must(Define(rt, "later", where[int]))
	got := must(must(lead.Submit(bg, 0)).Wait(bg)) // Heavy's first position: executor 0
	require.Equal(t, [3]int{0, 0, 2}, got, "lead, declared child (its seed), undeclared (Light: executor 2)")
}
