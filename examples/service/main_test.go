package main

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// lockedBuffer is a bytes.Buffer that two goroutines may write, as run's
// reports and its main line do.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// TestRun runs the program: the lookups, the ordered map and the urgent
// token answer, the per-core tally counted each upper token once, no report
// comes after the stats, and every token accepted succeeded.
func TestRun(t *testing.T) {
	var out lockedBuffer
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	got := out.buf.String()
	t.Log("\n" + got)
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	var rest []string
	for _, l := range lines {
		if !strings.HasPrefix(l, "report: ") {
			rest = append(rest, l)
		}
	}
	if len(rest) != 5 {
		t.Fatalf("want 5 lines besides the reports, got %q", rest)
	}
	if !strings.HasPrefix(rest[0], "50 lookups of 20 ms each in ") {
		t.Errorf("line 1: %q", rest[0])
	}
	if rest[1] != "[ALPHA BETA GAMMA]" || rest[2] != "URGENT" {
		t.Errorf("lines 2 and 3: %q", rest[1:3])
	}
	if want := "tally: 4 upper tokens, counted per core without a lock"; rest[3] != want {
		t.Errorf("line 4: %q, want %q", rest[3], want)
	}
	if last := lines[len(lines)-1]; last != rest[4] {
		t.Errorf("a report after the runtime stopped: %q", last)
	}
	var n, ok, failed, panicked, cancelled, stopped int
	if _, err := fmt.Sscanf(rest[4], "stats: %d accepted = %d succeeded + %d failed + %d panicked + %d cancelled + %d stopped",
		&n, &ok, &failed, &panicked, &cancelled, &stopped); err != nil {
		t.Fatalf("%q: %v", rest[4], err)
	}
	// 50 lookups, 3 mapped, 1 urgent, a tally read per executor and the
	// reports, all succeeded, but
	// for a report whose tick was queued and had not started when stop()
	// came: stop cancels the run under way (1 run in about 450).
	if n < 54 || ok+cancelled != n || cancelled > 1 || failed+panicked+stopped != 0 {
		t.Errorf("%q", rest[4])
	}
}
