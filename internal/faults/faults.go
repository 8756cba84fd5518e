// Package faults is the test seam for failures that user code cannot cause: an
// executor's loop failing and a thread failing to pin. Production code only
// reads it; tests set it to drive the supervisor's restart, down and
// cool-down paths deterministically.
package faults

import "sync/atomic"

// Injector decides whether executor exec fails now.
type Injector func(exec int) error

var (
	loop atomic.Pointer[Injector]
	pin  atomic.Pointer[Injector]
)

// SetLoop makes an executor's loop panic with f's error whenever f returns one;
// the loop asks before each token. nil removes it. It returns a func that
// removes it.
func SetLoop(f Injector) func() { return set(&loop, f) }

// SetPin makes pinning executor exec's thread fail with f's error whenever f
// returns one. nil removes it. It returns a func that removes it.
func SetPin(f Injector) func() { return set(&pin, f) }

func set(p *atomic.Pointer[Injector], f Injector) func() {
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
