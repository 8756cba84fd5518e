package coregate

import (
	"context"
	"testing"

	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate/wire"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// TestRequestToRemotesOwnProcesses: a Request to the processes Remote adds
// to an engine (coregate/discard, coregate/gone), which take no message,
// is answered at once with an error wrapping ErrBadArgument (BAD_ARGUMENT
// from another engine). Both dropped it, so the Request, local or remote,
// waited out its context (found by the answers review).
func TestRequestToRemotesOwnProcesses(t *testing.T) {
	ea, eb := remoteEngine(t), remoteEngine(t)
	start(t, Config{Engine: ea, Cores: 1, Affinity: Off})                 // gone answers for it
	ctx, cancel := context.WithTimeout(context.Background(), pidsTimeout) // bounds a hang: no timing
	defer cancel()
	for _, id := range []string{discardID, goneID} {
		pid := actor.NewPID(ea.Address(), id)
		_, err := Request[*wrapperspb.Int64Value](ctx, ea, pid, wrapperspb.Int64(1))
		require.ErrorIs(t, err, ErrBadArgument, "local Request to %v", pid)
		require.ErrorContains(t, err, "takes no messages")
		_, err = Request[*wrapperspb.Int64Value](ctx, eb, pid, wrapperspb.Int64(1))
		var w *wire.Error
		require.ErrorAs(t, err, &w, "remote Request to %v: %v", pid, err)
		require.Equal(t, wire.Code_BAD_ARGUMENT, w.GetCode(), "%v", w)
	}
}
