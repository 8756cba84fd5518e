package wire

import (
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// TestErrorText: an Error reads as its message, or names its code when it
// has none; a nil *Error reads as the code's zero value.
func TestErrorText(t *testing.T) {
	for _, c := range []struct {
		err  *Error
		want string
	}{
		{&Error{Code: Code_PANICKED, Message: "boom"}, "boom"},
		{&Error{Code: Code_UNKNOWN_OP}, "coregate: remote error UNKNOWN_OP"},
		{nil, "coregate: remote error FAILED"},
	} {
		if got := c.err.Error(); got != c.want {
			t.Errorf("%v reads %q, want %q", c.err, got, c.want)
		}
	}
	var target *Error
	if err := error(&Error{Code: Code_FULL}); !errors.As(err, &target) || target.GetCode() != Code_FULL {
		t.Fatalf("errors.As did not find the *Error of %v", err)
	}
}

// TestNewCallTimeout: a Call's timeout is whole milliseconds, a timeout
// under one millisecond either side of zero keeps its sign (not none), and
// 0 is none.
func TestNewCallTimeout(t *testing.T) {
	for _, c := range []struct {
		timeout time.Duration
		want    int64
	}{
		{0, 0},
		{time.Microsecond, 1},
		{-time.Microsecond, -1},
		{1500 * time.Millisecond, 1500},
		{-2 * time.Second, -2000},
	} {
		call, err := NewCall("op", wrapperspb.Int64(1), c.timeout)
		if err != nil {
			t.Fatal(err)
		}
		if call.GetTimeoutMs() != c.want || call.GetOp() != "op" {
			t.Errorf("NewCall(%v): op %q, timeout %d ms, want op and %d", c.timeout, call.GetOp(), call.GetTimeoutMs(), c.want)
		}
		var arg wrapperspb.Int64Value
		if err := call.GetArg().UnmarshalTo(&arg); err != nil || arg.GetValue() != 1 {
			t.Errorf("NewCall(%v): the argument unpacks to %v, %v", c.timeout, arg.GetValue(), err)
		}
	}
}

// TestNewCallBadArgument: an argument that cannot be packed (nil, or a
// typed nil *dynamicpb.Message, which panics when its type is named) is an
// error naming the op, not a panic.
func TestNewCallBadArgument(t *testing.T) {
	if _, err := NewCall("op", nil, 0); err == nil || !strings.Contains(err.Error(), `op "op"`) {
		t.Fatalf("a nil argument: %v, want an error naming the op", err)
	}
	if _, err := NewCall("op", (*dynamicpb.Message)(nil), 0); err == nil || !strings.Contains(err.Error(), `op "op"`) {
		t.Fatalf("a typed nil *dynamicpb.Message: %v, want an error naming the op", err)
	}
}
