package provisioning

import (
	"errors"
	"testing"
)

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in      string
		want    string // String() after parsing; "" = error
		wantSfx string
	}{
		{in: "5.1.15(aSC)", want: "5.1.15(aSC)", wantSfx: "aSC"},
		{in: "6.1.5(a)", want: "6.1.5(a)", wantSfx: "a"},
		{in: "1.0.31(b)", want: "1.0.31(b)", wantSfx: "b"},
		{in: "2.0.3(0412s)", want: "2.0.3(0412s)", wantSfx: "0412s"},
		{in: "1.0.5(0617)", want: "1.0.5(0617)", wantSfx: "0617"},
		{in: "5.1.10", want: "5.1.10"},
		{in: "1.0", want: "1.0"},
		{in: "5", want: "5"},
		{in: "1.2.3.4", want: "1.2.3.4"},
		{in: "007.01.2", want: "7.1.2"},
		{in: "", want: ""},
		{in: "1.2.3.4.5", want: ""},
		{in: "1..2", want: ""},
		{in: ".1", want: ""},
		{in: "1.", want: ""},
		{in: "1.2.3()", want: ""},
		{in: "1.2.3(a", want: ""},
		{in: "1.2.3(a b)", want: ""},
		{in: "1.2.3(a)(b)", want: ""},
		{in: "1.2.3 ", want: ""},
		{in: "v1.2", want: ""},
		{in: "-1.2", want: ""},
		{in: "1234567890.1", want: ""},
		{in: "(a)", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			v, err := ParseVersion(tt.in)
			if tt.want == "" {
				if !errors.Is(err, ErrSyntax) {
					t.Errorf("ParseVersion(%q) = %v, %v; want ErrSyntax", tt.in, v, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseVersion(%q): %v", tt.in, err)
			}
			if got := v.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			if got := v.Suffix(); got != tt.wantSfx {
				t.Errorf("Suffix() = %q, want %q", got, tt.wantSfx)
			}
		})
	}
}

func TestVersionCompare(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"5.1.15", "5.1.15", 0},
		{"1.0", "1.0.0", 0},
		{"5.1.10", "5.1.15", -1},
		{"5.1.9", "5.1.10", -1}, // numeric, not textual
		{"6.1.5(a)", "5.1.15(aSC)", 1},
		{"5.1.15", "5.1.15(aSC)", -1},
		{"5.1.15(a)", "5.1.15(aSC)", -1},
		{"5.1.15(aSC)", "5.1.15(b)", -1},
		{"5.1.15(aSC)", "5.1.15(aSC)", 0},
		{"5.1", "5.1.15", -1},
		{"2", "1.9.9(z)", 1},
		{"1.0.5(0617)", "1.0.5(0618)", -1},
	}
	for _, tt := range tests {
		t.Run(tt.a+"_vs_"+tt.b, func(t *testing.T) {
			a, err := ParseVersion(tt.a)
			if err != nil {
				t.Fatal(err)
			}
			b, err := ParseVersion(tt.b)
			if err != nil {
				t.Fatal(err)
			}
			if got := a.Compare(b); got != tt.want {
				t.Errorf("%s.Compare(%s) = %d, want %d", tt.a, tt.b, got, tt.want)
			}
			if got := b.Compare(a); got != -tt.want {
				t.Errorf("%s.Compare(%s) = %d, want %d", tt.b, tt.a, got, -tt.want)
			}
		})
	}
}

func TestVersionZero(t *testing.T) {
	var v Version
	if got := v.String(); got != "" {
		t.Errorf("zero Version String() = %q, want \"\"", got)
	}
}
