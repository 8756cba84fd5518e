package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coregate/coregate"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// running is a hub serving on loopback, as main runs it.
type running struct {
	*hub
	url    string
	client *http.Client
	done   chan error
}

func start(t *testing.T, buffer int) *running {
	t.Helper()
	rt, err := coregate.Start(coregate.Config{})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	r := &running{hub: newHub(rt, buffer), url: "http://" + ln.Addr().String(), done: make(chan error, 1),
		client: &http.Client{Transport: &http.Transport{}}}
	go func() { r.done <- r.http.Serve(ln) }()
	t.Cleanup(r.client.CloseIdleConnections)
	return r
}

func (r *running) publish(t *testing.T, topic, event string) string {
	t.Helper()
	resp, err := r.client.Post(r.url+"/publish?topic="+topic, "text/plain", strings.NewReader(event))
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	return strings.TrimSpace(string(body))
}

// sse subscribes over HTTP and returns the stream's events (data, or
// "event: <name>") as they come; the channel is closed when the stream ends.
func (r *running) sse(t *testing.T, ctx context.Context, topic string) <-chan string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url+"/subscribe?topic="+topic, nil)
	require.NoError(t, err)
	resp, err := r.client.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	sc := bufio.NewScanner(resp.Body)
	require.True(t, sc.Scan())
	require.Equal(t, ": subscribed", sc.Text(), "the stream opens once the topic has the subscriber")
	events := make(chan string, 1024)
	go func() {
		defer close(events)
		defer resp.Body.Close()
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "data: "):
				events <- strings.TrimPrefix(line, "data: ")
			case strings.HasPrefix(line, "event: "):
				events <- line
			}
		}
	}()
	return events
}

func next(t *testing.T, events <-chan string) string {
	t.Helper()
	select {
	case ev, ok := <-events:
		require.True(t, ok, "the stream ended")
		return ev
	case <-time.After(30 * time.Second):
		t.Fatal("no event")
		return ""
	}
}

// TestStuckSubscriberDoesNotStallFastOne: a subscriber that reads nothing
// is disconnected once Buffer events behind, while a fast one over HTTP
// gets every event in order and no publish waits. Shutting down ends the
// stream and the server.
func TestStuckSubscriberDoesNotStallFastOne(t *testing.T) {
	const buffer = 8
	r := start(t, buffer)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fast := r.sse(t, ctx, "news")
	stuck, leave, err := r.join(ctx, "news")
	require.NoError(t, err)
	defer leave()

	// In lockstep with the fast reader, so only the stuck one falls behind.
	for i := range 3 * buffer {
		delivered := r.publish(t, "news", fmt.Sprint("event ", i))
		if i < buffer {
			require.Equal(t, "delivered 2", delivered, "event %d", i)
		} else {
			require.Equal(t, "delivered 1", delivered, "event %d: the stuck one is gone", i)
		}
		require.Equal(t, fmt.Sprint("event ", i), next(t, fast))
	}
	require.True(t, stuck.dropped.Load())
	var kept []string
	for ev := range stuck.events { // closed by the topic
		kept = append(kept, ev)
	}
	require.Len(t, kept, buffer, "it keeps what its buffer held")
	require.Equal(t, "event 0", kept[0])

	// A multi-line event is several data lines.
	require.Equal(t, "delivered 1", r.publish(t, "news", "a\nb"))
	require.Equal(t, "a", next(t, fast))
	require.Equal(t, "b", next(t, fast))

	r.stopServing(t)
	for range fast { // the stream ends: drain to its close
	}
	r.requireResolved(t)
}

// TestDroppedStreamSaysSo: the stream of a dropped subscriber carries what
// its buffer held, then "event: dropped", and ends.
func TestDroppedStreamSaysSo(t *testing.T) {
	s := &subscriber{events: make(chan string, 2)}
	s.events <- "one"
	s.events <- "two"
	s.dropped.Store(true)
	close(s.events)
	rec := httptest.NewRecorder()
	stream(context.Background(), rec, s, 0)
	require.Equal(t, ": subscribed\n\ndata: one\n\ndata: two\n\nevent: dropped\ndata: more than 2 events behind\n\n", rec.Body.String())
	require.True(t, rec.Flushed)
}

func TestBadRequests(t *testing.T) {
	r := start(t, Buffer)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, r.shutdown(ctx))
		<-r.done
	}()
	for _, tc := range []struct {
		method, path string
		code         int
	}{
		{http.MethodGet, "/subscribe", http.StatusBadRequest},
		{http.MethodGet, "/subscribe?topic=a/b", http.StatusBadRequest},
		{http.MethodPost, "/publish", http.StatusBadRequest},
		{http.MethodGet, "/publish?topic=x", http.StatusMethodNotAllowed},
	} {
		req, err := http.NewRequest(tc.method, r.url+tc.path, nil)
		require.NoError(t, err)
		resp, err := r.client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, tc.code, resp.StatusCode, "%s %s", tc.method, tc.path)
	}
	require.Equal(t, "delivered 0", r.publish(t, "empty", "nobody listens"))
}

// TestJoinGivenUpLeavesNoSubscriber: a subscribe whose request ends before
// the topic answers (the client went away) is queued all the same, and
// taken; join undoes it, so the topic keeps no subscriber nobody reads.
// A subscriber that stays holds the topic meanwhile, so the topic lives on
// and a subscriber left behind would be counted.
func TestJoinGivenUpLeavesNoSubscriber(t *testing.T) {
	r := start(t, Buffer)
	ctx, cancelAll := context.WithTimeout(context.Background(), time.Minute)
	defer cancelAll()
	stays, leave, err := r.join(ctx, "quiet")
	require.NoError(t, err)
	gone, cancel := context.WithCancel(ctx)
	cancel()
	_, _, err = r.join(gone, "quiet")
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, "delivered 1", r.publish(t, "quiet", "one listens"))
	require.Equal(t, "one listens", <-stays.events)
	leave()
	require.Empty(t, r.liveTopics(), "the given-up join still holds the topic")
	require.Equal(t, "delivered 0", r.publish(t, "quiet", "nobody listens"))

	r.stopServing(t)
	r.requireResolved(t)
}

// TestShutdownLetsPublishesFinish holds a publish in flight, shuts down,
// and releases it only when the subscriber's stream has ended: Shutdown
// ends the streams and waits for the publish, which still reaches its
// topic, and the runtime stops after it. A subscriber joined in process,
// with no stream for Shutdown to end, holds the topic and gets the event.
func TestShutdownLetsPublishesFinish(t *testing.T) {
	r := start(t, Buffer)
	arrived, gate := make(chan struct{}), make(chan struct{})
	h := r.http.Handler
	r.http.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/publish" {
			close(arrived)
			<-gate
		}
		h.ServeHTTP(w, req)
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	events := r.sse(t, ctx, "news")
	inproc, _, err := r.join(ctx, "news")
	require.NoError(t, err)
	type answer struct {
		code int
		body string
		err  error
	}
	published := make(chan answer, 1)
	go func() {
		resp, err := r.client.Post(r.url+"/publish?topic=news", "text/plain", strings.NewReader("late"))
		if err != nil {
			published <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		published <- answer{resp.StatusCode, string(body), err}
	}()
	<-arrived
	shut := make(chan error, 1)
	go func() { shut <- r.shutdown(ctx) }()
	for range events { // Shutdown ends the stream
	}
	close(gate)
	a := <-published
	require.NoError(t, a.err)
	require.Equal(t, http.StatusOK, a.code, a.body)
	require.Equal(t, "delivered 1\n", a.body, "the stream's subscriber left as it ended, the other stays")
	require.NoError(t, <-shut)
	require.ErrorIs(t, <-r.done, http.ErrServerClosed)
	require.Equal(t, "late", <-inproc.events)
	_, open := <-inproc.events
	require.False(t, open, "the runtime stopped its topic after the publish")
	r.requireResolved(t)
}

// TestTopicsEndWithTheirSubscribers: publishing to a topic nobody follows
// spawns nothing, and a topic's actor stops when its last subscriber
// leaves, so topic names made up by clients do not pile up actors (each
// with its mailbox) for as long as the hub runs. A topic joined again is a
// fresh actor.
func TestTopicsEndWithTheirSubscribers(t *testing.T) {
	r := start(t, Buffer)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range 50 {
		require.Equal(t, "delivered 0", r.publish(t, fmt.Sprint("nobody-", i), "hello"))
	}
	require.Empty(t, r.liveTopics(), "publishing spawned topics")

	_, leave1, err := r.join(ctx, "news")
	require.NoError(t, err)
	s2, leave2, err := r.join(ctx, "news")
	require.NoError(t, err)
	ref := r.liveTopics()["news"]
	require.NotNil(t, ref)
	leave1()
	require.Equal(t, "delivered 1", r.publish(t, "news", "one left"))
	require.Equal(t, "one left", <-s2.events)
	leave2()
	require.Empty(t, r.liveTopics(), "the last subscriber left")
	require.ErrorIs(t, ref.Tell(ctx, topicMsg{event: "late"}), coregate.ErrActorStopped)

	s3, leave3, err := r.join(ctx, "news")
	require.NoError(t, err)
	require.Equal(t, "delivered 1", r.publish(t, "news", "again"))
	require.Equal(t, "again", <-s3.events)
	leave3()

	r.stopServing(t)
	r.requireResolved(t)
}

// stopServing shuts the server down, as a signal would, and checks it
// ended with http.ErrServerClosed.
func (r *running) stopServing(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, r.shutdown(ctx))
	require.ErrorIs(t, <-r.done, http.ErrServerClosed)
}

// requireResolved checks that every token the hub's runtime accepted was
// resolved.
func (r *running) requireResolved(t *testing.T) {
	t.Helper()
	st := r.rt.Stats().Total
	require.Equal(t, st.Submitted, st.Resolved(), "%+v", st)
}

// liveTopics returns the hub's topics by name.
func (r *running) liveTopics() map[string]*coregate.Ref[topicMsg, int] {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]*coregate.Ref[topicMsg, int]{}
	for name, e := range r.topics {
		out[name] = e.ref
	}
	return out
}

// stalled is a subscriber over raw TCP that never reads its stream, with
// small socket buffers on both ends so that the server's writes to it block
// after a few events. subscribed is closed once the hub took it; ended
// once its subscribe handler returned.
type stalled struct {
	conn              net.Conn
	subscribed, ended chan struct{}
}

// startStalled starts a hub whose streams give up a write after
// writeTimeout, with one stalled subscriber to topic.
func startStalled(t *testing.T, writeTimeout time.Duration, topic string) (*running, *stalled) {
	t.Helper()
	rt, err := coregate.Start(coregate.Config{})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	h := newHub(rt, 2)
	h.writeTimeout = writeTimeout
	st := &stalled{subscribed: make(chan struct{}), ended: make(chan struct{})}
	mux := h.http.Handler
	h.http.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/subscribe" {
			defer close(st.ended)
		}
		mux.ServeHTTP(w, req)
	})
	h.http.ConnState = func(c net.Conn, s http.ConnState) {
		if tc, ok := c.(*net.TCPConn); ok && s == http.StateNew {
			_ = tc.SetWriteBuffer(4 << 10)
		}
	}
	r := &running{hub: h, url: "http://" + ln.Addr().String(), done: make(chan error, 1),
		client: &http.Client{Transport: &http.Transport{}}}
	go func() { r.done <- r.http.Serve(ln) }()
	t.Cleanup(r.client.CloseIdleConnections)

	conn, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	require.NoError(t, conn.(*net.TCPConn).SetReadBuffer(4<<10))
	_, err = fmt.Fprintf(conn, "GET /subscribe?topic=%s HTTP/1.1\r\nHost: hub\r\n\r\n", topic)
	require.NoError(t, err)
	// Its headers and ": subscribed" come once the topic has it; read just
	// that much, then never again.
	sc := bufio.NewReader(conn)
	for {
		line, err := sc.ReadString('\n')
		require.NoError(t, err)
		if strings.HasPrefix(line, ": subscribed") {
			break
		}
	}
	st.conn = conn
	return r, st
}

// fill publishes events of MaxEvent bytes to topic until its only
// subscriber, stalled, is dropped: its socket full, the server's write to
// it blocks, and its buffer fills behind it.
func (r *running) fill(t *testing.T, topic string) {
	t.Helper()
	event := strings.Repeat("x", MaxEvent)
	for i := 0; ; i++ {
		require.Less(t, i, 10_000, "the stalled subscriber was never dropped")
		if r.publish(t, topic, event) == "delivered 0" {
			return
		}
	}
}

// TestStalledSubscriberIsCutOff: a subscriber that stops reading (its
// connection open, its socket full) is disconnected: the write blocked on
// it gives up after the hub's write timeout, and its handler returns,
// rather than holding its goroutine and connection for as long as the
// client keeps the socket open.
func TestStalledSubscriberIsCutOff(t *testing.T) {
	r, st := startStalled(t, 50*time.Millisecond, "news")
	r.fill(t, "news")
	select {
	case <-st.ended:
	case <-time.After(20 * time.Second):
		t.Fatal("the handler of a stalled subscriber never returned")
	}
	r.stopServing(t)
	r.requireResolved(t)
}

// TestShutdownEndsStalledStream: Shutdown ends the stream of a subscriber
// whose write is blocked (a write timeout far off), so a client that
// stopped reading does not hold the shutdown until its bound.
func TestShutdownEndsStalledStream(t *testing.T) {
	r, st := startStalled(t, time.Hour, "news")
	r.fill(t, "news")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, r.shutdown(ctx), "a stalled stream held Shutdown")
	require.ErrorIs(t, <-r.done, http.ErrServerClosed)
	<-st.ended
	r.requireResolved(t)
}

// TestEventLineBreaks: a carriage return ends a line in server-sent events
// as a newline does (alone or before one), so every kind of line break in
// an event starts a data line of its own: an event's text cannot end its
// event early or forge fields ("event: dropped", "id:") in every
// subscriber's stream.
func TestEventLineBreaks(t *testing.T) {
	s := &subscriber{events: make(chan string, 1)}
	s.events <- "one\rtwo\r\nthree\n\revent: dropped"
	close(s.events)
	rec := httptest.NewRecorder()
	stream(context.Background(), rec, s, 0)
	require.Equal(t, ": subscribed\n\ndata: one\ndata: two\ndata: three\ndata: \ndata: event: dropped\n\n", rec.Body.String())
}

// TestEventTooLarge: an event past MaxEvent is refused with 413, and
// nobody gets it, rather than cut to its first MaxEvent bytes and
// delivered as if whole.
func TestEventTooLarge(t *testing.T) {
	r := start(t, Buffer)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, leave, err := r.join(ctx, "news")
	require.NoError(t, err)
	resp, err := r.client.Post(r.url+"/publish?topic=news", "text/plain", strings.NewReader(strings.Repeat("x", MaxEvent+1)))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	require.Equal(t, "delivered 1", r.publish(t, "news", strings.Repeat("y", MaxEvent)), "an event of MaxEvent bytes")
	require.Len(t, <-s.events, MaxEvent, "the first event the subscriber gets is the one that fits")
	leave()
	r.stopServing(t)
	r.requireResolved(t)
}

// TestDeadlineNeverReachesAReturnedStream: ctx's end sets a write deadline
// on a goroutine of its own, which may run after stream returned; it must
// not touch the writer then (net/http forbids it: a kept-alive connection
// may be serving the next request). The deadline function is held back
// until stream returned, the worst order the scheduler may pick.
func TestDeadlineNeverReachesAReturnedStream(t *testing.T) {
	release, ran := make(chan struct{}), make(chan struct{})
	afterFunc = func(ctx context.Context, f func()) func() bool {
		return context.AfterFunc(ctx, func() {
			<-release
			f()
			close(ran)
		})
	}
	defer func() { afterFunc = context.AfterFunc }()
	w := &deadlineRecorder{ResponseRecorder: httptest.NewRecorder(), flushed: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		stream(ctx, w, &subscriber{events: make(chan string)}, time.Minute)
		w.mu.Lock()
		w.returned = true
		w.mu.Unlock()
	}()
	<-w.flushed // ": subscribed" is out: the loop waits
	cancel()    // the deadline function is under way, held back
	<-returned
	close(release)
	<-ran
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.late != 0 {
		t.Fatalf("%d write deadlines set after stream returned", w.late)
	}
}

// deadlineRecorder is a ResponseRecorder that counts the write deadlines
// set after the handler returned.
type deadlineRecorder struct {
	*httptest.ResponseRecorder
	flushed  chan struct{} // closed at the first Flush
	once     sync.Once
	mu       sync.Mutex
	returned bool
	late     int
}

func (w *deadlineRecorder) Flush() {
	w.ResponseRecorder.Flush()
	w.once.Do(func() { close(w.flushed) })
}

func (w *deadlineRecorder) SetWriteDeadline(time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.returned {
		w.late++
	}
	return nil
}

// TestHeadSubscribesNobody: a HEAD of /subscribe (the mux serves HEAD with
// the GET handler) gets a stream's headers and subscribes nobody. Its body
// is discarded, so a stream to it delivered nothing while its writes never
// failed: it stayed subscribed, counted in every publish's answer, for as
// long as its client kept the connection, and a request the client sent
// next on that connection was never served. Found by review.
func TestHeadSubscribesNobody(t *testing.T) {
	r := start(t, Buffer)
	// A client of its own: the connection of a HEAD left subscribed serves
	// nothing more.
	head := &http.Client{Transport: &http.Transport{}}
	defer head.CloseIdleConnections()
	resp, err := head.Head(r.url + "/subscribe?topic=news")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	require.Equal(t, "delivered 0", r.publish(t, "news", "to nobody"), "a HEAD is no subscriber")
	require.Empty(t, r.liveTopics())

	resp, err = head.Head(r.url + "/subscribe?topic=a/b")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "a HEAD gets the status a GET would")

	r.stopServing(t)
	r.requireResolved(t)
}
