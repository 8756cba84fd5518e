package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/alitto/pond/v2"
	"github.com/anthdm/hollywood/actor"
	"github.com/coregate/coregate"
	"github.com/panjf2000/ants/v2"
)

// A peer runs jobs the way one library or pattern is meant to be used. Each
// measurement opens a fresh peer sized to workers, runs batches and closes it.
// job is fixed for the peer's life: job(i) is token i's work and result.
type peer interface {
	open(workers int, job func(i int) int) error
	// batch runs job(i) for every i in [lo, hi), calling before(i) (if not
	// nil) just before submitting i, stores each result in res[i] and returns
	// once all of them completed. Several goroutines may call it at once with
	// disjoint ranges.
	batch(lo, hi int, res []int, before func(i int)) error
	close() error
}

// peers lists every peer, in the order tables show them. The goroutine per
// task comes first: it is the baseline of the ratios.
var peers = []struct {
	name string
	make func(cores int) peer // cores: coregate's executors, the suite's CPUs
	note string
}{
	{"goroutine", func(int) peer { return &goroutinePeer{} }, "go f() per task, sync.WaitGroup"},
	{"chanpool", func(int) peer { return &chanPool{} }, "workers reading a buffered channel"},
	{"ants", func(int) peer { return &antsPeer{} }, "ants/v2 Pool.Submit"},
	{"pond", func(int) peer { return &pondPeer{} }, "pond/v2 Pool.Go, fire and forget"},
	{"pond-futures", func(int) peer { return &pondFutures{} }, "pond/v2 ResultPool[int].Submit, Wait on each"},
	{"hollywood", func(int) peer { return &hollywoodPeer{} }, "one hollywood actor per worker, engine.Send"},
	{"coregate", func(c int) peer { return &coregatePeer{cores: c, affinity: coregate.BestEffort} }, "pinned executors, Submit/Wait"},
	{"coregate-off", func(c int) peer { return &coregatePeer{cores: c, affinity: coregate.Off} }, "coregate with Affinity: Off"},
	{"coregate-all", func(c int) peer { return &coregatePeer{cores: c, affinity: coregate.BestEffort, all: true} }, "pinned executors, one SubmitAll per batch, Wait on each"},
	{"coregate-off-nospin", func(c int) peer { return &coregatePeer{cores: c, affinity: coregate.Off, idleSpin: -1} }, "coregate with Affinity: Off and IdleSpin: -1 (no idle polling)"},
}

// goroutinePeer starts a goroutine per task; it has no concurrency setting.
type goroutinePeer struct{ job func(int) int }

func (p *goroutinePeer) open(_ int, job func(int) int) error { p.job = job; return nil }
func (p *goroutinePeer) close() error                        { return nil }

func (p *goroutinePeer) batch(lo, hi int, res []int, before func(int)) error {
	return closures(lo, hi, res, before, p.job, func(f func()) error { go f(); return nil })
}

// closures runs job(i) for i in [lo, hi) as closures handed to submit,
// waiting for them on a WaitGroup: how goroutines, ants and pond's Go are used.
func closures(lo, hi int, res []int, before func(int), job func(int) int, submit func(func()) error) error {
	var wg sync.WaitGroup
	wg.Add(hi - lo)
	for i := lo; i < hi; i++ {
		if before != nil {
			before(i)
		}
		if err := submit(func() {
			res[i] = job(i)
			wg.Done()
		}); err != nil {
			return err
		}
	}
	wg.Wait()
	return nil
}

// chanPool is the plain worker pool: workers receive tasks from one buffered
// channel.
type chanPool struct {
	job     func(int) int
	tasks   chan poolTask
	workers sync.WaitGroup
}

type poolTask struct {
	i    int
	res  []int
	done *sync.WaitGroup
}

func (p *chanPool) open(workers int, job func(int) int) error {
	p.job, p.tasks = job, make(chan poolTask, 1024)
	for range workers {
		p.workers.Go(func() {
			for t := range p.tasks {
				t.res[t.i] = p.job(t.i)
				t.done.Done()
			}
		})
	}
	return nil
}

func (p *chanPool) batch(lo, hi int, res []int, before func(int)) error {
	var wg sync.WaitGroup
	wg.Add(hi - lo)
	for i := lo; i < hi; i++ {
		if before != nil {
			before(i)
		}
		p.tasks <- poolTask{i, res, &wg}
	}
	wg.Wait()
	return nil
}

func (p *chanPool) close() error {
	close(p.tasks)
	p.workers.Wait()
	return nil
}

// antsPeer submits closures to an ants pool of workers goroutines (Submit
// blocks while every worker is busy, ants' default).
type antsPeer struct {
	job  func(int) int
	pool *ants.Pool
}

func (p *antsPeer) open(workers int, job func(int) int) (err error) {
	p.job = job
	p.pool, err = ants.NewPool(workers)
	return err
}

func (p *antsPeer) batch(lo, hi int, res []int, before func(int)) error {
	return closures(lo, hi, res, before, p.job, p.pool.Submit)
}

func (p *antsPeer) close() error { return p.pool.ReleaseTimeout(10 * time.Second) }

// pondPeer uses pond's fire-and-forget Go with a WaitGroup for completion.
type pondPeer struct {
	job  func(int) int
	pool pond.Pool
}

func (p *pondPeer) open(workers int, job func(int) int) error {
	p.job, p.pool = job, pond.NewPool(workers)
	return nil
}

func (p *pondPeer) batch(lo, hi int, res []int, before func(int)) error {
	return closures(lo, hi, res, before, p.job, p.pool.Go)
}

func (p *pondPeer) close() error { p.pool.StopAndWait(); return nil }

// pondFutures uses pond's result pool: Submit returns a future, Wait gives
// the result, as coregate's tokens do.
type pondFutures struct {
	job  func(int) int
	pool pond.ResultPool[int]
}

func (p *pondFutures) open(workers int, job func(int) int) error {
	p.job, p.pool = job, pond.NewResultPool[int](workers)
	return nil
}

func (p *pondFutures) batch(lo, hi int, res []int, before func(int)) error {
	tasks := make([]pond.Result[int], 0, hi-lo)
	for i := lo; i < hi; i++ {
		if before != nil {
			before(i)
		}
		tasks = append(tasks, p.pool.Submit(func() int { return p.job(i) }))
	}
	for k, t := range tasks {
		v, err := t.Wait()
		if err != nil {
			return err
		}
		res[lo+k] = v
	}
	return nil
}

func (p *pondFutures) close() error { p.pool.StopAndWait(); return nil }

// hollywoodPeer spawns one plain hollywood actor per worker and sends each
// task to the next actor, round robin; a message carries the result slot.
type hollywoodPeer struct {
	job    func(int) int
	engine *actor.Engine
	pids   []*actor.PID
	next   uint64
	mu     sync.Mutex
}

type hollywoodTask struct {
	i    int
	res  []int
	done *sync.WaitGroup
}

func (p *hollywoodPeer) open(workers int, job func(int) int) (err error) {
	p.job = job
	if p.engine, err = actor.NewEngine(actor.NewEngineConfig()); err != nil {
		return err
	}
	for k := range workers {
		p.pids = append(p.pids, p.engine.SpawnFunc(func(c *actor.Context) {
			if t, ok := c.Message().(hollywoodTask); ok {
				t.res[t.i] = p.job(t.i)
				t.done.Done()
			}
		}, "worker", actor.WithID(strconv.Itoa(k))))
	}
	return nil
}

func (p *hollywoodPeer) batch(lo, hi int, res []int, before func(int)) error {
	var wg sync.WaitGroup
	wg.Add(hi - lo)
	p.mu.Lock()
	start := p.next
	p.next += uint64(hi - lo)
	p.mu.Unlock()
	for i := lo; i < hi; i++ {
		if before != nil {
			before(i)
		}
		p.engine.Send(p.pids[(start+uint64(i-lo))%uint64(len(p.pids))], hollywoodTask{i, res, &wg})
	}
	wg.Wait()
	return nil
}

func (p *hollywoodPeer) close() error {
	var wg sync.WaitGroup
	for _, pid := range p.pids {
		wg.Go(func() { <-p.engine.Poison(pid).Done() })
	}
	wg.Wait()
	return nil
}

// coregatePeer runs the job as an op on a coregate runtime: one executor per
// CPU whatever workers says (it has no concurrency setting).
type coregatePeer struct {
	cores    int
	affinity coregate.Affinity
	all      bool          // a batch is one SubmitAll
	idleSpin time.Duration // Config.IdleSpin
	rt       *coregate.Runtime
	op       *coregate.Op[int, int]
}

func (p *coregatePeer) open(workers int, job func(int) int) (err error) {
	return p.start(coregate.Config{Cores: p.cores, Affinity: p.affinity, IdleSpin: p.idleSpin}, job)
}

// openBlocking runs the jobs on coregate's blocking lane (WithBlocking), with
// workers goroutines, as a user with sleeping or I/O handlers would.
func (p *coregatePeer) openBlocking(workers int, job func(int) int) error {
	return p.start(coregate.Config{Cores: p.cores, Affinity: p.affinity, IdleSpin: p.idleSpin, BlockingWorkers: workers}, job, coregate.WithBlocking())
}

func (p *coregatePeer) start(cfg coregate.Config, job func(int) int, opts ...coregate.Option) (err error) {
	if p.rt, err = coregate.Start(cfg); err != nil {
		return err
	}
	p.op, err = coregate.Define(p.rt, "job", func(_ context.Context, i int) (int, error) { return job(i), nil }, opts...)
	if err != nil {
		_ = p.rt.Stop(context.Background()) // the peer is not opened: no close follows
	}
	return err
}

func (p *coregatePeer) batch(lo, hi int, res []int, before func(int)) error {
	ctx := context.Background()
	if p.all {
		return p.batchAll(ctx, lo, hi, res, before)
	}
	toks := make([]*coregate.Token[int], 0, hi-lo)
	for i := lo; i < hi; i++ {
		if before != nil {
			before(i)
		}
		tok, err := p.op.Submit(ctx, i)
		if err != nil {
			return err
		}
		toks = append(toks, tok)
	}
	return waitAll(ctx, toks, res[lo:])
}

// waitAll waits for toks, in order, keeping their results in res.
func waitAll(ctx context.Context, toks []*coregate.Token[int], res []int) error {
	for k, tok := range toks {
		v, err := tok.Wait(ctx)
		if err != nil {
			return err
		}
		res[k] = v
	}
	return nil
}

// batchAll submits the batch with one SubmitAll, every token's submit
// time taken as the call's.
func (p *coregatePeer) batchAll(ctx context.Context, lo, hi int, res []int, before func(int)) error {
	args := make([]int, hi-lo)
	for i := range args {
		args[i] = lo + i
		if before != nil {
			before(lo + i)
		}
	}
	toks, err := p.op.SubmitAll(ctx, args)
	if err != nil {
		return err
	}
	return waitAll(ctx, toks, res[lo:])
}

func (p *coregatePeer) close() error {
	if err := p.rt.Stop(context.Background()); err != nil {
		return err
	}
	if s := p.rt.Stats().Total; s.Submitted != s.Succeeded {
		return fmt.Errorf("coregate counts do not add up: %+v", s)
	}
	return nil
}
