package supervisor

import "errors"

// ErrDownWhileDraining is a [StopError]'s Cause when Stop's context did not
// end but work was cut short all the same, because an executor was down as
// the runtime drained: a retry waiting out its backoff on it, which no
// draining executor waited for, or tokens moved off it to executors that had
// drained.
var ErrDownWhileDraining = errors.New("executors went down")
