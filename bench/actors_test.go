package main

import (
	"testing"

	"github.com/coregate/coregate/bench/actorsuite"
)

// TestActorCases runs every actor case at a tiny size on coregate and
// hollywood in this process, so a broken adapter fails here with its check's
// message.
func TestActorCases(t *testing.T) {
	for _, sys := range []string{"coregate", "hollywood"} {
		for _, c := range actorsuite.Cases {
			t.Run(sys+"/"+c, func(t *testing.T) {
				if c == actorsuite.PingPongCrossCore && twoCPUs() != "" {
					t.Skip(twoCPUs())
				}
				p := actorsuite.Tiny()
				p.Case = c
				r := actorsuite.Run(sys, linkedActorSystems[sys], p)
				if r.Failure != "" || r.Ops <= 0 || r.WallNs <= 0 {
					t.Fatalf("%+v", r)
				}
			})
		}
	}
}
