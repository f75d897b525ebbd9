package mediatest

import "testing"

func TestFindInOrder(t *testing.T) {
	a, b, quiet := []int16{1000, -2000}, []int16{3000, 500}, []int16{1, -1}
	rec := []int16{0, 1000, -2000, 0, 0, 0, 3000, 500, 7}
	tests := []struct {
		name           string
		packets        [][]int16
		found, audible int
	}{
		{"in order, across a gap", [][]int16{a, quiet, b}, 2, 2},
		{"out of order", [][]int16{b, a}, 1, 2},
		{"missing", [][]int16{a, {9999, 9999}}, 1, 2},
		{"silence only", [][]int16{quiet}, 0, 0},
	}
	for _, tt := range tests {
		if found, audible := FindInOrder(rec, tt.packets); found != tt.found || audible != tt.audible {
			t.Errorf("%s: found %d of %d, want %d of %d", tt.name, found, audible, tt.found, tt.audible)
		}
	}
}
