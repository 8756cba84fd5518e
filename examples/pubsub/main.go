// Command pubsub is a publish/subscribe hub on coregate: each topic is an
// actor, and subscribers stream a topic's events over HTTP as server-sent
// events.
//
//	POST /publish?topic=news   the body is the event (MaxEvent bytes at most);
//	                           answers how many got it
//	GET  /subscribe?topic=news an event stream (text/event-stream); a HEAD
//	                           gets its headers and subscribes nobody
//
// Slow subscribers never stall fast ones. A topic hands each event to each
// subscriber's buffer (Buffer events) without waiting; a subscriber whose
// buffer is full is disconnected: its stream gets what its buffer still
// holds, then "event: dropped", and ends (it may subscribe again). A client
// that stops reading, its connection open, is disconnected too: a write to
// its stream that blocks past WriteTimeout ends it. A topic's mailbox is
// bounded too, so publishers wait for room when a topic falls behind:
// backpressure to publishers, never unbounded memory.
//
//	go run ./examples/pubsub -addr 127.0.0.1:8080
//	curl -N '127.0.0.1:8080/subscribe?topic=news' &
//	curl -d hello '127.0.0.1:8080/publish?topic=news'
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coregate/coregate"
	"github.com/coregate/coregate/examples/internal/serve"
)

// Buffer is how many events a subscriber may fall behind before it is
// disconnected.
const Buffer = 64

// WriteTimeout is how long a write to a subscriber's stream may block
// before the subscriber is disconnected: a client that stops reading, its
// connection open, is cut off after it.
const WriteTimeout = 10 * time.Second

// MaxEvent is the largest event, in bytes, a publish may carry.
const MaxEvent = 64 << 10

func main() {
	serve.Main(func(rt *coregate.Runtime) (*http.Server, func(context.Context) error, error) {
		h := newHub(rt, Buffer)
		return h.http, h.shutdown, nil
	})
}

// subscriber is one subscription: its buffer of events, closed by its topic
// when it is dropped or the topic stops.
type subscriber struct {
	events  chan string
	dropped atomic.Bool // set before events is closed, when it fell behind
}

// topicMsg is what a topic actor takes: one of subscribe, unsubscribe or an
// event to publish.
type topicMsg struct {
	subscribe, unsubscribe *subscriber
	event                  string
}

// topic is an actor: its subscribers are its state.
type topic struct{ subs map[*subscriber]struct{} }

// Receive answers how many subscribers it has, or for an event how many got
// it.
func (t *topic) Receive(_ *coregate.ActorContext, m topicMsg) (int, error) {
	switch {
	case m.subscribe != nil:
		t.subs[m.subscribe] = struct{}{}
		return len(t.subs), nil
	case m.unsubscribe != nil:
		delete(t.subs, m.unsubscribe) // its handler is gone: nobody reads events
		return len(t.subs), nil
	}
	n := 0
	for s := range t.subs {
		select {
		case s.events <- m.event:
			n++
		default: // fell Buffer events behind: disconnect it
			s.dropped.Store(true)
			close(s.events)
			delete(t.subs, s)
		}
	}
	return n, nil
}

// Stopped ends every stream when the topic stops (with the runtime).
func (t *topic) Stopped(*coregate.ActorContext) {
	for s := range t.subs {
		close(s.events)
	}
	clear(t.subs)
}

// hub is the HTTP face: the topics someone follows, by name. A topic's
// actor is spawned by its first subscriber and stopped when its last one
// leaves; publishing to a topic nobody follows spawns nothing. So topic
// names that clients make up cost nothing once their subscribers left,
// rather than an actor and its mailbox each for as long as the hub runs.
type hub struct {
	rt           *coregate.Runtime
	buffer       int
	http         *http.Server
	closing      context.Context // ends when Shutdown begins, ending every stream
	mu           sync.Mutex
	topics       map[string]*topicEntry
	spawned      int           // topics spawned so far: each actor's name is new
	writeTimeout time.Duration // how long a write to a stream may block: WriteTimeout
}

// topicEntry is a live topic: its actor and how many subscribe handlers
// hold it, counted before they subscribe and after they unsubscribed, so
// that the count is zero only when no handler can still send it a
// subscribe.
type topicEntry struct {
	ref     *coregate.Ref[topicMsg, int]
	holders int
}

func newHub(rt *coregate.Runtime, buffer int) *hub {
	h := &hub{rt: rt, buffer: buffer, writeTimeout: WriteTimeout, topics: map[string]*topicEntry{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /publish", h.publish)
	mux.HandleFunc("GET /subscribe", h.subscribe)
	h.http = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	var closed context.CancelFunc
	h.closing, closed = context.WithCancel(context.Background())
	h.http.RegisterOnShutdown(closed)
	return h
}

func validTopic(name string) error {
	if name == "" || len(name) > 64 || strings.ContainsAny(name, "/ ") {
		return fmt.Errorf("topic %q: want 1 to 64 characters, no '/' or space", name)
	}
	return nil
}

// lookup returns the named topic's actor, or nil when nobody follows it.
func (h *hub) lookup(name string) *coregate.Ref[topicMsg, int] {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e, ok := h.topics[name]; ok {
		return e.ref
	}
	return nil
}

// hold returns the named topic's actor for a subscriber, spawning it if
// nobody follows the topic; release lets go of it.
func (h *hub) hold(name string) (*coregate.Ref[topicMsg, int], error) {
	if err := validTopic(name); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if e, ok := h.topics[name]; ok {
		e.holders++
		return e.ref, nil
	}
	// A name of its own: the actor of a topic its last subscriber just
	// left may still be stopping under the old one.
	h.spawned++
	ref, err := coregate.Spawn(h.rt, fmt.Sprintf("topic-%s-%d", name, h.spawned), func() coregate.Actor[topicMsg, int] {
		return &topic{subs: map[*subscriber]struct{}{}}
	}, coregate.WithMailbox(1024))
	if err != nil {
		return nil, err
	}
	h.topics[name] = &topicEntry{ref: ref, holders: 1}
	return ref, nil
}

// release lets go of a topic hold returned; the last holder stops its
// actor, after the messages queued to it.
func (h *hub) release(ctx context.Context, name string) {
	h.mu.Lock()
	e := h.topics[name]
	e.holders--
	if e.holders > 0 {
		h.mu.Unlock()
		return
	}
	delete(h.topics, name)
	h.mu.Unlock()
	_ = e.ref.Stop(ctx) // a stopped runtime has stopped it already
}

// ask sends m to ref and waits for its answer.
func ask(ctx context.Context, ref *coregate.Ref[topicMsg, int], m topicMsg) (int, error) {
	tok, err := ref.Ask(ctx, m)
	if err != nil {
		return 0, err
	}
	return tok.Wait(ctx)
}

// join subscribes to a topic; leave unsubscribes.
func (h *hub) join(ctx context.Context, name string) (s *subscriber, leave func(), err error) {
	ref, err := h.hold(name)
	if err != nil {
		return nil, nil, err
	}
	s = &subscriber{events: make(chan string, h.buffer)}
	leave = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = ask(ctx, ref, topicMsg{unsubscribe: s}) // a stopped topic has let go already
		h.release(ctx, name)
	}
	tok, err := ref.Ask(ctx, topicMsg{subscribe: s})
	if err != nil {
		h.release(ctx, name)
		return nil, nil, err
	}
	_, err = tok.Wait(ctx)
	if err == nil {
		// A subscribe the topic took before Wait looked is its outcome,
		// whatever ended since: a client that went away meanwhile is gone
		// all the same.
		err = ctx.Err()
	}
	if err != nil {
		// The subscribe was queued, and the topic takes it even after ctx
		// ended (the client went away): undo it, or the topic would keep a
		// subscriber nobody reads.
		leave()
		return nil, nil, err
	}
	return s, leave, nil
}

func (h *hub) publish(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxEvent))
	if err != nil {
		code := http.StatusBadRequest
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			code = http.StatusRequestEntityTooLarge
		}
		http.Error(w, err.Error(), code)
		return
	}
	name := r.URL.Query().Get("topic")
	if err := validTopic(name); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	n := 0 // nobody follows the topic
	if ref := h.lookup(name); ref != nil {
		n, err = ask(r.Context(), ref, topicMsg{event: string(body)})
		if errors.Is(err, coregate.ErrActorStopped) && h.lookup(name) != ref {
			n, err = 0, nil // its last subscriber left as the event came
		}
	}
	if err != nil {
		http.Error(w, err.Error(), statusOf(err))
		return
	}
	fmt.Fprintf(w, "delivered %d\n", n)
}

func (h *hub) subscribe(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("topic")
	if r.Method == http.MethodHead {
		// The mux serves HEAD here too. A HEAD's body is discarded and
		// writes to it never fail, so a stream would deliver nothing, stay
		// subscribed (counted in every publish's answer) for as long as its
		// client kept the connection, and hold that connection: it gets
		// the headers alone.
		if err := validTopic(name); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		streamHeaders(w)
		return
	}
	s, leave, err := h.join(r.Context(), name)
	if err != nil {
		http.Error(w, err.Error(), statusOf(err))
		return
	}
	defer leave()
	streamHeaders(w)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(h.closing, cancel)()
	stream(ctx, w, s, h.writeTimeout)
}

// streamHeaders sets the headers of an event stream.
func streamHeaders(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
}

// stream writes s's events to w as server-sent events until s ends or ctx
// does, or a write fails; a subscriber that was dropped gets "event:
// dropped" last. Each write gives up after writeTimeout (none when zero),
// and at once when ctx ends: a client that stops reading, its connection
// open, fills its socket and blocks the write, and would otherwise hold
// its handler, its connection and Shutdown for as long as it likes.
func stream(ctx context.Context, w http.ResponseWriter, s *subscriber, writeTimeout time.Duration) {
	rc := http.NewResponseController(w)
	var mu sync.Mutex // orders the deadlines the loop and ctx's end set
	returned := false // under mu: w is not to be touched once stream returns
	deadline := func() {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case returned:
		case ctx.Err() != nil:
			_ = rc.SetWriteDeadline(time.Unix(1, 0)) // in the past: writes fail at once
		case writeTimeout > 0:
			_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout))
		}
	}
	stopDeadline := afterFunc(ctx, deadline)
	defer func() {
		// ctx may have ended as the loop did, its deadline already on its
		// way: it must not reach w after the handler returned.
		stopDeadline()
		mu.Lock()
		returned = true
		mu.Unlock()
	}()
	write := func(format string, args ...any) error {
		deadline()
		if _, err := fmt.Fprintf(w, format, args...); err != nil {
			return err
		}
		if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		return nil
	}
	if write(": subscribed\n\n") != nil {
		return
	}
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				if s.dropped.Load() {
					_ = write("event: dropped\ndata: more than %d events behind\n\n", cap(s.events))
				}
				return
			}
			deadline() // a long event reaches the socket as it is written
			for line := range strings.SplitSeq(lineBreaks.Replace(ev), "\n") {
				fmt.Fprintf(w, "data: %s\n", line) // an error sticks: write reports it
			}
			if write("\n") != nil {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

// afterFunc is [context.AfterFunc]; a test holds back the functions it
// runs, to have them run after the stream returned.
var afterFunc = context.AfterFunc

// lineBreaks turns each line break of server-sent events (CRLF, CR, LF)
// into LF: a CR left in a data line would end it on the client, so an
// event could end early or forge fields.
var lineBreaks = strings.NewReplacer("\r\n", "\n", "\r", "\n")

func statusOf(err error) int {
	if errors.Is(err, coregate.ErrStopped) || errors.Is(err, coregate.ErrActorStopped) {
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

// shutdown stops taking connections, ends every stream and waits for the
// handlers to return, so accepted publishes reach their topics on a runtime
// that is still up; then it stops the runtime. A stream never ends on its
// own, so Shutdown ends them as it begins (RegisterOnShutdown): stopping the
// runtime first, or alongside, would fail publishes already accepted.
func (h *hub) shutdown(ctx context.Context) error {
	return errors.Join(h.http.Shutdown(ctx), h.rt.Stop(ctx))
}
