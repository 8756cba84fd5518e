// Command remote runs coregate across two processes on one machine, over
// hollywood's remote transport on loopback. It starts its peer (itself again,
// with COREGATE_REMOTE_PEER set to the address to listen on), which hosts a
// runtime with a "bank" actor and the ops "words" and "hold"; then it tells
// and asks the actor by PID, calls an op by name, shows what bad input gets
// back, prints the answers, stops the peer and exits 0.
//
// Every message that crosses is a protobuf message (package bankpb, and
// package wire for op calls and errors), as hollywood's remote requires.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/anthdm/hollywood/remote"
	"github.com/coregate/coregate"
	"github.com/coregate/coregate/examples/remote/bankpb"
	"github.com/coregate/coregate/wire"
)

// peerEnv, when set, makes this program the peer, listening on its value.
const peerEnv = "COREGATE_REMOTE_PEER"

func main() {
	if addr := os.Getenv(peerEnv); addr != "" {
		if err := runPeer(addr, os.Stdin, os.Stdout); err != nil {
			log.Fatal(err)
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// bank is the peer's actor: balances by account.
type bank struct{ balances map[string]int64 }

func (b *bank) Receive(_ *coregate.ActorContext, d *bankpb.Deposit) (*bankpb.Balance, error) {
	if d.GetAccount() == "" {
		return nil, errors.New("bank: no account")
	}
	b.balances[d.GetAccount()] += d.GetAmount()
	return &bankpb.Balance{Account: d.GetAccount(), Amount: b.balances[d.GetAccount()]}, nil
}

// newEngine returns an engine whose remote listens on addr, and a function
// that stops the listener.
func newEngine(addr string) (*actor.Engine, func(), error) {
	r := remote.New(addr, remote.NewConfig())
	e, err := actor.NewEngine(actor.NewEngineConfig().WithRemote(coregate.Remote(r)))
	if err != nil {
		return nil, nil, err
	}
	return e, func() { r.Stop().Wait() }, nil
}

// runPeer hosts the bank and the ops on addr until in ends (the caller
// closes it, or dies), printing "ready" once it listens, and "holding <text>"
// when the "hold" op starts.
func runPeer(addr string, in io.Reader, out io.Writer) error {
	e, stopRemote, err := newEngine(addr)
	if err != nil {
		return err
	}
	defer stopRemote()
	rt, err := coregate.Start(coregate.Config{Engine: e})
	if err != nil {
		return err
	}
	if _, err := coregate.Define(rt, "words", func(_ context.Context, t *bankpb.Text) (*bankpb.Count, error) {
		return &bankpb.Count{N: int64(len(strings.Fields(t.GetText())))}, nil
	}); err != nil {
		return err
	}
	// hold answers only when its call's timeout ends its context: a call in
	// flight, for the caller to see what a peer that dies does to it.
	if _, err := coregate.Define(rt, "hold", func(ctx context.Context, t *bankpb.Text) (*bankpb.Count, error) {
		fmt.Fprintln(out, "holding", t.GetText())
		<-ctx.Done()
		return nil, ctx.Err()
	}); err != nil {
		return err
	}
	if _, err := coregate.Spawn(rt, "bank", func() coregate.Actor[*bankpb.Deposit, *bankpb.Balance] {
		return &bank{balances: map[string]int64{}}
	}); err != nil {
		return err
	}
	fmt.Fprintln(out, "ready")
	_, _ = io.Copy(io.Discard, in)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return rt.Stop(ctx)
}

// run starts the peer, exchanges messages with it, prints the answers and
// stops the peer, which must exit cleanly.
func run(ctx context.Context, out io.Writer) (err error) {
	peerAddr, err := freeAddr()
	if err != nil {
		return err
	}
	p, err := startPeer(ctx, peerAddr)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, p.stop()) }()
	selfAddr, err := freeAddr()
	if err != nil {
		return err
	}
	e, stopRemote, err := newEngine(selfAddr)
	if err != nil {
		return err
	}
	defer stopRemote()

	bankPID := actor.NewPID(peerAddr, "coregate/actor/bank") // <Config.Name>/actor/<name>
	opsPID := actor.NewPID(peerAddr, "coregate/ops")         // <Config.Name>/ops
	ask := func(pid *actor.PID, msg any) (any, error) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return coregate.Request[any](ctx, e, pid, msg)
	}

	e.Send(bankPID, &bankpb.Deposit{Account: "alice", Amount: 100}) // a Tell: no answer
	b, err := ask(bankPID, &bankpb.Deposit{Account: "alice", Amount: 20})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "bank: alice has %d\n", b.(*bankpb.Balance).GetAmount())

	call, err := wire.NewCall("words", &bankpb.Text{Text: "the quick brown fox"}, 5*time.Second)
	if err != nil {
		return err
	}
	n, err := ask(opsPID, call)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "words: %d\n", n.(*bankpb.Count).GetN())

	// Bad input is answered with a *wire.Error, never a crash.
	unknown, _ := wire.NewCall("sentences", &bankpb.Text{Text: "x"}, 0)
	wrongType, _ := wire.NewCall("words", &bankpb.Deposit{Account: "x"}, 0)
	for _, bad := range []struct {
		pid *actor.PID
		msg any
	}{{opsPID, unknown}, {opsPID, wrongType}, {bankPID, &bankpb.Deposit{}}, {bankPID, &bankpb.Text{}}} {
		_, err := ask(bad.pid, bad.msg)
		var w *wire.Error
		if !errors.As(err, &w) {
			return fmt.Errorf("bad input %v got %v, want a *wire.Error", bad.msg, err)
		}
		fmt.Fprintf(out, "error %s: %s\n", w.GetCode(), w.GetMessage())
	}
	return nil
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// peer is a peer process: this program again, run with peerEnv set.
type peer struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string // its output, a line at a time
}

// startPeer starts a peer on addr and waits until it listens.
func startPeer(ctx context.Context, addr string) (*peer, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	p := &peer{cmd: exec.Command(self), lines: make(chan string, 64)}
	p.cmd.Env = append(os.Environ(), peerEnv+"="+addr)
	p.cmd.Stderr = os.Stderr
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	p.cmd.Stdout = &lineWriter{lines: p.lines}
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	if err := p.await(ctx, "ready"); err != nil {
		_ = p.kill()
		return nil, fmt.Errorf("peer on %s: %w", addr, err)
	}
	return p, nil
}

// await waits for a line of the peer's starting with prefix.
func (p *peer) await(ctx context.Context, prefix string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		select {
		case l := <-p.lines:
			if strings.HasPrefix(l, prefix) {
				return nil
			}
		case <-ctx.Done():
			return fmt.Errorf("no %q line: %w", prefix, ctx.Err())
		}
	}
}

// stop ends the peer gracefully: it stops when its input ends.
func (p *peer) stop() error {
	_ = p.stdin.Close()
	return p.cmd.Wait()
}

// kill ends the peer at once, as a crash would.
func (p *peer) kill() error {
	if err := p.cmd.Process.Kill(); err != nil {
		return err
	}
	_ = p.cmd.Wait() // "signal: killed"
	return nil
}

// lineWriter sends what is written to it to lines, a line at a time; lines
// beyond the channel's capacity are dropped.
type lineWriter struct {
	mu    sync.Mutex
	buf   []byte
	lines chan string
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		select {
		case w.lines <- string(w.buf[:i]):
		default:
		}
		w.buf = w.buf[i+1:]
	}
}
