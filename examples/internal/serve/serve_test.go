package serve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coregate/coregate"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestReport: the line printed at the end accounts for every token
// accepted, not just those that succeeded: clients that went away leave
// cancelled tokens, and a shutdown past its bound stopped ones.
func TestReport(t *testing.T) {
	var b bytes.Buffer
	Report(&b, coregate.Counts{Submitted: 15, Succeeded: 8, Failed: 1, Panicked: 2, Cancelled: 3, Stopped: 1})
	want := "stopped: 15 tokens accepted = 8 succeeded + 1 failed + 2 panicked + 3 cancelled + 1 stopped\n"
	if b.String() != want {
		t.Fatalf("got %q, want %q", b.String(), want)
	}
}

// TestReportAfterShutdownPastItsBound: a request still in flight when the
// shutdown's bound ends is cut short, the runtime stops its tokens, and the
// report still comes, accounting for them, beside the error.
func TestReportAfterShutdownPastItsBound(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	running, submitted := make(chan struct{}), make(chan struct{})
	build := func(rt *coregate.Runtime) (*http.Server, func(context.Context) error, error) {
		// Both on executor 0: the request's second token waits behind its
		// first, which runs until the runtime's Stop cancels it.
		hold, err := coregate.Define(rt, "hold", func(ctx context.Context, i int) (int, error) {
			if i == 0 {
				close(running)
			}
			<-ctx.Done()
			return 0, ctx.Err()
		}, coregate.OnExecutor(0))
		if err != nil {
			return nil, nil, err
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var err error
			var toks [2]*coregate.Token[int]
			for i := range toks {
				if toks[i], err = hold.Submit(r.Context(), i); err != nil {
					http.Error(w, err.Error(), http.StatusServiceUnavailable)
					return
				}
			}
			close(submitted)
			for _, tok := range toks {
				if _, err := tok.Wait(r.Context()); err != nil {
					http.Error(w, err.Error(), http.StatusServiceUnavailable)
					return
				}
			}
		})}
		return srv, func(ctx context.Context) error {
			return errors.Join(srv.Shutdown(ctx), rt.Stop(ctx))
		}, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	ran := make(chan error, 1)
	go func() { ran <- run(ctx, ln, &out, 10*time.Millisecond, build) }()
	answered := make(chan int, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String())
		if err != nil {
			answered <- 0
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	<-running
	<-submitted
	cancel()
	err = <-ran
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("run: %v, want the shutdown's bound exceeded", err)
	}
	if code := <-answered; code != http.StatusServiceUnavailable {
		t.Errorf("the request cut short got %d, want 503", code)
	}
	var line string
	for l := range strings.Lines(out.String()) {
		if strings.HasPrefix(l, "stopped: ") {
			line = l
		}
	}
	var c coregate.Counts
	if _, err := fmt.Sscanf(line, "stopped: %d tokens accepted = %d succeeded + %d failed + %d panicked + %d cancelled + %d stopped\n",
		&c.Submitted, &c.Succeeded, &c.Failed, &c.Panicked, &c.Cancelled, &c.Stopped); err != nil {
		t.Fatalf("no report after a shutdown past its bound: %q: %v", out.String(), err)
	}
	if c.Submitted != 2 || c.Stopped != 1 || c.Resolved() != 2 {
		t.Errorf("report %q: want 2 tokens accepted, 1 of them stopped", line)
	}
}
