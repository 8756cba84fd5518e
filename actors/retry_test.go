package actors

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// retryHook retries a failure once after delay, calling during (if set) as
// the executor decides: the moment between its check for a Cancel and its
// queueing the token again.
type retryHook struct {
	delay   time.Duration
	during  func()
	retried bool
	HookBase
}

func (h *retryHook) Resolved(*Task) {}
func (h *retryHook) Anchor() any    { return nil }
func (h *retryHook) Retry(Outcome, error) (time.Duration, bool) {
	if h.during != nil {
		h.during()
	}
	if h.retried {
		return 0, false
	}
	h.retried = true
	return h.delay, true
}

var errAttempt = errors.New("attempt failed")

// newRetried returns a job that fails every attempt and counts them, with
// a retryHook.
func newRetried(h *retryHook, attempts *int) *testJob {
	j := &testJob{fn: func(context.Context) error { *attempts++; return errAttempt }}
	j.task.Init(context.Background(), 1, nil, h)
	return j
}

// TestCancelAsAnAttemptEnds: a Cancel that comes while a failed attempt is
// being queued for its retry (after the executor looked for one, before
// the token is queued again) is not lost: the token ends with that
// attempt's outcome and runs no more. It was retried, its Cancel returning
// false as if the handler still ran (found by review).
func TestCancelAsAnAttemptEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, e := startOneExecutor(t)
		attempts := 0
		h := &retryHook{delay: time.Hour}
		j := newRetried(h, &attempts)
		var cancelled bool
		h.during = func() {
			if attempts == 1 {
				cancelled = j.task.Cancel()
			}
		}
		if e.Push(j) != Pushed {
			t.Fatal("push refused")
		}
		<-j.task.Finished()
		if cancelled {
			t.Error("Cancel reported it resolved a token that was running")
		}
		checkLastAttempt(t, j, attempts)
	})
}

// TestCancelledRetryFreesItsSlot: a token cancelled while it waits out a
// retry backoff gives its mailbox slot back at once (DropRetry, which the
// root package's hook calls as the token resolves), so a graceful drain does
// not wait for its timer: it held the slot, and Stop, until the timer fired
// (found by review).
func TestCancelledRetryFreesItsSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, e := startOneExecutor(t)
		attempts := 0
		j := newRetried(&retryHook{delay: time.Hour}, &attempts)
		if e.Push(j) != Pushed {
			t.Fatal("push refused")
		}
		synctest.Wait()
		if n := e.mb.Len(); attempts != 1 || n != 1 {
			t.Fatalf("%d attempts, %d slots held; want 1 and 1 (waiting out its backoff)", attempts, n)
		}
		if !j.task.Cancel() {
			t.Fatal("Cancel did not resolve a token waiting out its backoff")
		}
		g.DropRetry(&j.task)
		if n := e.mb.Len(); n != 0 {
			t.Fatalf("%d slots held after the retry was dropped", n)
		}
		start := time.Now()
		e.mb.Close()
		if err := g.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 0 {
			t.Fatalf("the drain waited %v for a dropped retry", d)
		}
	})
}

// TestPauseAsAFailedAttemptIsQueuedAgain: a Pause whose scan comes as a
// failed attempt's token is queued again for its retry, before its backoff
// is scheduled, cannot hold it (the root package's Pause leaves a retry in
// flight alone): the retry runs after its backoff, while paused. The scan
// found it queued in the executor's batch and parked it; the backoff was
// dropped, and the retry waited for a Resume (found by review).
func TestPauseAsAFailedAttemptIsQueuedAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, e := startOneExecutor(t)
		op := &Op{Name: "p", Hold: func(Job) bool { return false }} // a retry taken while paused runs
		attempts := 0
		j := &testJob{fn: func(context.Context) error { attempts++; return errAttempt }}
		j.task.Init(context.Background(), 1, op, &retryHook{delay: time.Second})
		held := false
		retryQueued = func() { // the root package's Pause, in between
			retryQueued = nil
			op.SetPaused(true)
			for _, q := range g.QueuedOf(op, false, nil) {
				held = q.Task().Park() || held
			}
		}
		defer func() { retryQueued = nil }()
		if e.Push(j) != Pushed {
			t.Fatal("push refused")
		}
		synctest.Wait()
		if held {
			t.Error("the Pause held a retry as its failed attempt was queued again")
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if attempts != 2 {
			t.Fatalf("%d attempts after the backoff, want 2: the retry waits", attempts)
		}
		if err := j.task.Result(); !errors.Is(err, errAttempt) {
			t.Errorf("resolved with %v, want the last attempt's error", err)
		}
	})
}

// TestAbortAsAFailedAttemptIsQueuedAgain: an Abort (a Stop whose context
// ended) that comes as a failed attempt's token is queued again for its
// retry, before its backoff is scheduled, resolves it with that attempt's
// error and counts it as a retry, as it does one waiting out its backoff:
// the token ran. It found the token in the executor's batch, read as
// queued, and resolved it with ErrStopped, counted as stopped, which says
// it never ran (found by review).
func TestAbortAsAFailedAttemptIsQueuedAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, e := startOneExecutor(t)
		attempts := 0
		j := newRetried(&retryHook{delay: time.Hour}, &attempts)
		stopped, retries := -1, -1
		retryQueued = func() { retryQueued = nil; stopped, retries = g.Abort() }
		defer func() { retryQueued = nil }()
		if e.Push(j) != Pushed {
			t.Fatal("push refused")
		}
		<-j.task.Finished()
		synctest.Wait()
		if stopped != 0 || retries != 1 {
			t.Errorf("Abort resolved %d stopped and %d retries, want 0 and 1", stopped, retries)
		}
		if err := j.task.Result(); !errors.Is(err, errAttempt) {
			t.Errorf("resolved with %v, want the attempt's error", err)
		}
		if c := e.Counts(); c.Failed != 1 || c.Stopped != 0 || c.Queued != 0 {
			t.Errorf("counts %+v, want one failed, none stopped or queued", c)
		}
		if attempts != 1 {
			t.Errorf("%d attempts, want 1", attempts)
		}
	})
}

// TestStopCountsARetryItCutShortOnItsWay: a Stop that gives up draining
// (Abort, then StopRetries) as a failed attempt is on its way to its
// backoff, after the runner looked for an abort and before it queued the
// token again, resolves that retry with the attempt's error: Abort and
// StopRetries, read again once the runner is done, count it among the
// retries. Abort found the token running, StopRetries found no backoff
// yet, and the runner, finding retries stopped (delay > 0) or the mailbox
// aborted (no delay), resolved it uncounted: the supervisor's Stop
// returned nil although it cut a retry short (found by review).
func TestStopCountsARetryItCutShortOnItsWay(t *testing.T) {
	for _, delay := range []time.Duration{time.Hour, 0} {
		t.Run(delay.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				g, e := startOneExecutor(t)
				attempts := 0
				h := &retryHook{delay: delay}
				j := newRetried(h, &attempts)
				stopped, retries := 0, 0
				h.during = func() { // the runner decides on its retry: Stop gives up
					if attempts == 1 {
						stopped, retries = g.Abort()
						retries += g.StopRetries()
					}
				}
				if e.Push(j) != Pushed {
					t.Fatal("push refused")
				}
				<-j.task.Finished()
				synctest.Wait() // the runner is done with it
				retries += g.StopRetries()
				if stopped != 0 || retries != 1 {
					t.Errorf("Stop counted %d stopped and %d retries, want 0 and 1", stopped, retries)
				}
				checkLastAttempt(t, j, attempts)
			})
		})
	}
}

// TestStopCountsARetryDueAsItGivesUp: a Stop that gives up draining as a
// retry's backoff ends, after its timer took it out of the backoffs and
// before it queued the token again, resolves it with its last attempt's
// error and counts it among the retries once the timer is done
// (StopRetries waits for it). The mailbox, aborted, refused the retry,
// which resolved uncounted (found by review).
func TestStopCountsARetryDueAsItGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g *Group
		stopped, retries := -1, -1
		g = startGroup(t, GroupConfig{CPUs: []int{0}, MailboxSize: 16, Affinity: Off}, Hooks{
			Follow: func(Job) *Executor { // the timer queues the retry: Stop gives up
				stopped, retries = g.Abort()
				return nil
			},
		})
		e := g.Executors()[0]
		attempts := 0
		j := newRetried(&retryHook{delay: time.Second}, &attempts)
		if e.Push(j) != Pushed {
			t.Fatal("push refused")
		}
		synctest.Wait()
		time.Sleep(time.Second)
		synctest.Wait()
		retries += g.StopRetries()
		if stopped != 0 || retries != 1 {
			t.Errorf("Stop counted %d stopped and %d retries, want 0 and 1", stopped, retries)
		}
		checkLastAttempt(t, j, attempts)
	})
}

// TestStopCountsARetryItCutShortAsTheAttemptEnds: a Stop that gives up
// draining (Abort, then StopRetries) as a failed attempt's handler has
// returned, before its executor looks whether to retry it, cuts that retry
// short: the token resolves with the attempt's error, counted among the
// retries, once. The executor, finding the abort, resolved it uncounted,
// as if it were its last attempt: the handler returned before the abort,
// so it was not counted as a handler cancelled either (found by review).
func TestStopCountsARetryItCutShortAsTheAttemptEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, e := startOneExecutor(t)
		attempts := 0
		j := newRetried(&retryHook{delay: time.Hour}, &attempts)
		stopped, retries := 0, 0
		retryLooking = func() {
			retryLooking = nil
			stopped, retries = g.Abort()
			retries += g.StopRetries()
		}
		defer func() { retryLooking = nil }()
		if e.Push(j) != Pushed {
			t.Fatal("push refused")
		}
		<-j.task.Finished()
		synctest.Wait() // the runner is done with it
		retries += g.StopRetries()
		if n := g.Cancelled(); stopped != 0 || retries+n != 1 {
			t.Errorf("Stop counted %d stopped, %d retries and %d handlers cancelled; want the token once", stopped, retries, n)
		}
		checkLastAttempt(t, j, attempts)
	})
}

// TestAbortDuringAFailedAttemptCountsItOnce: a failed attempt whose
// handler returned after the abort is counted once, as a handler the abort
// cancelled, and not retried: its retry is not cut short a second time.
func TestAbortDuringAFailedAttemptCountsItOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, e := startOneExecutor(t)
		attempts, stopped, retries := 0, 0, 0
		j := &testJob{fn: func(context.Context) error {
			attempts++
			stopped, retries = g.Abort()
			return errAttempt
		}}
		j.task.Init(context.Background(), 1, nil, &retryHook{delay: time.Hour})
		if e.Push(j) != Pushed {
			t.Fatal("push refused")
		}
		<-j.task.Finished()
		synctest.Wait()
		retries += g.StopRetries()
		if n := g.Cancelled(); stopped != 0 || retries != 0 || n != 1 {
			t.Errorf("Stop counted %d stopped, %d retries and %d handlers cancelled; want 0, 0 and 1", stopped, retries, n)
		}
		if err := j.task.Result(); !errors.Is(err, errAttempt) || attempts != 1 {
			t.Errorf("resolved with %v after %d attempts, want the attempt's error after 1", err, attempts)
		}
	})
}

// checkLastAttempt checks that j ran once and resolved with that attempt's
// error: its retry was cut short.
func checkLastAttempt(t *testing.T, j *testJob, attempts int) {
	t.Helper()
	if err := j.task.Result(); !errors.Is(err, errAttempt) {
		t.Errorf("resolved with %v, want the attempt's error", err)
	}
	if attempts != 1 {
		t.Errorf("%d attempts, want 1", attempts)
	}
}

// TestRetriedCountsEachRetry: every failed attempt queued again for its
// retry counts in the executor's Retried, and a last attempt that is not
// retried does not. The next attempt runs the same token (pointer and ID),
// so the count is what tells the supervisor's watchdog that the token it
// sampled ended: without it, two attempts each short of the stall
// threshold would look like one token running past it.
func TestRetriedCountsEachRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, e := startOneExecutor(t)
		attempts := 0
		j := newRetried(&retryHook{delay: time.Millisecond}, &attempts)
		if e.Push(j) != Pushed {
			t.Fatal("push refused")
		}
		<-j.task.Finished()
		if attempts != 2 {
			t.Fatalf("%d attempts, want 2", attempts)
		}
		if n := e.Retried(); n != 1 {
			t.Fatalf("Retried() = %d after one retry, want 1", n)
		}
	})
}
