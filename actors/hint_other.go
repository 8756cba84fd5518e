//go:build !amd64 && !arm64

package actors

import "unsafe"

// pause is a spin-wait step; other architectures get no CPU hint.
func pause() {}

// prefetchw is a cache hint; other architectures get none.
func prefetchw(unsafe.Pointer) {}
