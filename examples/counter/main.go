// Command counter runs user actors on coregate: a counter per account,
// spread over the cores, driven by Tell and Ask from many goroutines, one of
// them crashing and restarting from its factory with its mailbox kept.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"sync"

	"github.com/coregate/coregate"
)

// account is an actor: its value is its state, and Receive sees one message
// at a time, so it needs no lock.
type account struct{ balance int }

func (a *account) Receive(c *coregate.ActorContext, amount int) (int, error) {
	if amount == 0 {
		panic("a zero deposit is a bug") // fails this message; the actor restarts
	}
	a.balance += amount
	return a.balance, nil
}

func main() {
	if err := run(os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run is the program, writing to w; its test runs it.
func run(w io.Writer) (err error) {
	ctx := context.Background()
	rt, err := coregate.Start(coregate.Config{})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, rt.Stop(ctx)) }()

	var refs []*coregate.Ref[int, int]
	for i := range 4 {
		ref, err := coregate.Spawn(rt, fmt.Sprint("account-", i), func() coregate.Actor[int, int] { return &account{} })
		if err != nil {
			return err
		}
		refs = append(refs, ref)
	}

	// 8 goroutines deposit 1 into every account 1,000 times each.
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for g := range errs {
		wg.Go(func() {
			for range 1000 {
				for _, ref := range refs {
					if errs[g] = ref.Tell(ctx, 1); errs[g] != nil {
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, ref := range refs {
		tok, err := ref.Ask(ctx, 1) // queued behind every Tell above
		if err != nil {
			return err
		}
		balance, err := tok.Wait(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s on executor %d: balance %d\n", ref.PID(), ref.Executor(), balance)
	}

	// A panic fails its message and restarts the actor from its factory: the
	// state is new, the messages queued behind it are kept.
	bad, err := refs[0].Ask(ctx, 0)
	if err != nil {
		return err
	}
	after, err := refs[0].Ask(ctx, 5)
	if err != nil {
		return err
	}
	_, err = bad.Wait(ctx)
	var pe *coregate.PanicError
	fmt.Fprintln(w, "zero deposit:", errors.As(err, &pe))
	balance, err := after.Wait(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "after the restart:", balance)
	return nil
}
