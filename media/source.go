package media

import (
	"math"
	"time"
)

// Source produces the audio a session sends: 8 kHz linear 16-bit samples. Read is called on
// the engine's pacer once per packet time and must not block or allocate; it returns false
// when the source has ended (the session then sends silence). A Source belongs to one session.
type Source interface {
	Read(frame []int16) bool
}

// Play makes src the session's audio (nil: silence); name is what Stats.Tone shows.
func (s *Session) Play(src Source, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.src = src
	s.srcName = name
	s.echo = false
	if src == nil || name == "" {
		s.st.tone.Store(nil)
	} else {
		s.st.tone.Store(&name)
	}
}

// SetEcho makes the session send back what it receives (after the jitter buffer), or stops it.
func (s *Session) SetEcho(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.echo = on
	if on {
		name := "echo"
		s.st.tone.Store(&name)
	} else if s.src == nil {
		s.st.tone.Store(nil)
	}
}

// clearMix empties the frame a conference peer mixes in.
func (s *Session) clearMix() {
	s.mixMu.Lock()
	s.mixN = 0
	s.mixMu.Unlock()
}

// Conference mixes peer's received audio into what this session sends and this session's
// received audio into what peer sends: the phone's local three-way conference (SPA-BEHAVIOUR
// §13.5), each far party hearing the other plus the phone's own source. nil ends it.
func (s *Session) Conference(peer *Session) {
	if peer == s {
		return
	}
	s.mu.Lock()
	old := s.conf
	s.conf = peer
	s.mu.Unlock()
	// Each side's mix is written only while it is in a conference: what either holds from an
	// earlier one is not mixed in.
	s.clearMix()
	if peer != nil {
		peer.mu.Lock()
		peer.conf = s
		peer.mu.Unlock()
		peer.clearMix()
	} else if old != nil {
		old.mu.Lock()
		if old.conf == s {
			old.conf = nil
		}
		old.mu.Unlock()
	}
}

// toneSource plays a ToneScript. What a frame reads is on the struct's first cache lines:
// the position, the current segment's lengths and components, the first components; a frame
// of a thousand calls' tones otherwise waited on the script's slices, one load after another.
type toneSource struct {
	ended    bool
	nComp    uint8    // of the current segment, up to six (a segment may repeat one)
	comp     [6]uint8 // the current segment's components
	sec      int
	secLeft  int // samples left in the section (−1 forever)
	seg      int
	segPos   int // samples into the segment
	segOn    int // the current segment's samples on and off
	segOff   int
	ph       [6]toneComponent
	t        *ToneScript
	segComps []int        // the current segment's components (read when more than six)
	on, off  [][]int      // per section and segment: samples on (−1 forever) and off
	acc      [160]float64 // the sum of a segment's components, 160 samples at a time
}

// NewToneSource returns a source playing t once through (a section of "*" plays forever).
func NewToneSource(t *ToneScript) Source {
	ts := &toneSource{t: t}
	var mixed [len(ts.ph)]bool // components a segment sums with others
	for _, sec := range t.Sections {
		for _, g := range sec.Segments {
			if len(g.Components) > 1 {
				for _, c := range g.Components {
					if c >= 0 && c < len(mixed) {
						mixed[c] = true
					}
				}
			}
		}
	}
	for i, c := range t.Components {
		ts.ph[i].set(c.Hz, dbm0Amplitude(c.LevelDB), mixed[i])
	}
	for _, sec := range t.Sections {
		on, off := make([]int, len(sec.Segments)), make([]int, len(sec.Segments))
		for i, g := range sec.Segments {
			switch {
			case g.OnForever:
				on[i] = 1 << 62
			case g.On > 0:
				on[i] = samplesPer(g.On)
			}
			if g.Off > 0 {
				off[i] = samplesPer(g.Off)
			}
		}
		ts.on, ts.off = append(ts.on, on), append(ts.off, off)
	}
	ts.enter(0)
	return ts
}

// NewTestTone returns a source playing one sine of hz at dbfs (relative to a full-scale
// sine) forever.
func NewTestTone(hz, dbfs float64) Source {
	t := &ToneScript{
		Components: []ToneComponent{{Hz: hz, LevelDB: dbfs + 3.14}},
		Sections:   []ToneSection{{Forever: true, Segments: []ToneSegment{{OnForever: true, Components: []int{0}}}}},
	}
	return NewToneSource(t)
}

func (ts *toneSource) enter(sec int) {
	ts.sec, ts.seg, ts.segPos = sec, 0, 0
	if sec >= len(ts.t.Sections) {
		ts.ended = true
		return
	}
	s := ts.t.Sections[sec]
	ts.secLeft = -1
	if !s.Forever {
		ts.secLeft = samplesPer(s.Duration)
	}
	ts.load()
}

// load copies the current segment's lengths and components onto the struct.
func (ts *toneSource) load() {
	g := &ts.t.Sections[ts.sec].Segments[ts.seg]
	ts.segOn, ts.segOff = ts.on[ts.sec][ts.seg], ts.off[ts.sec][ts.seg]
	ts.segComps = g.Components
	ts.nComp = 0
	if len(g.Components) <= len(ts.comp) {
		ts.nComp = uint8(len(g.Components))
		for i, c := range g.Components {
			ts.comp[i] = uint8(c)
		}
	}
}

// components calls f with each of the current segment's components.
func (ts *toneSource) components(f func(c *toneComponent)) {
	if len(ts.segComps) > len(ts.comp) {
		for _, c := range ts.segComps {
			f(&ts.ph[c])
		}
		return
	}
	for _, c := range ts.comp[:ts.nComp] {
		f(&ts.ph[c])
	}
}

// Read fills frame run by run: a run is the samples up to the end of the frame, of the
// segment or of the section, the tone part of it generated in a tight loop (the per-sample
// bookkeeping of the cadence was most of a tone's cost).
func (ts *toneSource) Read(frame []int16) bool {
	for i := 0; i < len(frame); {
		if ts.ended {
			clear(frame[i:])
			return i > 0
		}
		on, off := ts.segOn, ts.segOff
		run := min(len(frame)-i, max(on+off-ts.segPos, 1)) // an empty segment takes a sample
		if ts.secLeft > 0 {
			run = min(run, ts.secLeft)
		}
		tone := min(run, max(on-ts.segPos, 0))
		out := frame[i : i+tone]
		if ts.nComp == 1 {
			ts.ph[ts.comp[0]].fill(out)
		} else {
			for len(out) > 0 {
				acc := ts.acc[:min(len(out), len(ts.acc))]
				clear(acc)
				ts.components(func(c *toneComponent) { c.add(acc) })
				for k, v := range acc {
					out[k] = sat16(int32(v))
				}
				out = out[len(acc):]
			}
		}
		clear(frame[i+tone : i+run])
		i += run
		ts.segPos += run
		if ts.segPos >= on+off {
			ts.seg = (ts.seg + 1) % len(ts.t.Sections[ts.sec].Segments)
			ts.segPos = 0
			ts.load()
		}
		if ts.secLeft > 0 {
			ts.secLeft -= run
			if ts.secLeft == 0 {
				ts.enter(ts.sec + 1)
			}
		}
	}
	return true
}

// toneCycleMax is the longest period, in samples, a tone component is tabulated for: 250 ms.
// An integer frequency f repeats every 8000/gcd(f, 8000) samples: 8 for 1 kHz, 160 for
// 350 Hz, 200 for 440 Hz, 320 for 425 Hz, 2,000 for 1004 Hz (the telephone test tone, chosen
// not to divide 8 kHz); the Q.23 frequencies (697 Hz, …) and fractional ones do not repeat
// within it and run on the phasor. A table is 6 KiB at most, and 16 KiB more of float64 for a
// component that segments mix with others.
const toneCycleMax = 2000

// toneComponent generates one sine of a tone, amp·sin(2πf·n/8000) at its n-th sample: from a
// table of one period when the frequency repeats within toneCycleMax samples (a copy instead
// of a complex rotation per sample, most of a tone's cost), else from a phasor.
type toneComponent struct {
	period int       // of the tables, 0: the phasor
	pos    int       // in the period
	tab16  []int16   // sat16(int32(the value)), a period and a frame long: one component's run
	tab    []float64 // one period, for a component mixed with others (nil: tab16's values)
	ph     phasor
}

// set makes the component amp·sin(2πf·n/8000); mixed tabulates the values as well as the
// samples, for segments that sum it with other components.
func (c *toneComponent) set(hz, amp float64, mixed bool) {
	*c = toneComponent{}
	c.ph.set(hz, amp)
	f := int(hz)
	if float64(f) != hz || f <= 0 || f >= clockRate {
		return
	}
	period := clockRate / gcd(f, clockRate)
	if period > toneCycleMax {
		return
	}
	// f·n mod 8000 keeps the argument within one turn, exact for every n.
	value := func(n int) float64 { return amp * math.Sin(2*math.Pi*float64(f*n%clockRate)/clockRate) }
	c.period = period
	if mixed {
		c.tab = make([]float64, period)
		for n := range c.tab {
			c.tab[n] = value(n)
		}
	}
	// The samples repeat the period past a frame's length from any phase: a frame is one copy.
	c.tab16 = make([]int16, period*(1+(maxFrame+period-1)/period))
	for n := range period {
		c.tab16[n] = sat16(int32(value(n)))
	}
	for n := period; n < len(c.tab16); n++ {
		c.tab16[n] = c.tab16[n-period]
	}
}

// next returns the next value.
func (c *toneComponent) next() float64 {
	if c.period == 0 {
		return c.ph.next()
	}
	v := float64(c.tab16[c.pos])
	if c.tab != nil {
		v = c.tab[c.pos]
	}
	if c.pos++; c.pos == c.period {
		c.pos = 0
	}
	return v
}

// add adds the next len(acc) values to acc.
func (c *toneComponent) add(acc []float64) {
	if c.tab == nil {
		for k := range acc {
			acc[k] += c.next()
		}
		return
	}
	for len(acc) > 0 {
		t := c.tab[c.pos:]
		t = t[:min(len(t), len(acc))]
		for k, v := range t {
			acc[k] += v
		}
		acc = acc[len(t):]
		c.pos = (c.pos + len(t)) % c.period
	}
}

// fill writes the next len(out) values as samples.
func (c *toneComponent) fill(out []int16) {
	if c.period == 0 {
		for k := range out {
			out[k] = sat16(int32(c.ph.next()))
		}
		return
	}
	for len(out) > 0 {
		n := copy(out, c.tab16[c.pos:])
		out = out[n:]
		c.pos = (c.pos + n) % c.period
	}
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// PCM is audio converted to what a session sends: 8 kHz mono 16-bit.
type PCM struct {
	Samples []int16
}

// Duration is the audio's length.
func (p *PCM) Duration() time.Duration {
	return time.Duration(len(p.Samples)) * time.Second / clockRate
}

// pcmSource plays a PCM once or in a loop.
type pcmSource struct {
	p    *PCM
	pos  int
	loop bool
}

// NewPCMSource returns a source playing p (from [ReadWAV]); with loop it starts over at the end.
func NewPCMSource(p *PCM, loop bool) Source { return &pcmSource{p: p, loop: loop} }

func (ps *pcmSource) Read(frame []int16) bool {
	n := 0
	for n < len(frame) {
		if ps.pos >= len(ps.p.Samples) {
			if !ps.loop || len(ps.p.Samples) == 0 {
				clear(frame[n:])
				return n > 0
			}
			ps.pos = 0
		}
		c := copy(frame[n:], ps.p.Samples[ps.pos:])
		n += c
		ps.pos += c
	}
	return true
}
