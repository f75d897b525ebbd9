package media

import (
	"math"
	"time"
)

// The in-band DTMF detector: Goertzel filters at the eight Q.23 frequencies and their second
// harmonics over 205-sample windows (25.6 ms) advanced by half a window. A window holds a
// digit when one row and one column tone carry most of its energy (talk-off: speech and music
// spread theirs), each tone is at least 6 dB above the others of its group, the twist is
// within Q.24's limits (row up to 8 dB above the column, column up to 4 dB above the row),
// the second harmonics are weak (speech has strong ones) and the level is above −45 dBFS.
// A digit counts after two consecutive windows (≈ 38 ms, Q.24 accepts tones of 40 ms) and
// ends after two windows without it.

const (
	goertzelN   = 205
	goertzelHop = 102
)

var goertzelFreqs = [16]float64{697, 770, 852, 941, 1209, 1336, 1477, 1633,
	1394, 1540, 1704, 1882, 2418, 2672, 2954, 3266}

// goertzelCoef are 2·cos(2πf/8000) of goertzelFreqs (a constant table).
var goertzelCoef = func() (c [16]float64) {
	for i, f := range goertzelFreqs {
		c[i] = 2 * math.Cos(2*math.Pi*f/clockRate)
	}
	return c
}()

// digitSink is where the detector reports a digit when it ends: the session, or a test's
// recorder.
type digitSink interface {
	digit(d byte, dur time.Duration, m DTMFMethod)
}

// dtmfDetector runs the windows over the received audio. While no digit is being confirmed
// or held it evaluates every other window only, and the one it skipped as well when the
// next shows a digit: from that state, a window without a digit returns the detector to it
// whatever the window before held (one window alone never makes a digit), so the digits, their
// durations and the windows they end in are those of evaluating every window, at half the
// cost of a call without DTMF (TestDetectorSkipsExactly).
type dtmfDetector struct {
	// buf is the samples as received (a quarter of float64's cache lines): a window from
	// buf[0], and while idle the next one, a hop later, too.
	buf     [goertzelN + goertzelHop]int16
	fill    int
	cur     int8 // event being confirmed or held, −1 none
	run     int  // consecutive windows with cur
	miss    int  // consecutive windows without cur
	held    bool // cur is confirmed
	windows int
}

func (d *dtmfDetector) reset() { *d = dtmfDetector{cur: -1} }

// feed takes one frame of received audio; a digit is reported when it ends.
func (d *dtmfDetector) feed(x []int16, out digitSink) {
	if d.cur < 0 && d.fill == 0 {
		if float64(sumSquares(x))/float64(len(x)) < dtmfQuietFrame {
			return // nothing to detect in a quiet frame before the windows start
		}
	}
	for len(x) > 0 {
		want := goertzelN
		if d.cur < 0 {
			want = goertzelN + goertzelHop // idle: a pair of windows
		}
		n := copy(d.buf[d.fill:want], x)
		x = x[n:]
		if d.fill += n; d.fill < want {
			return
		}
		if want == goertzelN {
			d.window(detect(d.buf[:goertzelN]), out)
			d.shift(goertzelHop)
			continue
		}
		if ev := detect(d.buf[goertzelHop:]); ev >= 0 {
			d.window(detect(d.buf[:goertzelN]), out)
			d.window(ev, out)
		}
		d.shift(2 * goertzelHop)
	}
}

// shift drops the first n samples of the buffer.
func (d *dtmfDetector) shift(n int) {
	copy(d.buf[:], d.buf[n:d.fill])
	d.fill -= n
}

func (d *dtmfDetector) window(ev int8, out digitSink) {
	if ev < 0 && !d.held && d.cur < 0 {
		return
	}
	if ev >= 0 && ev == d.cur {
		d.run++
		d.miss = 0
		if d.run >= 2 {
			d.held = true
		}
		if d.held {
			d.windows++
		}
		return
	}
	if d.held {
		d.miss++
		if d.miss < 2 {
			return
		}
		dur := time.Duration(d.windows+1) * goertzelHop * time.Second / clockRate
		out.digit(dtmfDigit(uint8(d.cur)), dur, DTMFInBand)
		d.held = false
	}
	d.cur, d.run, d.miss, d.windows = ev, 0, 0, 0
	if ev >= 0 {
		d.run = 1
	}
}

// Levels of the detector, as mean squares of 16-bit samples: a frame quieter than
// −50 dBFS skips the filters, a window quieter than −45 dBFS holds no digit.
var (
	dtmfQuietFrame = sq(32768 * math.Pow(10, -50.0/20))
	dtmfMinWindow  = sq(32768 * math.Pow(10, -45.0/20))
)

// detect returns the event the window holds, or −1. The four row filters run first, with the
// energy, in one pass whose state fits the registers; the column filters run only for a
// window whose row group passed (the common case, a window of speech or of a test tone, is
// settled by the first pass). Each filter computes exactly what a single Goertzel does.
func detect(w []int16) int8 {
	w = w[:goertzelN]
	// The energy first, in integers (exactly the filters' float64 sum: every partial sum of
	// int16 squares over a window is below 2^53): a quiet window costs no filter.
	energy := float64(sumSquares(w))
	if energy/goertzelN < dtmfMinWindow {
		return -1
	}
	c := &goertzelCoef
	pr := goertzel4(w, c[0], c[1], c[2], c[3])
	// Relative power: 1 for a pure tone at a filter's frequency.
	norm := 2 / (goertzelN * energy)
	row := argmax(pr[:])
	rr := pr[row] * norm
	if rr < 0.08 {
		return -1
	}
	for i := 0; i < 4; i++ {
		if i != row && pr[i]*4 > pr[row] {
			return -1
		}
	}
	pc := goertzel4(w, c[4], c[5], c[6], c[7])
	col := argmax(pc[:])
	rc := pc[col] * norm
	if rc < 0.08 || rr+rc < 0.7 {
		return -1
	}
	if pr[row] > 6.3*pc[col] || pc[col] > 2.5*pr[row] {
		return -1 // twist
	}
	for i := 0; i < 4; i++ {
		if i != col && pc[i]*4 > pc[col] {
			return -1
		}
	}
	if goertzel(w, goertzelCoef[8+row])*norm > 0.1*rr || goertzel(w, goertzelCoef[12+col])*norm > 0.1*rc {
		return -1 // strong second harmonics: speech
	}
	return eventAt(row, col)
}

// goertzel4 runs four Goertzel filters over x in one pass and returns the power at each.
// Each step is q = c·q1 + (v − q2): v − q2 does not wait on the step before, so a sample
// waits on one multiplication and one addition of each filter, not on a subtraction too
// (the four chains of dependent operations, not the arithmetic, set the pace). Two samples
// a turn, the newest value taking the place of the oldest, leave the registers in place.
func goertzel4(x []int16, c0, c1, c2, c3 float64) (p [4]float64) {
	var a1, a2, b1, b2, d1, d2, e1, e2 float64
	for len(x) >= 2 {
		v, w := float64(x[0]), float64(x[1])
		a2 = c0*a1 + (v - a2)
		b2 = c1*b1 + (v - b2)
		d2 = c2*d1 + (v - d2)
		e2 = c3*e1 + (v - e2)
		a1 = c0*a2 + (w - a1)
		b1 = c1*b2 + (w - b1)
		d1 = c2*d2 + (w - d1)
		e1 = c3*e2 + (w - e1)
		x = x[2:]
	}
	if len(x) == 1 {
		v := float64(x[0])
		a1, a2 = c0*a1+(v-a2), a1
		b1, b2 = c1*b1+(v-b2), b1
		d1, d2 = c2*d1+(v-d2), d1
		e1, e2 = c3*e1+(v-e2), e1
	}
	p[0] = a1*a1 + a2*a2 - c0*a1*a2
	p[1] = b1*b1 + b2*b2 - c1*b1*b2
	p[2] = d1*d1 + d2*d2 - c2*d1*d2
	p[3] = e1*e1 + e2*e2 - c3*e1*e2
	return p
}

func goertzel(x []int16, coef float64) float64 {
	var q1, q2 float64
	for _, v := range x {
		q1, q2 = coef*q1+(float64(v)-q2), q1
	}
	return q1*q1 + q2*q2 - coef*q1*q2
}

func argmax(p []float64) int {
	best := 0
	for i := range p {
		if p[i] > p[best] {
			best = i
		}
	}
	return best
}

func sq(x float64) float64 { return x * x }

// eventAt maps a keypad row and column to the RFC 4733 event code.
func eventAt(row, col int) int8 {
	keys := [4][4]int8{{1, 2, 3, 12}, {4, 5, 6, 13}, {7, 8, 9, 14}, {10, 0, 11, 15}}
	return keys[row][col]
}
