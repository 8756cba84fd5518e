package main

import (
	"bytes"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestQuickRun keeps the suite from rotting: a tiny run must finish and report
// every wave.
func TestQuickRun(t *testing.T) {
	var out bytes.Buffer
	o := options{affinity: "best-effort", minWave: 4, maxWave: 256, workloads: "waves,locality,fanout",
		keys: 4, blockKiB: 4, localityTokens: 40, leads: 8, fanout: 3, bufKiB: 1}
	if err := run(&out, o); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"tokens/s", "overlap", "508 tokens, all completed", "locality: 4 keys", "fan-out: 8 leads", "ratio"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestBadFlags(t *testing.T) {
	for _, o := range []options{
		{affinity: "sideways", minWave: 4, maxWave: 8, workloads: "waves"},
		{affinity: "off", minWave: 8, maxWave: 4, workloads: "waves"},
		{affinity: "off", minWave: 4, maxWave: 8, cores: -3, workloads: "waves"},
		{affinity: "off", minWave: 4, maxWave: 8, workloads: "waves,nope"},
		{affinity: "off", minWave: 4, maxWave: 8, workloads: "locality"},
	} {
		if err := run(&bytes.Buffer{}, o); err == nil {
			t.Errorf("run(%+v) succeeded, want an error", o)
		}
	}
}
