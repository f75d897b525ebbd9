package media

import (
	"math"
	"math/cmplx"
	"time"
)

// fftSize is the analysis window of the dominant-frequency estimate (64 ms, 15.6 Hz bins,
// refined by parabolic interpolation).
const fftSize = 512

// fftEvery is the least time between two frequency estimates of one flow (keeps the cost of a
// thousand analysed calls to a few per cent of a core).
const fftEvery = 250 * time.Millisecond

// levelWindow is the RMS window of the level (100 ms).
const levelWindow = 800

// fftHalf is the size of the complex FFT the real window is packed into.
const fftHalf = fftSize / 2

// Constant tables of the analysis, computed once.
var (
	// fftTwiddle[i] is e^(−2πi·i/fftSize): the half-size FFT's twiddles at even indices, the
	// real-input split's at every index.
	fftTwiddle = func() (t [fftHalf]complex128) {
		for i := range t {
			t[i] = cmplx.Rect(1, -2*math.Pi*float64(i)/fftSize)
		}
		return t
	}()
	hann = func() (w [fftSize]float64) {
		for i := range w {
			w[i] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/(fftSize-1))
		}
		return w
	}()
	// fftRev is the bit reversal of the half-size FFT's input order.
	fftRev = func() (r [fftHalf]uint8) {
		for i := range r {
			for b := 0; b < 8; b++ {
				r[i] = r[i]<<1 | uint8(i>>b)&1
			}
		}
		return r
	}()
)

// analyzer measures one flow: level, silence, dominant frequency, and publishes changes.
// The fields every frame uses come first, together on a few cache lines; the window, filled
// a few times a second, last.
type analyzer struct {
	silenceDB float64
	sumSq     float64
	n         int
	level     float64
	state     AudioState
	fill      int
	lastFFT   int64
	freq      float64
	present   int // level windows completed in a row while audio was present
	// what was last published as an event
	pubState AudioState
	pubFreq  float64
	pubLevel float64
	pubAt    int64
	pubOnce  bool
	// what Stats was last given
	stLevel, stFreq uint64 // float64 bits
	stState         AudioState
	stOnce          bool

	// win is the samples of the next estimate, as they came: the FFT's arrays are the
	// estimate's own, on its stack (a few times a second), not 8 KiB of every analyser, so
	// that a thousand calls' sessions take less memory and fewer pages.
	win [fftSize]int16
}

func (a *analyzer) init(silenceDB float64) {
	*a = analyzer{silenceDB: silenceDB, level: -120, lastFFT: math.MinInt64 / 2}
}

// feed takes one frame; active says packets arrive (rx) or are sent (tx).
func (a *analyzer) feed(x []int16, now int64, active bool) {
	a.sumSq += float64(sumSquares(x))
	a.n += len(x)
	if a.n >= levelWindow {
		ms := a.sumSq / float64(a.n)
		a.level = dbfs(ms)
		a.sumSq, a.n = 0, 0
		if active && a.level >= a.silenceDB {
			a.present++
		} else {
			a.present = 0
		}
	}
	switch {
	case !active:
		a.state = AudioNone
	case a.level < a.silenceDB:
		a.state = AudioSilence
	default:
		a.state = AudioPresent
	}
	if a.state != AudioPresent {
		// The last estimate is kept (Stats show 0 while silent) and a new one is made as
		// soon as audio is back.
		a.fill = 0
		a.lastFFT = math.MinInt64 / 2
		return
	}
	if now-a.lastFFT < int64(fftEvery) {
		return
	}
	a.fill += copy(a.win[a.fill:], x)
	if a.fill == fftSize {
		a.freq = a.dominant()
		a.fill = 0
		a.lastFFT = now
	}
}

// sumSquares is the sum of the squares of x, exact in integers (a frame's sum stays far below
// 2^53, so float64 sums of int16 squares are exact too). Four sums of every fourth sample
// keep four multiplications in flight (a frame's loop on one sum waited on each add).
func sumSquares(x []int16) int64 {
	var s0, s1, s2, s3 int64
	for len(x) >= 4 {
		v0, v1, v2, v3 := int64(x[0]), int64(x[1]), int64(x[2]), int64(x[3])
		s0 += v0 * v0
		s1 += v1 * v1
		s2 += v2 * v2
		s3 += v3 * v3
		x = x[4:]
	}
	for _, v := range x {
		s0 += int64(v) * int64(v)
	}
	return s0 + s1 + s2 + s3
}

// dbfs converts a mean square to dB relative to a full-scale sine's... to full scale (a
// full-scale square wave is 0 dBFS, a full-scale sine −3 dBFS).
func dbfs(meanSq float64) float64 {
	if meanSq < 1e-3 {
		return -120
	}
	return math.Max(-120, 10*math.Log10(meanSq/(32768.0*32768.0)))
}

// dominant returns the frequency of the strongest spectral peak of the window.
func (a *analyzer) dominant() float64 {
	var spec [fftHalf]complex128
	a.spectrum(&spec)
	return peakFrequency(&spec)
}

// spectrum computes the Hann-windowed window's spectrum, bins 1..fftHalf−1. The real window is
// packed into a complex one of half the size (even samples real, odd imaginary), transformed,
// and split into the real window's spectrum: half the work of a full-size complex FFT.
func (a *analyzer) spectrum(spec *[fftHalf]complex128) {
	var z [fftHalf]complex128
	for n := 0; n < fftHalf; n++ {
		z[fftRev[n]] = complex(float64(a.win[2*n])*hann[2*n], float64(a.win[2*n+1])*hann[2*n+1])
	}
	// The first two stages' twiddles are 1 and −i: a radix-4 pass of additions, with no
	// multiplication (a quarter of the transform's complex multiplications were by 1 or −i).
	for start := 0; start < fftHalf; start += 4 {
		a, b, c, d := z[start], z[start+1], z[start+2], z[start+3]
		ab, amb := a+b, a-b
		cd, cmd := c+d, c-d
		cmdi := complex(imag(cmd), -real(cmd)) // −i·(c−d)
		z[start], z[start+2] = ab+cd, ab-cd
		z[start+1], z[start+3] = amb+cmdi, amb-cmdi
	}
	for size := 8; size <= fftHalf; size <<= 1 {
		half, step := size/2, fftSize/size
		for start := 0; start < fftHalf; start += size {
			for k := 0; k < half; k++ {
				t := fftTwiddle[k*step] * z[start+k+half]
				u := z[start+k]
				z[start+k] = u + t
				z[start+k+half] = u - t
			}
		}
	}
	// X[k] = E[k] + W^k·O[k], E and O the spectra of the even and odd samples:
	// E[k] = (Z[k] + conj Z[N/2−k])/2, O[k] = (Z[k] − conj Z[N/2−k])/2i.
	for k := 1; k < fftHalf; k++ {
		zk, zc := z[k], cmplx.Conj(z[fftHalf-k])
		even := (zk + zc) * 0.5
		odd := (zk - zc) * complex(0, -0.5)
		spec[k] = even + fftTwiddle[k]*odd
	}
}

// peakFrequency is the frequency of the strongest bin of spec above 31 Hz, refined by
// parabolic interpolation; 0 for a spectrum without energy there.
func peakFrequency(spec *[fftHalf]complex128) float64 {
	best, bestMag := 0, 0.0
	for k := 2; k < fftSize/2-1; k++ { // above 31 Hz
		m := real(spec[k])*real(spec[k]) + imag(spec[k])*imag(spec[k])
		if m > bestMag {
			best, bestMag = k, m
		}
	}
	if best == 0 {
		return 0
	}
	// Parabolic interpolation of the log magnitudes around the peak.
	l := math.Log(cmplx.Abs(spec[best-1]) + 1e-9)
	c := math.Log(cmplx.Abs(spec[best]) + 1e-9)
	r := math.Log(cmplx.Abs(spec[best+1]) + 1e-9)
	delta := 0.0
	if den := l - 2*c + r; den != 0 {
		delta = 0.5 * (l - r) / den
	}
	return (float64(best) + delta) * clockRate / fftSize
}

// publish stores the flow's analysis for Stats and emits an event when it changed: at once
// for a change of state, at most every 250 ms for a new frequency or a level step ≥ 6 dB.
func (a *analyzer) publish(s *Session, f Flow, now int64) {
	freq := a.freq
	if a.state != AudioPresent {
		freq = 0
	}
	// Stats' copy is written when it changes (a level every 100 ms at most, a frequency every
	// 250 ms), not each frame: the atomic stores and the statistics' cache lines stay off
	// the frame's path.
	if level, fr := math.Float64bits(a.level), math.Float64bits(freq); !a.stOnce || level != a.stLevel || fr != a.stFreq || a.state != a.stState {
		st := &s.st.rx
		if f == FlowTx {
			st = &s.st.tx
		}
		st.level.Store(level)
		st.freq.Store(fr)
		st.silent.Store(a.state != AudioPresent)
		st.state.Store(uint32(a.state))
		a.stLevel, a.stFreq, a.stState, a.stOnce = level, fr, a.state, true
	}
	changed := a.state != a.pubState || !a.pubOnce
	if !changed && a.state == AudioPresent && now-a.pubAt >= int64(fftEvery) {
		df := math.Abs(a.freq - a.pubFreq)
		changed = (a.freq != 0 && df > math.Max(15, 0.03*a.pubFreq)) || math.Abs(a.level-a.pubLevel) >= 6
	}
	if a.state == AudioPresent && (a.freq == 0 || a.present < 2 || a.lastFFT < 0) {
		return // report audio once a whole level window and a frequency estimate had it
	}
	if !changed {
		return
	}
	a.pubState, a.pubFreq, a.pubLevel, a.pubAt, a.pubOnce = a.state, freq, a.level, now, true
	s.e.emit(Event{Session: s, Kind: EventAudio, At: time.Now(), Flow: f, Audio: Audio{
		State: a.state, LevelDBFS: a.level, FreqHz: freq, Silent: a.state != AudioPresent,
	}})
}

// oneWayState detects one-way audio: this side sends audio while it receives no packets or
// only silence, for longer than OneWayAfter.
type oneWayState struct {
	since  int64
	active bool
}

func (o *oneWayState) update(s *Session, now int64) {
	if !s.cfg.Analyze {
		return
	}
	sending := s.n.Direction.Sends() && s.anTx.state == AudioPresent
	expecting := s.n.Direction.Receives() && !s.n.RemoteHold
	hearing := s.anRx.state == AudioPresent
	if !sending || !expecting || hearing {
		o.since = 0
		if o.active {
			o.active = false
			s.st.oneWay.Store(false)
			s.e.emit(Event{Session: s, Kind: EventOneWay, At: time.Now(), OneWay: false})
		}
		return
	}
	if o.since == 0 {
		o.since = now
	}
	if !o.active && now-o.since >= int64(s.cfg.oneWayAfter()) {
		o.active = true
		s.st.oneWay.Store(true)
		s.e.emit(Event{Session: s, Kind: EventOneWay, At: time.Now(), OneWay: true})
	}
}
