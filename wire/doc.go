// Package wire holds the protobuf messages coregate exchanges over
// hollywood's remote transport (github.com/anthdm/hollywood/remote), which
// carries protobuf messages only: [Call], to run a named op of a runtime in
// another process, and [Error], the answer that stands for a Go error there.
// An *Error is an error itself, so a caller tells it from a result with a
// type switch or errors.As.
//
// coregate_wire.pb.go is generated from coregate_wire.proto (a name unique in
// protobuf's global registry) by protoc-gen-go v1.32.0, the
// version of google.golang.org/protobuf that hollywood v1.0.5 requires.
// To regenerate it, install protoc (Debian: apt-get install
// protobuf-compiler) and the plugin
// (go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.32.0), then
// run go generate ./wire from the repository root.
package wire

//go:generate protoc --go_out=. --go_opt=paths=source_relative coregate_wire.proto
