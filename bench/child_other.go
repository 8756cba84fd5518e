//go:build !linux

package main

import "os/exec"

// dieWithParent does nothing where the OS cannot tie a child's life to its
// parent's: a child of a killed bench runs on to its limit.
func dieWithParent(*exec.Cmd) {}
