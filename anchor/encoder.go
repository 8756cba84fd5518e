package anchor

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
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

// NewEncoder returns the encoder for t, or an error naming the first field
// that cannot be encoded (maps, pointers, interfaces, channels, functions and
// slices other than []byte): give such ops a key function instead.
func NewEncoder(t reflect.Type) (*Encoder, error) {
	e := &Encoder{}
	if err := e.compile(t, 0, t.String()); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *Encoder) compile(t reflect.Type, off uintptr, path string) error {
	switch t.Kind() {
	case reflect.Bool, reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		e.steps = append(e.steps, step{t.Kind(), off})
	case reflect.Slice:
		if t.Elem().Kind() != reflect.Uint8 {
			return fmt.Errorf("coregate: %s is %s: only []byte slices encode; give the op a key function", path, t)
		}
		e.steps = append(e.steps, step{reflect.Slice, off})
	case reflect.Array:
		for i := range t.Len() {
			if err := e.compile(t.Elem(), off+uintptr(i)*t.Elem().Size(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if err := e.compile(f.Type, off+f.Offset, path+"."+f.Name); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("coregate: %s is %s, which has no canonical encoding; give the op a key function", path, t)
	}
	return nil
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
