//go:build !amd64 && !arm64

package actors

// pause is a spin-wait step; other architectures get no CPU hint.
func pause() {}
