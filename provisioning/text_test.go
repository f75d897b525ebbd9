package provisioning

import (
	"testing"
)

func TestCleanText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want string
	}{
		{"clean", "File not found", 0, "File not found"},
		{"crlf forges a syslog line", "File not found\r\n<13>Jan  1 00:00:00 pbx sshd: accepted", 0, "File not found <13>Jan  1 00:00:00 pbx sshd: accepted"},
		{"nul and escape", "a\x00\x1b[2Jb", 0, "a [2Jb"},
		{"del and c1", "a\x7fb\u0085c", 0, "a b c"},
		{"tab", "a\tb", 0, "a b"},
		{"bidi override", "abc\u202eexe.txt", 0, "abcexe.txt"},
		{"invalid utf-8", "a\xffb", 0, "a\ufffdb"},
		{"runs of controls", "a\r\n\r\nb", 0, "a b"},
		{"spaces kept", "a  b", 0, "a  b"},
		{"cut", "0123456789", 4, "0123…"},
		{"cut on a rune", "ééé", 3, "é…"},
		{"fits", "0123", 4, "0123"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CleanText(tt.in, tt.max); got != tt.want {
				t.Errorf("CleanText(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
			}
		})
	}
}

func FuzzCleanText(f *testing.F) {
	f.Add("File not found\r\n<13>forged", 64)
	f.Add("\xff\u202e\x00", 3)
	f.Fuzz(func(t *testing.T, s string, max int) {
		max %= 1024
		got := CleanText(s, max)
		if !clean(got) {
			t.Fatalf("CleanText(%q) = %q still holds a control", s, got)
		}
		if max > 0 && len(got) > max+len("…") {
			t.Fatalf("CleanText(%q, %d) = %d bytes", s, max, len(got))
		}
		if clean(s) && (max <= 0 || len(s) <= max) && got != s {
			t.Fatalf("CleanText(%q) = %q changed clean text", s, got)
		}
	})
}
