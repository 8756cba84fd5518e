package serve

import (
	"bytes"
	"testing"

	"github.com/coregate/coregate"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestReport: the line printed at the end accounts for every token
// accepted, not just those that succeeded: clients that went away leave
// cancelled tokens, and a shutdown past its bound stopped ones.
func TestReport(t *testing.T) {
	var b bytes.Buffer
	Report(&b, coregate.Counts{Submitted: 15, Succeeded: 8, Failed: 1, Panicked: 2, Cancelled: 3, Stopped: 1})
	want := "stopped: 15 tokens accepted = 8 succeeded + 1 failed + 2 panicked + 3 cancelled + 1 stopped\n"
	if b.String() != want {
		t.Fatalf("got %q, want %q", b.String(), want)
	}
}
