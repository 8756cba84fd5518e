package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRun runs the program: every account counted all 8,001 deposits, the
// zero deposit panicked, and the actor restarted with a fresh balance and
// the deposit queued behind the panic kept.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	for i := range 4 {
		if want := fmt.Sprintf("/actor/account-%d on executor ", i); !strings.Contains(out.String(), want) {
			t.Errorf("missing %q", want)
		}
	}
	if n := strings.Count(out.String(), ": balance 8001\n"); n != 4 {
		t.Errorf("%d accounts at 8001, want 4", n)
	}
	for _, want := range []string{"zero deposit: true\n", "after the restart: 5\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("missing %q", want)
		}
	}
}
