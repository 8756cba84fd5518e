package anchor

import (
	"bytes"
	"encoding/binary"
	"math"
	"reflect"
	"testing"
	"unsafe"
)

// naiveEncoding is the encoding spelled out over reflect, value by value: the
// reference the compiled steps must match byte for byte.
func naiveEncoding(b []byte, v reflect.Value) []byte {
	switch v.Kind() {
	case reflect.Bool:
		if v.Bool() {
			return append(b, 1)
		}
		return append(b, 0)
	case reflect.Int8:
		return append(b, byte(v.Int()))
	case reflect.Uint8:
		return append(b, byte(v.Uint()))
	case reflect.Int, reflect.Int16, reflect.Int32, reflect.Int64:
		return binary.LittleEndian.AppendUint64(b, uint64(v.Int()))
	case reflect.Uint, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return binary.LittleEndian.AppendUint64(b, v.Uint())
	case reflect.Float32, reflect.Float64:
		return binary.LittleEndian.AppendUint64(b, math.Float64bits(v.Float()))
	case reflect.String:
		b = binary.LittleEndian.AppendUint64(b, uint64(v.Len()))
		return append(b, v.String()...)
	case reflect.Slice:
		b = binary.LittleEndian.AppendUint64(b, uint64(v.Len()))
		return append(b, v.Bytes()...)
	case reflect.Array:
		for i := range v.Len() {
			b = naiveEncoding(b, v.Index(i))
		}
	case reflect.Struct:
		for i := range v.NumField() {
			b = naiveEncoding(b, v.Field(i))
		}
	}
	return b
}

// TestByteArraysEncodeRaw: a byte array is its bytes, without a length (its
// type fixes it); adjacent 1-byte fields run together, padding never enters.
func TestByteArraysEncodeRaw(t *testing.T) {
	if got := encoding(encoderOf[[4]byte](t), [4]byte{1, 2, 3, 4}); !bytes.Equal(got, []byte{1, 2, 3, 4}) {
		t.Fatalf("[4]byte encodes as %v", got)
	}
	type layout struct {
		A bool
		B int64 // after 7 bytes of padding
		C [3]byte
		D int8
		E [2][2]uint8
		F [2]bool
		G uint16
	}
	e := encoderOf[layout](t)
	v := layout{A: true, B: -2, C: [3]byte{'a', 'b', 'c'}, D: -1, E: [2][2]uint8{{5, 6}, {7, 8}}, F: [2]bool{false, true}, G: 0x0102}
	want := []byte{1, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 'a', 'b', 'c', 0xff, 5, 6, 7, 8, 0, 1, 2, 1, 0, 0, 0, 0, 0, 0}
	if got := encoding(e, v); !bytes.Equal(got, want) {
		t.Fatalf("encoding %v\nwant     %v", got, want)
	}
	// A, B, C..F as one run, G: four steps.
	if len(e.steps) != 4 {
		t.Fatalf("%d steps, want 4: %+v", len(e.steps), e.steps)
	}
	// A and C are bytes apart by padding, not adjacent: two runs.
	type padded struct {
		A byte
		B struct {
			C byte
			D int32
		}
	}
	p := padded{A: 1}
	p.B.C, p.B.D = 2, 3
	if got := encoding(encoderOf[padded](t), p); !bytes.Equal(got, []byte{1, 2, 3, 0, 0, 0, 0, 0, 0, 0}) {
		t.Fatalf("padded encodes as %v", got)
	}
	if got := encoding(encoderOf[[3]int8](t), [3]int8{-1, 0, 1}); !bytes.Equal(got, []byte{0xff, 0, 1}) {
		t.Fatalf("[3]int8 encodes as %v", got)
	}
}

// TestByteArrayKeys: [32]byte keys (hashes, ids) hash 32 bytes, in one step,
// and keys of different content differ.
func TestByteArrayKeys(t *testing.T) {
	e := encoderOf[[32]byte](t)
	if len(e.steps) != 1 || len(encoding(e, [32]byte{})) != 32 {
		t.Fatalf("a [32]byte takes %d steps and %d bytes, want 1 and 32", len(e.steps), len(encoding(e, [32]byte{})))
	}
	seen := map[uint64][32]byte{}
	for i := range 32 {
		for _, b := range []byte{1, 0x80, 0xff} {
			var k [32]byte
			k[i] = b
			key := e.key("op", unsafe.Pointer(&k))
			if prev, ok := seen[key]; ok {
				t.Fatalf("%x and %x share key %x", prev, k, key)
			}
			seen[key] = k
		}
	}
	var zero [32]byte
	if _, ok := seen[e.key("op", unsafe.Pointer(&zero))]; ok {
		t.Fatal("the zero array shares a key")
	}
	k := [32]byte{9}
	if n := testing.AllocsPerRun(1000, func() { e.key("op", unsafe.Pointer(&k)) }); n != 0 {
		t.Fatalf("Key of a [32]byte allocated %.1f times", n)
	}
}

type fuzzArg struct {
	A, B  string
	N     int64
	Blob  []byte
	Key   [4]byte
	Ok    bool
	Small int8
	Grid  [2][3]uint8
	W     uint16
}

// fuzzArgOf builds a fuzzArg, its fixed-size fields filled from fixed (zeros
// past its end).
func fuzzArgOf(a, b string, n int64, blob, fixed []byte, small int8) fuzzArg {
	var f [13]byte
	copy(f[:], fixed)
	v := fuzzArg{A: a, B: b, N: n, Blob: blob, Ok: f[4]&1 == 1, Small: small, W: binary.LittleEndian.Uint16(f[11:])}
	copy(v.Key[:], f[:4])
	copy(v.Grid[0][:], f[5:8])
	copy(v.Grid[1][:], f[8:11])
	return v
}

// equalArgs is value equality, with a nil and an empty Blob alike (both have
// no bytes).
func equalArgs(x, y fuzzArg) bool {
	eq := bytes.Equal(x.Blob, y.Blob)
	x.Blob, y.Blob = nil, nil
	return eq && reflect.DeepEqual(x, y)
}

// FuzzEncodingInjective: the encoding matches the naive reference, and two
// values encode alike only if they are equal.
func FuzzEncodingInjective(f *testing.F) {
	f.Add("ab", "c", int64(1), []byte{}, []byte{}, int8(0), "a", "bc", int64(1), []byte{}, []byte{}, int8(0))
	f.Add("", "x", int64(0), []byte("x"), []byte{1}, int8(0), "x", "", int64(0), []byte(""), []byte{1}, int8(0))
	f.Add("a", "", int64(-1), []byte(nil), []byte{}, int8(-1), "a", "", int64(-1), []byte{}, []byte{0}, int8(-1))
	f.Add("", "", int64(0), []byte{}, []byte{1, 2, 3, 4}, int8(0), "", "", int64(0), []byte{}, []byte{1, 2, 3, 5}, int8(0))
	f.Add("", "", int64(0), []byte{}, []byte{0, 0, 0, 0, 1, 7}, int8(0), "", "", int64(0), []byte{}, []byte{0, 0, 0, 0, 3, 7}, int8(0))
	e := encoderOf[fuzzArg](f)
	f.Fuzz(func(t *testing.T, a1, b1 string, n1 int64, x1, k1 []byte, s1 int8, a2, b2 string, n2 int64, x2, k2 []byte, s2 int8) {
		v1, v2 := fuzzArgOf(a1, b1, n1, x1, k1, s1), fuzzArgOf(a2, b2, n2, x2, k2, s2)
		e1, e2 := encoding(e, v1), encoding(e, v2)
		if want := naiveEncoding(nil, reflect.ValueOf(v1)); !bytes.Equal(e1, want) {
			t.Fatalf("%+v encodes as\n%v, the reference as\n%v", v1, e1, want)
		}
		if equal := equalArgs(v1, v2); bytes.Equal(e1, e2) != equal {
			t.Fatalf("values equal %v but encodings equal %v", equal, !equal)
		}
	})
}

// TestFloatKeysByTheirBits: floats key by their bits, as the README and
// Encoder say: 0 and -0 are two keys though == holds, and a NaN keys like
// itself though it is not == to itself.
func TestFloatKeysByTheirBits(t *testing.T) {
	k, err := NewKeyer[float64]()
	if err != nil {
		t.Fatal(err)
	}
	zero, negZero, nan := 0.0, math.Copysign(0, -1), math.NaN()
	if k.Key("op", &zero) == k.Key("op", &negZero) {
		t.Error("0 and -0 key alike")
	}
	nan2 := nan
	if k.Key("op", &nan) != k.Key("op", &nan2) {
		t.Error("a NaN keys unlike itself")
	}
}
