package main

import (
	"io"
	"strings"
	"testing"
)

// TestLocalityRunTwiceFails: a token of the locality or the fan-out
// workload whose handler ran twice fails the workload, naming it, the
// pass and the variant's op. Found by review: a fan-out child or lead run
// twice returned the right result and passed; the locality workload's
// blocks already showed the extra touch.
func TestLocalityRunTwiceFails(t *testing.T) {
	for _, c := range []struct{ workload, op, want, fault string }{
		{wLocality, "locality-plain", "locality-plain: key ", "'s block holds"},
		{wLocality, "locality-sticky", "locality-sticky: key ", "'s block holds"},
		{wFanOut, "fanout-child", "fanout-lead-plain: lead ", ": 4 children ran, want 3"},
		{wFanOut, "fanout-lead-plain", "fanout-lead-plain: ", "9 leads ran, want 8"},
		{wFanOut, "fanout-lead-anchored", "fanout-lead-anchored: ", "9 leads ran, want 8"},
	} {
		t.Run(c.op, func(t *testing.T) {
			twiceOp = c.op
			t.Cleanup(func() { twiceOp = "" })
			o := tiny()
			o.workloads, o.peers = c.workload, "coregate"
			o.leads, o.fanout = 8, 3
			err := run(io.Discard, io.Discard, o)
			if want := c.workload + ": warm-up: " + c.want; err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), c.fault) {
				t.Fatalf("run returned %v, want %q...%q", err, want, c.fault)
			}
		})
	}
}
