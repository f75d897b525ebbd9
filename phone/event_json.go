package phone

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// appendEventJSON appends the encoding of e: the bytes json.Marshal gives for a map of the
// Data fields with "seq", "time" and "kind" (keys sorted, strings escaped as encoding/json
// escapes them, HTML characters included), written directly for the values events carry
// (strings, integers, booleans, lists of strings) and through json.Marshal for any other.
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
		dst = appendJSONString(dst, k)
		dst = append(dst, ':')
		switch k {
		case "seq":
			dst = strconv.AppendUint(dst, e.Seq, 10)
		case "time":
			dst = append(dst, '"')
			dst = e.Time.UTC().AppendFormat(dst, time.RFC3339Nano)
			dst = append(dst, '"')
		case "kind":
			dst = appendJSONString(dst, e.Kind)
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
		return appendJSONString(dst, v), nil
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
			dst = appendJSONString(dst, s)
		}
		return append(dst, ']'), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(dst, b...), nil
}

// appendJSONString appends s as a JSON string, escaped as encoding/json escapes it with
// HTML escaping on: ", \ and control characters, <, > and &, invalid UTF-8 as U+FFFD, and
// U+2028 and U+2029.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// eventJSONLen is len(appendEventJSON(e)) without writing it, when every Data value is of a
// kind whose length it counts (nil, strings, booleans, integers, lists of strings: what a
// phone's events carry in a storm); ok is false for any other (a float, a list of skipped
// values, a value encoding/json writes), which the caller encodes to weigh. Counting needs
// neither the sorted keys nor the bytes: the bus weighs every event it keeps, and encoding
// each one for its length was 3% of a boot storm's CPU.
func eventJSONLen(e Event) (n int, ok bool) {
	n = len(`{"kind":,"seq":,"time":""}`) + jsonStringLen(e.Kind) + uintLen(e.Seq)
	n += rfc3339NanoLen(e.Time.UTC())
	for k, v := range e.Data {
		if k == "seq" || k == "time" || k == "kind" {
			continue
		}
		n += jsonStringLen(k) + len(`,:`)
		switch v := v.(type) {
		case nil:
			n += len("null")
		case string:
			n += jsonStringLen(v)
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
				n += jsonStringLen(s)
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

// jsonStringLen is len(appendJSONString(nil, s)).
func jsonStringLen(s string) int {
	n := len(`""`)
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			switch {
			case b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&':
				n++
			case b == '\\' || b == '"' || b == '\b' || b == '\f' || b == '\n' || b == '\r' || b == '\t':
				n += 2
			default:
				n += len(`\u0000`)
			}
			i++
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if (c == utf8.RuneError && size == 1) || c == '\u2028' || c == '\u2029' {
			n += len(`\ufffd`)
		} else {
			n += size
		}
		i += size
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
