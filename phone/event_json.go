package phone

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/spa900/spa900/internal/jsonstr"
	"github.com/spa900/spa900/provisioning/config"
)

// appendEventJSON appends the encoding of e: the bytes json.Marshal gives for a map of the
// Data fields with "seq", "time" and "kind" (keys sorted, strings escaped as encoding/json
// escapes them, HTML characters included), written directly for the values events carry
// (strings, integers, booleans, lists of strings, an empty list of skipped values) and
// through json.Marshal for any other.
// A phone publishes a few events a resync; encoding them through a copy of the map and
// reflection was 5% of a fleet's CPU in a provisioning storm. TestEventJSONIsMarshal holds
// it to json.Marshal's output.
func appendEventJSON(dst []byte, e Event) ([]byte, error) {
	var arr [16]string
	keys := arr[:0]
	for k := range e.Data {
		if k != "seq" && k != "time" && k != "kind" {
			keys = append(keys, k)
		}
	}
	keys = append(keys, "seq", "time", "kind")
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonstr.Append(dst, k)
		dst = append(dst, ':')
		switch k {
		case "seq":
			dst = strconv.AppendUint(dst, e.Seq, 10)
		case "time":
			dst = append(dst, '"')
			dst = e.Time.UTC().AppendFormat(dst, time.RFC3339Nano)
			dst = append(dst, '"')
		case "kind":
			dst = jsonstr.Append(dst, e.Kind)
		default:
			var err error
			if dst, err = appendJSONValue(dst, e.Data[k]); err != nil {
				return nil, err
			}
		}
	}
	return append(dst, '}'), nil
}

// appendJSONValue appends the encoding of v, as json.Marshal would write it.
func appendJSONValue(dst []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return jsonstr.Append(dst, v), nil
	case bool:
		return strconv.AppendBool(dst, v), nil
	case int:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(dst, v, 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case uint64:
		return strconv.AppendUint(dst, v, 10), nil
	case uint32:
		return strconv.AppendUint(dst, uint64(v), 10), nil
	case []string:
		if v == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '[')
		for i, s := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = jsonstr.Append(dst, s)
		}
		return append(dst, ']'), nil
	case []config.Skipped:
		// None skipped, as a resync's result and a change's event say in almost every case.
		if v == nil {
			return append(dst, "null"...), nil
		}
		if len(v) == 0 {
			return append(dst, "[]"...), nil
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(dst, b...), nil
}

// eventJSONLen is len(appendEventJSON(e)) without writing it, when every Data value is of a
// kind whose length it counts (nil, strings, booleans, integers, lists of strings, no skipped
// values: what a phone's events carry in a storm); ok is false for any other (a float, a
// list of skipped values, a value encoding/json writes), which the caller encodes to weigh. Counting needs
// neither the sorted keys nor the bytes: the bus weighs every event it keeps, and encoding
// each one for its length was 3% of a boot storm's CPU.
func eventJSONLen(e Event) (n int, ok bool) {
	n = len(`{"kind":,"seq":,"time":""}`) + jsonstr.Len(e.Kind) + uintLen(e.Seq)
	n += rfc3339NanoLen(e.Time.UTC())
	for k, v := range e.Data {
		if k == "seq" || k == "time" || k == "kind" {
			continue
		}
		n += jsonstr.Len(k) + len(`,:`)
		switch v := v.(type) {
		case nil:
			n += len("null")
		case string:
			n += jsonstr.Len(v)
		case bool:
			n += len("false")
			if v {
				n--
			}
		case int:
			n += intLen(int64(v))
		case int64:
			n += intLen(v)
		case int32:
			n += intLen(int64(v))
		case uint64:
			n += uintLen(v)
		case uint32:
			n += uintLen(uint64(v))
		case []string:
			if v == nil {
				n += len("null")
				continue
			}
			n += len("[]") + max(len(v)-1, 0)
			for _, s := range v {
				n += jsonstr.Len(s)
			}
		case []config.Skipped:
			switch {
			case v == nil:
				n += len("null")
			case len(v) == 0:
				n += len("[]")
			default:
				return 0, false
			}
		default:
			return 0, false
		}
	}
	return n, true
}

// rfc3339NanoLen is the length of t (in UTC) formatted as time.RFC3339Nano:
// 2006-01-02T15:04:05, the fraction without its trailing zeros, Z.
func rfc3339NanoLen(t time.Time) int {
	if y := t.Year(); y < 0 || y > 9999 {
		var ts [64]byte
		return len(t.AppendFormat(ts[:0], time.RFC3339Nano))
	}
	n := len("2006-01-02T15:04:05Z")
	if ns := t.Nanosecond(); ns > 0 {
		n += len(".999999999")
		for ; ns%10 == 0; ns /= 10 {
			n--
		}
	}
	return n
}

// uintLen is the number of decimal digits of v.
func uintLen(v uint64) int {
	n := 1
	for v >= 10 {
		v /= 10
		n++
	}
	return n
}

// intLen is the length of v in decimal, its sign included.
func intLen(v int64) int {
	if v < 0 {
		return 1 + uintLen(uint64(-(v+1))+1)
	}
	return uintLen(uint64(v))
}
