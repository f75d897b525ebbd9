package media

import (
	"math"
	"testing"
)

// TestToneComponentTables: a tabulated component gives the sine itself, amp·sin(2πf·n/8000),
// within rounding, sample by sample over 3 s (its period many times over), as the phasor does
// for the frequencies that are not tabulated; 1 kHz is an 8-sample table, 697 Hz the phasor.
func TestToneComponentTables(t *testing.T) {
	const amp = 10000.0
	for _, tt := range []struct {
		hz     float64
		period int // 0: the phasor
	}{{1000, 8}, {350, 160}, {440, 200}, {425, 320}, {620, 400}, {697, 0}, {1004, 0}, {440.5, 0}} {
		var c toneComponent
		c.set(tt.hz, amp)
		if len(c.tab) != tt.period {
			t.Errorf("%v Hz: a table of %d samples, want %d", tt.hz, len(c.tab), tt.period)
		}
		var d toneComponent
		d.set(tt.hz, amp)
		out := make([]int16, 3*clockRate)
		for i := 0; i < len(out); i += 160 { // run by run, as a source reads frames
			d.fill(out[i : i+160])
		}
		for n := 0; n < 3*clockRate; n++ {
			want := amp * math.Sin(2*math.Pi*tt.hz*float64(n)/clockRate)
			got := c.next()
			if math.Abs(got-want) > 1e-6*amp {
				t.Fatalf("%v Hz sample %d: %v, the sine %v", tt.hz, n, got, want)
			}
			if math.Abs(float64(out[n])-want) > 1 {
				t.Fatalf("%v Hz sample %d filled: %d, the sine %v", tt.hz, n, out[n], want)
			}
		}
	}
}

// BenchmarkToneRead is one 20 ms frame of a source: a 1 kHz test tone (tabulated), a DTMF
// frequency (the phasor) and the dial tone (two components, tabulated).
//
//	go test -run '^$' -bench ToneRead ./media
func BenchmarkToneRead(b *testing.B) {
	dial, err := ParseToneScript(regionalTones["Dial_Tone"])
	if err != nil {
		b.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		src  Source
	}{{"1kHz", NewTestTone(1000, -20)}, {"697Hz", NewTestTone(697, -20)}, {"Dial_Tone", NewToneSource(dial)}} {
		b.Run(tt.name, func(b *testing.B) {
			frame := make([]int16, 160)
			src := tt.src
			for b.Loop() {
				if !src.Read(frame) {
					src = NewToneSource(dial) // the dial tone's 10 s ended: again
				}
			}
		})
	}
}
