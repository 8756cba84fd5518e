package actors

import (
	"runtime"
	"sync"
)

// spinMutex is a sync.Mutex whose Lock, finding it held, looks again after
// each single PAUSE for up to spinTries looks before it falls back to the
// mutex's own Lock. sync.Mutex waits 30 PAUSEs between its looks
// (procyield(30)): about 700 ns on this project's development VM (AMD EPYC,
// where one PAUSE takes some 23 ns), against the tens of nanoseconds a
// cell's critical sections hold it. A sender that found a cell's lock taken
// by the turn swapping its batch out (once per batch) waited out that whole
// spin: in the counting benchmark (one sender telling one actor, 70 messages
// a batch) 1.3 such waits a batch made some 13 ns of its 36 ns a message.
//
// Unlike sync.Mutex it spins whether or not goroutines wait for the
// caller's P. An executor's mailbox, whose lock submitters outnumbering
// the CPUs take, keeps sync.Mutex: with this lock there the busy latency
// workload's p99 doubled (15-17 to 28-30 us, p99.9 to 115-581 us).
type spinMutex struct{ sync.Mutex }

// spinTries bounds the single-PAUSE looks of spinMutex.Lock: a few
// microseconds at most, then the mutex's own spin and sleep.
const spinTries = 128

// spinning is whether more than one P may run Go code: with one, the holder
// cannot let go while the caller spins. Set once, when the package loads.
var spinning = runtime.GOMAXPROCS(0) > 1

// Lock locks m.
func (m *spinMutex) Lock() {
	if !m.TryLock() {
		m.lockSlow()
	}
}

func (m *spinMutex) lockSlow() {
	if !spinning || !m.spin(spinTries) {
		m.Mutex.Lock()
	}
}

// spin looks for m free after each PAUSE, tries times at most, and reports
// whether it locked m.
func (m *spinMutex) spin(tries int) bool {
	for range tries {
		pause()
		if m.TryLock() {
			return true
		}
	}
	return false
}
