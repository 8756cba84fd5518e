package coregate

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/anthdm/hollywood/remote"
	"github.com/coregate/coregate/internal/testkit"
	"github.com/coregate/coregate/wire"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// requesterEnv makes the test process that TestRestartedRequesterGetsNoStaleAnswer
// starts a requester: "<listen address>|<ops PID address>|<ops PID ID>|<op>".
const requesterEnv = "COREGATE_TEST_REQUESTER"

// requesterLine begins each line a requester process says to its parent.
const requesterLine = "requester: "

// TestRestartedRequesterGetsNoStaleAnswer: a process that made a Request
// to a peer's op and died, restarted on the same address, does not get the
// old call's answer for a new Request: each process numbered its answer
// processes from 1, so the new process's first Request had the ID of the
// old one's, and the peer's late answer to the old call was taken for the
// new call's (found by the remote review).
func TestRestartedRequesterGetsNoStaleAnswer(t *testing.T) {
	if v := os.Getenv(requesterEnv); v != "" {
		runRequester(v)
		return
	}
	eb := remoteEngine(t)
	rt := start(t, Config{Engine: eb, Cores: 1, Affinity: Off})
	gated := func(name string, v int64) (chan struct{}, chan struct{}) {
		started, gate := make(chan struct{}), make(chan struct{})
		must(Define(rt, name, func(context.Context, *wrapperspb.Int64Value) (*wrapperspb.Int64Value, error) {
			close(started)
			<-gate
			return wrapperspb.Int64(v), nil
		}, WithBlocking()))
		return started, gate
	}
	started1, gate1 := gated("g1", 1)
	started2, gate2 := gated("g2", 2)
	open := map[chan struct{}]bool{gate1: true, gate2: true}
	release := func(gate chan struct{}) {
		if open[gate] {
			open[gate] = false
			close(gate)
		}
	}
	defer release(gate1) // before the runtime stops, should the test fail
	defer release(gate2)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // bounds a hang: no timing
	defer cancel()
	await := func(ch <-chan struct{}, what string) {
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, ctx.Err())
		}
	}

	// The first requester calls g1, and dies while it runs.
	first, _ := startRequester(t, addr, rt.OpsPID(), "g1")
	await(started1, "the first requester's call did not start")
	require.NoError(t, first.Process.Kill())
	_ = first.Wait() // "signal: killed"

	// A new process on the same address calls g2; g1 ends meanwhile, and
	// its answer goes to the address, to the new process.
	second, lines := startRequester(t, addr, rt.OpsPID(), "g2")
	await(started2, "the second requester's call did not start")
	release(gate1)
	line := func() string {
		select {
		case l, ok := <-lines:
			require.True(t, ok, "the second requester ended without a word")
			return l
		case <-ctx.Done():
			t.Fatalf("the second requester said nothing: %v", ctx.Err())
			return ""
		}
	}
	require.Equal(t, "dead", line(), "the old call's answer was not a dead letter in the new process")
	release(gate2)
	require.Equal(t, "answer 2", line())
	require.NoError(t, second.Wait())
}

// startRequester starts a process that Requests op of the ops process ops
// from an engine listening on addr, and returns the lines it says.
func startRequester(t *testing.T, addr string, ops *actor.PID, op string) (*exec.Cmd, <-chan string) {
	t.Helper()
	self, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(self, "-test.run=^TestRestartedRequesterGetsNoStaleAnswer$", "-test.count=1")
	cmd.Env = append(os.Environ(), requesterEnv+"="+strings.Join([]string{addr, ops.GetAddress(), ops.GetID(), op}, "|"))
	cmd.Stderr = io.Discard // hollywood's logs
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		s := bufio.NewScanner(out)
		for s.Scan() {
			if l, ok := strings.CutPrefix(s.Text(), requesterLine); ok {
				lines <- l
			}
		}
	}()
	return cmd, lines
}

// runRequester is the requester process: it Requests the op that spec
// names, saying "dead" for each answer that reaches none of its Requests,
// then the answer it got, and exits.
func runRequester(spec string) {
	say := func(format string, a ...any) { fmt.Printf(requesterLine+format+"\n", a...) }
	f := strings.Split(spec, "|")
	r := remote.New(f[0], remote.NewConfig())
	e, err := actor.NewEngine(actor.NewEngineConfig().WithRemote(Remote(r)))
	if err != nil {
		say("error %v", err)
		os.Exit(1)
	}
	dead, _ := testkit.Subscribe(e, func(ev any) bool {
		d, ok := ev.(actor.DeadLetterEvent)
		return ok && isRequest(d.Target)
	})
	go func() {
		for range dead {
			say("dead")
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // bounds a hang: no timing
	defer cancel()
	v, err := Request[*wrapperspb.Int64Value](ctx, e, actor.NewPID(f[1], f[2]), must(wire.NewCall(f[3], wrapperspb.Int64(0), 0)))
	if err != nil {
		say("error %v", err)
	} else {
		say("answer %d", v.GetValue())
	}
	os.Exit(0) // its engine's goroutines run on: no leak check
}
