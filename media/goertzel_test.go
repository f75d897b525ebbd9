package media

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// runDetector feeds x to a detector in 20 ms frames and returns the digits it reported.
func runDetector(t *testing.T, x []int16) (digits string, durs []time.Duration) {
	t.Helper()
	e, evs := testEngine(t, SessionConfig{})
	s, err := e.Open() // not started: the pacer leaves it alone, the test drives the detector
	if err != nil {
		t.Fatal(err)
	}
	s.detect.reset()
	for i := 0; i+160 <= len(x); i += 160 {
		s.detect.feed(x[i:i+160], s)
	}
	s.detect.feed(make([]int16, 800), s)
	e.Close()
	for _, ev := range evs.all {
		digits += string(ev.Digit)
		durs = append(durs, ev.Duration)
	}
	return digits, durs
}

// dtmfSignal is the digits as tone pairs at the given levels with gaps of silence.
func dtmfSignal(digits string, on, off time.Duration, rowDB, colDB float64) []int16 {
	var x []int16
	for i := 0; i < len(digits); i++ {
		ev, _ := dtmfEvent(digits[i])
		r, c := dtmfFreqs(ev)
		var pr, pc phasor
		pr.set(r, dbm0Amplitude(rowDB))
		pc.set(c, dbm0Amplitude(colDB))
		for k := 0; k < samplesPer(on); k++ {
			x = append(x, sat16(int32(pr.next()+pc.next())))
		}
		x = append(x, make([]int16, samplesPer(off))...)
	}
	return x
}

func TestGoertzelDigits(t *testing.T) {
	tests := []struct {
		name         string
		on, off      time.Duration
		rowDB, colDB float64
		want         string
	}{
		{name: "all sixteen at -16", on: 60 * time.Millisecond, off: 60 * time.Millisecond, rowDB: -16, colDB: -16, want: "0123456789*#ABCD"},
		{name: "40 ms tones, 40 ms gaps (Q.24)", on: 40 * time.Millisecond, off: 40 * time.Millisecond, rowDB: -10, colDB: -10, want: "1234567890"},
		{name: "normal twist 6 dB", on: 60 * time.Millisecond, off: 60 * time.Millisecond, rowDB: -10, colDB: -16, want: "159#"},
		{name: "reverse twist 3 dB", on: 60 * time.Millisecond, off: 60 * time.Millisecond, rowDB: -13, colDB: -10, want: "159#"},
		{name: "quiet -35 dBm0", on: 80 * time.Millisecond, off: 60 * time.Millisecond, rowDB: -35, colDB: -35, want: "42"},
		{name: "too short 15 ms", on: 15 * time.Millisecond, off: 60 * time.Millisecond, rowDB: -10, colDB: -10, want: ""},
		{name: "twist too large 12 dB", on: 60 * time.Millisecond, off: 60 * time.Millisecond, rowDB: -6, colDB: -18, want: ""},
		{name: "reverse twist too large 8 dB", on: 60 * time.Millisecond, off: 60 * time.Millisecond, rowDB: -18, colDB: -10, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, durs := runDetector(t, dtmfSignal(tt.want+"", tt.on, tt.off, tt.rowDB, tt.colDB))
			if tt.want == "" {
				got, _ = runDetector(t, dtmfSignal("159", tt.on, tt.off, tt.rowDB, tt.colDB))
			}
			if got != tt.want {
				t.Errorf("detected %q, want %q", got, tt.want)
			}
			for _, d := range durs {
				if d < tt.on-30*time.Millisecond || d > tt.on+30*time.Millisecond {
					t.Errorf("duration %v for a %v tone", d, tt.on)
				}
			}
		})
	}
}

// TestGoertzelTalkOff: signals that are not DTMF never make digits: the call-progress tones,
// noise, a chord with harmonics near the DTMF frequencies, and a sweep through the band.
func TestGoertzelTalkOff(t *testing.T) {
	n := 8000 * 3
	noise := make([]int16, n)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range noise {
		noise[i] = int16(r.NormFloat64() * 3000)
	}
	chord := make([]int16, n)
	sweep := make([]int16, n)
	phase := 0.0
	for i := range chord {
		tt := float64(i) / 8000
		var v float64
		for h := 1; h <= 6; h++ { // a voice-like harmonic series on 233 Hz (3rd = 699, 5th = 1165)
			v += 3000 / float64(h) * math.Sin(2*math.Pi*233*float64(h)*tt)
		}
		chord[i] = int16(v)
		phase += 2 * math.Pi * (300 + 3000*tt/3) / 8000
		sweep[i] = int16(8000 * math.Sin(phase))
	}
	signals := map[string][]int16{"noise": noise, "harmonic chord": chord, "sweep": sweep}
	for _, name := range []string{"Dial_Tone", "Busy_Tone", "Ring_Back_Tone", "SIT1_Tone", "Off_Hook_Warning_Tone"} {
		ts, _ := ParseToneScript(regionalTones[name])
		src := NewToneSource(ts)
		x := make([]int16, n)
		src.Read(x)
		signals[name] = x
	}
	for name, x := range signals {
		if got, _ := runDetector(t, x); got != "" {
			t.Errorf("%s made digits %q", name, got)
		}
	}
}

// TestGoertzelInSpeech: the digits are found in a recording of speech mixed with them, and the
// speech alone makes none (the talk-off test with real speech).
func TestGoertzelInSpeech(t *testing.T) {
	b := readTestdata(t, "speech.wav")
	p, err := ReadWAV(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := runDetector(t, p.Samples); got != "" {
		t.Errorf("speech alone made digits %q", got)
	}
	mixed := append([]int16(nil), p.Samples...)
	d := dtmfSignal("2580", 80*time.Millisecond, 400*time.Millisecond, -12, -12)
	for i := range d {
		if i+8000 < len(mixed) {
			mixed[i+8000] = sat16(int32(mixed[i+8000])/4 + int32(d[i]))
		}
	}
	if got, _ := runDetector(t, mixed); got != "2580" {
		t.Errorf("digits over speech (-12 dB under them) detected %q, want 2580", got)
	}
}
