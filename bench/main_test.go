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
	if err := run(&out, options{affinity: "best-effort", minWave: 4, maxWave: 256}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"tokens/s", "overlap", "508 tokens, all completed"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestBadFlags(t *testing.T) {
	for _, o := range []options{
		{affinity: "sideways", minWave: 4, maxWave: 8},
		{affinity: "off", minWave: 8, maxWave: 4},
		{affinity: "off", minWave: 4, maxWave: 8, cores: -3},
	} {
		if err := run(&bytes.Buffer{}, o); err == nil {
			t.Errorf("run(%+v) succeeded, want an error", o)
		}
	}
}
