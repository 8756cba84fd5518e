package coregate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	"unsafe"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/actors"
	"github.com/coregate/coregate/internal/testkit"
	"github.com/coregate/coregate/supervisor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// start starts a runtime that the test stops, checking the accounting invariant.
func start(t *testing.T, cfg Config) *Runtime {
	t.Helper()
	rt, err := Start(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx := context.Background()
		if t.Failed() {
			// A check failed and the test left, maybe with a handler
			// blocked on a gate it never opened: the bound cancels it,
			// so the failure is reported rather than the package's
			// timeout.
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
		}
		_ = rt.Stop(ctx)
		requireBalanced(t, rt)
	})
	return rt
}

// requireBalanced checks accepted = succeeded + failed + panicked + cancelled +
// stopped, in total and per executor, on a stopped runtime.
func requireBalanced(t *testing.T, rt *Runtime) {
	t.Helper()
	s := rt.Stats()
	require.Equal(t, s.Total.Submitted, s.Total.Resolved(), "accepted tokens must all be resolved: %+v", s.Total)
	require.Zero(t, s.Total.Queued)
	for i, e := range s.Executors {
		require.Equal(t, e.Submitted, e.Resolved(), "executor %d: %+v", i, e)
		require.LessOrEqual(t, e.Rerouted, e.Submitted, "executor %d moved tokens it never accepted: %+v", i, e)
	}
}

// must returns v, panicking on err: a failed setup step fails the test.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

type placement struct {
	mask    []int
	current int
	ok      bool
}

// TestAffinitySeenFromInsideToken: under Strict affinity each executor's
// thread is pinned to exactly its CPU, as seen from inside a token, Heavy
// tokens go round robin over every executor, and CurrentExecutor agrees with
// Token.Executor. It checks real pinning, so it runs only where pinning
// exists, on the machine's own CPUs.
func TestAffinitySeenFromInsideToken(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("thread affinity is only set on Linux")
	}
	rt := start(t, Config{Affinity: Strict, IdleSpin: -1}) // parked executors: placement follows the staggered counter
	where := must(Define(rt, "where", func(ctx context.Context, _ int) (placement, error) {
		mask, err := actors.ThreadCPUs()
		cur, ok := CurrentExecutor(ctx)
		return placement{mask, cur, ok}, err
	}))
	ctx := context.Background()
	execs := rt.Executors()
	seen := map[int]bool{}
	for i := range 20 * len(execs) {
		tok := requireOn(t, i%len(execs), must(where.Submit(ctx, i))) // Heavy round robin from executor 0
		p := must(tok.Wait(ctx))
		e := execs[tok.Executor()]
		require.True(t, e.Pinned, "executor %d not pinned: %v", e.Index, e.PinError)
		require.Equal(t, []int{e.CPU}, p.mask, "thread mask inside a token on executor %d", e.Index)
		require.True(t, p.ok)
		require.Equal(t, tok.Executor(), p.current, "CurrentExecutor disagrees with Token.Executor")
		seen[e.Index] = true
	}
	require.Len(t, seen, len(execs), "Heavy tokens should reach every executor")
}

// TestExecutorsMapToAllowedCPUs: the default runtime has one executor per
// allowed CPU (up to GOMAXPROCS), executor i on the i-th allowed CPU, with
// PID <Name>/exec/<i>.
func TestExecutorsMapToAllowedCPUs(t *testing.T) {
	allowed := must(actors.AllowedCPUs())
	rt := start(t, Config{})
	execs := rt.Executors()
	require.Len(t, execs, min(len(allowed), runtime.GOMAXPROCS(0)))
	for i, e := range execs {
		require.Equal(t, i, e.Index)
		require.Equal(t, allowed[i], e.CPU)
		require.Equal(t, fmt.Sprint("coregate/exec/", i), e.PID.ID)
	}
}

// TestCoresUnpinnedIgnoresGOMAXPROCS: with Affinity Off, Config.Cores
// executors run whatever GOMAXPROCS is, as they do on a machine with fewer
// allowed CPUs; pinned ones stay capped at GOMAXPROCS. (Under go test -cpu 1
// on a two-CPU machine, Cores 2 unpinned used to start one executor, unlike
// on a one-CPU machine.)
func TestCoresUnpinnedIgnoresGOMAXPROCS(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	off := start(t, Config{Cores: 2, Affinity: Off})
	require.Len(t, off.Executors(), 2)
	pinned := start(t, Config{Cores: min(2, len(must(actors.AllowedCPUs())))})
	require.Len(t, pinned.Executors(), 1, "pinned executors stay within GOMAXPROCS")
}

// TestStaggerSpreadsHeavyEvenlyAndKeepsFIFO submits Heavy tokens from one
// goroutine to a fresh runtime of four executors (unpinned, so it runs on any
// machine): token k goes to executor k mod 4, and each executor runs its share
// in submission order.
func TestStaggerSpreadsHeavyEvenlyAndKeepsFIFO(t *testing.T) {
	const n = 4
	rt := start(t, Config{Cores: n, Affinity: Off, IdleSpin: -1})
	var mu sync.Mutex
	ran := make([][]int, n)
	rec := must(Define(rt, "rec", func(ctx context.Context, seq int) (struct{}, error) {
		e, _ := CurrentExecutor(ctx)
		mu.Lock()
		ran[e] = append(ran[e], seq)
		mu.Unlock()
		return struct{}{}, nil
	}))
	ctx := context.Background()
	const total = 1000 // below the mailbox bound, so no mailbox is skipped as full
	toks := make([]*Token[struct{}], total)
	for i := range toks {
		toks[i] = requireOn(t, i%n, must(rec.Submit(ctx, i)))
	}
	for _, tok := range toks {
		must(tok.Wait(ctx))
	}
	for e, seqs := range ran {
		want := make([]int, 0, total/n)
		for seq := e; seq < total; seq += n {
			want = append(want, seq)
		}
		require.Equal(t, want, seqs, "executor %d's share, in order", e)
	}
}

func TestWeightClassesOnThisMachine(t *testing.T) {
	rt := start(t, Config{})
	n := len(rt.Executors())
	ctx := context.Background()
	for _, w := range []Weight{Heavy, Medium, Light} {
		op := must(Define(rt, "op-"+w.String(), func(ctx context.Context, _ int) (int, error) {
			e, _ := CurrentExecutor(ctx)
			return e, nil
		}, WithWeight(w)))
		for i := range 10 {
			tok := must(op.Submit(ctx, i))
			e := must(tok.Wait(ctx))
			require.GreaterOrEqual(t, e, min(int(w), n-1), "%v token ran on executor %d", w, e)
		}
	}
}

func TestPanicFailsOnlyItsToken(t *testing.T) {
	rt := start(t, Config{Cores: 1})
	op := must(Define(rt, "maybe-panic", func(_ context.Context, x int) (int, error) {
		if x == 2 {
			panic("boom")
		}
		return x, nil
	}))
	ctx := context.Background()
	var toks []*Token[int]
	for i := range 5 {
		toks = append(toks, must(op.Submit(ctx, i)))
	}
	for i, tok := range toks {
		v, err := tok.Wait(ctx)
		if i != 2 {
			require.NoError(t, err)
			require.Equal(t, i, v)
			continue
		}
		var pe *PanicError
		require.ErrorAs(t, err, &pe)
		require.Equal(t, "boom", pe.Value)
		require.Contains(t, string(pe.Stack), "coregate_test.go")
	}
	require.NoError(t, rt.Stop(ctx))
	s := rt.Stats().Total
	require.Equal(t, uint64(1), s.Panicked)
	require.Equal(t, uint64(4), s.Succeeded)
}

// TestNestedWaitOnOneExecutor: with one executor every child is queued behind
// its waiting parent, so only help-while-waiting lets it finish.
func TestNestedWaitOnOneExecutor(t *testing.T) {
	rt := start(t, Config{Cores: 1})
	var fib *Op[int, int]
	fib = must(Define(rt, "fib", func(ctx context.Context, n int) (int, error) {
		if n < 2 {
			return n, nil
		}
		a, err := fib.Submit(ctx, n-1)
		if err != nil {
			return 0, err
		}
		b, err := fib.Submit(ctx, n-2)
		if err != nil {
			return 0, err
		}
		x, err := a.Wait(ctx)
		if err != nil {
			return 0, err
		}
		// A background context still gets help: the waiter is found by goroutine.
		y, err := b.Wait(context.Background())
		return x + y, err
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok := must(fib.Submit(ctx, 12))
	require.Equal(t, 144, must(tok.Wait(ctx)))
}

func TestCancel(t *testing.T) {
	rt := start(t, Config{Cores: 1})
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	block := must(Define(rt, "block", func(ctx context.Context, _ int) (int, error) {
		started <- struct{}{}
		select {
		case <-release:
			return 1, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}))
	ctx := context.Background()
	running := must(block.Submit(ctx, 0))
	<-started
	queued := must(block.Submit(ctx, 1))
	require.True(t, queued.Cancel(), "a queued token is resolved by Cancel")
	_, err := queued.Wait(ctx)
	require.ErrorIs(t, err, ErrCancelled)
	require.False(t, running.Cancel(), "a running token resolves when its handler returns")
	_, err = running.Wait(ctx)
	require.ErrorIs(t, err, context.Canceled)
	require.NoError(t, rt.Stop(ctx))
	require.Equal(t, uint64(2), rt.Stats().Total.Cancelled)
	close(release)
}

func TestSubmitterContextEndsBeforeRun(t *testing.T) {
	rt := start(t, Config{Cores: 1})
	release := make(chan struct{})
	block := must(Define(rt, "block", func(context.Context, int) (int, error) {
		<-release
		return 0, nil
	}))
	ran := false
	mark := must(Define(rt, "mark", func(context.Context, int) (int, error) {
		ran = true
		return 0, nil
	}))
	bg := context.Background()
	first := must(block.Submit(bg, 0))
	ctx, cancel := context.WithCancel(bg)
	tok := must(mark.Submit(ctx, 0))
	cancel()
	close(release)
	must(first.Wait(bg))
	_, err := tok.Wait(bg)
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, ran, "a token whose submitter's context ended must not run")
}

func TestGoexitResolvesTokenAndExecutorGoesOn(t *testing.T) {
	rt := start(t, Config{Cores: 1})
	gate := make(chan struct{})
	op := must(Define(rt, "exit", func(_ context.Context, x int) (int, error) {
		switch x {
		case 0:
			<-gate // until every token is queued: the Goexit leaves 2 and 3 behind it
		case 1:
			runtime.Goexit()
		}
		return x, nil
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var toks []*Token[int]
	for i := range 4 {
		toks = append(toks, must(op.Submit(ctx, i)))
	}
	close(gate)
	for i, tok := range toks {
		v, err := tok.Wait(ctx)
		if i == 1 {
			require.ErrorIs(t, err, ErrGoexit)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, i, v)
	}
}

// TestStopUnderLoad stops a busy runtime whose mailboxes are full and whose
// submitters wait for room, with a deadline that passes while tokens are
// queued: on the fake clock the numbers are exact. The submitters get
// ErrStopped, the queued tokens resolve with ErrStopped, the running handler
// that honours its context is cancelled, the one that ignores it is reported
// still running, by op, and Stop returns at its deadline plus the grace.
// Every token resolves, and the counts add up once the stuck handler returns.
func TestStopUnderLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const mailbox = 4
		rt, err := Start(Config{Cores: 2, Affinity: Off, MailboxSize: mailbox, StallAfter: -1, IdleSpin: -1})
		require.NoError(t, err)
		bg := context.Background()
		gate := make(chan struct{}) // each send lets one running work handler succeed
		work := must(Define(rt, "work", func(ctx context.Context, x int) (int, error) {
			select {
			case <-gate:
				return x, nil
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		}))
		unstick := make(chan struct{})
		stuck := must(Define(rt, "stuck", func(context.Context, int) (int, error) {
			<-unstick // ignores its context: Stop cannot cut it short
			return 0, nil
		}))

		var mu sync.Mutex
		var toks []*Token[int]
		// Two tokens succeed first (Heavy positions 0 and 1), then the
		// executors go idle: nothing held against the bounds is left.
		const succeeded = 2
		for i := range succeeded {
			tok := requireOn(t, i, must(work.Submit(bg, i)))
			gate <- struct{}{}
			require.Equal(t, i, must(tok.Wait(bg)))
			toks = append(toks, tok)
		}
		synctest.Wait()
		// Executor 0 runs a handler that ignores its context (Heavy position
		// 2); four submitters fill both mailboxes, executor 1 starts one
		// work token, and they wait for room.
		stuckTok := requireOn(t, 0, must(stuck.Submit(bg, 0)))
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for i := 0; ; i++ {
					tok, err := work.Submit(bg, 1000*(g+1)+i)
					if err != nil {
						assert.ErrorIs(t, err, ErrStopped)
						return
					}
					mu.Lock()
					toks = append(toks, tok)
					mu.Unlock()
				}
			})
		}
		synctest.Wait()
		// Each executor holds mailbox tokens: its running one and the queued.
		const queued = 2 * (mailbox - 1)
		mu.Lock()
		require.Len(t, toks, succeeded+1+queued, "work tokens accepted")
		mu.Unlock()

		const deadline = time.Second
		ctx, cancel := context.WithTimeout(bg, deadline)
		defer cancel()
		stopAt := time.Now()
		stopErr := rt.Stop(ctx)
		require.Equal(t, deadline+supervisor.DefaultGrace, time.Since(stopAt), "Stop waits out its deadline, then the grace")
		wg.Wait()
		var se *supervisor.StopError
		require.ErrorAs(t, stopErr, &se)
		require.ErrorIs(t, stopErr, context.DeadlineExceeded)
		require.EqualError(t, stopErr, fmt.Sprintf("coregate: stop: context deadline exceeded before the runtime drained; "+
			"%d queued tokens resolved with ErrStopped; 1 running handlers cancelled (returned within the grace); "+
			"1 handlers still running, their contexts cancelled (\"stuck\" x1)", queued))
		require.Equal(t, 1, se.Cancelled, "the work handler running on executor 1 honoured its cancelled context")

		var ok, stopped, cancelled int
		for _, tok := range toks {
			select {
			case <-tok.Done():
			default:
				t.Fatalf("token %d unresolved after Stop", tok.ID())
			}
			_, err := tok.Wait(bg)
			switch {
			case err == nil:
				ok++
			case errors.Is(err, ErrStopped):
				stopped++
			case errors.Is(err, context.Canceled):
				cancelled++
			default:
				t.Fatalf("token %d: unexpected error %v", tok.ID(), err)
			}
		}
		require.Equal(t, []int{succeeded, queued, 1}, []int{ok, stopped, cancelled}, "work tokens succeeded, stopped, cancelled")
		select {
		case <-stuckTok.Done():
			t.Fatal("the stuck token resolved while its handler runs")
		default:
		}
		s := rt.Stats().Total
		require.Equal(t, uint64(len(toks)+1), s.Submitted)
		require.Equal(t, uint64(succeeded), s.Succeeded)
		require.Equal(t, uint64(queued), s.Stopped)
		require.Equal(t, uint64(1), s.Cancelled)

		close(unstick)
		_, err = stuckTok.Wait(bg)
		require.NoError(t, err, "a handler that outlived Stop resolves its token with what it returns")
		require.Equal(t, uint64(succeeded+1), rt.Stats().Total.Succeeded)
		requireBalanced(t, rt)
		_, err = work.Submit(bg, 0)
		require.ErrorIs(t, err, ErrStopped)
	})
}

func TestStopDrainsAndIsIdempotent(t *testing.T) {
	rt, err := Start(Config{})
	require.NoError(t, err)
	op := must(Define(rt, "op", func(_ context.Context, x int) (int, error) { return x, nil }))
	bg := context.Background()
	var toks []*Token[int]
	for i := range 2000 {
		toks = append(toks, must(op.Submit(bg, i)))
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = rt.Stop(bg) }()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	require.NoError(t, rt.Stop(bg), "a second Stop returns the first one's result")
	for i, tok := range toks {
		require.Equal(t, i, must(tok.Wait(bg)), "drained tokens succeed")
	}
	require.Equal(t, uint64(2000), rt.Stats().Total.Succeeded)
	requireBalanced(t, rt)
}

// above32 is 1<<31: past what a 32-bit field holds. (On a 32-bit platform,
// where no int is, it wraps to a negative count, bad input all the same.)
var above32 = int(above32Wide)

var above32Wide int64 = math.MaxInt32 + 1

func TestBadInput(t *testing.T) {
	allowed := must(actors.AllowedCPUs())
	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{Config{Cores: -1}, "Config.Cores is -1"},
		{Config{Cores: len(allowed) + 1}, "CPUs are allowed: ["},
		// A cell's state word holds its executor's index in 24 bits.
		{Config{Cores: actors.MaxExecutors + 1, Affinity: Off}, "Config.Cores is 16777217, at most 16777216"},
		// Found by review: pinned, the allowed CPUs are the bound, not the
		// 16 Mi of Affinity Off; and a bad Affinity was reported as Cores
		// above the CPUs that "Affinity Off allows more" of.
		{Config{Cores: actors.MaxExecutors + 1}, fmt.Sprintf("Config.Cores is 16777217 but only %d CPUs are allowed", len(allowed))},
		{Config{Cores: len(allowed) + 1, Affinity: Affinity(9)}, "Config.Affinity is Affinity(9)"},
		{Config{MailboxSize: -5}, "Config.MailboxSize is -5"},
		// Found by trying: this once died of "out of memory" in Start.
		{Config{MailboxSize: 1 << 30}, "Config.MailboxSize is 1073741824, must be 0 (default) to 16777216"},
		{Config{MaxBlocked: -1}, "Config.MaxBlocked is -1"},
		// Found by review: the group keeps it in 32 bits, so math.MaxInt
		// (meant as "no bound") silently became the default, 1,000.
		{Config{MaxBlocked: above32}, fmt.Sprintf("Config.MaxBlocked is %d, must be 0 (default) to 2147483647", above32)},
		{Config{IdleSpin: MaxIdleSpin + 1}, "Config.IdleSpin is 10.000001ms"},
		{Config{Spinners: -1}, "Config.Spinners is -1"},
		{Config{Restart: RestartPolicy{Cooldown: -time.Second}}, "restart policy Cooldown is -1s"},
		{Config{Restart: RestartPolicy{Backoff: -time.Millisecond}}, "restart policy Backoff is -1ms"},
		{Config{Affinity: Affinity(9)}, "Config.Affinity"},
		// Found by review: runtimes "a" and "a/actor/b" on one engine gave
		// one PID to two actors (a's "b/actor/c", a/actor/b's "c"), and a
		// peer's message to it after a Stop was answered by map order.
		{Config{Name: "a/actor/b"}, `Config.Name "a/actor/b" has a '/'`},
		{Config{Name: "a\xffb"}, `Config.Name "a\xffb" is not valid UTF-8`}, // see TestNamesAreUTF8
	} {
		_, err := Start(tt.cfg)
		require.ErrorContains(t, err, tt.want)
	}

	rt := start(t, Config{})
	id := func(_ context.Context, x int) (int, error) { return x, nil }
	_, err := Define(rt, "", id)
	require.ErrorContains(t, err, "name is empty")
	_, err = Define(rt, "a\xffb", id) // see TestNamesAreUTF8
	require.ErrorContains(t, err, `op name "a\xffb" is not valid UTF-8`)
	_, err = Define[int, int](rt, "nil", nil)
	require.ErrorContains(t, err, "nil function")
	_, err = Define(rt, "weird", id, WithWeight(Weight(7)))
	require.ErrorContains(t, err, "unknown weight")
	_, err = Define[int, int](nil, "x", id)
	require.ErrorContains(t, err, "nil *Runtime")
	op := must(Define(rt, "id", id))
	_, err = Define(rt, "id", id)
	require.ErrorContains(t, err, `"id" is already defined`)
	require.ErrorIs(t, err, ErrNameTaken)

	//lint:ignore SA1012 a nil context is the bad input under test
	_, err = op.Submit(nil, 1) //nolint:staticcheck
	require.ErrorIs(t, err, ErrNilContext)
	var nilTok *Token[int]
	_, err = nilTok.Wait(context.Background())
	require.ErrorIs(t, err, ErrNilToken)
	require.Equal(t, -1, nilTok.Executor())
	tok := must(op.Submit(context.Background(), 1))
	_, err = tok.Wait(nil) //nolint:staticcheck
	require.ErrorIs(t, err, ErrNilContext)
	require.ErrorIs(t, rt.Stop(nil), ErrNilContext) //nolint:staticcheck

	stopper := must(Define(rt, "stopper", func(ctx context.Context, _ int) (int, error) {
		return 0, rt.Stop(ctx)
	}))
	_, err = must(stopper.Submit(context.Background(), 0)).Wait(context.Background())
	require.ErrorIs(t, err, ErrStopFromHandler)

	require.NoError(t, rt.Stop(context.Background()))
	_, err = op.Submit(context.Background(), 1)
	require.ErrorIs(t, err, ErrStopped)
	_, err = Define(rt, "late", id)
	require.ErrorIs(t, err, ErrStopped)
}

// defineErr defines an op named name on rt, with argument type A and opts, and
// returns Define's error.
func defineErr[A any](rt *Runtime, name string, opts ...Option) error {
	_, err := Define(rt, name, func(_ context.Context, a A) (A, error) { return a, nil }, opts...)
	return err
}

// TestDefineBadOptions: odd options and argument types make Define return an
// error, never panic, and the error names what is wrong once.
func TestDefineBadOptions(t *testing.T) {
	rt := start(t, Config{})
	type withMap struct {
		Name string
		Tags map[string]int
	}
	type nested struct {
		ID  int
		Arr [2]struct{ P *int }
	}
	var nilKey func(int) uint64
	const hint = "; use a key function instead"
	for _, tt := range []struct {
		name   string
		define func() error
		want   string
	}{
		{"nil option", func() error { return defineErr[int](rt, "x", nil) },
			`coregate: op "x": option 1 is nil`},
		{"nil option after a good one", func() error { return defineErr[int](rt, "x", WithSticky(), Option(nil)) },
			`coregate: op "x": option 2 is nil`},
		{"nil key function", func() error { return defineErr[int](rt, "x", WithStickyKey[int](nil)) },
			`coregate: op "x": WithStickyKey got a nil key function`},
		{"nil key function variable", func() error { return defineErr[int](rt, "x", WithStickyKey(nilKey)) },
			`coregate: op "x": WithStickyKey got a nil key function`},
		{"key function of another type", func() error { return defineErr[string](rt, "x", WithStickyKey(nilKey)) },
			`coregate: op "x": WithStickyKey got a func(int) uint64, want a func(string) uint64`},
		{"sticky map", func() error { return defineErr[map[string]int](rt, "x", WithSticky()) },
			`coregate: op "x": WithSticky: anchor: map[string]int has no canonical encoding (maps have no order)` + hint},
		{"sticky int slice", func() error { return defineErr[[]int](rt, "x", WithSticky()) },
			`coregate: op "x": WithSticky: anchor: []int has no canonical encoding (only byte slices encode)` + hint},
		{"sticky pointer", func() error { return defineErr[*int](rt, "x", WithSticky()) },
			`coregate: op "x": WithSticky: anchor: *int has no canonical encoding (a pointer is an address, not a value)` + hint},
		{"sticky interface", func() error { return defineErr[any](rt, "x", WithSticky()) },
			`coregate: op "x": WithSticky: anchor: interface {} has no canonical encoding (an interface may hold any type)` + hint},
		{"sticky struct with a map field", func() error { return defineErr[withMap](rt, "x", WithSticky()) },
			`coregate: op "x": WithSticky: anchor: field Tags of coregate.withMap is map[string]int, which has no canonical encoding (maps have no order)` + hint},
		{"sticky nested pointer field", func() error { return defineErr[nested](rt, "x", WithSticky()) },
			`coregate: op "x": WithSticky: anchor: field Arr[0].P of coregate.nested is *int, which has no canonical encoding (a pointer is an address, not a value)` + hint},
		{"sticky array of channels", func() error { return defineErr[[2]chan int](rt, "x", WithSticky()) },
			`coregate: op "x": WithSticky: anchor: element [0] of [2]chan int is chan int, which has no canonical encoding (channels have no value to encode)` + hint},
		{"sticky huge array", func() error { return defineErr[[1 << 20]byte](rt, "x", WithSticky()) },
			`coregate: op "x": WithSticky: anchor: [1048576]uint8 is too large to encode (more than 65536 fields and elements)` + hint},
		{"weight -1", func() error { return defineErr[int](rt, "x", WithWeight(Weight(-1))) },
			`coregate: op "x" has unknown weight Weight(-1) (want Heavy, Medium or Light)`},
		{"weight 99", func() error { return defineErr[int](rt, "x", WithWeight(Weight(99))) },
			`coregate: op "x" has unknown weight Weight(99) (want Heavy, Medium or Light)`},
		{"negative retries", func() error { return defineErr[int](rt, "x", WithRetry(math.MinInt, 0)) },
			fmt.Sprintf(`coregate: op "x": WithRetry(%d, 0s): retries and backoff must not be negative`, math.MinInt)},
		{"negative backoff", func() error { return defineErr[int](rt, "x", WithRetry(1, math.MinInt64)) },
			`coregate: op "x": WithRetry(1, -2562047h47m16.854775808s): retries and backoff must not be negative`},
		{"empty call name", func() error { return defineErr[int](rt, "x", WithAnchor("ok", "")) },
			`coregate: op "x": WithAnchor has an empty call name`},
		{"zero Runtime", func() error { return defineErr[int](&Runtime{}, "x") },
			`coregate: Define on a Runtime not made by Start`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			require.NotPanics(t, func() { err = tt.define() })
			require.EqualError(t, err, tt.want)
		})
	}

	// Extremes that are valid: Define accepts them.
	require.NoError(t, defineErr[int](rt, "retry max", WithRetry(math.MaxInt, math.MaxInt64)))
	require.NoError(t, defineErr[int](rt, "lead without calls", WithWeight(Light), WithAnchor()))
	require.NoError(t, defineErr[int](rt, "both sticky", WithSticky(), WithStickyKey(func(int) uint64 { return 0 })))
	require.NoError(t, defineErr[struct{}](rt, "sticky empty struct", WithSticky()))
	require.NoError(t, defineErr[[0]map[int]int](rt, "sticky empty array", WithSticky()))
	require.NoError(t, defineErr[[math.MaxInt / 2]struct{}](rt, "sticky huge empty array", WithSticky()))
	// The failures above registered nothing.
	require.NoError(t, defineErr[int](rt, "x"))
}

func TestTwoRuntimesOnOneEngineNeedNames(t *testing.T) {
	engine := must(actor.NewEngine(actor.NewEngineConfig()))
	start(t, Config{Engine: engine, Cores: 1})
	_, err := Start(Config{Engine: engine, Cores: 1})
	require.ErrorContains(t, err, "already registered")
	rt2 := start(t, Config{Engine: engine, Cores: 1, Name: "second"})
	require.True(t, strings.HasPrefix(rt2.Executors()[0].PID.ID, "second/exec/"))
}

func TestNonTokenMessageIsDeadLetter(t *testing.T) {
	rt := start(t, Config{Cores: 1})
	events, stop := testkit.Subscribe(rt.Engine(), testkit.Is[actor.DeadLetterEvent])
	defer stop()
	for _, pid := range []*actor.PID{rt.Executors()[0].PID, rt.RouterPID()} {
		rt.Engine().Send(pid, "hello")
		select {
		case ev := <-events:
			dl := ev.(actor.DeadLetterEvent)
			require.Equal(t, "hello", dl.Message)
			require.True(t, dl.Target.Equals(pid))
		case <-time.After(10 * time.Second):
			t.Fatalf("no dead letter from %v", pid)
		}
	}
}

// TestSubmitAllocatesOnlyTheToken checks the amortized allocation budget of a
// submit, run and wait: the token itself and nothing else.
func TestSubmitAllocatesOnlyTheToken(t *testing.T) {
	rt := start(t, Config{})
	op := must(Define(rt, "id", func(_ context.Context, x int) (int, error) { return x, nil }))
	ctx := context.Background()
	const batch = 256
	toks := make([]*Token[int], batch)
	var err error
	allocs := testing.AllocsPerRun(50, func() {
		for i := range toks {
			if toks[i], err = op.Submit(ctx, i); err != nil {
				t.Fatal(err) // a refused Submit allocates nothing: it must not count
			}
		}
		for i, tok := range toks {
			if v, err := tok.Wait(ctx); err != nil || v != i {
				t.Fatalf("token %d: %d, %v", i, v, err)
			}
		}
	})
	// A Wait that blocks allocates its wake-up channel; allow that for a few
	// tokens per batch, never a second allocation per token.
	require.LessOrEqual(t, allocs/batch, 1.1, "allocations per token")
}

// TestHandlerContext: values come from the submitter's context, and Done closes
// once the handler has returned, so contexts derived from it do not outlive it.
func TestHandlerContext(t *testing.T) {
	rt := start(t, Config{Cores: 1})
	type key struct{}
	var kept context.Context
	op := must(Define(rt, "ctx", func(ctx context.Context, _ int) (string, error) {
		kept = ctx
		select {
		case <-ctx.Done():
			return "", errors.New("done before the handler returned")
		default:
		}
		v, _ := ctx.Value(key{}).(string)
		return v, ctx.Err()
	}))
	ctx := context.WithValue(context.Background(), key{}, "carried")
	require.Equal(t, "carried", must(must(op.Submit(ctx, 0)).Wait(ctx)))
	select {
	case <-kept.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("handler context still open after the handler returned")
	}
	require.ErrorIs(t, kept.Err(), context.Canceled)
}

// TestHandlerSubmitsPastFullMailbox: a handler submitting onto its own full
// executor (here the only one) queues past the bound instead of waiting for
// room only it could make.
func TestHandlerSubmitsPastFullMailbox(t *testing.T) {
	rt := start(t, Config{Cores: 1, MailboxSize: 2})
	child := must(Define(rt, "child", func(_ context.Context, x int) (int, error) { return x, nil }))
	parent := must(Define(rt, "parent", func(ctx context.Context, n int) (int, error) {
		var toks []*Token[int]
		for i := range n {
			tok, err := child.Submit(ctx, i)
			if err != nil {
				return 0, err
			}
			toks = append(toks, tok)
		}
		sum := 0
		for _, tok := range toks {
			v, err := tok.Wait(ctx)
			if err != nil {
				return 0, err
			}
			sum += v
		}
		return sum, nil
	}))
	bg := context.Background()
	require.Equal(t, 45, must(must(parent.Submit(bg, 10)).Wait(bg)))
}

// blockOne leaves a handler of rt blocked in Wait (on a token of a paused
// op) until release is called: on a runtime with MaxBlocked 1, the next
// handler's wait is refused with ErrTooManyBlocked.
func blockOne(t *testing.T, rt *Runtime) (release func()) {
	t.Helper()
	ctx := context.Background()
	held := must(Define(rt, "held", where[int]))
	held.Pause()
	heldTok := must(held.Submit(ctx, 0))
	blocked := make(chan struct{})
	waiter := must(Define(rt, "waiter", func(ctx context.Context, _ int) (int, error) {
		close(blocked)
		return heldTok.Wait(ctx) // blocks: the one handler MaxBlocked allows
	}))
	waiterTok := must(waiter.Submit(ctx, 0))
	<-blocked
	return func() {
		held.Resume()
		must(waiterTok.Wait(ctx))
	}
}

// TestPlainTokenIsSmall guards the size of what Submit allocates for a
// plain token of an int op: 96 B, a size class below the 128 it took when a
// token carried its hook, error and watch itself. Every token of a burst is
// held at once, so its size is the burst's fresh memory (see README,
// "A burst pays for fresh memory").
func TestPlainTokenIsSmall(t *testing.T) {
	require.LessOrEqual(t, unsafe.Sizeof(job[int, int]{}), uintptr(96), "job[int, int]")
	require.LessOrEqual(t, unsafe.Sizeof(Token[int]{}), uintptr(80), "an Ask's Token[int]")
}
