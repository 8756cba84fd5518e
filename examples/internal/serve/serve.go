// Package serve runs the HTTP servers of coregate's examples the way a
// production main does: listen, serve until SIGINT or SIGTERM, then shut
// down gracefully within a bound.
package serve

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/coregate/coregate"
)

// shutdownBound is how long a shutdown may take: past it, the requests still in
// flight are cut short and the runtime stops what is left.
const shutdownBound = 10 * time.Second

// Main is an example server's main: it starts a runtime, has build make
// the server on it, and serves on -addr (127.0.0.1:8080 by default) until
// SIGINT or SIGTERM, then calls shutdown, which must stop the runtime too.
// A second signal during the shutdown ends the process at once.
func Main(build func(rt *coregate.Runtime) (srv *http.Server, shutdown func(context.Context) error, err error)) {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	// From the shutdown on, a second signal ends the process, as the
	// default does: the signals are no longer caught.
	released := func(rt *coregate.Runtime) (*http.Server, func(context.Context) error, error) {
		srv, shutdown, err := build(rt)
		return srv, func(ctx context.Context) error { stop(); return shutdown(ctx) }, err
	}
	if err := run(ctx, ln, os.Stdout, shutdownBound, released); err != nil {
		log.Fatal(err)
	}
}

// run is Main past its flags and signals: it serves on ln until ctx ends,
// shuts down within bound, and reports to out. The report comes whatever
// the shutdown returned: a shutdown past its bound, the one that stops
// tokens, is when it matters most.
func run(ctx context.Context, ln net.Listener, out io.Writer, bound time.Duration,
	build func(rt *coregate.Runtime) (*http.Server, func(context.Context) error, error)) error {
	rt, err := coregate.Start(coregate.Config{})
	if err != nil {
		ln.Close()
		return err
	}
	srv, shutdown, err := build(rt)
	if err != nil {
		ln.Close()
		return errors.Join(err, rt.Stop(context.Background()))
	}
	fmt.Fprintf(out, "listening on http://%s\n", ln.Addr())
	err = until(ctx, ln, srv, shutdown, bound)
	Report(out, rt.Stats().Total)
	return err
}

// Report writes how the runtime's accepted tokens ended, every one
// accounted for: a client that went away leaves cancelled tokens, a
// shutdown past its bound stopped ones.
func Report(w io.Writer, c coregate.Counts) {
	fmt.Fprintf(w, "stopped: %d tokens accepted = %d succeeded + %d failed + %d panicked + %d cancelled + %d stopped\n",
		c.Submitted, c.Succeeded, c.Failed, c.Panicked, c.Cancelled, c.Stopped)
}

// until serves srv on ln until ctx ends or Serve fails, then calls
// shutdown within bound.
func until(ctx context.Context, ln net.Listener, srv *http.Server, shutdown func(context.Context) error, bound time.Duration) error {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	failed := make(chan error, 1)
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			failed <- err
			stop()
		}
	}()
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	err := shutdown(sctx)
	select {
	case ferr := <-failed:
		return errors.Join(ferr, err)
	default:
		return err
	}
}
