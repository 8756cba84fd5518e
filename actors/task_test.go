package actors

import "testing"

// TestDoneClosedWhenWatchStartsAsTokenEnds (found in review): a goroutine
// the handler left behind calls Done on its context as the token resolves:
// Done finds it not yet done, finish finds no watch to stop, then Done
// installs its watch. The channel Done returns must close all the same (the
// handler has returned); the watch saw the token done and stopped itself,
// but left the channel open for good.
func TestDoneClosedWhenWatchStartsAsTokenEnds(t *testing.T) {
	_, e := startOneExecutor(t)
	tk := newJob(1, nil).Task()
	tk.exec = e
	// Done looked (not done yet), then the token resolved...
	if !tk.Resolve(Succeeded, nil) {
		t.Fatal("resolve refused")
	}
	tk.startWatch() // ... then Done went on: the watch goes in after finish looked for one
	select {
	case <-tk.cancel.ch(): // what that Done returns
	default:
		t.Fatal("Done's channel stays open after the token resolved")
	}
}
