package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/coregate/coregate"
	"github.com/coregate/coregate/bench/actorsuite"
)

// Actor systems, in the order tables show them; hollywood is the baseline
// of the ratios.
var actorSystemNames = []string{"coregate", "hollywood", "protoactor"}

// linkedActorSystems are the systems linked into this binary. The bench runs
// each measurement of one in a child process of itself (the same executable,
// told what to run by the actorsuite.Env* variables).
var linkedActorSystems = map[string]actorsuite.System{
	"coregate":  coregateActors,
	"hollywood": hollywoodActors,
}

// protoactorDir is the module of the protoactor child, bench/protoactor,
// found from this file's path: protoactor and hollywood cannot share a
// binary, so the bench builds that child with the go command.
func protoactorDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "protoactor")
}

// actorRunner starts the children.
type actorRunner struct {
	dir      string            // results and built children
	bins     map[string]string // system -> executable
	limit    time.Duration     // the longest a child may run
	profiles string            // where CPU profiles go, or ""
}

// newActorRunner builds the children that are not this binary; ctx's end
// (the bench was interrupted) stops a build.
func newActorRunner(ctx context.Context, systems []string, p actorsuite.Params, progress io.Writer) (*actorRunner, error) {
	dir, err := os.MkdirTemp("", "coregate-bench-actors-")
	if err != nil {
		return nil, err
	}
	r := &actorRunner{dir: dir, bins: map[string]string{}, limit: 3*p.Timeout + 30*time.Second}
	self, err := os.Executable()
	if err != nil {
		r.close()
		return nil, err
	}
	for _, sys := range systems {
		if _, ok := linkedActorSystems[sys]; ok {
			r.bins[sys] = self
			continue
		}
		fmt.Fprintf(progress, "\r%-72s", "bench: building the "+sys+" child (go build, cached after the first time)")
		bin, err := buildChild(ctx, protoactorDir(), filepath.Join(dir, sys+"-child"))
		if err != nil {
			r.close()
			if ctx.Err() != nil {
				return nil, fmt.Errorf("%s: %w", sys, err)
			}
			return nil, fmt.Errorf("%s: %w (leave it out with -actor-systems)", sys, err)
		}
		r.bins[sys] = bin
	}
	return r, nil
}

func (r *actorRunner) close() { os.RemoveAll(r.dir) }

// buildChild builds the main package in src to out with the go command,
// with the race detector where this binary has it: the coregate and
// hollywood children are copies of this binary, and a protoactor child
// without the detector's instrumentation would run several times faster
// than they for that alone. When ctx ends the go command is interrupted,
// so that it removes its work directory, and killed if it is still there
// 10 s later: the bench once caught an interrupt and waited for the whole
// build, a minute or more from a cold cache, before it noticed.
func buildChild(ctx context.Context, src, out string) (string, error) {
	if _, err := os.Stat(filepath.Join(src, "go.mod")); err != nil {
		return "", fmt.Errorf("its child's source is not at %s: %w", src, err)
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	if runtime.GOOS == "windows" {
		out += ".exe"
	}
	args := []string{"build", "-o", out}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.CommandContext(ctx, goCmd, append(args, ".")...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	cmd.Dir = src
	if b, err := cmd.CombinedOutput(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("interrupted: %w", err)
		}
		return "", fmt.Errorf("go build in %s: %w\n%s", src, err, b)
	}
	return out, nil
}

// run measures p.Case on sys in a fresh child process; with a profile
// directory, the child writes a CPU profile of the measured part there.
// The child is killed when ctx ends (the bench was interrupted), when it
// runs past r.limit, and (on Linux) when the bench dies.
func (r *actorRunner) run(ctx context.Context, sys string, p actorsuite.Params, rep int) (actorsuite.Result, error) {
	params, err := json.Marshal(p)
	if err != nil {
		return actorsuite.Result{}, err
	}
	out := filepath.Join(r.dir, "result.json")
	os.Remove(out)
	ctx, cancel := context.WithTimeout(ctx, r.limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.bins[sys])
	dieWithParent(cmd)
	runtime.LockOSThread() // the thread dieWithParent ties the child to
	defer runtime.UnlockOSThread()
	cmd.Env = append(os.Environ(), actorsuite.EnvSystem+"="+sys, actorsuite.EnvParams+"="+string(params), actorsuite.EnvResult+"="+out)
	if r.profiles != "" {
		name := fmt.Sprintf("%s-%s-%d.pprof", strings.ReplaceAll(p.Case, "/", "-"), sys, rep)
		cmd.Env = append(cmd.Env, actorsuite.EnvProfile+"="+filepath.Join(r.profiles, name))
	}
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			why := "interrupted"
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				why = fmt.Sprintf("ran past its limit of %v (3x -actor-timeout + 30s)", r.limit)
			}
			err = fmt.Errorf("%s: %w", why, err)
		}
		return actorsuite.Result{}, fmt.Errorf("%s child for %s: %w\n%s", sys, p.Case, err, tail(output.String(), 4000))
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return actorsuite.Result{}, fmt.Errorf("%s child for %s wrote no result: %w\n%s", sys, p.Case, err, tail(output.String(), 4000))
	}
	var res actorsuite.Result
	if err := json.Unmarshal(b, &res); err != nil {
		return actorsuite.Result{}, fmt.Errorf("%s child for %s: %w", sys, p.Case, err)
	}
	return res, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// twoCPUs says why cross-core ping-pong cannot run here, or "".
func twoCPUs() string {
	if runtime.NumCPU() < 2 || runtime.GOMAXPROCS(0) < 2 {
		return fmt.Sprintf("needs 2 CPUs (%d allowed, GOMAXPROCS %d)", runtime.NumCPU(), runtime.GOMAXPROCS(0))
	}
	return ""
}

// actors runs the actor suite: every repetition runs every case on every
// system, one child process each, systems alternating.
//
// An interrupt (SIGINT or SIGTERM) kills the running child (or stops the
// build of the protoactor child) and removes the children's directory
// before the bench exits, where the signal's default
// action left the child measuring on (a child gets the signal too only
// when it is sent to the whole process group, as a terminal's Ctrl-C is)
// and the directory, with the protoactor binary, behind.
func (s *suite) actors(w io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	p := s.o.actor
	r, err := newActorRunner(ctx, s.systems, p, s.progress)
	if err != nil {
		return err
	}
	defer r.close()
	r.profiles = s.o.actorProfiles // made by newSuite
	var failed []string
	for rep := 1; rep <= s.o.actorReps; rep++ {
		for _, c := range s.cases {
			for _, sys := range s.systems {
				fmt.Fprintf(s.progress, "\r%-72s", fmt.Sprintf("bench: actors, %s, %s, repetition %d of %d", c, sys, rep, s.o.actorReps))
				p.Case = c
				var res actorsuite.Result
				if why := twoCPUs(); c == actorsuite.PingPongCrossCore && why != "" {
					res = actorsuite.Result{Case: c, System: sys, Skipped: why}
				} else if res, err = r.run(ctx, sys, p, rep); err != nil {
					return err
				}
				res.Rep = rep
				if res.Failure != "" {
					failed = append(failed, fmt.Sprintf("%s on %s, repetition %d: %s", c, sys, rep, res.Failure))
				}
				s.actorResults = append(s.actorResults, res)
			}
		}
	}
	fmt.Fprint(s.progress, "\r"+strings.Repeat(" ", 72)+"\r")
	s.actorTables(w)
	if len(failed) > 0 {
		for _, f := range failed {
			fmt.Fprintln(w, "FAIL", f)
		}
		return fmt.Errorf("actors: %d failed check(s)", len(failed))
	}
	skipped := 0
	for _, r := range s.actorResults {
		if r.Skipped != "" {
			skipped++
		}
	}
	if skipped > 0 {
		fmt.Fprintf(w, "\nevery actor case that ran checked its result (%d measurements checked their result, %d skipped).\n", len(s.actorResults)-skipped, skipped)
		return nil
	}
	fmt.Fprintf(w, "\nevery actor case checked its result on every system (%d measurements).\n", len(s.actorResults))
	return nil
}

// actorFind returns the results of case c on sys that ran.
func (s *suite) actorFind(c, sys string) []actorsuite.Result {
	var out []actorsuite.Result
	for _, r := range s.actorResults {
		if r.Case == c && r.System == sys && r.Skipped == "" && r.Failure == "" {
			out = append(out, r)
		}
	}
	return out
}

// actorRatio is the median over repetitions of sys's rate divided by
// hollywood's in the same repetition; above 1 is faster. 0: no baseline.
func (s *suite) actorRatio(c, sys string) float64 {
	var rs []float64
	base := s.actorFind(c, "hollywood")
	for _, r := range s.actorFind(c, sys) {
		for _, b := range base {
			if b.Rep == r.Rep && b.Rate() > 0 {
				rs = append(rs, r.Rate()/b.Rate())
			}
		}
	}
	return median(rs)
}

// actorMedians are a case's median rate, p50 and allocations per op on sys.
func (s *suite) actorMedians(c, sys string) (rate, p50, allocs float64, n int) {
	var rates, p50s, as []float64
	for _, r := range s.actorFind(c, sys) {
		rates, as = append(rates, r.Rate()), append(as, r.AllocsPerOp())
		if r.P50Ns > 0 {
			p50s = append(p50s, float64(r.P50Ns))
		}
	}
	return median(rates), median(p50s), median(as), len(rates)
}

// actorTitle describes case c with the run's sizes.
func actorTitle(c string, p actorsuite.Params) string {
	switch c {
	case actorsuite.PingPongOneCore:
		return fmt.Sprintf("%d round trips between two actors, GOMAXPROCS=1 (coregate: one executor); p50: the round trip", p.Rounds)
	case actorsuite.PingPongCrossCore:
		return fmt.Sprintf("%d round trips between two actors on two CPUs (coregate: executors 0 and 1); p50: the round trip", p.Rounds)
	case actorsuite.Counting:
		return fmt.Sprintf("one sender tells one actor %d increments, then asks for the count", p.Count)
	case actorsuite.Ask:
		return fmt.Sprintf("%d blocking round trips from outside any actor, one at a time, each reply checked (a msg: one round trip); p50: the round trip", p.Asks)
	case actorsuite.ThreadRing:
		return fmt.Sprintf("a token passed %d hops around a ring of %d actors", p.RingHops, p.RingActors)
	case actorsuite.ForkJoinThrough:
		return fmt.Sprintf("%d actors each receive %d messages from one sender", p.FJActors, p.FJMessages)
	case actorsuite.ForkJoinCreation:
		return fmt.Sprintf("%d actors created, one message each, each reporting back", p.Creations)
	case actorsuite.Big:
		return fmt.Sprintf("%d actors each ping random others %d times, one ping in flight each", p.BigActors, p.BigPings)
	case actorsuite.Chameneos:
		return fmt.Sprintf("%d creatures, %d meetings through one mall actor (4 messages a meeting)", p.Creatures, p.Meetings)
	case actorsuite.Bank:
		return fmt.Sprintf("a teller sends %d transfers between %d accounts at once; every balance checked", p.Transactions, p.Accounts)
	}
	return c
}

// actorTables prints a table per case and a summary of the suite.
func (s *suite) actorTables(w io.Writer) {
	fmt.Fprintf(w, "\nactor suite (Savina workloads), %d repetition(s), one child process per measurement; vs hollywood: the system's rate divided by hollywood's in the same repetition (median), above 1 is faster\n", s.o.actorReps)
	for _, c := range s.cases {
		unit := actorsuite.Unit(c)
		fmt.Fprintf(w, "\n%s: %s\n", c, actorTitle(c, s.o.actor))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "system\t%s median\tmin\tmax\tp50\tallocs/%s\tvs hollywood\t\n", unit, strings.TrimSuffix(unit, "s/s"))
		for _, sys := range s.systems {
			row := sys + "\t"
			var rates []float64
			for _, r := range s.actorFind(c, sys) {
				rates = append(rates, r.Rate())
			}
			rate, p50, allocs, n := s.actorMedians(c, sys)
			switch {
			case n > 0:
				row += fmt.Sprintf("%s\t%s\t%s\t%s\t%.2f\t%s\t", fmtRate(rate), fmtRate(slices.Min(rates)), fmtRate(slices.Max(rates)), fmtP50(p50), allocs, fmtRatio(s.actorRatio(c, sys)))
			case s.actorStatus(c, sys) != "":
				row += s.actorStatus(c, sys) + "\t\t\t\t\t\t"
			}
			fmt.Fprintln(tw, row)
		}
		tw.Flush()
	}
	fmt.Fprintf(w, "\nactor suite summary: median rate (vs hollywood)\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "case\tunit\t"+strings.Join(s.systems, "\t")+"\t")
	for _, c := range s.cases {
		row := c + "\t" + actorsuite.Unit(c) + "\t"
		for _, sys := range s.systems {
			rate, _, _, n := s.actorMedians(c, sys)
			switch {
			case n == 0:
				row += s.actorStatus(c, sys) + "\t"
			case sys == "hollywood":
				row += fmtRate(rate) + "\t"
			default:
				row += fmt.Sprintf("%s (%s)\t", fmtRate(rate), fmtRatio(s.actorRatio(c, sys)))
			}
		}
		fmt.Fprintln(tw, row)
	}
	tw.Flush()
}

// actorStatus is FAIL or skipped when no result of case c on sys counts.
func (s *suite) actorStatus(c, sys string) string {
	status := "-"
	for _, r := range s.actorResults {
		if r.Case == c && r.System == sys {
			switch {
			case r.Failure != "":
				return "FAIL"
			case r.Skipped != "":
				status = "skipped: " + r.Skipped
			}
		}
	}
	return status
}

func fmtRate(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func fmtP50(ns float64) string {
	if ns == 0 {
		return "-"
	}
	return fmtNs(ns)
}

// validActorOptions checks the actor suite's flags and resolves its lists.
func (s *suite) validActorOptions() error {
	if err := s.o.actor.Validate(); err != nil {
		return err
	}
	if s.o.actorReps < 1 || s.o.actorReps > maxReps {
		return fmt.Errorf("-actor-reps must be between 1 and %d, got %d", maxReps, s.o.actorReps)
	}
	var err error
	if s.cases, err = pick("-actor-cases", s.o.actorCases, actorsuite.Cases); err != nil {
		return err
	}
	if s.systems, err = pick("-actor-systems", s.o.actorSystems, actorSystemNames); err != nil {
		return err
	}
	// coregate's bank gives every mailbox room for the whole burst (see
	// cgBank), and a mailbox holds at most coregate.MaxMailboxSize: past
	// it, its Spawn would fail after every case before it had run.
	if most := coregate.MaxMailboxSize - 1; slices.Contains(s.cases, actorsuite.Bank) &&
		slices.Contains(s.systems, "coregate") && s.o.actor.Transactions > most {
		return fmt.Errorf("-transactions must be at most %d for coregate's bank (its mailboxes hold the whole burst), got %d", most, s.o.actor.Transactions)
	}
	return nil
}

// pick returns the names listed in flag, each known, in known's order.
func pick(flag, list string, known []string) ([]string, error) {
	var out []string
	for _, name := range splitList(list) {
		if !slices.Contains(known, name) {
			return nil, fmt.Errorf("unknown name %q in %s (want %s)", name, flag, strings.Join(known, ", "))
		}
		out = append(out, name)
	}
	if len(out) == 0 {
		return nil, errors.New(flag + " names nothing")
	}
	slices.SortFunc(out, func(a, b string) int { return slices.Index(known, a) - slices.Index(known, b) })
	return slices.Compact(out), nil
}
