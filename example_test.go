package coregate_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/coregate/coregate"
)

func Example() {
	ctx := context.Background()
	rt, err := coregate.Start(coregate.Config{})
	if err != nil {
		panic(err)
	}
	square, err := coregate.Define(rt, "square", func(ctx context.Context, x int) (int, error) {
		return x * x, nil
	})
	if err != nil {
		panic(err)
	}
	tok, err := square.Submit(ctx, 7)
	if err != nil {
		panic(err)
	}
	v, err := tok.Wait(ctx)
	fmt.Println(v, err)

	_ = rt.Stop(ctx)
	_, err = square.Submit(ctx, 8)
	fmt.Println(errors.Is(err, coregate.ErrStopped))
	// Output:
	// 49 <nil>
	// true
}

func ExamplePanicError() {
	ctx := context.Background()
	rt, _ := coregate.Start(coregate.Config{Cores: 1})
	defer rt.Stop(ctx)
	boom, _ := coregate.Define(rt, "boom", func(ctx context.Context, _ struct{}) (int, error) {
		panic("out of cheese")
	})
	tok, _ := boom.Submit(ctx, struct{}{})
	_, err := tok.Wait(ctx)
	var pe *coregate.PanicError
	fmt.Println(errors.As(err, &pe), pe.Value)
	// Output: true out of cheese
}

func ExampleWithRetry() {
	ctx := context.Background()
	rt, _ := coregate.Start(coregate.Config{Cores: 1})
	defer rt.Stop(ctx)
	attempts := 0
	flaky, _ := coregate.Define(rt, "flaky", func(ctx context.Context, _ struct{}) (string, error) {
		attempts++ // tokens of one executor run one at a time
		if attempts < 3 {
			return "", errors.New("try again")
		}
		return "done", nil
	}, coregate.WithRetry(5, 0))
	tok, _ := flaky.Submit(ctx, struct{}{})
	v, err := tok.Wait(ctx)
	fmt.Println(v, err, attempts)
	// Output: done <nil> 3
}

// tally is an actor: its value is its state.
type tally struct{ n int }

func (t *tally) Receive(_ *coregate.ActorContext, add int) (int, error) {
	t.n += add
	return t.n, nil
}

// A counter actor: Tell to change it, Ask to read it, one message at a time.
func ExampleSpawn() {
	ctx := context.Background()
	rt, _ := coregate.Start(coregate.Config{})
	defer rt.Stop(ctx)

	ref, _ := coregate.Spawn(rt, "tally", func() coregate.Actor[int, int] { return &tally{} })
	for range 10 {
		ref.Tell(ctx, 1)
	}
	tok, _ := ref.Ask(ctx, 0)
	n, _ := tok.Wait(ctx)
	fmt.Println(n)
	// Output: 10
}

// greeter is an actor with a Stopped method, which runs once when it stops.
type greeter struct{ greeted int }

func (g *greeter) Receive(_ *coregate.ActorContext, name string) (string, error) {
	g.greeted++
	return "hello " + name, nil
}

func (g *greeter) Stopped(*coregate.ActorContext) {
	fmt.Println("stopped after", g.greeted, "greetings")
}

// Ref.Stop handles the messages already queued, runs Stopped once, and
// refuses what comes after with ErrActorStopped.
func ExampleRef_Stop() {
	ctx := context.Background()
	rt, _ := coregate.Start(coregate.Config{})
	defer rt.Stop(ctx)

	ref, _ := coregate.Spawn(rt, "greeter", func() coregate.Actor[string, string] { return &greeter{} })
	tok, _ := ref.Ask(ctx, "ada")
	ref.Tell(ctx, "grace")
	if err := ref.Stop(ctx); err != nil {
		panic(err)
	}
	fmt.Println(tok.Wait(ctx))
	fmt.Println(errors.Is(ref.Tell(ctx, "linus"), coregate.ErrActorStopped))
	// Output:
	// stopped after 2 greetings
	// hello ada <nil>
	// true
}
