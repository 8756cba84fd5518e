package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coregate/coregate"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// served is a server listening on loopback, as main runs it.
type served struct {
	*server
	url    string
	client *http.Client
	done   chan error // Serve's result
}

func listen(t *testing.T, cfg coregate.Config, hold func()) *served {
	t.Helper()
	rt, err := coregate.Start(cfg)
	require.NoError(t, err)
	s, err := newServer(rt, hold)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	sv := &served{server: s, url: "http://" + ln.Addr().String(), done: make(chan error, 1),
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}}
	go func() { sv.done <- s.http.Serve(ln) }()
	t.Cleanup(sv.client.CloseIdleConnections)
	return sv
}

// stop shuts the server down and checks it stopped cleanly and that every
// accepted token resolved.
func (sv *served) stop(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, sv.shutdown(ctx))
	require.ErrorIs(t, <-sv.done, http.ErrServerClosed)
	st := sv.rt.Stats().Total
	require.Equal(t, st.Submitted, st.Resolved(), "%+v", st)
}

func (sv *served) get(path string) (int, string, error) {
	resp, err := sv.client.Get(sv.url + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

func want(q string) string { return fmt.Sprintf("%s %d\n", q, score(q)) }

func TestScore(t *testing.T) {
	sv := listen(t, coregate.Config{}, nil)
	for _, path := range []string{"/score", "/score-goroutines"} {
		code, body, err := sv.get(path + "?q=hello")
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, want("hello"), body)
		code, _, err = sv.get(path)
		require.NoError(t, err)
		require.Equal(t, http.StatusBadRequest, code)
	}
	sv.stop(t)
	require.Equal(t, uint64(Shards), sv.rt.Stats().Total.Succeeded)
}

// TestLongQueryRefused: a q past MaxQuery is refused before any token is
// submitted. A shard's work grows with q, and a running token does not
// stop when its client goes: a megabyte of q (the header limit) would hold
// every executor for about half a second per shard, answered or not.
func TestLongQueryRefused(t *testing.T) {
	sv := listen(t, coregate.Config{}, nil)
	for _, path := range []string{"/score", "/score-goroutines"} {
		code, _, err := sv.get(path + "?q=" + strings.Repeat("a", MaxQuery+1))
		require.NoError(t, err)
		require.Equal(t, http.StatusBadRequest, code, path)
		q := strings.Repeat("a", MaxQuery)
		code, body, err := sv.get(path + "?q=" + q)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, want(q), body)
	}
	sv.stop(t)
	require.Equal(t, uint64(Shards), sv.rt.Stats().Total.Submitted, "only the q that fits was submitted")
}

// TestShutdownLosesNoAcceptedRequest holds requests in flight, shuts down,
// and checks that Shutdown waits for them: each gets its full answer, and
// every token succeeded before the runtime stopped.
func TestShutdownLosesNoAcceptedRequest(t *testing.T) {
	const k = 16
	gate := make(chan struct{})
	running := make(chan struct{}, k*Shards)
	sv := listen(t, coregate.Config{Cores: 2, Affinity: coregate.Off}, func() {
		running <- struct{}{}
		<-gate
	})
	arrived := make(chan struct{}, k)
	h := sv.http.Handler
	sv.http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		h.ServeHTTP(w, r)
	})
	began := make(chan struct{})
	sv.http.RegisterOnShutdown(func() { close(began) })

	type result struct {
		code int
		body string
		err  error
	}
	results := make(chan result, k)
	for i := range k {
		go func() {
			code, body, err := sv.get(fmt.Sprintf("/score?q=req-%d", i))
			results <- result{code, body, err}
		}()
	}
	for range k {
		<-arrived
	}
	<-running // tokens are held: the requests are mid-flight
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		shut <- sv.shutdown(ctx)
	}()
	<-began
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned with requests in flight: %v", err)
	default:
	}
	close(gate)
	got := map[string]bool{}
	for range k {
		r := <-results
		require.NoError(t, r.err)
		require.Equal(t, http.StatusOK, r.code, r.body)
		got[r.body] = true
	}
	for i := range k {
		require.True(t, got[want(fmt.Sprintf("req-%d", i))], "request %d lost", i)
	}
	require.NoError(t, <-shut)
	require.ErrorIs(t, <-sv.done, http.ErrServerClosed)
	st := sv.rt.Stats().Total
	require.Equal(t, uint64(k*Shards), st.Submitted)
	require.Equal(t, st.Submitted, st.Succeeded, "%+v", st)
	_, _, err := sv.get("/score?q=late")
	require.Error(t, err, "a stopped server accepts nothing")
}

// TestLoad reports p50 and p99 request latencies of /score (8 tokens per
// request) and /score-goroutines (8 goroutines) under the same load from 8
// clients on loopback; every answer is checked. Reported, never asserted.
func TestLoad(t *testing.T) {
	const clients = 8
	requests := 800
	if testing.Short() || raceEnabled {
		requests = 200
	}
	sv := listen(t, coregate.Config{}, nil)
	defer sv.stop(t)
	for _, path := range []string{"/score", "/score-goroutines", "/score", "/score-goroutines"} {
		lat, err := load(sv, path, clients, requests)
		require.NoError(t, err)
		t.Logf("%-18s %d requests, %d clients: p50 %v, p99 %v", path, requests, clients, pct(lat, 50), pct(lat, 99))
	}
}

// load sends n requests to path from clients goroutines, checking each
// answer, and returns their latencies.
func load(sv *served, path string, clients, n int) ([]time.Duration, error) {
	var mu sync.Mutex
	var lat []time.Duration
	var errs []error
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for i := range next {
				q := fmt.Sprintf("load-%d", i)
				start := time.Now()
				code, body, err := sv.get(path + "?q=" + q)
				d := time.Since(start)
				if err == nil && (code != http.StatusOK || body != want(q)) {
					err = fmt.Errorf("%s?q=%s: %d %q", path, q, code, body)
				}
				mu.Lock()
				lat = append(lat, d)
				if err != nil {
					errs = append(errs, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return lat, errors.Join(errs...)
}

func pct(d []time.Duration, p int) time.Duration {
	slices.Sort(d)
	return d[(len(d)-1)*p/100]
}

// TestClientGoneCancelsItsTokens: a client that goes away mid-request ends
// the request's context, which is its tokens' parent: the handler returns
// at once, the tokens still queued resolve cancelled without running, the
// one running finishes, and the accounting adds up.
func TestClientGoneCancelsItsTokens(t *testing.T) {
	gate := make(chan struct{})
	running := make(chan struct{}, Shards)
	sv := listen(t, coregate.Config{Cores: 1, Affinity: coregate.Off}, func() {
		running <- struct{}{}
		<-gate
	})
	returned := make(chan struct{})
	h := sv.http.Handler
	sv.http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(returned)
		h.ServeHTTP(w, r)
	})
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan error, 1)
	go func() {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, sv.url+"/score?q=gone", nil)
		if err == nil {
			var resp *http.Response
			if resp, err = sv.client.Do(req); err == nil {
				resp.Body.Close()
			}
		}
		got <- err
	}()
	<-running // one token runs, held; the others wait behind it on the one executor
	require.Eventually(t, func() bool { return sv.rt.Stats().Total.Submitted == Shards },
		30*time.Second, time.Millisecond, "the handler submitted all its tokens")
	cancel()
	require.ErrorIs(t, <-got, context.Canceled)
	<-returned // the handler stopped waiting, its tokens still held
	close(gate)
	sv.stop(t)
	require.Len(t, running, 0, "a token of the request that went away ran")
	st := sv.rt.Stats().Total
	require.Equal(t, uint64(Shards), st.Submitted, "%+v", st)
	require.Equal(t, uint64(1), st.Succeeded, "%+v", st)
	require.Equal(t, uint64(Shards-1), st.Cancelled, "%+v", st)
}
