package media

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"sync/atomic"
	"time"
)

// Impairment degrades what a session sends, so a test can exercise a PBX's or a far phone's
// jitter buffer and statistics without netem. Every random choice comes from Seed (or the
// engine's seed), so a run repeats exactly.
type Impairment struct {
	// Loss is the long-run fraction of packets dropped (0-1).
	Loss float64
	// BurstLen is the mean length of a loss burst in packets: ≤ 1 drops packets independently
	// (Bernoulli); above 1 a two-state Gilbert-Elliott chain (loss in the bad state only)
	// with P(bad→good) = 1/BurstLen and P(good→bad) chosen so that the loss stays Loss.
	BurstLen float64
	// Jitter is the mean absolute difference of delay between consecutive packets, which
	// RFC 3550's interarrival jitter estimates: each packet is delayed by a uniform draw on
	// [0, 3·Jitter] (so the far end's RFC 3550 jitter reads ≈ Jitter); packets may reorder.
	Jitter time.Duration
	// Delay is a constant extra delay.
	Delay time.Duration
	// Reorder is the probability that a packet is held back and sent right after the next.
	Reorder float64
	// Seed seeds this impairment (0: derived from the engine's seed).
	Seed uint64
}

// Active reports whether the impairment changes anything.
func (im Impairment) Active() bool {
	return im.Loss > 0 || im.Jitter > 0 || im.Delay > 0 || im.Reorder > 0
}

// Validate reports an impairment out of range (loss 0-1, jitter up to 1 s, delay up to 5 s).
func (im Impairment) Validate() error { return im.validate() }

func (im Impairment) validate() error {
	if im.Loss < 0 || im.Loss >= 1 || math.IsNaN(im.Loss) || im.Reorder < 0 || im.Reorder > 1 || math.IsNaN(im.Reorder) ||
		im.Jitter < 0 || im.Jitter > time.Second || im.Delay < 0 || im.Delay > 5*time.Second || im.BurstLen < 0 || im.BurstLen > 1000 {
		return fmt.Errorf("%w: impairment %+v", ErrBadConfig, im)
	}
	return nil
}

// pending is one delayed packet.
type pending struct {
	at   int64
	dst  netip.AddrPort
	n    int
	used bool
	buf  []byte
}

// impairer applies an Impairment on the pacer.
type impairer struct {
	cfg   Impairment
	rnd   *rand.Rand
	bad   bool
	line  []pending
	held  int // index of the packet held back for reordering, −1 none
	stats impairStats
}

type impairStats struct {
	dropped, delayed, reordered atomic.Uint64
}

// configure sets a new impairment; the delay line is allocated here, never per packet.
func (im *impairer) configure(cfg Impairment, seed uint64) {
	if cfg.Seed != 0 {
		seed = cfg.Seed
	}
	im.cfg = cfg
	im.rnd = rand.New(rand.NewPCG(seed, seed^0xda942042e4dd58b5))
	im.bad = false
	im.held = -1
	if cfg.Jitter > 0 || cfg.Delay > 0 || cfg.Reorder > 0 {
		slots := int((cfg.Delay+3*cfg.Jitter)/minPacketTime) + 8
		slots = min(slots, 1024)
		im.line = make([]pending, slots)
		for i := range im.line {
			im.line[i].buf = make([]byte, slotSize)
		}
	} else {
		im.line = nil
	}
}

// SetImpairment changes the impairment of what the session sends; packets it holds are sent
// at once.
func (s *Session) SetImpairment(cfg Impairment) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.imp.flush(s, math.MaxInt64)
	s.cfg.Impair = cfg
	s.imp.configure(cfg, uint64(s.ssrc)<<32|uint64(s.tx.seq))
	return nil
}

// Impairment returns the impairment of what the session sends.
func (s *Session) Impairment() Impairment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg.Impair
}

// Injected reports what the impairment did so far: packets dropped, delayed and reordered.
func (s *Session) Injected() (dropped, delayed, reordered uint64) {
	st := &s.imp.stats
	return st.dropped.Load(), st.delayed.Load(), st.reordered.Load()
}

// lose draws the loss decision for one packet.
func (im *impairer) lose() bool {
	l := im.cfg.Loss
	if l <= 0 {
		return false
	}
	if im.cfg.BurstLen <= 1 {
		return im.rnd.Float64() < l
	}
	r := 1 / im.cfg.BurstLen
	p := r * l / (1 - l) // stationary P(bad) = p/(p+r) = l
	if im.bad {
		if im.rnd.Float64() < r {
			im.bad = false
		}
	} else if im.rnd.Float64() < p {
		im.bad = true
	}
	return im.bad
}

// send writes pkt now, later, or never.
func (im *impairer) send(s *Session, pkt []byte, dst netip.AddrPort, now int64) {
	if !im.cfg.Active() {
		s.write(pkt, dst)
		return
	}
	if im.lose() {
		im.stats.dropped.Add(1)
		return
	}
	if im.line == nil {
		s.write(pkt, dst)
		return
	}
	delay := im.cfg.Delay
	if im.cfg.Jitter > 0 {
		delay += time.Duration(im.rnd.Int64N(int64(3 * im.cfg.Jitter)))
	}
	slot := -1
	for i := range im.line {
		if !im.line[i].used {
			slot = i
			break
		}
	}
	if slot < 0 {
		s.write(pkt, dst) // the line is full: no packet is lost to it
		return
	}
	p := &im.line[slot]
	p.used, p.dst, p.n = true, dst, copy(p.buf, pkt)
	p.at = now + int64(delay)
	if delay > 0 {
		im.stats.delayed.Add(1)
	}
	if im.held >= 0 {
		// The held packet leaves right after this one.
		im.line[im.held].at = p.at + 1
		im.held = -1
	} else if im.cfg.Reorder > 0 && im.rnd.Float64() < im.cfg.Reorder {
		p.at = math.MaxInt64
		im.held = slot
		im.stats.reordered.Add(1)
	}
	if p.at <= now {
		im.flush(s, now)
	}
}

// flush writes every delayed packet that is due, earliest first.
func (im *impairer) flush(s *Session, now int64) {
	for {
		best := -1
		for i := range im.line {
			p := &im.line[i]
			if p.used && p.at <= now && (best < 0 || p.at < im.line[best].at) {
				best = i
			}
		}
		if best < 0 {
			return
		}
		p := &im.line[best]
		s.write(p.buf[:p.n], p.dst)
		p.used = false
		if best == im.held {
			im.held = -1
		}
	}
}

// nextAt is when the next delayed packet is due.
func (im *impairer) nextAt() (int64, bool) {
	at, ok := int64(math.MaxInt64), false
	for i := range im.line {
		if p := &im.line[i]; p.used && p.at < at {
			at, ok = p.at, true
		}
	}
	return at, ok && at != math.MaxInt64
}
