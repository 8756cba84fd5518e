package coregate

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/internal/testkit"
	"github.com/coregate/coregate/wire"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// streamMark is an event a test broadcasts: once a subscriber got it, the
// event stream has forwarded every event broadcast before it.
type streamMark struct{}

// crossed returns what engine e, whose Remote passes to c, put on the wire
// for the events broadcast so far: every one is forwarded by then.
func crossed(t *testing.T, e *actor.Engine, c *chanRemote) []any {
	t.Helper()
	marks, stop := testkit.Subscribe(e, testkit.Is[streamMark])
	defer stop()
	e.BroadcastEvent(streamMark{})
	select {
	case <-marks:
	case <-time.After(time.Minute): // bounds a hang: no timing
		t.Fatal("the event stream did not forward its mark")
	}
	var sent []any
	for {
		select {
		case m := <-c.sent:
			sent = append(sent, m)
		default:
			return sent
		}
	}
}

// TestRemoteAnswerEchoesABoundedName: an answer that names what the peer
// sent (an op that is not there, an argument's type that is not linked
// here) names at most a bounded prefix of it: the whole name, escaped by
// %q (a byte below 0x20 takes four), pushed the answer past the peer's
// reader's 4 MB, which dropped the connection with every answer it
// carried (found by the remote-stop review).
func TestRemoteAnswerEchoesABoundedName(t *testing.T) {
	c := &chanRemote{sent: make(chan any, 16)}
	e, err := actor.NewEngine(actor.NewEngineConfig().WithRemote(Remote(c)))
	require.NoError(t, err)
	rt := start(t, Config{Engine: e, Cores: 1, Affinity: Off})
	must(Define(rt, "id", func(_ context.Context, v *wrapperspb.Int64Value) (*wrapperspb.Int64Value, error) { return v, nil }))
	peer := actor.NewPID("127.0.0.1:2", "response/7")
	huge := strings.Repeat("\x01", 2<<20) // 2 MB, valid UTF-8: it crosses
	for _, tc := range []struct {
		call *wire.Call
		code wire.Code
	}{
		{&wire.Call{Op: huge}, wire.Code_UNKNOWN_OP},
		{&wire.Call{Op: huge, TimeoutMs: -1}, wire.Code_BAD_ARGUMENT},
		{&wire.Call{Op: "id", Arg: &anypb.Any{TypeUrl: "type.googleapis.com/" + huge}}, wire.Code_BAD_ARGUMENT},
	} {
		require.Less(t, proto.Size(tc.call), 4<<20, "the call crosses")
		e.SendLocal(rt.OpsPID(), tc.call, peer)
		sent := crossed(t, e, c)
		require.Len(t, sent, 1)
		w, ok := sent[0].(*wire.Error)
		require.True(t, ok, "answered a %T", sent[0])
		require.Equal(t, tc.code, w.GetCode(), "%.200v", w)
		require.Less(t, proto.Size(w), 1<<10, "%.200v", w)
		require.Contains(t, w.GetMessage(), `\x01\x01`, "it names what came")
	}
}
