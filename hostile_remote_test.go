package coregate

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/coregate/coregate/wire"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// textCounter counts the messages it is told and answers the count and the
// last text.
type textCounter struct{ n int64 }

func (c *textCounter) Receive(_ *ActorContext, v *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	c.n++
	return wrapperspb.String(strconv.FormatInt(c.n, 10) + ":" + v.GetValue()), nil
}

// TestRemoteUnmarshalableMessages: a protobuf message that does not
// marshal (a string that is not valid UTF-8) never crosses. Hollywood's
// writer sent an empty message of the batch's first type to its first
// target in its place, so an op's result arrived as an empty result, a
// success, and a message sent to an actor arrived as an empty one, which
// the actor took and answered; and a typed nil *dynamicpb.Message, whose
// type cannot be named, ended the process on the writer's goroutine (found
// by a hostile-peer review). An answer
// now comes back as a NOT_PROTO error at once, and a message sent from this
// engine is a dead letter and its Request's error, as any other message
// that cannot cross.
func TestRemoteUnmarshalableMessages(t *testing.T) {
	ea, eb := remoteEngine(t), remoteEngine(t)
	rt := start(t, Config{Engine: eb, Cores: 1, Affinity: Off})
	must(Define(rt, "text", func(_ context.Context, b *wrapperspb.BytesValue) (*wrapperspb.StringValue, error) {
		return wrapperspb.String(string(b.GetValue())), nil
	}))
	must(Define(rt, "dyn", func(context.Context, *wrapperspb.BytesValue) (proto.Message, error) {
		return (*dynamicpb.Message)(nil), nil // naming its type panics
	}))
	ref := must(Spawn(rt, "count", func() Actor[*wrapperspb.StringValue, *wrapperspb.StringValue] { return &textCounter{} }))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // bounds a hang: no timing
	defer cancel()

	v, err := Request[*wrapperspb.StringValue](ctx, ea, rt.OpsPID(), must(wire.NewCall("text", wrapperspb.Bytes([]byte{0xff}), 0)))
	var w *wire.Error
	require.ErrorAs(t, err, &w, "answered %v", v)
	require.Equal(t, wire.Code_NOT_PROTO, w.GetCode(), "%v", w)
	require.ErrorContains(t, err, "invalid UTF-8")

	_, err = Request[proto.Message](ctx, ea, rt.OpsPID(), must(wire.NewCall("dyn", wrapperspb.Bytes(nil), 0)))
	require.ErrorAs(t, err, &w)
	require.Equal(t, wire.Code_NOT_PROTO, w.GetCode(), "%v", w)
	require.ErrorContains(t, err, "panicked")

	_, err = Request[*wrapperspb.StringValue](ctx, ea, ref.PID(), wrapperspb.String("bad \xff"))
	require.ErrorAs(t, err, &w)
	require.Equal(t, wire.Code_NOT_PROTO, w.GetCode(), "%v", w)
	v, err = Request[*wrapperspb.StringValue](ctx, ea, ref.PID(), wrapperspb.String("good"))
	require.NoError(t, err)
	require.Equal(t, "1:good", v.GetValue(), "the actor was told nothing before")
}
