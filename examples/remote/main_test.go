package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate"
	"github.com/coregate/coregate/examples/remote/bankpb"
	"github.com/coregate/coregate/wire"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// TestMain is the peer too: startPeer runs the test binary again with
// peerEnv set, as main does with the program's own binary.
func TestMain(m *testing.M) {
	if addr := os.Getenv(peerEnv); addr != "" {
		if err := runPeer(addr, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// TestRun runs the program: a real peer process on loopback, the answers
// printed, the peer stopped.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, &out))
	require.Equal(t, `bank: alice has 120
words: 4
error UNKNOWN_OP: coregate: no op named "sentences" on runtime "coregate"
error BAD_ARGUMENT: coregate: bad argument: op "words" takes *bankpb.Text, not *bankpb.Deposit
error FAILED: bank: no account
error BAD_ARGUMENT: coregate: bad argument: actor "bank" takes *bankpb.Deposit, not *bankpb.Text
`, out.String())
}

// caller is an engine with its own remote listener, stopped by the test.
func caller(t *testing.T) *actor.Engine {
	t.Helper()
	addr, err := freeAddr()
	require.NoError(t, err)
	e, stop, err := newEngine(addr)
	require.NoError(t, err)
	t.Cleanup(stop)
	return e
}

func deposit(ctx context.Context, e *actor.Engine, peerAddr string, amount int64) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	b, err := coregate.Request[*bankpb.Balance](ctx, e, actor.NewPID(peerAddr, "coregate/actor/bank"), &bankpb.Deposit{Account: "bob", Amount: amount})
	return b.GetAmount(), err
}

// TestPeerDiesAndComesBack kills the peer while a call is in flight: that
// call and the next ones end with errors at their deadlines, never hang, and
// the caller's engine reports the peer unreachable. A peer restarted on the
// same address is reachable again, with fresh state.
func TestPeerDiesAndComesBack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	addr, err := freeAddr()
	require.NoError(t, err)
	p, err := startPeer(ctx, addr)
	require.NoError(t, err)
	e := caller(t)
	unreachable := make(chan struct{}, 16)
	watcher := e.SpawnFunc(func(c *actor.Context) {
		if ev, ok := c.Message().(actor.RemoteUnreachableEvent); ok && ev.ListenAddr == addr {
			unreachable <- struct{}{}
		}
	}, "watcher")
	e.Subscribe(watcher)
	defer func() { e.Unsubscribe(watcher); <-e.Poison(watcher).Done() }()

	for i := int64(1); i <= 3; i++ {
		b, err := deposit(ctx, e, addr, 10)
		require.NoError(t, err)
		require.Equal(t, 10*i, b)
	}

	held := make(chan error, 1)
	go func() {
		call, _ := wire.NewCall("hold", &bankpb.Text{Text: "in flight"}, time.Minute)
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		_, err := coregate.Request[*bankpb.Count](ctx, e, actor.NewPID(addr, "coregate/ops"), call)
		held <- err
	}()
	require.NoError(t, p.await(ctx, "holding in flight"))
	require.NoError(t, p.kill())
	err = <-held
	require.ErrorIs(t, err, context.DeadlineExceeded, "the call in flight ends at its deadline")
	require.ErrorContains(t, err, "no answer from "+addr+"/coregate/ops")
	select {
	case <-unreachable:
	case <-ctx.Done():
		t.Fatal("the caller's engine never reported the dead peer unreachable")
	}
	_, err = deposit(ctx, e, addr, 1)
	require.ErrorIs(t, err, context.DeadlineExceeded, "a dead peer answers nothing")

	p, err = startPeer(ctx, addr)
	require.NoError(t, err)
	defer func() { require.NoError(t, p.stop()) }()
	// Hollywood's remote dials a peer again only when its last writer has
	// given up (three tries over about 3 s), so the first tries may still
	// fail: retry, bounded.
	var b int64
	for try := 0; ; try++ {
		if b, err = deposit(ctx, e, addr, 7); err == nil || try == 10 {
			break
		}
	}
	require.NoError(t, err, "the restarted peer is reachable")
	require.Equal(t, int64(7), b, "a new process: the bank starts empty")
}

// TestBadRemoteInput: an unknown op, an argument of the wrong type, a
// message the ops process, an actor or an executor does not take are
// answered with a *wire.Error of the right code, and the peer goes on.
func TestBadRemoteInput(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	addr, err := freeAddr()
	require.NoError(t, err)
	p, err := startPeer(ctx, addr)
	require.NoError(t, err)
	defer func() { require.NoError(t, p.stop()) }()
	e := caller(t)
	ops, bank := actor.NewPID(addr, "coregate/ops"), actor.NewPID(addr, "coregate/actor/bank")
	unknown, _ := wire.NewCall("nope", &bankpb.Text{}, 0)
	wrong, _ := wire.NewCall("words", &bankpb.Count{N: 1}, 0)
	for _, tc := range []struct {
		pid  *actor.PID
		msg  any
		code wire.Code
	}{
		{ops, unknown, wire.Code_UNKNOWN_OP},
		{ops, wrong, wire.Code_BAD_ARGUMENT},
		{ops, &bankpb.Text{Text: "words"}, wire.Code_BAD_ARGUMENT},
		{bank, &bankpb.Count{}, wire.Code_BAD_ARGUMENT},
		{actor.NewPID(addr, "coregate/exec/0"), &bankpb.Text{}, wire.Code_FAILED},
	} {
		rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := coregate.Request[*bankpb.Count](rctx, e, tc.pid, tc.msg)
		rcancel()
		var w *wire.Error
		require.True(t, errors.As(err, &w), "%v to %v: %v", tc.msg, tc.pid, err)
		require.Equal(t, tc.code, w.GetCode(), "%v", w)
	}
	b, err := deposit(ctx, e, addr, 3)
	require.NoError(t, err)
	require.Equal(t, int64(3), b)
}
