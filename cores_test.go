package coregate

import (
	"context"
	"testing"

	"github.com/coregate/coregate/actors"
	"github.com/stretchr/testify/require"
)

// TestOnExecutorPinsAnOp: every token of an op defined OnExecutor(i) runs
// on executor i, whatever its weight, and bad combinations are errors.
func TestOnExecutorPinsAnOp(t *testing.T) {
	rt := start(t, Config{Cores: 3, Affinity: Off, IdleSpin: -1})
	ctx := context.Background()
	op := must(Define(rt, "pinned", where[int], OnExecutor(0), WithWeight(Light)))
	for i := range 9 {
		tok := must(op.Submit(ctx, i))
		require.Equal(t, 0, must(tok.Wait(ctx)))
		require.Equal(t, 0, tok.Executor())
	}
	tok := must(op.SubmitFirst(ctx, 0))
	require.Equal(t, 0, must(tok.Wait(ctx)))
	for _, tt := range []struct {
		opts []Option
		want string
	}{
		{[]Option{OnExecutor(3)}, "OnExecutor(3) is out of range: the runtime has 3 executors"},
		{[]Option{OnExecutor(-1)}, "OnExecutor(-1) is out of range"},
		{[]Option{OnExecutor(0), WithBlocking()}, "does not combine"},
		{[]Option{OnExecutor(0), WithSticky()}, "does not combine"},
	} {
		_, err := Define(rt, "bad", where[int], tt.opts...)
		require.ErrorContains(t, err, tt.want)
	}
}

// TestConfigCPUs: Config.CPUs puts executor i on CPUs[i]; a CPU outside
// the allowed set is an error naming the allowed ones.
func TestConfigCPUs(t *testing.T) {
	allowed := must(actors.AllowedCPUs())
	last := allowed[len(allowed)-1]
	rt := start(t, Config{CPUs: []int{last}})
	infos := rt.Executors()
	require.Len(t, infos, 1)
	require.Equal(t, last, infos[0].CPU)

	if len(allowed) >= 2 { // two runtimes kept apart, each pinned to its own CPU
		a := start(t, Config{CPUs: []int{allowed[0]}, Affinity: Strict})
		b := start(t, Config{CPUs: []int{allowed[1]}, Affinity: Strict})
		require.Equal(t, allowed[0], a.Executors()[0].CPU)
		require.Equal(t, allowed[1], b.Executors()[0].CPU)
		require.True(t, a.Executors()[0].Pinned)
		require.True(t, b.Executors()[0].Pinned)
	}

	_, err := Start(Config{CPUs: []int{1 << 20}})
	require.ErrorContains(t, err, "CPU 1048576, which is not allowed")
	require.ErrorContains(t, err, "allowed CPUs are")
	_, err = Start(Config{CPUs: []int{last, last}})
	require.ErrorContains(t, err, "twice")
	_, err = Start(Config{CPUs: []int{}})
	require.ErrorContains(t, err, "empty")
	_, err = Start(Config{CPUs: []int{last}, Cores: 2})
	require.ErrorContains(t, err, "Config.Cores is 2 but Config.CPUs names 1")
}
