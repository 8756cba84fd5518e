// Command pipeline runs a three-stage pipeline of coregate actors fed from a
// channel: parse ("sensor,celsius" lines into readings), convert (to
// Fahrenheit) and a sink that keeps totals per sensor. Every stage has a
// bounded mailbox and Tells the next one, waiting for room, so a slow last
// stage holds the one before it, and so on up to the source, which stops
// reading the channel, which blocks the producer: backpressure from the
// last stage to the source, with a bounded number of events in flight.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coregate/coregate"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout, 100_000); err != nil {
		log.Fatal(err)
	}
}

// MaxCelsius bounds a reading, either side of zero: past any sensor's, and
// so far from float64's limit that no sum of readings overflows.
const MaxCelsius = 1e6

// item travels down the pipeline. A flush asks for the totals: it is queued
// behind everything sent before it, stage by stage.
type item struct {
	line   string
	sensor string
	value  float64
	bad    bool
	flush  bool
}

// totals is what the sink has seen.
type totals struct {
	Events, Bad int
	Sensors     map[string]sensor
}

type sensor struct {
	Count    int
	Sum, Max float64
}

type stageRef = *coregate.Ref[item, totals]

// forward passes it to next: a Tell, waiting for room, or for a flush an Ask
// whose answer is the sink's totals.
func forward(c *coregate.ActorContext, next stageRef, it item) (totals, error) {
	if !it.flush {
		return totals{}, next.Tell(c, it)
	}
	tok, err := next.Ask(c, it)
	if err != nil {
		return totals{}, err
	}
	return tok.Wait(c)
}

// parser turns a line into a reading; a line that does not parse goes on
// marked bad, for the sink to count.
type parser struct{ next stageRef }

func (p *parser) Receive(c *coregate.ActorContext, it item) (totals, error) {
	if !it.flush {
		name, v, ok := strings.Cut(it.line, ",")
		f, err := strconv.ParseFloat(v, 64)
		// NaN, the infinities and readings past MaxCelsius parse, and
		// would spoil the sensor's mean and max for good (1e308 is +Inf
		// once converted, and smaller ones overflow the sum): bad lines
		// too. NaN fails the comparison.
		number := err == nil && math.Abs(f) <= MaxCelsius
		it.sensor, it.value, it.bad = name, f, !ok || !number || name == ""
	}
	return forward(c, p.next, it)
}

// converter turns Celsius into Fahrenheit.
type converter struct{ next stageRef }

func (v *converter) Receive(c *coregate.ActorContext, it item) (totals, error) {
	if !it.flush && !it.bad {
		it.value = it.value*9/5 + 32
	}
	return forward(c, v.next, it)
}

// sink keeps the totals; slow, when set, runs before each event (a test
// holds the sink with it).
type sink struct {
	t    totals
	slow func()
}

func (s *sink) Receive(_ *coregate.ActorContext, it item) (totals, error) {
	if it.flush {
		out := s.t
		out.Sensors = make(map[string]sensor, len(s.t.Sensors))
		for k, v := range s.t.Sensors {
			out.Sensors[k] = v
		}
		return out, nil
	}
	if s.slow != nil {
		s.slow()
	}
	s.t.Events++
	if it.bad {
		s.t.Bad++
		return totals{}, nil
	}
	sn, seen := s.t.Sensors[it.sensor]
	if !seen {
		sn.Max = it.value
	}
	sn.Count++
	sn.Sum += it.value
	sn.Max = max(sn.Max, it.value)
	s.t.Sensors[it.sensor] = sn
	return totals{}, nil
}

// pipeline is the three stages; feed reads a channel into the first.
type pipeline struct{ first stageRef }

// build spawns the stages, the sink first, each with a mailbox of mailbox
// items and on an executor of its own while there are enough (stage i on
// executor i modulo their number).
func build(rt *coregate.Runtime, mailbox int, slow func()) (*pipeline, error) {
	box := coregate.WithMailbox(mailbox)
	on := func(stage int) coregate.Option { return coregate.OnExecutor(stage % len(rt.Executors())) }
	sk, err := coregate.Spawn(rt, "sink", func() coregate.Actor[item, totals] {
		return &sink{t: totals{Sensors: map[string]sensor{}}, slow: slow}
	}, box, on(2))
	if err != nil {
		return nil, err
	}
	conv, err := coregate.Spawn(rt, "convert", func() coregate.Actor[item, totals] { return &converter{next: sk} }, box, on(1))
	if err != nil {
		return nil, err
	}
	first, err := coregate.Spawn(rt, "parse", func() coregate.Actor[item, totals] { return &parser{next: conv} }, box, on(0))
	if err != nil {
		return nil, err
	}
	return &pipeline{first: first}, nil
}

// feed sends every line of events to the first stage until events is closed
// or ctx ends, calling taken (when not nil) for each line it takes. Its Tell
// waits while the first stage's mailbox is full: feed then stops reading
// events.
func (p *pipeline) feed(ctx context.Context, events <-chan string, taken func()) error {
	for {
		select {
		case line, ok := <-events:
			if !ok {
				return nil
			}
			if taken != nil {
				taken()
			}
			if err := p.first.Tell(ctx, item{line: line}); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// totals returns the sink's totals, behind everything fed before.
func (p *pipeline) totals(ctx context.Context) (totals, error) {
	tok, err := p.first.Ask(ctx, item{flush: true})
	if err != nil {
		return totals{}, err
	}
	return tok.Wait(ctx)
}

// produce sends n lines to events, one in 100 malformed, and closes it.
func produce(ctx context.Context, events chan<- string, n int) {
	defer close(events)
	for i := range n {
		line := fmt.Sprintf("sensor-%d,%d", i%4, i%50)
		if i%100 == 99 {
			line = "garbage"
		}
		select {
		case events <- line:
		case <-ctx.Done():
			return
		}
	}
}

// run pushes n events through the pipeline and prints the totals.
func run(ctx context.Context, out io.Writer, n int) error {
	rt, err := coregate.Start(coregate.Config{})
	if err != nil {
		return err
	}
	p, err := build(rt, 256, nil)
	if err == nil {
		events := make(chan string, 64)
		go produce(ctx, events, n)
		if err = p.feed(ctx, events, nil); err == nil {
			err = p.print(ctx, out)
		}
	}
	return errors.Join(err, rt.Stop(ctx))
}

func (p *pipeline) print(ctx context.Context, out io.Writer) error {
	t, err := p.totals(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%d events, %d bad\n", t.Events, t.Bad)
	names := make([]string, 0, len(t.Sensors))
	for name := range t.Sensors {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		s := t.Sensors[name]
		fmt.Fprintf(out, "%s: %d readings, mean %.1f F, max %.1f F\n", name, s.Count, s.Sum/float64(s.Count), s.Max)
	}
	return nil
}
