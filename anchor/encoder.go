package anchor

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"strings"
	"unsafe"

	"github.com/cespare/xxhash/v2"
)

// Encoder writes the canonical encoding of one argument type: booleans and
// 1-byte integers as their byte, other integers and floats as 8 little-endian
// bytes (floats as float64 bits: unlike ==, 0 and -0 encode apart and a NaN
// encodes like itself), strings and byte slices as an 8-byte length and their
// bytes (a nil and an empty slice alike), arrays and structs as their
// elements in order. Lengths make it unambiguous: ("ab", "c") and ("a", "bc")
// encode differently; a fixed-size array needs none, its type fixes its
// length, so a [32]byte encodes as its 32 bytes. An Encoder is safe for
// concurrent use and allocates nothing.
type Encoder struct {
	steps   []step
	scalars int // fields and array elements, flattened; bounded by maxScalars
}

// step encodes one field; a run of adjacent 1-byte fields and elements (a byte
// array) is one step of kind reflect.Uint8, written as it lies in memory, one
// hash call for the whole run.
type step struct {
	kind   reflect.Kind
	offset uintptr
	size   uintptr // bytes in the run, for reflect.Uint8
}

// maxScalars caps the scalars (fields and array elements, flattened) a type may
// have to be encoded: past it, building the encoder would take too long and too
// much memory, and every key too much hashing.
const maxScalars = 1 << 16

// NewEncoder returns the encoder for t, or an error naming the first field
// that cannot be encoded (maps, pointers, interfaces, channels, functions and
// slices other than []byte) or saying that t has more than 65536 fields and
// array elements: key such values some other way.
func NewEncoder(t reflect.Type) (*Encoder, error) {
	e := &Encoder{}
	if err := e.compile(t, 0, t, ""); err != nil {
		return nil, err
	}
	return e, nil
}

// compile appends the steps of t, at offset off within root, whose field path
// to t is path ("" for root itself, else like ".A[0].B" or "[1]").
func (e *Encoder) compile(t reflect.Type, off uintptr, root reflect.Type, path string) error {
	switch t.Kind() {
	case reflect.Bool, reflect.Int8, reflect.Uint8:
		// A bool is stored as 0 or 1 and an int8 in two's complement: each
		// byte is its own encoding.
		if e.scalars >= maxScalars {
			return tooLarge(root)
		}
		e.scalars++
		e.add(step{kind: reflect.Uint8, offset: off, size: 1})
	case reflect.String,
		reflect.Int, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		if e.scalars >= maxScalars {
			return tooLarge(root)
		}
		e.scalars++
		e.add(step{kind: t.Kind(), offset: off})
	case reflect.Slice:
		if t.Elem().Kind() != reflect.Uint8 {
			return unencodable(t, root, path, "only byte slices encode")
		}
		if e.scalars >= maxScalars {
			return tooLarge(root)
		}
		e.scalars++
		e.add(step{kind: reflect.Slice, offset: off})
	case reflect.Array:
		if t.Len() == 0 {
			return nil // holds nothing, whatever its element type
		}
		// The element's steps, once, then repeated at each element's offset.
		var elem Encoder
		if err := elem.compile(t.Elem(), 0, root, path+"[0]"); err != nil {
			return err
		}
		if len(elem.steps) == 0 {
			return nil // elements of size zero
		}
		if elem.scalars > (maxScalars-e.scalars)/t.Len() {
			return tooLarge(root)
		}
		e.scalars += elem.scalars * t.Len()
		for i := range t.Len() {
			for _, st := range elem.steps {
				st.offset += off + uintptr(i)*t.Elem().Size()
				e.add(st)
			}
		}
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if err := e.compile(f.Type, off+f.Offset, root, path+"."+f.Name); err != nil {
				return err
			}
		}
	case reflect.Map:
		return unencodable(t, root, path, "maps have no order")
	case reflect.Pointer, reflect.UnsafePointer:
		return unencodable(t, root, path, "a pointer is an address, not a value")
	case reflect.Interface:
		return unencodable(t, root, path, "an interface may hold any type")
	case reflect.Chan:
		return unencodable(t, root, path, "channels have no value to encode")
	case reflect.Func:
		return unencodable(t, root, path, "functions have no value to encode")
	default:
		return unencodable(t, root, path, t.Kind().String()+" values are not encoded")
	}
	return nil
}

// add appends st, extending the last step instead when both are byte runs and
// st starts where the last ends (no padding between): the bytes written are the
// same, in fewer calls.
func (e *Encoder) add(st step) {
	if n := len(e.steps); n > 0 && st.kind == reflect.Uint8 {
		if last := &e.steps[n-1]; last.kind == reflect.Uint8 && last.offset+last.size == st.offset {
			last.size += st.size
			return
		}
	}
	e.steps = append(e.steps, st)
}

// unencodable returns the error for t, found at path within root, saying why.
func unencodable(t, root reflect.Type, path, why string) error {
	if path == "" {
		return fmt.Errorf("anchor: %v has no canonical encoding (%s); use a key function instead", t, why)
	}
	what := "field"
	if path[0] == '[' {
		what = "element"
	}
	return fmt.Errorf("anchor: %s %s of %v is %v, which has no canonical encoding (%s); use a key function instead",
		what, strings.TrimPrefix(path, "."), root, t, why)
}

func tooLarge(root reflect.Type) error {
	return fmt.Errorf("anchor: %v is too large to encode (more than %d fields and elements); use a key function instead", root, maxScalars)
}

// sink receives an encoding: it hashes it, or, in tests, also keeps the bytes.
type sink struct {
	d    xxhash.Digest
	keep bool
	buf  []byte
}

func (s *sink) write(b []byte) {
	if s.keep {
		s.buf = append(s.buf, b...)
	}
	s.d.Write(b)
}

func (s *sink) writeString(str string) {
	s.writeUint64(uint64(len(str)))
	if s.keep {
		s.buf = append(s.buf, str...)
	}
	s.d.WriteString(str)
}

func (s *sink) writeUint64(v uint64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	s.write(b[:])
}

// key returns the sticky key of op applied to the value at p: xxhash64 of op,
// length-prefixed, and the value's encoding. p points to a value of the
// encoder's type: [Keyer] makes sure of it.
func (e *Encoder) key(op string, p unsafe.Pointer) uint64 {
	var s sink
	s.d.Reset()
	s.writeString(op)
	e.encode(&s, p)
	return s.d.Sum64()
}

// appendEncoding appends the canonical encoding of the value at p to dst.
func (e *Encoder) appendEncoding(dst []byte, p unsafe.Pointer) []byte {
	s := sink{keep: true, buf: dst}
	e.encode(&s, p)
	return s.buf
}

func (e *Encoder) encode(s *sink, p unsafe.Pointer) {
	for _, st := range e.steps {
		f := unsafe.Add(p, st.offset)
		switch st.kind {
		case reflect.Uint8:
			s.write(unsafe.Slice((*byte)(f), st.size))
		case reflect.String:
			s.writeString(*(*string)(f))
		case reflect.Slice:
			s.writeString(unsafe.String(unsafe.SliceData(*(*[]byte)(f)), len(*(*[]byte)(f))))
		case reflect.Int:
			s.writeUint64(uint64(*(*int)(f)))
		case reflect.Int16:
			s.writeUint64(uint64(*(*int16)(f)))
		case reflect.Int32:
			s.writeUint64(uint64(*(*int32)(f)))
		case reflect.Int64:
			s.writeUint64(uint64(*(*int64)(f)))
		case reflect.Uint, reflect.Uintptr:
			s.writeUint64(uint64(*(*uint)(f)))
		case reflect.Uint16:
			s.writeUint64(uint64(*(*uint16)(f)))
		case reflect.Uint32:
			s.writeUint64(uint64(*(*uint32)(f)))
		case reflect.Uint64:
			s.writeUint64(*(*uint64)(f))
		case reflect.Float32:
			s.writeUint64(math.Float64bits(float64(*(*float32)(f))))
		case reflect.Float64:
			s.writeUint64(math.Float64bits(*(*float64)(f)))
		}
	}
}

// Keyer keys arguments of type A: the op name and the argument's canonical
// encoding, hashed. Unlike an [Encoder] it cannot be handed a value of another
// type. Its zero value is not usable; make one with [NewKeyer].
type Keyer[A any] struct{ e *Encoder }

// NewKeyer returns the Keyer for A, or the error [NewEncoder] gives for it.
func NewKeyer[A any]() (Keyer[A], error) {
	e, err := NewEncoder(reflect.TypeFor[A]())
	return Keyer[A]{e}, err
}

// Key returns the sticky key of op's argument *a. It allocates nothing.
func (k Keyer[A]) Key(op string, a *A) uint64 { return k.e.key(op, unsafe.Pointer(a)) }
