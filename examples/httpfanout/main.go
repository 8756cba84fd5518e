// Command httpfanout is an HTTP server on coregate: GET /score?q=text fans
// each request out to 8 tokens (one per shard of the work) and gathers them
// into one answer. GET /score-goroutines does the same work with a plain
// goroutine per shard, for comparison. On SIGINT or SIGTERM it shuts down
// gracefully: http.Server.Shutdown lets every accepted request finish (its
// tokens run on the runtime, still up), then Runtime.Stop stops the
// runtime, so no accepted request is lost.
//
// A client that goes away cancels its request's tokens still queued; the
// ones already running finish, which is why q is bounded (MaxQuery).
//
//	go run ./examples/httpfanout -addr 127.0.0.1:8080
//	curl '127.0.0.1:8080/score?q=hello'
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/coregate/coregate"
	"github.com/coregate/coregate/examples/internal/serve"
)

// Shards is how many tokens each request fans out to.
const Shards = 8

// MaxQuery is the longest q, in bytes, a request may score: a shard's work
// grows with q.
const MaxQuery = 1 << 10

func main() {
	serve.Main(func(rt *coregate.Runtime) (*http.Server, func(context.Context) error, error) {
		s, err := newServer(rt, nil)
		if err != nil {
			return nil, nil, err
		}
		return s.http, s.shutdown, nil
	})
}

// part is one shard of a request's work.
type part struct {
	q     string
	shard int
}

// work scores one shard: FNV-1a rounds over the text, seeded by the shard.
func work(p part) uint64 {
	h := uint64(14695981039346656037) ^ uint64(p.shard)
	for range 200 {
		for i := 0; i < len(p.q); i++ {
			h = (h ^ uint64(p.q[i])) * 1099511628211
		}
	}
	return h
}

// score is the answer to q: the sum of its shards' scores.
func score(q string) uint64 {
	var sum uint64
	for i := range Shards {
		sum += work(part{q, i})
	}
	return sum
}

// server serves /score on a runtime and /score-goroutines on goroutines.
type server struct {
	rt    *coregate.Runtime
	shard *coregate.Op[part, uint64]
	http  *http.Server
}

// newServer defines the shard op on rt; hold, when set, runs in each token
// before its work (a test holds requests in flight with it).
func newServer(rt *coregate.Runtime, hold func()) (*server, error) {
	shard, err := coregate.Define(rt, "shard", func(_ context.Context, p part) (uint64, error) {
		if hold != nil {
			hold()
		}
		return work(p), nil
	})
	if err != nil {
		return nil, err
	}
	s := &server{rt: rt, shard: shard}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /score", s.score)
	mux.HandleFunc("GET /score-goroutines", scoreGoroutines)
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	return s, nil
}

// query returns the request's q, or answers 400 when it has none or one
// longer than MaxQuery.
func query(w http.ResponseWriter, r *http.Request) (string, bool) {
	q := r.URL.Query().Get("q")
	if q == "" || len(q) > MaxQuery {
		http.Error(w, fmt.Sprintf("want ?q=text, 1 to %d bytes", MaxQuery), http.StatusBadRequest)
		return "", false
	}
	return q, true
}

// score fans the request out to Shards tokens and gathers them.
func (s *server) score(w http.ResponseWriter, r *http.Request) {
	q, ok := query(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	var toks [Shards]*coregate.Token[uint64]
	for i := range toks {
		tok, err := s.shard.Submit(ctx, part{q, i})
		if err != nil { // the runtime stopped, or the client went away
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		toks[i] = tok
	}
	var sum uint64
	for _, tok := range toks {
		v, err := tok.Wait(ctx)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		sum += v
	}
	fmt.Fprintf(w, "%s %d\n", q, sum)
}

// scoreGoroutines is score with a goroutine per shard.
func scoreGoroutines(w http.ResponseWriter, r *http.Request) {
	q, ok := query(w, r)
	if !ok {
		return
	}
	var parts [Shards]uint64
	var wg sync.WaitGroup
	for i := range parts {
		wg.Go(func() { parts[i] = work(part{q, i}) })
	}
	wg.Wait()
	var sum uint64
	for _, v := range parts {
		sum += v
	}
	fmt.Fprintf(w, "%s %d\n", q, sum)
}

// shutdown lets accepted requests finish, then stops the runtime.
func (s *server) shutdown(ctx context.Context) error {
	return errors.Join(s.http.Shutdown(ctx), s.rt.Stop(ctx))
}
