package main

import (
	"runtime"
	"strings"
	"testing"

	"github.com/coregate/coregate/bench/actorsuite"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestCases runs every actor case at a tiny size on protoactor in this
// process, so a broken adapter fails with its check's message. The bench's
// own tests run the built child the same way through the parent.
func TestCases(t *testing.T) {
	for _, c := range actorsuite.Cases {
		t.Run(c, func(t *testing.T) {
			if c == actorsuite.PingPongCrossCore && (runtime.NumCPU() < 2 || runtime.GOMAXPROCS(0) < 2) {
				t.Skip("needs 2 CPUs")
			}
			p := actorsuite.Tiny()
			p.Case = c
			if r := actorsuite.Run("protoactor", protoactorActors, p, ""); r.Failure != "" || r.Ops <= 0 || r.WallNs <= 0 {
				t.Fatalf("%+v", r)
			}
		})
	}
}

// TestAskWrongReply: an actor that answers anything but n+1 fails ask's
// check, with the round trip named.
func TestAskWrongReply(t *testing.T) {
	p := actorsuite.Tiny()
	p.Case = actorsuite.Ask
	wrong := actorsuite.System{actorsuite.Ask: func(p actorsuite.Params, m *actorsuite.Meter) (int, error) { return paAsk(p, m, 2) }}
	if r := actorsuite.Run("protoactor", wrong, p, ""); !strings.Contains(r.Failure, "round trip 0 sent 0 and got 2, want 1") || r.Rate() != 0 {
		t.Fatalf("%+v", r)
	}
}

// TestForkJoinDuplicate: a forkjoin actor's last message delivered twice
// fails the check, with the actor named.
func TestForkJoinDuplicate(t *testing.T) {
	p := actorsuite.Tiny()
	p.Case = actorsuite.ForkJoinThrough
	dup := actorsuite.System{p.Case: func(p actorsuite.Params, m *actorsuite.Meter) (int, error) { return paForkJoin(p, m, 1) }}
	if r := actorsuite.Run("protoactor", dup, p, ""); !strings.Contains(r.Failure, "forkjoin actor 0: messages counted once all reported: got 41, want 40") || r.Rate() != 0 {
		t.Fatalf("%+v", r)
	}
}

// TestLateDuplicate: a message delivered twice after a case's last
// expected one fails the check made after the measured part: the actor
// that gets the ring's last hop, or the teller that gets the last
// transfer's end, sends itself a copy before it reports.
func TestLateDuplicate(t *testing.T) {
	for _, c := range []struct {
		c    string
		f    actorsuite.Func
		want string
	}{
		{actorsuite.ThreadRing, func(p actorsuite.Params, m *actorsuite.Meter) (int, error) {
			return paRing(p, m, p.RingActors, p.RingHops, 1)
		}, "ring actor 2 of 7: messages received, asked once the token returned: got 16, want 15"},
		{actorsuite.Bank, func(p actorsuite.Params, m *actorsuite.Meter) (int, error) { return paBank(p, m, 1) },
			"bank: transfers the teller saw end, asked once it reported: got 101, want 100"},
	} {
		t.Run(c.c, func(t *testing.T) {
			p := actorsuite.Tiny()
			p.Case = c.c
			if r := actorsuite.Run("protoactor", actorsuite.System{c.c: c.f}, p, ""); !strings.Contains(r.Failure, c.want) || r.Rate() != 0 {
				t.Fatalf("%+v", r)
			}
		})
	}
}
