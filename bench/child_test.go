package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"testing"
	"time"

	"github.com/coregate/coregate/bench/actorsuite"
)

// The environment of the child tests: envSleeperReady names the file a
// sleeper child writes its pid and its directory to once it measures;
// envAsParent makes the test binary a bench that runs the sleeper, for a
// test to kill (TestMain).
const (
	envSleeperReady = "COREGATE_BENCH_TEST_SLEEPER_READY"
	envAsParent     = "COREGATE_BENCH_TEST_AS_PARENT"
	envStuckGo      = "COREGATE_BENCH_TEST_STUCK_GO" // the file a stuck go command writes its pid and output directory to
)

// The sleeper system's one case says where it runs, then waits for an
// answer that never comes, until p.Timeout: a child that outlives its
// bench.
func init() {
	linkedActorSystems["sleeper"] = actorsuite.System{actorsuite.Counting: func(p actorsuite.Params, m *actorsuite.Meter) (int, error) {
		m.Start()
		defer m.Stop()
		ready := os.Getenv(envSleeperReady)
		line := fmt.Sprintf("%d %s", os.Getpid(), filepath.Dir(os.Getenv(actorsuite.EnvResult)))
		if err := os.WriteFile(ready+".tmp", []byte(line), 0o644); err != nil {
			return 0, err
		}
		if err := os.Rename(ready+".tmp", ready); err != nil {
			return 0, err
		}
		_, err := actorsuite.Await(p, make(chan int), 1, "an answer")
		return 0, err
	}}
}

// sleeperOptions runs the sleeper's case once, its wait bounded by timeout.
func sleeperOptions(timeout time.Duration) options {
	o := defaults(true)
	o.suite, o.actorSystems, o.actorCases, o.actorReps = suiteActors, "sleeper", actorsuite.Counting, 1
	o.actor = actorsuite.Tiny()
	o.actor.Timeout = timeout
	o.noCrossCPU = true // readReady's minute is for the child alone
	return o
}

// runAsParent is the bench that TestChildDiesWithTheBench kills: it runs the
// sleeper, which waits 20 s unless it is killed first.
func runAsParent() int {
	actorSystemNames = append(actorSystemNames, "sleeper")
	if err := run(io.Discard, io.Discard, sleeperOptions(20*time.Second)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// readReady waits for a sleeper child to write path and returns its pid and
// the children's directory.
func readReady(t *testing.T, path string) (pid int, dir string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		b, err := os.ReadFile(path)
		if err == nil {
			if _, err := fmt.Sscanf(string(b), "%d %s", &pid, &dir); err != nil {
				t.Fatalf("%s: %q: %v", path, b, err)
			}
			return pid, dir
		}
		if time.Now().After(deadline) {
			t.Fatalf("no sleeper child measured within a minute: %v", err)
		}
	}
}

// stuckGo is the go command of TestInterruptStopsBuild, run by a script
// named go: it says where it runs and which directory it builds into, as
// readReady reads it, then waits for an interrupt, as a go build of a cold
// cache would run on for a minute, and exits failing. Notify takes SIGINT
// even where this process was started with it ignored.
func stuckGo() int {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	out := ""
	for i, a := range os.Args[:len(os.Args)-1] {
		if a == "-o" {
			out = os.Args[i+1]
		}
	}
	line := fmt.Sprintf("%d %s", os.Getpid(), filepath.Dir(out))
	ready := os.Getenv(envStuckGo)
	if os.WriteFile(ready+".tmp", []byte(line), 0o644) != nil || os.Rename(ready+".tmp", ready) != nil {
		return 2
	}
	<-sig
	return 1
}
