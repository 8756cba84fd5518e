// Package faults is the test seam for what user code cannot cause or time:
// an executor's loop failing, a thread failing to pin, a stall's steal held
// between two of the tokens it moves, and the moment an executor finds its
// mailbox drained. Production code only reads it; tests set it to drive the
// supervisor's restart, down and cool-down paths, and a steal racing Stop,
// deterministically.
package faults

import "sync/atomic"

// Injector decides whether executor exec fails now.
type Injector func(exec int) error

// Hook is called at a moment a test waits for or holds its caller at: it
// may block.
type Hook func(n int)

var (
	loop    atomic.Pointer[Injector]
	pin     atomic.Pointer[Injector]
	steal   atomic.Pointer[Hook]
	drained atomic.Pointer[Hook]
)

// SetLoop makes an executor's loop panic with f's error whenever f returns one;
// the loop asks before each token. nil removes it. It returns a func that
// removes it.
func SetLoop(f Injector) func() { return set(&loop, f) }

// SetPin makes pinning executor exec's thread fail with f's error whenever f
// returns one. nil removes it. It returns a func that removes it.
func SetPin(f Injector) func() { return set(&pin, f) }

// SetSteal makes a steal off a stalled executor call f before it places each
// token it took, with how many of them it has moved to other executors so
// far. f may block: the steal waits there, the stalled executor's drain
// held. nil removes it. It returns a func that removes it.
func SetSteal(f Hook) func() { return set(&steal, f) }

// SetDrained makes an executor's owner that found its mailbox drained (a
// graceful Stop) call f with the executor's index before it exits: the
// mailbox refuses every job from then on, a steal's moves among them. nil
// removes it. It returns a func that removes it.
func SetDrained(f Hook) func() { return set(&drained, f) }

func set[F Injector | Hook](p *atomic.Pointer[F], f F) func() {
	if f == nil {
		p.Store(nil)
	} else {
		p.Store(&f)
	}
	return func() { p.Store(nil) }
}

// Loop returns the error executor exec's loop should fail with, or nil.
func Loop(exec int) error { return ask(&loop, exec) }

// Pin returns the error pinning executor exec's thread should fail with, or nil.
func Pin(exec int) error { return ask(&pin, exec) }

func ask(p *atomic.Pointer[Injector], exec int) error {
	if f := p.Load(); f != nil {
		return (*f)(exec)
	}
	return nil
}

// Steal calls the Hook SetSteal set, if any.
func Steal(moved int) { tell(&steal, moved) }

// Drained calls the Hook SetDrained set, if any.
func Drained(exec int) { tell(&drained, exec) }

func tell(p *atomic.Pointer[Hook], n int) {
	if f := p.Load(); f != nil {
		(*f)(n)
	}
}
