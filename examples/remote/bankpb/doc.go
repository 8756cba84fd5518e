// Package bankpb holds the protobuf messages of examples/remote, generated
// from coregate_example_bank.proto by protoc-gen-go v1.32.0 (see package
// [github.com/coregate/coregate/wire] for the tools).
package bankpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative coregate_example_bank.proto
