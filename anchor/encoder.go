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

// Encoder writes the canonical encoding of one argument type: booleans as one
// byte, integers and floats as 8 little-endian bytes (floats as float64 bits),
// strings and byte slices as an 8-byte length and their bytes, arrays and
// structs as their elements in order. Lengths make it unambiguous: ("ab", "c")
// and ("a", "bc") encode differently. It allocates nothing.
type Encoder struct {
	steps []step
}

type step struct {
	kind   reflect.Kind
	offset uintptr
}

// maxSteps caps the scalars (fields and array elements, flattened) a type may
// have to be encoded: past it, building the encoder would take too long and too
// much memory, and so would every key.
const maxSteps = 1 << 16

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
	case reflect.Bool, reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		if len(e.steps) >= maxSteps {
			return tooLarge(root)
		}
		e.steps = append(e.steps, step{t.Kind(), off})
	case reflect.Slice:
		if t.Elem().Kind() != reflect.Uint8 {
			return unencodable(t, root, path, "only byte slices encode")
		}
		if len(e.steps) >= maxSteps {
			return tooLarge(root)
		}
		e.steps = append(e.steps, step{reflect.Slice, off})
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
		if len(elem.steps) > (maxSteps-len(e.steps))/t.Len() {
			return tooLarge(root)
		}
		for i := range t.Len() {
			for _, st := range elem.steps {
				e.steps = append(e.steps, step{st.kind, off + uintptr(i)*t.Elem().Size() + st.offset})
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
	return fmt.Errorf("anchor: %v is too large to encode (more than %d fields and elements); use a key function instead", root, maxSteps)
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

// Key returns the sticky key of op applied to the value at p, which must point
// to a value of the encoder's type.
func (e *Encoder) Key(op string, p unsafe.Pointer) uint64 {
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
		case reflect.Bool:
			if *(*bool)(f) {
				s.write([]byte{1})
			} else {
				s.write([]byte{0})
			}
		case reflect.String:
			s.writeString(*(*string)(f))
		case reflect.Slice:
			s.writeString(unsafe.String(unsafe.SliceData(*(*[]byte)(f)), len(*(*[]byte)(f))))
		case reflect.Int:
			s.writeUint64(uint64(*(*int)(f)))
		case reflect.Int8:
			s.writeUint64(uint64(*(*int8)(f)))
		case reflect.Int16:
			s.writeUint64(uint64(*(*int16)(f)))
		case reflect.Int32:
			s.writeUint64(uint64(*(*int32)(f)))
		case reflect.Int64:
			s.writeUint64(uint64(*(*int64)(f)))
		case reflect.Uint, reflect.Uintptr:
			s.writeUint64(uint64(*(*uint)(f)))
		case reflect.Uint8:
			s.writeUint64(uint64(*(*uint8)(f)))
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
