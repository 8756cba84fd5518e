package wire

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// Error returns the message of the error it stands for, or its code when
// the message is empty.
func (e *Error) Error() string {
	if e.GetMessage() == "" {
		return "coregate: remote error " + e.GetCode().String()
	}
	return e.GetMessage()
}

// NewCall returns a Call of the op named op with arg packed, bounded by
// timeout when it is above 0 (the receiving runtime cancels the token
// then); 0 is none, and the receiving runtime refuses a negative timeout
// as a bad argument. It fails only when arg cannot be marshalled.
func NewCall(op string, arg proto.Message, timeout time.Duration) (c *Call, err error) {
	defer func() {
		// Naming the type of a message that has none panics (a typed nil
		// *dynamicpb.Message): it cannot be marshalled either.
		if r := recover(); r != nil {
			c, err = nil, fmt.Errorf("coregate: packing the argument of op %q: a %T panicked: %v", op, arg, r)
		}
	}()
	packed, err := anypb.New(arg)
	if err != nil {
		return nil, fmt.Errorf("coregate: packing the argument of op %q: %w", op, err)
	}
	ms := timeout.Milliseconds()
	switch {
	case timeout > 0 && ms == 0:
		ms = 1 // a timeout under a millisecond is still a timeout
	case timeout < 0 && ms == 0:
		ms = -1 // and a negative one still negative, not none
	}
	return &Call{Op: op, Arg: packed, TimeoutMs: ms}, nil
}
