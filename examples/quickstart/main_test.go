package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// perExecutor parses a printed map[int]int, "map[0:150 1:150]".
func perExecutor(t *testing.T, s string) map[int]int {
	t.Helper()
	m := map[int]int{}
	for _, kv := range strings.Fields(strings.TrimSuffix(strings.TrimPrefix(s, "map["), "]")) {
		var e, n int
		if _, err := fmt.Sscanf(kv, "%d:%d", &e, &n); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		m[e] = n
	}
	return m
}

// TestRun runs the program: 300 tokens of each class, the Light ones only
// on the executors of their range, and every token succeeded.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	execs := 0
	var heavy, light map[int]int
	for _, line := range strings.Split(out.String(), "\n") {
		switch {
		case strings.HasPrefix(line, "executor "):
			execs++
		case strings.HasPrefix(line, "heavy tokens per executor: "):
			heavy = perExecutor(t, strings.TrimPrefix(line, "heavy tokens per executor: "))
		case strings.HasPrefix(line, "light tokens per executor: "):
			light = perExecutor(t, strings.TrimPrefix(line, "light tokens per executor: "))
		}
	}
	if execs == 0 {
		t.Fatal("no executor listed")
	}
	for class, on := range map[string]map[int]int{"heavy": heavy, "light": light} {
		total := 0
		for e, n := range on {
			if e < 0 || e >= execs || (class == "light" && e < min(2, execs-1)) {
				t.Errorf("%d %s tokens on executor %d of %d", n, class, e, execs)
			}
			total += n
		}
		if total != 300 {
			t.Errorf("%d %s tokens counted, want 300", total, class)
		}
	}
	if want := "stats: submitted 600, succeeded 600, failed 0, panicked 0, cancelled 0, stopped 0"; !strings.Contains(out.String(), want) {
		t.Errorf("missing %q", want)
	}
}
