package actors

import "sync/atomic"

// signal is a one-shot broadcast that allocates its channel only when somebody
// asks for it before it fires: a token that is already done when it is waited on
// costs no channel at all.
type signal struct{ p atomic.Pointer[chan struct{}] }

// fired is the shared, closed channel a fired signal points to.
var fired = func() *chan struct{} {
	c := make(chan struct{})
	close(c)
	return &c
}()

func (s *signal) isFired() bool { return s.p.Load() == fired }

// fire closes the signal's channel; it reports whether that may have woken
// a goroutine (somebody asked for the channel first).
func (s *signal) fire() (woke bool) {
	old := s.p.Swap(fired)
	if old == fired || old == nil {
		return false
	}
	close(*old)
	return true
}

// ch returns a channel that is closed once the signal fires.
func (s *signal) ch() <-chan struct{} {
	if p := s.p.Load(); p != nil {
		return *p
	}
	c := make(chan struct{})
	if s.p.CompareAndSwap(nil, &c) {
		return c
	}
	return *s.p.Load()
}
