package main

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/coregate/coregate"
	"github.com/coregate/coregate/bench/actorsuite"
)

// brokenActors is a system whose every case measures and then fails its
// check, as a broken adapter would; it exists only in the test binary, so
// the children re-executed from it know it too.
var brokenActors = actorsuite.System{}

func init() {
	for _, c := range actorsuite.Cases {
		brokenActors[c] = func(p actorsuite.Params, m *actorsuite.Meter) (int, error) {
			m.Start()
			m.Stop()
			return 1, errors.New("counted 41, want 42")
		}
	}
	linkedActorSystems["broken"] = brokenActors
	// A system whose child dies before it writes a result, as one that
	// crashed would.
	linkedActorSystems["crasher"] = actorsuite.System{actorsuite.Counting: func(actorsuite.Params, *actorsuite.Meter) (int, error) {
		os.Exit(3)
		return 0, nil
	}}
	// A system that fails its one case if any goroutine of ants runs in
	// the child while it measures.
	linkedActorSystems["ants-probe"] = actorsuite.System{actorsuite.Counting: func(p actorsuite.Params, m *actorsuite.Meter) (int, error) {
		m.Start()
		m.Stop()
		buf := make([]byte, 1<<20)
		if stacks := buf[:runtime.Stack(buf, true)]; bytes.Contains(stacks, []byte("panjf2000/ants")) {
			return 0, fmt.Errorf("ants goroutines run in the child:\n%s", stacks)
		}
		return 1, nil
	}}
}

// TestChildWithoutAnts: a copy of the bench measuring an actor case runs no
// goroutine of ants' default pool, which the protoactor child, a binary
// without ants, does not have either. Found by review: two of them woke on
// tickers through every coregate and hollywood measurement.
func TestChildWithoutAnts(t *testing.T) {
	p := actorsuite.Tiny()
	p.Case = actorsuite.Counting
	r, err := newActorRunner(context.Background(), []string{"ants-probe"}, p, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	res, err := r.run(context.Background(), "ants-probe", p, 1)
	if err != nil || res.Failure != "" {
		t.Fatalf("%v %s", err, res.Failure)
	}
}

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
				r := actorsuite.Run(sys, linkedActorSystems[sys], p, "")
				if r.Failure != "" || r.Ops <= 0 || r.WallNs <= 0 {
					t.Fatalf("%+v", r)
				}
			})
		}
	}
}

// TestAskWrongReply: an actor that answers anything but n+1 fails ask's
// check on each system, with the round trip named.
func TestAskWrongReply(t *testing.T) {
	for sys, ask := range map[string]func(actorsuite.Params, *actorsuite.Meter, int) (int, error){
		"coregate": cgAsk, "hollywood": hwAsk,
	} {
		t.Run(sys, func(t *testing.T) {
			p := actorsuite.Tiny()
			p.Case = actorsuite.Ask
			wrong := actorsuite.System{actorsuite.Ask: func(p actorsuite.Params, m *actorsuite.Meter) (int, error) { return ask(p, m, 2) }}
			if r := actorsuite.Run(sys, wrong, p, ""); !strings.Contains(r.Failure, "round trip 0 sent 0 and got 2, want 1") || r.Rate() != 0 {
				t.Fatalf("%+v", r)
			}
		})
	}
}

// TestForkJoinDuplicate: a forkjoin actor's last message delivered twice
// fails the check on each system, with the actor named. Found by review:
// an actor checks its count and sum when the count reaches its messages,
// so a duplicate arriving after that was never seen.
func TestForkJoinDuplicate(t *testing.T) {
	for sys, fj := range map[string]func(actorsuite.Params, *actorsuite.Meter, int) (int, error){
		"coregate": cgForkJoin, "hollywood": hwForkJoin,
	} {
		t.Run(sys, func(t *testing.T) {
			p := actorsuite.Tiny()
			p.Case = actorsuite.ForkJoinThrough
			dup := actorsuite.System{p.Case: func(p actorsuite.Params, m *actorsuite.Meter) (int, error) { return fj(p, m, 1) }}
			if r := actorsuite.Run(sys, dup, p, ""); !strings.Contains(r.Failure, "forkjoin actor 0: messages counted once all reported: got 41, want 40") || r.Rate() != 0 {
				t.Fatalf("%+v", r)
			}
		})
	}
}

// TestLateDuplicate: a message delivered twice after a case's last
// expected one fails the check made after the measured part, on each
// system: the actor that gets the ring's last hop, or the teller that gets
// the last transfer's end, sends itself a copy before it reports. Found by
// review: only forkjoin-throughput asked its actors after that; the other
// cases checked what their actors had counted when the last one reported.
func TestLateDuplicate(t *testing.T) {
	const ring = "ring actor 2 of 7: messages received, asked once the token returned: got 16, want 15"
	const bank = "bank: transfers the teller saw end, asked once it reported: got 101, want 100"
	for _, c := range []struct {
		sys, c string
		f      actorsuite.Func
		want   string
	}{
		{"coregate", actorsuite.ThreadRing, func(p actorsuite.Params, m *actorsuite.Meter) (int, error) {
			return cgRing(p, m, coregate.Config{}, p.RingActors, p.RingHops, nil, 1)
		}, ring},
		{"hollywood", actorsuite.ThreadRing, func(p actorsuite.Params, m *actorsuite.Meter) (int, error) {
			return hwRing(p, m, p.RingActors, p.RingHops, 1)
		}, ring},
		{"coregate", actorsuite.Bank, func(p actorsuite.Params, m *actorsuite.Meter) (int, error) { return cgBank(p, m, 1) }, bank},
		{"hollywood", actorsuite.Bank, func(p actorsuite.Params, m *actorsuite.Meter) (int, error) { return hwBank(p, m, 1) }, bank},
	} {
		t.Run(c.sys+"/"+c.c, func(t *testing.T) {
			p := actorsuite.Tiny()
			p.Case = c.c
			if r := actorsuite.Run(c.sys, actorsuite.System{c.c: c.f}, p, ""); !strings.Contains(r.Failure, c.want) || r.Rate() != 0 {
				t.Fatalf("%+v", r)
			}
		})
	}
}

// tinyActors returns options for the actor suite alone at a tiny size.
func tinyActors(t *testing.T) options {
	o := tiny()
	o.suite, o.actor, o.actorReps = suiteActors, actorsuite.Tiny(), 1
	dir := t.TempDir()
	o.jsonPath, o.plotPath = filepath.Join(dir, "raw.json"), filepath.Join(dir, "actors.svg")
	return o
}

// TestActorSuite runs the whole actor suite at a tiny size through the
// parent: every case on every system in its child process (the protoactor
// child built with the go command), the tables, the JSON parsed back and the
// chart.
func TestActorSuite(t *testing.T) {
	o := tinyActors(t)
	var out, progress bytes.Buffer
	if err := run(&out, &progress, o); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	// With one CPU the cross-core case is skipped, and the last line says
	// so (TestSkippedNotClaimedChecked).
	checked := "every actor case checked its result on every system"
	if strings.Contains(out.String(), "skipped: needs 2 CPUs") {
		checked = "every actor case that ran checked its result"
	}
	for _, want := range append(append([]string{"actor suite summary", "vs hollywood", checked},
		actorsuite.Cases...), actorSystemNames...) {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "FAIL") {
		t.Fatalf("a check failed:\n%s", out.String())
	}
	if !strings.Contains(progress.String(), "bank, protoactor, repetition 1 of 1") {
		t.Fatalf("no progress on stderr: %q", progress.String())
	}
	var raw struct {
		ActorParams actorsuite.Params
		Actors      []actorsuite.Result
	}
	b, err := os.ReadFile(o.jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	if want := len(actorsuite.Cases) * len(actorSystemNames); len(raw.Actors) != want || raw.ActorParams.Rounds != o.actor.Rounds {
		t.Fatalf("%d results and rounds %d in the JSON, want %d and %d", len(raw.Actors), raw.ActorParams.Rounds, want, o.actor.Rounds)
	}
	for _, r := range raw.Actors {
		if r.Failure != "" || r.Skipped == "" && (r.Ops <= 0 || r.WallNs <= 0 || r.Rep != 1) {
			t.Fatalf("raw result %+v", r)
		}
		if r.Skipped == "" && (strings.HasPrefix(r.Case, "pingpong") || r.Case == actorsuite.Ask) && r.P50Ns <= 0 {
			t.Fatalf("a round trip case without its p50: %+v", r)
		}
	}
	svg, err := os.ReadFile(o.plotPath)
	if err != nil || !bytes.Contains(svg, []byte("<svg")) || !bytes.Contains(svg, []byte("protoactor")) || !bytes.Contains(svg, []byte("chameneos")) {
		t.Fatalf("plot: %v, %d bytes", err, len(svg))
	}
}

// TestChildBuiltLikeTheBench: the protoactor child has the race detector
// exactly when the bench (here the test binary) has it. Found by review:
// under -race the coregate and hollywood children, copies of the bench,
// were instrumented and protoactor's was not.
func TestChildBuiltLikeTheBench(t *testing.T) {
	bin, err := buildChild(context.Background(), protoactorDir(), filepath.Join(t.TempDir(), "protoactor-child"))
	if err != nil {
		t.Fatal(err)
	}
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	race := false
	for _, s := range info.Settings {
		race = race || s.Key == "-race" && s.Value == "true"
	}
	if race != raceEnabled {
		t.Fatalf("protoactor child built with the race detector: %v; the bench: %v", race, raceEnabled)
	}
}

// TestActorFailure runs a system whose checks fail: the run prints FAIL for
// each case, still writes its JSON, and returns an error (a non-zero exit).
func TestActorFailure(t *testing.T) {
	saved := actorSystemNames
	actorSystemNames = append([]string{"broken"}, saved...)
	t.Cleanup(func() { actorSystemNames = saved })
	o := tinyActors(t)
	o.actorSystems, o.actorCases, o.plotPath = "hollywood,broken", "counting,ask,bank", ""
	var out bytes.Buffer
	err := run(&out, &bytes.Buffer{}, o)
	if err == nil || !strings.Contains(err.Error(), "3 failed check(s)") {
		t.Fatalf("run returned %v, want 3 failed checks\n%s", err, out.String())
	}
	for _, want := range []string{"FAIL counting on broken, repetition 1: counted 41, want 42", "FAIL ask on broken", "FAIL bank on broken"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
	b, err := os.ReadFile(o.jsonPath)
	if err != nil || !bytes.Contains(b, []byte(`"failure": "counted 41, want 42"`)) {
		t.Fatalf("JSON without the failure: %v\n%s", err, b)
	}
}

// TestActorFailureNotHiddenByPlot: with every measurement failed there is
// nothing to draw, and the run's error still names the failed checks.
// Found by review: the plot's error replaced them.
func TestActorFailureNotHiddenByPlot(t *testing.T) {
	saved := actorSystemNames
	actorSystemNames = append([]string{"broken"}, saved...)
	t.Cleanup(func() { actorSystemNames = saved })
	o := tinyActors(t)
	o.actorSystems, o.actorCases = "broken", "counting"
	err := run(&bytes.Buffer{}, &bytes.Buffer{}, o)
	if err == nil || !strings.Contains(err.Error(), "1 failed check(s)") {
		t.Fatalf("run returned %v, want it to name the failed check", err)
	}
}

// TestAllSuitesPlots draws both suites' charts from one -suite all run.
func TestAllSuitesPlots(t *testing.T) {
	o := tinyActors(t)
	o.suite, o.workloads, o.peers = suiteAll, "waves", "goroutine,coregate"
	o.actorCases, o.actorSystems = "counting", "coregate,hollywood"
	if err := run(&bytes.Buffer{}, &bytes.Buffer{}, o); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{o.plotPath, strings.TrimSuffix(o.plotPath, ".svg") + "-actors.svg"} {
		if b, err := os.ReadFile(p); err != nil || !bytes.Contains(b, []byte("<svg")) {
			t.Fatalf("%s: %v", p, err)
		}
	}
}

// TestSkippedNotClaimedChecked: a case skipped for want of CPUs is not
// counted among the measurements that checked their result; the summary
// once said every case checked its result on every system, skipped ones
// included.
func TestSkippedNotClaimedChecked(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1)) // cross-core ping-pong is skipped
	o := tinyActors(t)
	o.actorSystems, o.actorCases, o.plotPath = "coregate,hollywood", "pingpong/cross-core,counting", ""
	var out bytes.Buffer
	if err := run(&out, &bytes.Buffer{}, o); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if strings.Contains(out.String(), "every actor case checked its result on every system") {
		t.Fatalf("a skipped case is claimed checked:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "2 measurements checked their result, 2 skipped") {
		t.Fatalf("output does not count the skipped measurements apart:\n%s", out.String())
	}
}

// TestTokenJSONKeptWhenActorsFail: with -suite all, an actor suite that
// ends without a result (a child that crashed, a protoactor build that
// failed, an interrupt) still leaves the token suite's measurements in the
// -json file, as a failed check does. Found by review: the run returned
// before writing it, minutes of token measurements lost.
func TestTokenJSONKeptWhenActorsFail(t *testing.T) {
	saved := actorSystemNames
	actorSystemNames = append([]string{"crasher"}, saved...)
	t.Cleanup(func() { actorSystemNames = saved })
	o := tinyActors(t)
	o.suite, o.workloads, o.peers, o.plotPath = suiteAll, "tiny", "goroutine", ""
	o.actorSystems, o.actorCases = "crasher", "counting"
	err := run(io.Discard, io.Discard, o)
	if err == nil || !strings.Contains(err.Error(), "crasher child for counting") {
		t.Fatalf("run returned %v, want the crashed child named", err)
	}
	var raw struct{ Samples []sample }
	readJSON(t, o.jsonPath, &raw)
	if len(raw.Samples) != 2 {
		t.Fatalf("%d token samples in the JSON, want the 2 of the tiny workload", len(raw.Samples))
	}
}
