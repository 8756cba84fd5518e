package coregate_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/anthdm/hollywood/remote"
	"github.com/coregate/coregate"
	"github.com/coregate/coregate/wire"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// An op runs by name from a message to the runtime's ops process: here a
// typed Request from local code; a hollywood actor or a remote engine sends
// the same (a *wire.Call across processes).
func ExampleCall() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rt, _ := coregate.Start(coregate.Config{Cores: 1})
	defer rt.Stop(ctx)
	_, _ = coregate.Define(rt, "square", func(_ context.Context, x int) (int, error) { return x * x, nil })

	v, err := coregate.Request[int](ctx, rt.Engine(), rt.OpsPID(), coregate.Call{Op: "square", Arg: 7})
	fmt.Println(v, err)

	_, err = coregate.Request[int](ctx, rt.Engine(), rt.OpsPID(), coregate.Call{Op: "square", Arg: "7"})
	fmt.Println(errors.Is(err, coregate.ErrBadArgument), err)
	_, err = coregate.Request[int](ctx, rt.Engine(), rt.OpsPID(), coregate.Call{Op: "cube", Arg: 7})
	fmt.Println(errors.Is(err, coregate.ErrUnknownOp), err)
	// Output:
	// 49 <nil>
	// true coregate: bad argument: op "square" takes int, not string
	// true coregate: no op named "cube" on runtime "coregate"
}

// A runtime on an engine with hollywood's remote, and a call of one of its
// ops from another engine (in real use, another process). Across processes
// arguments and results are protobuf messages; errors arrive as *wire.Error.
func ExampleRemote() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r := remote.New("127.0.0.1:4000", remote.NewConfig())
	e, err := actor.NewEngine(actor.NewEngineConfig().WithRemote(coregate.Remote(r)))
	if err != nil {
		panic(err)
	}
	defer func() { r.Stop().Wait() }() // in a closure: a deferred r.Stop() would run now
	rt, _ := coregate.Start(coregate.Config{Engine: e})
	defer rt.Stop(ctx)
	_, _ = coregate.Define(rt, "double", func(_ context.Context, v *wrapperspb.Int64Value) (*wrapperspb.Int64Value, error) {
		return wrapperspb.Int64(2 * v.GetValue()), nil
	})

	// The other side: its own engine and address.
	r2 := remote.New("127.0.0.1:4001", remote.NewConfig())
	e2, err := actor.NewEngine(actor.NewEngineConfig().WithRemote(coregate.Remote(r2)))
	if err != nil {
		panic(err)
	}
	defer func() { r2.Stop().Wait() }()
	call, _ := wire.NewCall("double", wrapperspb.Int64(21), time.Second)
	v, err := coregate.Request[*wrapperspb.Int64Value](ctx, e2, actor.NewPID("127.0.0.1:4000", "coregate/ops"), call)
	fmt.Println(v.GetValue(), err) // 42 <nil>
}
