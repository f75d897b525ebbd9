package media

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// TestToneComponentTables: a tabulated component gives the sine itself, amp·sin(2πf·n/8000),
// within rounding, sample by sample over 3 s (its period many times over), as values (mixed
// with other components) and as samples, as the phasor does for the frequencies that are not
// tabulated; 1 kHz is an 8-sample table, 1004 Hz 2,000 samples, 697 Hz the phasor.
func TestToneComponentTables(t *testing.T) {
	const amp = 10000.0
	for _, tt := range []struct {
		hz     float64
		period int // 0: the phasor
	}{{1000, 8}, {350, 160}, {440, 200}, {425, 320}, {620, 400}, {1004, 2000}, {697, 0}, {1003, 0}, {440.5, 0}} {
		var c toneComponent
		c.set(tt.hz, amp, true)
		if c.period != tt.period || len(c.tab) != tt.period {
			t.Errorf("%v Hz: a table of %d samples (%d values), want %d", tt.hz, c.period, len(c.tab), tt.period)
		}
		var d toneComponent
		d.set(tt.hz, amp, false)
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

// BenchmarkToneRead is one 20 ms frame of a source: a 1 kHz and a 1004 Hz test tone
// (tabulated), a DTMF frequency (the phasor) and the dial tone (two components, tabulated).
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
	}{{"1kHz", NewTestTone(1000, -20)}, {"1004Hz", NewTestTone(1004, -20)}, {"697Hz", NewTestTone(697, -20)}, {"Dial_Tone", NewToneSource(dial)}} {
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

// digitLog records the digits a detector reports and the frame each came in.
type digitLog struct {
	frame int
	got   []string
}

func (l *digitLog) digit(d byte, dur time.Duration, m DTMFMethod) {
	l.got = append(l.got, fmt.Sprintf("%c %v %v at frame %d", d, dur, m, l.frame))
}

// everyWindow is the detector's reference: every window evaluated, a hop apart, the state
// machine the detector's own.
type everyWindow struct {
	d    dtmfDetector
	buf  [goertzelN]int16
	fill int
}

func (r *everyWindow) feed(x []int16, out digitSink) {
	if r.d.cur < 0 && r.fill == 0 {
		var e float64
		for _, v := range x {
			e += float64(v) * float64(v)
		}
		if e/float64(len(x)) < dtmfQuietFrame {
			return
		}
	}
	for _, v := range x {
		r.buf[r.fill] = v
		r.fill++
		if r.fill == goertzelN {
			r.d.window(detect(r.buf[:]), out)
			copy(r.buf[:], r.buf[goertzelHop:])
			r.fill = goertzelN - goertzelHop
		}
	}
}

// TestDetectorSkipsExactly: the detector, evaluating every other window while idle, reports
// the digits, durations and frames that evaluating every window does, over a minute of
// random digits (5-150 ms, levels -40 to -3 dBm0, twist up to ±10 dB), gaps of silence,
// noise, a 1 kHz tone and speech, in frames of random sizes.
func TestDetectorSkipsExactly(t *testing.T) {
	speech, err := ReadWAV(bytes.NewReader(readTestdata(t, "speech.wav")))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, 11))
	var x []int16
	for len(x) < 60*clockRate {
		switch k := r.IntN(10); {
		case k < 5:
			d := "0123456789*#ABCD"[r.IntN(16)]
			lvl := -40 + 37*r.Float64()
			x = append(x, dtmfSignal(string(d), time.Duration(5+r.IntN(146))*time.Millisecond, 0, lvl, lvl+20*r.Float64()-10)...)
		case k < 7:
			x = append(x, make([]int16, samplesPer(time.Duration(r.IntN(121))*time.Millisecond))...)
		case k < 8:
			amp := 3000 * r.Float64()
			for range samplesPer(time.Duration(r.IntN(200)) * time.Millisecond) {
				x = append(x, int16(r.NormFloat64()*amp))
			}
		case k < 9:
			tone := make([]int16, samplesPer(time.Duration(r.IntN(300))*time.Millisecond))
			NewTestTone(1000, -40*r.Float64()).Read(tone)
			x = append(x, tone...)
		default:
			at := r.IntN(len(speech.Samples) - 4000)
			x = append(x, speech.Samples[at:at+r.IntN(4000)]...)
		}
	}
	var d dtmfDetector
	d.reset()
	ref := everyWindow{}
	ref.d.reset()
	var got, want digitLog
	for i := 0; i < len(x); {
		n := min(len(x)-i, []int{80, 160, 240, 480}[r.IntN(4)])
		got.frame, want.frame = i, i
		d.feed(x[i:i+n], &got)
		ref.feed(x[i:i+n], &want)
		i += n
	}
	if len(want.got) < 100 {
		t.Fatalf("the reference found %d digits: the signal is not the test's", len(want.got))
	}
	if len(got.got) != len(want.got) {
		t.Errorf("%d digits, every window %d", len(got.got), len(want.got))
	}
	for i := range min(len(got.got), len(want.got)) {
		if got.got[i] != want.got[i] {
			t.Fatalf("digit %d: %s, every window %s", i, got.got[i], want.got[i])
		}
	}
}

// TestSumSquaresIsExact: sumSquares, the energy of the analysis' frames and of the detector's
// windows, is the float64 sum of the samples' squares, to the bit (the sums the filters'
// thresholds were set on), for windows of random samples of any range and length.
func TestSumSquaresIsExact(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	var w [maxFrame]int16
	for trial := range 2000 {
		amp := []int{1, 30, 600, 32768}[trial%4]
		n := []int{goertzelN, 160, 80, 3, maxFrame}[trial%5]
		for i := range w[:n] {
			w[i] = int16(r.IntN(2*amp) - amp)
		}
		var energy float64
		for _, v := range w[:n] {
			energy += float64(v) * float64(v)
		}
		if e := sumSquares(w[:n]); float64(e) != energy {
			t.Fatalf("trial %d: sumSquares %d, the float64 sum %v", trial, e, energy)
		}
	}
}

// BenchmarkDetector is the in-band DTMF detector on one 20 ms frame of a call without DTMF:
// a 1 kHz tone, and silence after a tone (the windows run on).
//
//	go test -run '^$' -bench Detector ./media
func BenchmarkDetector(b *testing.B) {
	tone := make([]int16, clockRate)
	NewTestTone(1000, -20).Read(tone)
	for _, tt := range []struct {
		name string
		x    []int16
	}{{"1kHz", tone}, {"silence", make([]int16, clockRate)}} {
		b.Run(tt.name, func(b *testing.B) {
			var d dtmfDetector
			d.reset()
			d.feed(tone[:160], nil)
			i := 0
			for b.Loop() {
				d.feed(tt.x[i:i+160], nil)
				i = (i + 160) % len(tt.x)
			}
		})
	}
}

// BenchmarkTickCalls is BenchmarkTick with the memory of many calls: n pairs of sessions on
// loopback (2n sockets), each sending a 1 kHz tone with the analysis on, all ticked in turn on
// one thread every 20 ms of real time, as a pacer ticks its slots, so that each session's
// state has left the caches (and its pages the TLB) by its next tick, as at 1,000 calls.
// cpu-ns/packet is this thread's CPU time per packet sent or received, system calls included
// (the sleep between rounds is not CPU): no pacer, no second process, less noise than
// BenchmarkConcurrentCalls' CPU figures, though a loaded machine's other work still moves it
// by ±10 % (other processes evict the sessions' state between rounds).
//
//	go test -run '^$' -bench TickCalls -benchtime 250x ./media
func BenchmarkTickCalls(b *testing.B) {
	for _, n := range []int{500} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			base := uint16(20000 + 2*rand.IntN(9000))
			e, err := NewEngine(EngineConfig{IP: loopback, PortMin: base, PortMax: base + uint16(8*n) + 200, Seed: 1,
				Session: SessionConfig{Analyze: true}})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			var ss []*Session
			for range n {
				a, c := manualPair(b, e, pcmu20)
				a.Play(NewTestTone(1000, -20), "tone")
				c.Play(NewTestTone(1000, -20), "tone")
				ss = append(ss, a, c)
			}
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			t0 := e.now()
			for _, s := range ss {
				s.mu.Lock()
				s.frameAt = t0
				s.mu.Unlock()
			}
			k := int64(0)
			round := func() {
				at := t0 + k*int64(20*time.Millisecond)
				if d := at - e.now(); d > 0 {
					time.Sleep(time.Duration(d))
				}
				due := e.now()
				for _, s := range ss {
					s.tick(due)
				}
				k++
			}
			for range 50 { // 1 s: the analysis windows, jitter buffers and events settle
				round()
			}
			packets := func() (n uint64) {
				for _, s := range ss {
					st := s.Stats()
					n += st.PacketsSent + st.PacketsRecv
				}
				return n
			}
			p0, cpu0 := packets(), threadCPU()
			b.ResetTimer()
			for range b.N {
				round()
			}
			b.StopTimer()
			cpu, p := threadCPU()-cpu0, packets()-p0
			if want := uint64(2 * len(ss) * b.N); p < want*9/10 {
				b.Fatalf("%d packets sent and received of %d", p, want)
			}
			b.ReportMetric(float64(cpu)/float64(p), "cpu-ns/packet")
		})
	}
}
