package phone

import (
	"errors"
	"testing"
)

func TestParseMAC(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want string // "" for an error
	}{
		{"000e08aabbcc", "00:0e:08:aa:bb:cc"},
		{"00:0e:08:aa:bb:cc", "00:0e:08:aa:bb:cc"},
		{"00-0E-08-AA-BB-CC", "00:0e:08:aa:bb:cc"},
		{"000e.08aa.bbcc", "00:0e:08:aa:bb:cc"},
		{"000e08aabbc", ""},
		{"000e08aabbccd", ""},
		{"000e08aabbcc00", ""},
		{"000e08aabbcg", ""},
		{"00 0e08aabbcc", ""},
		{"", ""},
	} {
		got, err := ParseMAC(tt.in)
		switch {
		case tt.want == "" && (err == nil || !errors.Is(err, ErrInvalidRequest)):
			t.Errorf("ParseMAC(%q) = %v, %v; want ErrInvalidRequest", tt.in, got, err)
		case tt.want != "" && (err != nil || got.String() != tt.want):
			t.Errorf("ParseMAC(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}
