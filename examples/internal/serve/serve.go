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

// Main is an example server's main: it starts a runtime, has build make
// the server on it, and serves on -addr (127.0.0.1:8080 by default) until
// SIGINT or SIGTERM, then calls shutdown, which must stop the runtime too.
func Main(build func(rt *coregate.Runtime) (srv *http.Server, shutdown func(context.Context) error, err error)) {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	flag.Parse()
	rt, err := coregate.Start(coregate.Config{})
	if err != nil {
		log.Fatal(err)
	}
	srv, shutdown, err := build(rt)
	if err != nil {
		log.Fatal(err)
	}
	if err := Until(*addr, srv, shutdown); err != nil {
		log.Fatal(err)
	}
	Report(os.Stdout, rt.Stats().Total)
}

// Report writes how the runtime's accepted tokens ended, every one
// accounted for: a client that went away leaves cancelled tokens, a
// shutdown past its bound stopped ones.
func Report(w io.Writer, c coregate.Counts) {
	fmt.Fprintf(w, "stopped: %d tokens accepted = %d succeeded + %d failed + %d panicked + %d cancelled + %d stopped\n",
		c.Submitted, c.Succeeded, c.Failed, c.Panicked, c.Cancelled, c.Stopped)
}

// Until serves srv on addr until SIGINT or SIGTERM, or a failure of Serve,
// then calls shutdown with a 10 s bound. It prints the address it listens on.
func Until(addr string, srv *http.Server, shutdown func(context.Context) error) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	failed := make(chan error, 1)
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			failed <- err
			stop()
		}
	}()
	fmt.Printf("listening on http://%s\n", ln.Addr())
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = shutdown(sctx)
	select {
	case ferr := <-failed:
		return errors.Join(ferr, err)
	default:
		return err
	}
}
