package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestInterruptKillsChild: SIGTERM to the bench while a child measures
// kills the child, removes the children's directory and fails the run,
// saying so. Found by review: the signal killed the bench alone (a child
// gets it too only when it goes to the whole process group, as Ctrl-C in a
// terminal does), leaving the child measuring for up to 3x -actor-timeout
// + 30s and the directory, with the protoactor binary, behind. (Before the
// fix the signal kills this test binary.)
func TestInterruptKillsChild(t *testing.T) {
	saved := actorSystemNames
	actorSystemNames = append(slices.Clip(saved), "sleeper")
	t.Cleanup(func() { actorSystemNames = saved })
	ready := filepath.Join(t.TempDir(), "ready")
	t.Setenv(envSleeperReady, ready)
	errc := make(chan error, 1)
	go func() { errc <- run(io.Discard, io.Discard, sleeperOptions(time.Minute)) }()
	pid, dir := readReady(t, ready)
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "sleeper child for counting: interrupted") {
			t.Fatalf("run returned %v, want an interrupted child", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the bench still waits for its child a minute after SIGTERM")
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("child %d: %v, want it gone once the run returned", pid, err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the children's directory %s: %v, want it removed", dir, err)
	}
}

// TestInterruptStopsBuild: SIGTERM to the bench while it builds the
// protoactor child stops the go command and fails the run at once,
// removing the children's directory. Found by review: the build ran
// without the interrupt's context, so the bench, which had caught the
// signal, waited for the whole build (a minute or more from a cold cache)
// before it noticed.
func TestInterruptStopsBuild(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	script := fmt.Sprintf("#!/bin/sh\nexec %q \"$@\"\n", self)
	if err := os.WriteFile(filepath.Join(bin, "go"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	ready := filepath.Join(t.TempDir(), "ready")
	t.Setenv(envStuckGo, ready)
	o := sleeperOptions(time.Minute)
	o.actorSystems = "protoactor"
	errc := make(chan error, 1)
	go func() { errc <- run(io.Discard, io.Discard, o) }()
	pid, dir := readReady(t, ready)
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) }) // where the bench left it
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "interrupted") {
			t.Fatalf("run returned %v, want an interrupted build", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the bench still builds its child a minute after SIGTERM")
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("go command %d: %v, want it gone once the run returned", pid, err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the children's directory %s: %v, want it removed", dir, err)
	}
}

// TestChildDiesWithTheBench: a bench killed outright (SIGKILL: nothing to
// catch) takes its measuring child with it. Found by review: the child
// measured on to its own end beside whatever ran next. This process becomes
// the orphaned child's reaper, to read how it ended.
func TestChildDiesWithTheBench(t *testing.T) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Skipf("cannot reap orphans here: %v", err)
	}
	defer unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ready := filepath.Join(t.TempDir(), "ready")
	bench := exec.Command(self, "-test.run=^$")
	bench.Env = append(os.Environ(), envAsParent+"=1", envSleeperReady+"="+ready)
	if err := bench.Start(); err != nil {
		t.Fatal(err)
	}
	pid, dir := readReady(t, ready)
	t.Cleanup(func() { os.RemoveAll(dir) }) // a killed bench cannot
	if err := bench.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = bench.Wait()
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
		t.Fatalf("waiting for the orphaned child %d: %v", pid, err)
	}
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the child of a killed bench ended with status %#x (exited %v), want killed with it", ws, ws.Exited())
	}
}
