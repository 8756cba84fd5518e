package actors

import (
	"testing"
	"unsafe"
)

// TestMailboxLayout: what a push writes and what a polling consumer reads
// share the mailbox's first cache line, the fields a push only reads fill
// the second, the consumer's own the third, and the struct is 192 bytes (a
// size class whose objects start on line boundaries).
func TestMailboxLayout(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the layout is laid out for 64-bit platforms")
	}
	var m Mailbox
	if got := unsafe.Sizeof(m); got != 192 {
		t.Fatalf("Mailbox is %d bytes, want 192", got)
	}
	for name, off := range map[string]uintptr{"mu": unsafe.Offsetof(m.mu), "q": unsafe.Offsetof(m.q), "n": unsafe.Offsetof(m.n), "pushed": unsafe.Offsetof(m.pushed), "ready": unsafe.Offsetof(m.ready), "parked": unsafe.Offsetof(m.parked), "gone": unsafe.Offsetof(m.gone)} {
		if off >= 64 {
			t.Errorf("%s at offset %d, off the first line", name, off)
		}
	}
	if off := unsafe.Offsetof(m.size); off != 64 {
		t.Errorf("size at offset %d, want the second line's start", off)
	}
	for name, off := range map[string]uintptr{"batch": unsafe.Offsetof(m.batch), "pos": unsafe.Offsetof(m.pos), "taken": unsafe.Offsetof(m.taken), "hasFront": unsafe.Offsetof(m.hasFront)} {
		if off < 128 {
			t.Errorf("%s at offset %d, before the consumer's line", name, off)
		}
	}
	for range 10 {
		mailboxSink = NewMailbox(8, nil) // on the heap, as an executor's is
		if p := uintptr(unsafe.Pointer(mailboxSink)); p%64 != 0 {
			t.Fatalf("a new mailbox at %#x, not on a cache line", p)
		}
	}
}

var mailboxSink *Mailbox

// TestOpLayout: every actor holds an Op (its Asks'), never timed, so the
// sampled cost lives in a line of its own the first sample makes, not in
// the Op: with it padded inside, an idle actor took about 70 bytes more
// (881-891 B before, 949-956 after a707505, TestTenThousandActorsSpread).
func TestOpLayout(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the layout is laid out for 64-bit platforms")
	}
	if got := unsafe.Sizeof(Op{}); got > 56 {
		t.Fatalf("Op is %d bytes, want at most 56", got)
	}
	if got := unsafe.Sizeof(opSamples{}); got != 64 {
		t.Fatalf("opSamples is %d bytes, want a cache line's 64", got)
	}
	var o Op
	o.observe(100)
	if p := uintptr(unsafe.Pointer(o.samples.Load())); p%64 != 0 {
		t.Fatalf("an op's samples at %#x, not on a cache line", p)
	}
}
