package media

import (
	"errors"
	"math"
	"testing"
	"time"
)

// The Regional tab's defaults (SPA-BEHAVIOUR §8.3): every one must parse.
var regionalTones = map[string]string{
	"Dial_Tone":                   "350@-19,440@-19;10(*/0/1+2)",
	"Outside_Dial_Tone":           "420@-16;10(*/0/1)",
	"Prompt_Tone":                 "520@-19,620@-19;10(*/0/1+2)",
	"Busy_Tone":                   "480@-19,620@-19;10(.5/.5/1+2)",
	"Reorder_Tone":                "480@-19,620@-19;10(.25/.25/1+2)",
	"Off_Hook_Warning_Tone":       "480@-10,620@0;10(.125/.125/1+2)",
	"Ring_Back_Tone":              "440@-19,480@-19;*(2/4/1+2)",
	"Call_Waiting_Tone":           "440@-10;30(.3/9.7/1)",
	"Confirm_Tone":                "600@-16;1(.25/.25/1)",
	"SIT1_Tone":                   "985@-16,1428@-16,1777@-16;20(.380/0/1,.380/0/2,.380/0/3,0/4/0)",
	"SIT2_Tone":                   "914@-16,1371@-16,1777@-16;20(.274/0/1,.274/0/2,.380/0/3,0/4/0)",
	"SIT3_Tone":                   "914@-16,1371@-16,1777@-16;20(.380/0/1,.380/0/2,.380/0/3,0/4/0)",
	"SIT4_Tone":                   "985@-16,1371@-16,1777@-16;20(.380/0/1,.274/0/2,.380/0/3,0/4/0)",
	"MWI_Dial_Tone":               "350@-19,440@-19;2(.1/.1/1+2);10(*/0/1+2)",
	"Cfwd_Dial_Tone":              "350@-19,440@-19;2(.2/.2/1+2);10(*/0/1+2)",
	"Holding_Tone":                "600@-19;25(.1/.1/1,.1/.1/1,.1/9.5/1)",
	"Conference_Tone":             "350@-19;20(.1/.1/1,.1/9.7/1)",
	"Secure_Call_Indication_Tone": "397@-19,507@-19;15(0/2/0,.2/.1/1,.1/2.1/2)",
	"Page_Tone":                   "600@-16;.3(.05/0.05/1)",
	"Alert_Tone":                  "600@-19;.2(.05/0.05/1)",
	"Feature_Invocation_Tone":     "350@-16;*(.1/.1/1)",
}

func TestParseRegionalTones(t *testing.T) {
	for name, script := range regionalTones {
		t.Run(name, func(t *testing.T) {
			ts, err := ParseToneScript(script)
			if err != nil {
				t.Fatalf("ParseToneScript(%q) error = %v", script, err)
			}
			back, err := ParseToneScript(ts.String())
			if err != nil || back.String() != ts.String() {
				t.Errorf("String() = %q does not parse back to itself (%v)", ts.String(), err)
			}
		})
	}
	busy, _ := ParseToneScript(regionalTones["Busy_Tone"])
	want := ToneScript{
		Components: []ToneComponent{{480, -19}, {620, -19}},
		Sections:   []ToneSection{{Duration: 10 * time.Second, Segments: []ToneSegment{{On: 500 * time.Millisecond, Off: 500 * time.Millisecond, Components: []int{0, 1}}}}},
	}
	if busy.String() != want.String() {
		t.Errorf("busy = %s, want %s", busy, &want)
	}
}

func TestParseToneScriptErrors(t *testing.T) {
	for _, s := range []string{
		"", "350@-19", "350@-19;", "350-19;10(*/0/1)", "0@-19;10(*/0/1)", "4000@-19;10(*/0/1)",
		"350@-100;10(*/0/1)", "350@x;10(*/0/1)", "350@-19;10(*/0/2)", "350@-19;10(*/0)", "350@-19;10*/0/1",
		"350@-19;0(*/0/1)", "350@-19;-1(*/0/1)", "350@-19;10(0/0/1)", "350@-19;10(1e3/0/1)",
		"1@1,2@1,3@1,4@1,5@1,6@1,7@1;1(1/1/1)", "350@-19;10(*/0/1+)", "350@-19;10(.1/.1/1,)",
		"350@-19;1(1/1/1)" + string(make([]byte, 120)),
	} {
		if _, err := ParseToneScript(s); !errors.Is(err, ErrBadToneScript) {
			t.Errorf("ParseToneScript(%q) error = %v, want ErrBadToneScript", s, err)
		}
	}
}

// TestToneSourceCadence plays the busy tone and checks its cadence and spectrum: half a
// second of 480+620 Hz at −19 dBm0 each, half a second of silence.
func TestToneSourceCadence(t *testing.T) {
	busy, _ := ParseToneScript(regionalTones["Busy_Tone"])
	src := NewToneSource(busy)
	frame := make([]int16, 160)
	var onEnergy, offEnergy float64
	for f := 0; f < 100; f++ { // 2 s
		if !src.Read(frame) {
			t.Fatal("busy tone ended early")
		}
		var e float64
		for _, v := range frame {
			e += float64(v) * float64(v)
		}
		if (f/25)%2 == 0 {
			onEnergy += e
		} else {
			offEnergy += e
		}
	}
	if offEnergy != 0 || onEnergy == 0 {
		t.Errorf("on energy %g, off energy %g", onEnergy, offEnergy)
	}
	// Level: two −19 dBm0 sines sum to −16 dBm0 RMS; in dBFS (full-scale sine = +3.14 dBm0,
	// −3 dBFS RMS) that is −16 − 3.14 − 3.01 = −22.2 dBFS.
	ms := onEnergy / (50 * 160)
	if l := dbfs(ms); math.Abs(l-(-22.2)) > 0.3 {
		t.Errorf("busy tone level %.2f dBFS, want -22.2", l)
	}
	// A 1-second tone ends.
	confirm, _ := ParseToneScript(regionalTones["Confirm_Tone"])
	src = NewToneSource(confirm)
	n := 0
	for src.Read(frame) {
		n++
		if n > 100 {
			t.Fatal("confirm tone (1 s) does not end")
		}
	}
	if n != 50 {
		t.Errorf("confirm tone lasted %d frames, want 50 (1 s)", n)
	}
}

func TestToneFrequencyMeasured(t *testing.T) {
	for _, hz := range []float64{350, 440, 1000, 2600, 3400} {
		src := NewTestTone(hz, -20)
		var a analyzer
		a.init(-55)
		frame := make([]int16, 160)
		for i := 0; i < 10; i++ {
			src.Read(frame)
			a.feed(frame, int64(i)*int64(20*time.Millisecond), true)
		}
		if math.Abs(a.freq-hz) > 3 || math.Abs(a.level-(-23)) > 0.5 {
			t.Errorf("%v Hz at -20 dBFS measured %.1f Hz at %.1f dBFS", hz, a.freq, a.level)
		}
	}
}

// FuzzParseToneScript: no panic; a parsed script prints to a script that parses to the same.
func FuzzParseToneScript(f *testing.F) {
	for _, s := range regionalTones {
		f.Add(s)
	}
	f.Add("350@-19;10(*/0/1)")
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := ParseToneScript(s)
		if err != nil {
			if !errors.Is(err, ErrBadToneScript) {
				t.Fatalf("error %v does not wrap ErrBadToneScript", err)
			}
			return
		}
		out := ts.String()
		back, err := ParseToneScript(out)
		if err != nil && len(out) <= maxToneScript {
			t.Fatalf("String() = %q does not parse: %v", out, err)
		}
		if err == nil && back.String() != out {
			t.Fatalf("round trip %q → %q", out, back.String())
		}
		src := NewToneSource(ts)
		frame := make([]int16, 160)
		for i := 0; i < 5; i++ {
			src.Read(frame)
		}
	})
}

// readPerSample is the tone source's reference: the cadence advanced one sample at a time.
func readPerSample(ts *toneSource, frame []int16) bool {
	for i := range frame {
		if ts.ended {
			clear(frame[i:])
			return i > 0
		}
		sec := &ts.t.Sections[ts.sec]
		seg := &sec.Segments[ts.seg]
		on, off := ts.on[ts.sec][ts.seg], ts.off[ts.sec][ts.seg]
		var v float64
		if ts.segPos < on {
			for _, c := range seg.Components {
				v += ts.ph[c].next()
			}
		}
		frame[i] = sat16(int32(v))
		ts.segPos++
		if ts.segPos >= on+off {
			ts.seg = (ts.seg + 1) % len(sec.Segments)
			ts.segPos = 0
		}
		if ts.secLeft > 0 {
			ts.secLeft--
			if ts.secLeft == 0 {
				ts.enter(ts.sec + 1)
			}
		}
	}
	return true
}

// TestToneSourceRunsMatchSamples: generating a tone run by run gives the samples the
// per-sample cadence gives, for every regional tone and frame sizes that cut segments anywhere.
func TestToneSourceRunsMatchSamples(t *testing.T) {
	for name, script := range regionalTones {
		ts, err := ParseToneScript(script)
		if err != nil {
			t.Fatal(err)
		}
		for _, size := range []int{7, 160, 333} {
			fast, ref := NewToneSource(ts).(*toneSource), NewToneSource(ts).(*toneSource)
			a, b := make([]int16, size), make([]int16, size)
			for n := 0; n < 4*clockRate; n += size { // 4 s: several periods of most cadences
				okA, okB := fast.Read(a), readPerSample(ref, b)
				if okA != okB {
					t.Fatalf("%s, frames of %d, sample %d: Read %v, reference %v", name, size, n, okA, okB)
				}
				for i := range a {
					if a[i] != b[i] {
						t.Fatalf("%s, frames of %d, sample %d: %d, reference %d", name, size, n+i, a[i], b[i])
					}
				}
				if !okA {
					break
				}
			}
		}
	}
}
