package coregate

import (
	"context"
	"sync"
	"testing"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/internal/testkit"
	"github.com/coregate/coregate/wire"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// chanRemote passes what a Remote hands hollywood's transport to a channel.
type chanRemote struct{ sent chan any }

func (c *chanRemote) Address() string                        { return "127.0.0.1:1" }
func (c *chanRemote) Send(_ *actor.PID, m any, _ *actor.PID) { c.sent <- m }
func (c *chanRemote) Start(*actor.Engine) error              { return nil }
func (c *chanRemote) Stop() *sync.WaitGroup                  { return &sync.WaitGroup{} }

// badText answers a text that is not valid UTF-8, which does not marshal.
type badText struct{}

func (badText) Receive(*ActorContext, *wrapperspb.Int64Value) (*wrapperspb.StringValue, error) {
	return wrapperspb.String("bad \xff"), nil
}

// TestRemoteAnswerThatDoesNotMarshal: an op's or an actor's result that
// does not marshal (a string that is not valid UTF-8), answered to a
// process of another engine that is not a coregate Request (a hollywood
// Request's response, a hollywood actor), crosses as a NOT_PROTO error, as
// a result that is not protobuf does. Remote took it for a message sent
// and kept it off the wire as a dead letter, so a peer's hollywood Request
// got nothing until its timeout (found by the remote review).
func TestRemoteAnswerThatDoesNotMarshal(t *testing.T) {
	c := &chanRemote{sent: make(chan any, 1)}
	e, err := actor.NewEngine(actor.NewEngineConfig().WithRemote(Remote(c)))
	require.NoError(t, err)
	rt := start(t, Config{Engine: e, Cores: 1, Affinity: Off})
	must(Define(rt, "text", func(context.Context, *wrapperspb.Int64Value) (*wrapperspb.StringValue, error) {
		return wrapperspb.String("bad \xff"), nil
	}))
	ref := must(Spawn(rt, "text", func() Actor[*wrapperspb.Int64Value, *wrapperspb.StringValue] { return badText{} }))
	events, stop := testkit.Subscribe(e, testkit.Is[actor.DeadLetterEvent])
	defer stop()
	peer := actor.NewPID("127.0.0.1:2", "response/7") // a hollywood Request of another engine
	for _, to := range []struct {
		pid *actor.PID
		msg any
	}{
		{rt.OpsPID(), must(wire.NewCall("text", wrapperspb.Int64(1), 0))},
		{ref.PID(), wrapperspb.Int64(1)},
	} {
		e.SendLocal(to.pid, to.msg, peer) // as hollywood's reader delivers it
		select {
		case m := <-c.sent:
			w, ok := m.(*wire.Error)
			require.True(t, ok, "%v answered %T %v", to.pid, m, m)
			require.Equal(t, wire.Code_NOT_PROTO, w.GetCode(), "%v", w)
			require.Contains(t, w.GetMessage(), "does not marshal")
		case ev := <-events:
			t.Fatalf("%v: the answer was kept off the wire: %+v", to.pid, ev)
		}
	}
}
