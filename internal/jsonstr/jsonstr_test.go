package jsonstr

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// TestAppendIsMarshal holds Append and Len to encoding/json's output, on strings drawn from
// the bytes that are escaped (controls, quotes, HTML characters, U+2028/2029, broken UTF-8)
// among plain ones.
func TestAppendIsMarshal(t *testing.T) {
	pieces := []string{"a", "Z", " ", "\"", "\\", "/", "<", ">", "&", "\n", "\r", "\t", "\b", "\f",
		"\x00", "\x1f", "\x7f", "é", "€", "😀", "\u2028", "\u2029", "\xff", "\xe2\x82", "\xed\xa0\x80"}
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		var s string
		for range rnd.IntN(12) {
			s += pieces[rnd.IntN(len(pieces))]
		}
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := Append([]byte("x"), s); string(got[1:]) != string(want) {
			t.Fatalf("Append(%q) = %s, json.Marshal gives %s", s, got[1:], want)
		}
		if n := Len(s); n != len(want) {
			t.Fatalf("Len(%q) = %d, want %d", s, n, len(want))
		}
	}
}
