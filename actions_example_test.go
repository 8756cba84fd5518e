package coregate_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/coregate/coregate"
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
