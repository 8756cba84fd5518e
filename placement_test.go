package coregate

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/coregate/coregate/actors"
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
// Each case starts a fresh runtime of three unpinned executors (any machine
// runs them), so every placement is known: the k-th Heavy token placed by
// staggering goes to executor k mod 3, and Light's range is executor 2.
func TestPlacementPrecedence(t *testing.T) {
	bg := context.Background()
	fresh := func(t *testing.T) *Runtime { return start(t, Config{Cores: 3, Affinity: Off, IdleSpin: -1}) }
	for _, tt := range []struct {
		name  string
		check func(t *testing.T)
	}{
		{"staggered: a plain token stays in its class's range", func(t *testing.T) {
			rt := fresh(t)
			light := must(Define(rt, "light", where[int], WithWeight(Light)))
			heavy := must(Define(rt, "heavy", where[int]))
			for i := range 4 {
				require.Equal(t, 2, run(t, light, bg, 0), "Light on 3 executors")
				require.Equal(t, i%3, run(t, heavy, bg, 0), "Heavy token %d", i)
			}
		}},
		{"pin: a sticky key keeps its first executor", func(t *testing.T) {
			rt := fresh(t)
			sticky := must(Define(rt, "sticky", where[string], WithSticky()))
			require.Equal(t, 0, run(t, sticky, bg, "k"), "the first Heavy position")
			for range 10 { // staggering would have moved on to 1, 2, 0...
				require.Equal(t, 0, run(t, sticky, bg, "k"))
			}
		}},
		{"seed over weight: children run on the lead's executor", func(t *testing.T) {
			rt := fresh(t)
			child := must(Define(rt, "light-child", where[int], WithWeight(Light)))
			lead := must(Define(rt, "lead", func(ctx context.Context, _ int) ([2]int, error) {
				me, _ := CurrentExecutor(ctx)
				return [2]int{me, run(t, child, ctx, 0)}, nil
			}, WithAnchor("light-child")))
			for i := range 3 { // leads on 0, 1, 2; Light alone would be on 2
				require.Equal(t, [2]int{i, i}, must(must(lead.Submit(bg, 0)).Wait(bg)), "lead %d and its Light child", i)
			}
		}},
		{"seed over pin: a sticky child follows its lead, not its pin", func(t *testing.T) {
			rt := fresh(t)
			child := must(Define(rt, "sticky-child", where[string], WithSticky()))
			lead := must(Define(rt, "lead", func(ctx context.Context, key string) ([2]int, error) {
				me, _ := CurrentExecutor(ctx)
				return [2]int{me, run(t, child, ctx, key)}, nil
			}, WithAnchor("sticky-child")))
			require.Equal(t, 0, run(t, child, bg, "p"), "pins \"p\" outside any seed, at the first Heavy position")
			require.Equal(t, [2]int{1, 1}, must(must(lead.Submit(bg, "p")).Wait(bg)), "the lead, at the second Heavy position, and its child")
			require.Equal(t, 0, run(t, child, bg, "p"), "outside the seed, the pin holds")
		}},
	} {
		t.Run(tt.name, tt.check)
	}
}

// TestStickyKeysSpreadOverTheRange: new keys take the staggered choice as
// their pin, so on a fresh runtime of four (unpinned) executors key k is
// pinned to executor k mod 4, and every key stays there.
func TestStickyKeysSpreadOverTheRange(t *testing.T) {
	const n = 4
	rt := start(t, Config{Cores: n, Affinity: Off})
	op := must(Define(rt, "keyed", where[int], WithSticky()))
	bg := context.Background()
	for k := range 200 {
		require.Equal(t, k%n, run(t, op, bg, k), "key %d's first token", k)
	}
	for round := range 3 {
		for k := range 200 {
			require.Equal(t, k%n, run(t, op, bg, k), "round %d key %d moved", round, k)
		}
	}
	require.Equal(t, 200, rt.Stats().Pins)
}

// TestStickyKeyFunction: a key function makes arguments that the default
// encoding cannot key (or would key apart) share a pin. On a fresh runtime of
// two executors the key's first token is pinned to executor 0; a token with
// its own pin would take executor 1.
func TestStickyKeyFunction(t *testing.T) {
	rt := start(t, Config{Cores: 2, Affinity: Off})
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
	require.Equal(t, 0, run(t, op, bg, req{user: "ann"}), "the first Heavy position")
	for range 5 {
		require.Equal(t, 0, run(t, op, bg, req{user: "bob", meta: map[string]string{"a": "b"}}), "same key, same executor")
	}
	require.Equal(t, 1, rt.Stats().Pins, "one key")
	_, err = Define(rt, "empty-call", where[int], WithAnchor("ok", ""))
	require.ErrorContains(t, err, "empty call name")
}

// TestLeadKeepsLightChildrenOnItsExecutor: on three executors Light ops run
// on executor 2 only, yet the children of a lead run on the lead's executor,
// nested children too. On a fresh runtime the leads take Heavy positions 0,
// 1 and 2: executors 0 and 1 are outside Light's range.
func TestLeadKeepsLightChildrenOnItsExecutor(t *testing.T) {
	rt := start(t, Config{Cores: 3, Affinity: Off})
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
	for i := range 3 {
		tok := requireOn(t, i, must(lead.Submit(bg, 0)))
		got := must(tok.Wait(bg))
		require.Equal(t, []int{i, i, i, i, i, i, i, i, i}, got, "lead %d and its 8 children", i)
	}
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
	var err error
	allocs := testing.AllocsPerRun(50, func() {
		for i := range toks {
			if toks[i], err = op.Submit(ctx, keys[i%len(keys)]); err != nil {
				t.Fatal(err) // a refused Submit allocates nothing: it must not count
			}
		}
		for i, tok := range toks {
			if v, err := tok.Wait(ctx); err != nil || v != len(keys[i%len(keys)]) {
				t.Fatalf("token %d: %d, %v", i, v, err)
			}
		}
	})
	require.LessOrEqual(t, allocs/batch, 1.1, "allocations per sticky token")
}

// TestDeclaredCallsDecideWhoJoins: only the ops a lead declares join its
// seed; an undeclared op submitted with the lead's context is placed by its
// own rules. A declared name that no op defines is reported at each of the
// lead's Submits, and no longer once it is defined.
func TestDeclaredCallsDecideWhoJoins(t *testing.T) {
	rt := start(t, Config{Cores: 3, Affinity: Off})
	bg := context.Background()
	declared := must(Define(rt, "declared", where[int], WithWeight(Light)))
	other := must(Define(rt, "other", where[int], WithWeight(Light)))
	lead := must(Define(rt, "lead", func(ctx context.Context, _ int) ([3]int, error) {
		me, _ := CurrentExecutor(ctx)
		return [3]int{me, run(t, declared, ctx, 0), run(t, other, ctx, 0)}, nil
	}, WithAnchor("declared", "later")))
	for range 2 {
		_, err := lead.Submit(bg, 0)
		require.EqualError(t, err, `coregate: op "lead": WithAnchor declares "later", which no op of this runtime defines`)
	}
	must(Define(rt, "later", where[int]))
	got := must(must(lead.Submit(bg, 0)).Wait(bg)) // Heavy's first position: executor 0
	require.Equal(t, [3]int{0, 0, 2}, got, "lead, declared child (its seed), undeclared (Light: executor 2)")
}

// submitsKey submits a token of op for the key it is told and answers the
// executor the token was placed on.
type submitsKey struct{ op *Op[string, int] }

func (a submitsKey) Receive(c *ActorContext, key string) (int, error) {
	tok, err := a.op.Submit(c, key)
	if err != nil {
		return -1, err
	}
	return tok.Executor(), nil
}

// TestActorDoesNotPinAKeyOutsideItsRange: a sticky key whose first token an
// actor submits is pinned in its class's range, not near the actor outside
// it: a later token of the key, placed from elsewhere, moved the pin, so one
// key's tokens ran on two executors (found by review).
func TestActorDoesNotPinAKeyOutsideItsRange(t *testing.T) {
	rt := start(t, Config{Cores: 3, Affinity: Off, IdleSpin: -1})
	bg := context.Background()
	op := must(Define(rt, "light-sticky", where[string], WithSticky(), WithWeight(Light)))
	ref := must(Spawn(rt, "sub", func() Actor[string, int] { return submitsKey{op} }, OnExecutor(0)))
	first := must(must(ref.Ask(bg, "k")).Wait(bg))
	require.Equal(t, 2, first, "Light's range on 3 executors is executor 2")
	require.Equal(t, 2, run(t, op, bg, "k"))
}

// TestNestedLeadAnchorsItsOwnCalls: a lead submitted as a declared child of
// another lead joins that lead's seed, and still anchors the ops it declares
// itself: on three executors a Light op it calls runs on its executor, not
// on executor 2. Its own calls were checked against the outer lead's
// declarations only, so they ran unanchored (found by review).
func TestNestedLeadAnchorsItsOwnCalls(t *testing.T) {
	rt := start(t, Config{Cores: 3, Affinity: Off, IdleSpin: -1})
	bg := context.Background()
	leaf := must(Define(rt, "leaf", where[int], WithWeight(Light)))
	inner := must(Define(rt, "inner", func(ctx context.Context, _ int) ([2]int, error) {
		me, _ := CurrentExecutor(ctx)
		return [2]int{me, run(t, leaf, ctx, 0)}, nil
	}, WithAnchor("leaf")))
	outer := must(Define(rt, "outer", func(ctx context.Context, _ int) ([2]int, error) {
		return must(must(inner.Submit(ctx, 0)).Wait(ctx)), nil
	}, WithAnchor("inner")))
	for i := range 2 { // outer on Heavy positions 0 and 1, outside Light's range
		require.Equal(t, [2]int{i, i}, must(must(outer.Submit(bg, 0)).Wait(bg)), "outer %d: inner and its leaf", i)
	}
	require.Zero(t, rt.Stats().Seeds)
}

// TestActorSpawnedInItsRangeWhileRangeUnhealthy: an actor stays on the
// executor it is spawned on, so it is spawned in its weight class's range
// even when none of the range is healthy; it went to a healthy executor
// outside the range, and stayed there (found by review).
func TestActorSpawnedInItsRangeWhileRangeUnhealthy(t *testing.T) {
	rt := start(t, Config{Cores: 3, Affinity: Off, IdleSpin: -1})
	rt.execs[2].SetHealth(actors.Stalled, true) // Light's range on 3 executors
	ref := must(Spawn(rt, "light", func() Actor[int, int] { return &counter{} }, WithWeight(Light)))
	rt.execs[2].SetHealth(actors.Stalled, false)
	require.Equal(t, 2, ref.Executor())
}
