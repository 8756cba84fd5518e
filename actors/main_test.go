package actors

import (
	"context"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testJob is a minimal Job: it runs fn and records nothing else.
type testJob struct {
	task Task
	fn   func(ctx context.Context) error
}

func newJob(id uint64, fn func(ctx context.Context) error) *testJob {
	j := &testJob{fn: fn}
	j.task.Init(context.Background(), id, nil, nil)
	return j
}

func (j *testJob) Task() *Task { return &j.task }

func (j *testJob) Run(ctx context.Context) error {
	if j.fn == nil {
		return nil
	}
	return j.fn(ctx)
}
