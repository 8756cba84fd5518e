package testkit

import (
	"context"

	"github.com/coregate/coregate/actors"
)

// Job is an actors.Job running Fn (nil: does nothing).
type Job struct {
	task actors.Task
	Fn   func(ctx context.Context) error
}

// NewJob returns a job with the given id and function.
func NewJob(id uint64, fn func(ctx context.Context) error) *Job { return NewJobOf(&op, id, fn) }

// NewJobOf returns a job of op (whose cost the executors learn, see
// [actors.Op.Cheap]) with the given id and function.
func NewJobOf(op *actors.Op, id uint64, fn func(ctx context.Context) error) *Job {
	j := &Job{Fn: fn}
	j.task.Init(context.Background(), id, op, nil)
	return j
}

// op names every testkit job "testkit" in reports.
var op = actors.Op{Name: "testkit"}

// Task returns the job's bookkeeping.
func (j *Job) Task() *actors.Task { return &j.task }

// Run runs Fn.
func (j *Job) Run(ctx context.Context) error {
	if j.Fn == nil {
		return nil
	}
	return j.Fn(ctx)
}

// Finished reports whether t is resolved, without waiting.
func Finished(t *actors.Task) bool {
	select {
	case <-t.Finished():
		return true
	default:
		return false
	}
}
