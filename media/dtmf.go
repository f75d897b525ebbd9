package media

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"time"
)

// DTMFMethod is how a digit travels in the media (SIP INFO is the SIP side's).
type DTMFMethod uint8

// The methods. DTMFAuto sends RFC 4733 events when the peer accepted telephone-event and
// in-band tones otherwise (DTMF_Tx_Method_n_ = Auto).
const (
	DTMFAuto DTMFMethod = iota
	DTMFRFC4733
	DTMFInBand
)

// String returns "auto", "rfc4733" or "inband".
func (m DTMFMethod) String() string {
	switch m {
	case DTMFRFC4733:
		return "rfc4733"
	case DTMFInBand:
		return "inband"
	default:
		return "auto"
	}
}

// dtmfEvent maps a digit to its RFC 4733 §3.2 event code.
func dtmfEvent(d byte) (uint8, bool) {
	switch {
	case d >= '0' && d <= '9':
		return d - '0', true
	case d == '*':
		return 10, true
	case d == '#':
		return 11, true
	case d >= 'A' && d <= 'D':
		return 12 + d - 'A', true
	case d >= 'a' && d <= 'd':
		return 12 + d - 'a', true
	}
	return 0, false
}

// dtmfDigit is the inverse of dtmfEvent.
func dtmfDigit(ev uint8) byte { return "0123456789*#ABCD"[ev&15] }

// dtmfFreqs are the row and column frequencies of each event (ITU-T Q.23).
func dtmfFreqs(ev uint8) (row, col float64) {
	rows := [4]float64{697, 770, 852, 941}
	cols := [4]float64{1209, 1336, 1477, 1633}
	pos := [16][2]int{{3, 1}, {0, 0}, {0, 1}, {0, 2}, {1, 0}, {1, 1}, {1, 2}, {2, 0}, {2, 1}, {2, 2}, {3, 0}, {3, 2}, {0, 3}, {1, 3}, {2, 3}, {3, 3}}
	p := pos[ev&15]
	return rows[p[0]], cols[p[1]]
}

// dtmfReq is one queued digit.
type dtmfReq struct {
	event  uint8
	method DTMFMethod
}

// dtmfSender plays queued digits, one packet time per tick.
type dtmfSender struct {
	queue   [64]dtmfReq
	head    int
	tail    int
	cur     dtmfReq
	active  bool
	phase   int // 0 playing, 1 end packets (RFC 4733), 2 gap
	ts      uint32
	elapsed int
	target  int
	ends    int
	gap     int
	tone    [2]phasor
}

// SendDTMF queues digits to send with method m (RFC 4733 §2.5: events at the packet time, the
// first with the marker bit, three end packets; in-band: Q.23 tone pairs at the DTMF level).
// Each digit lasts the configured DTMF duration, with as long a gap after it.
func (s *Session) SendDTMF(digits string, m DTMFMethod) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if !s.started {
		return ErrNotStarted
	}
	if m == DTMFAuto {
		m = DTMFInBand
		if s.n.DTMFPayload != 0 {
			m = DTMFRFC4733
		}
	}
	if m == DTMFRFC4733 && s.n.DTMFPayload == 0 {
		return fmt.Errorf("%w: the peer accepted no telephone-event", ErrNoTelephoneEvent)
	}
	q := &s.dtmfTx
	for i := 0; i < len(digits); i++ {
		ev, ok := dtmfEvent(digits[i])
		if !ok {
			return fmt.Errorf("%w: %q", ErrBadDigit, digits[i])
		}
		if q.tail-q.head >= len(q.queue) {
			return fmt.Errorf("%w: more than %d digits queued", ErrBadDigit, len(q.queue))
		}
		_ = ev
	}
	for i := 0; i < len(digits); i++ {
		ev, _ := dtmfEvent(digits[i])
		q.queue[q.tail%len(q.queue)] = dtmfReq{event: ev, method: m}
		q.tail++
	}
	return nil
}

// frame advances the sender by one packet time; for RFC 4733 it sends the event packet and
// returns true (the audio packet of this time is not sent, RFC 4733 §2.5.1.2), in-band it
// writes the tones into tx.
func (d *dtmfSender) frame(s *Session, tx []int16, now int64) bool {
	if !d.active {
		if d.head == d.tail {
			return false
		}
		d.cur = d.queue[d.head%len(d.queue)]
		d.head++
		d.active = true
		d.phase = 0
		d.ts = s.tx.ts
		d.elapsed = 0
		d.ends = 0
		d.target = samplesPer(s.cfg.dtmfDuration())
		d.gap = d.target
		if d.cur.method == DTMFInBand {
			row, col := dtmfFreqs(d.cur.event)
			// Q.24: the level per tone; the high group 2 dB above the low one is common,
			// here both at the configured level.
			amp := dbm0Amplitude(s.cfg.dtmfLevel())
			d.tone[0].set(row, amp)
			d.tone[1].set(col, amp)
		}
	}
	n := len(tx)
	switch d.phase {
	case 0:
		d.elapsed += n
		end := d.elapsed >= d.target
		if d.cur.method == DTMFInBand {
			for i := range tx {
				tx[i] = sat16(int32(d.tone[0].next() + d.tone[1].next()))
			}
			if end {
				d.phase = 2
			}
			return false
		}
		d.sendEvent(s, d.elapsed, end, d.elapsed == n, now)
		if end {
			d.phase, d.ends = 1, 1
		}
		return true
	case 1:
		d.sendEvent(s, d.elapsed, true, false, now)
		d.ends++
		if d.ends >= 3 {
			d.phase = 2
		}
		return true
	default:
		d.gap -= n
		if d.gap <= 0 {
			d.active = false
		}
		return false
	}
}

// sendEvent sends one RFC 4733 §2.3 event packet: the event's start timestamp, the duration
// so far, the E bit and the volume (the DTMF level as −dBm0).
func (d *dtmfSender) sendEvent(s *Session, dur int, end, first bool, now int64) {
	s.tx.ts += uint32(s.spf) // the media clock runs on under the event
	if !s.n.Direction.Sends() {
		return
	}
	buf := s.tx.buf[:]
	hl := s.header(s.n.DTMFPayload, d.ts, first, buf)
	vol := uint8(min(63, max(0, int(math.Round(-s.cfg.dtmfLevel())))))
	buf[hl] = d.cur.event
	buf[hl+1] = vol & 0x3f
	if end {
		buf[hl+1] |= 0x80
	}
	binary.BigEndian.PutUint16(buf[hl+2:], uint16(min(dur, math.MaxUint16)))
	s.tx.marker = false
	s.send(buf[:hl+4], now)
}

// dtmfReceiver turns RFC 4733 event packets into digits.
type dtmfReceiver struct {
	active     bool
	ts         uint32
	event      uint8
	dur        uint16
	last       int64
	reportedTS uint32
	reported   bool
}

func (r *dtmfReceiver) reset() { *r = dtmfReceiver{} }

// packet handles one telephone-event packet (RFC 4733 §2.5.2).
func (r *dtmfReceiver) packet(s *Session, ts uint32, p []byte, at int64) {
	if len(p) < 4 {
		s.st.packetErrors.Add(1)
		return
	}
	ev, end, dur := p[0], p[1]&0x80 != 0, binary.BigEndian.Uint16(p[2:4])
	if ev > 15 {
		return // not a DTMF event (flash, tones): ignored
	}
	if r.reported && ts == r.reportedTS {
		return // a retransmitted end packet of a digit already reported
	}
	if r.active && ts != r.ts {
		r.finish(s) // a new event began before the old one's end arrived
	}
	if !r.active {
		r.active, r.ts, r.event, r.dur = true, ts, ev, 0
	}
	r.dur = max(r.dur, dur)
	r.last = at
	if end {
		r.finish(s)
	}
}

// dtmfEndTimeout is how long an event may go without packets before it counts as ended
// (its end packets lost). RFC 4733 §2.5.2.2 leaves the value to the receiver; 800 ms rides
// out the packet gaps of a loaded network (or machine) without splitting a digit.
const dtmfEndTimeout = 800 * time.Millisecond

// poll ends an event whose end packets were all lost.
func (r *dtmfReceiver) poll(s *Session, now int64) {
	if r.active && now-r.last > int64(dtmfEndTimeout) {
		r.finish(s)
	}
}

func (r *dtmfReceiver) finish(s *Session) {
	r.active = false
	r.reported, r.reportedTS = true, r.ts
	s.digit(dtmfDigit(r.event), time.Duration(r.dur)*time.Second/clockRate, DTMFRFC4733)
}

// digit records and reports a received digit.
func (s *Session) digit(d byte, dur time.Duration, m DTMFMethod) {
	old := ""
	if p := s.st.dtmfDigits.Load(); p != nil {
		old = *p
	}
	nd := old + string(d)
	if len(nd) > 64 {
		nd = nd[len(nd)-64:]
	}
	s.st.dtmfDigits.Store(&nd)
	s.e.emit(Event{Session: s, Kind: EventDTMF, At: time.Now(), Digit: d, Duration: dur, Method: m})
}

// validDigits reports whether every byte of s is a DTMF digit.
func validDigits(s string) bool {
	return s != "" && strings.IndexFunc(s, func(r rune) bool { _, ok := dtmfEvent(byte(r)); return !ok || r > 127 }) < 0
}

// phasor generates a sine by complex rotation (no math.Sin per sample).
type phasor struct {
	re, im float64
	cr, ci float64
	amp    float64
	n      int
}

func (p *phasor) set(hz, amp float64) {
	w := 2 * math.Pi * hz / clockRate
	p.re, p.im = 1, 0
	p.cr, p.ci = math.Cos(w), math.Sin(w)
	p.amp = amp
	p.n = 0
}

func (p *phasor) next() float64 {
	v := p.im * p.amp
	p.re, p.im = p.re*p.cr-p.im*p.ci, p.re*p.ci+p.im*p.cr
	p.n++
	if p.n&255 == 0 { // renormalise against rounding drift
		m := math.Hypot(p.re, p.im)
		p.re, p.im = p.re/m, p.im/m
	}
	return v
}

// dbm0Amplitude is the peak linear amplitude of a sine at level dBm0 (G.711: a full-scale
// sine is +3.14 dBm0).
func dbm0Amplitude(dbm0 float64) float64 {
	return 32767 * math.Pow(10, (dbm0-3.14)/20)
}
