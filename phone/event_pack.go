package phone

import (
	"encoding/binary"
	"math"
	"slices"

	"github.com/spa900/spa900/provisioning/config"
)

// An event's Data, as a bus keeps it: packed into one byte slice. A map of a few fields
// weighs 300-600 bytes on the heap (its group of eight slots, the boxed values, the slices of
// its lists) where its fields packed take 20-150; a phone of a fleet keeps dozens of events,
// 3,000 phones about 70 MB as maps. The packing keeps every value's Go type (an int stays an
// int, a nil list nil), so that a replay gives back the Data that was published; a value of a
// type it does not know is not packed, and the event is kept as its map.
//
// The layout: the count of fields (uvarint), then for each its key (uvarint length, bytes),
// a tag byte and the value: a string, a list's count and its elements, as uvarint lengths and
// bytes; integers as varints.

// Tags of packed values.
const (
	packNil byte = iota
	packString
	packFalse
	packTrue
	packInt
	packInt64
	packInt32
	packUint64
	packUint32
	packStrings    // []string: count, then the strings
	packStringsNil // a nil []string
	packSkipped    // []config.Skipped: count, then each one's Name, Value, Reason and Line
	packSkippedNil // a nil []config.Skipped
	packFloat64    // its IEEE 754 bits, 8 bytes
)

// packs says whether packData packs data.
func packs(data map[string]any) bool {
	for _, v := range data {
		switch v.(type) {
		case nil, string, bool, int, int64, int32, uint64, uint32, float64, []string, []config.Skipped:
		default:
			return false
		}
	}
	return true
}

// packData appends data packed to dst, its fields in the order of their keys (the same
// Data packs to the same bytes, which a bus keeps once: sameBody); ok is false when a value
// is of a type it does not pack (dst is then of no use).
func packData(dst []byte, data map[string]any) (_ []byte, ok bool) {
	dst = binary.AppendUvarint(dst, uint64(len(data)))
	var arr [16]string // a phone's events have a few fields
	keys := arr[:0]
	for k := range data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := data[k]
		dst = packString1(dst, k)
		switch v := v.(type) {
		case nil:
			dst = append(dst, packNil)
		case string:
			dst = packString1(append(dst, packString), v)
		case bool:
			if v {
				dst = append(dst, packTrue)
			} else {
				dst = append(dst, packFalse)
			}
		case int:
			dst = binary.AppendVarint(append(dst, packInt), int64(v))
		case int64:
			dst = binary.AppendVarint(append(dst, packInt64), v)
		case int32:
			dst = binary.AppendVarint(append(dst, packInt32), int64(v))
		case uint64:
			dst = binary.AppendUvarint(append(dst, packUint64), v)
		case uint32:
			dst = binary.AppendUvarint(append(dst, packUint32), uint64(v))
		case float64:
			dst = binary.LittleEndian.AppendUint64(append(dst, packFloat64), math.Float64bits(v))
		case []string:
			if v == nil {
				dst = append(dst, packStringsNil)
				continue
			}
			dst = binary.AppendUvarint(append(dst, packStrings), uint64(len(v)))
			for _, s := range v {
				dst = packString1(dst, s)
			}
		case []config.Skipped:
			if v == nil {
				dst = append(dst, packSkippedNil)
				continue
			}
			dst = binary.AppendUvarint(append(dst, packSkipped), uint64(len(v)))
			for _, s := range v {
				dst = packString1(packString1(packString1(dst, s.Name), s.Value), s.Reason)
				dst = binary.AppendVarint(dst, int64(s.Line))
			}
		default:
			return dst, false
		}
	}
	return dst, true
}

func packString1(dst []byte, s string) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(s))), s...)
}

// unpackData returns the map packData packed. The bytes are the bus's own, written once: a
// malformed packing is a bug of packData, and gives what could be read before it.
func unpackData(b []byte) map[string]any {
	r := unpacker{b: b}
	n := r.uvarint()
	data := make(map[string]any, min(n, uint64(len(b))))
	for i := uint64(0); i < n && r.ok(); i++ {
		k := r.string()
		if !r.ok() {
			break
		}
		var v any
		switch tag := r.byte(); tag {
		case packNil:
		case packString:
			v = r.string()
		case packFalse:
			v = false
		case packTrue:
			v = true
		case packInt:
			v = int(r.varint())
		case packInt64:
			v = r.varint()
		case packInt32:
			v = int32(r.varint())
		case packUint64:
			v = r.uvarint()
		case packUint32:
			v = uint32(r.uvarint())
		case packFloat64:
			v = math.Float64frombits(r.uint64())
		case packStrings:
			l := make([]string, min(r.uvarint(), uint64(len(r.b))))
			for j := range l {
				l[j] = r.string()
			}
			v = l
		case packStringsNil:
			v = []string(nil)
		case packSkipped:
			l := make([]config.Skipped, min(r.uvarint(), uint64(len(r.b))))
			for j := range l {
				l[j] = config.Skipped{Name: r.string(), Value: r.string(), Reason: r.string(), Line: int(r.varint())}
			}
			v = l
		case packSkippedNil:
			v = []config.Skipped(nil)
		default:
			r.bad = true
		}
		if r.ok() {
			data[k] = v
		}
	}
	return data
}

// unpacker reads a packing; bad is set at the first read past its end.
type unpacker struct {
	b   []byte
	bad bool
}

func (r *unpacker) ok() bool { return !r.bad }

func (r *unpacker) byte() byte {
	if len(r.b) == 0 {
		r.bad = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *unpacker) uint64() uint64 {
	if len(r.b) < 8 {
		r.bad = true
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *unpacker) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *unpacker) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *unpacker) string() string {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.bad = true
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}
