package media

import (
	"fmt"
	"time"
)

// JitterAdapt says how the jitter buffer may change its delay (Jitter_Buffer_Adjustment_n_).
type JitterAdapt uint8

// The adaptation modes; the zero value adapts both ways, as the device's default "up and down".
const (
	JitterAdaptUpDown JitterAdapt = iota
	JitterAdaptUp
	JitterAdaptDown
	JitterAdaptNone
)

// String returns the mode's name.
func (a JitterAdapt) String() string {
	switch a {
	case JitterAdaptUp:
		return "up"
	case JitterAdaptDown:
		return "down"
	case JitterAdaptNone:
		return "none"
	default:
		return "up-down"
	}
}

// JitterConfig configures the receive jitter buffer. phone maps Network_Jitter_Level_n_ to
// Initial and Max and Jitter_Buffer_Adjustment_n_ to Adapt.
type JitterConfig struct {
	// Initial is the playout delay the buffer starts with (0: 40 ms).
	Initial time.Duration
	// Max bounds the delay it may grow to (0: 200 ms; at most 1 s).
	Max time.Duration
	// Adapt says whether the delay may grow after late packets and shrink when the buffer
	// holds more than the measured jitter needs.
	Adapt JitterAdapt
}

func (c JitterConfig) validate() error {
	if c.Initial < 0 || c.Max < 0 || c.Max > time.Second || (c.Max > 0 && c.Initial > c.Max) {
		return fmt.Errorf("%w: jitter buffer %v initial, %v max", ErrBadConfig, c.Initial, c.Max)
	}
	return nil
}

func (c JitterConfig) initial() int {
	if c.Initial <= 0 {
		return samplesPer(40 * time.Millisecond)
	}
	return samplesPer(c.Initial)
}

func (c JitterConfig) max() int {
	if c.Max <= 0 {
		return samplesPer(200 * time.Millisecond)
	}
	return samplesPer(c.Max)
}

const (
	jbSize   = 8192 // samples: 1.024 s, a power of two
	jbMask   = jbSize - 1
	jbWindow = 50 // packets between adaptations of the delay
)

// jitterBuffer is a sample ring indexed by RTP timestamp: packets are decoded into their
// place on arrival (so reordering and duplicates need no list), playout reads from a
// position that trails the newest timestamp by the delay. Missing samples play as silence.
type jitterBuffer struct {
	cfg      JitterConfig
	started  bool
	play     uint32 // timestamp of the next sample to play
	minSlack int32
	win      int
	late     uint64
	depth    float64 // EWMA of the samples buffered ahead of playout at arrival
	lastPut  int64
	newest   uint32 // end timestamp of the newest packet
	first    uint32 // timestamp of the first packet: playout before it is not concealment
	// the ring, after the fields every packet uses
	have [jbSize / 64]uint64
	pcm  [jbSize]int16
}

func (j *jitterBuffer) reset(cfg JitterConfig) {
	j.cfg = cfg
	j.have = [jbSize / 64]uint64{}
	j.started = false
	j.win = 0
	j.minSlack = 1 << 30
	j.depth = 0
}

// put decodes one packet into the ring; it reports whether any sample was there already.
func (j *jitterBuffer) put(ts uint32, payload []byte, c Codec, at int64, jitter time.Duration) (dup bool) {
	n := len(payload)
	if n == 0 || n > jbSize/2 {
		return false
	}
	if !j.started {
		j.play = ts - uint32(j.cfg.initial())
		j.first = ts
		j.started = true
	}
	slack := int32(ts - j.play)
	canGrow := j.cfg.Adapt == JitterAdaptUpDown || j.cfg.Adapt == JitterAdaptUp
	if slack < 0 && int32(j.newest-j.play) <= 0 && int32(ts-j.newest) >= 0 && (!canGrow || int(-slack) > n) {
		// Underrun: playout has run past everything received and this packet is new, not a
		// straggler. The sender fell behind (its pacer stalled on a loaded machine, or its
		// clock is slow) by more than growing the delay one packet at a time can make up
		// (playout advances as fast as it grows), or the delay may not grow: playout restarts
		// from this packet at the initial delay. Treating it as late would drop every packet
		// from now on, the stream staying exactly as far behind.
		j.play = ts - uint32(j.cfg.initial())
		slack = int32(j.cfg.initial())
	}
	if slack < 0 {
		j.late++
		if j.cfg.Adapt == JitterAdaptUpDown || j.cfg.Adapt == JitterAdaptUp {
			// Grow the delay by what this packet missed (at most one packet): playout goes
			// back, and the samples it replays are silence (they were consumed).
			grow := min(int(-slack), n)
			if int(int32(j.newest-j.play))+grow <= j.cfg.max() {
				j.play -= uint32(grow)
			}
		}
		return false
	}
	if int(slack)+n > jbSize-1 {
		// Far ahead of playout: a jump in timestamps, or a backlog longer than the ring (this
		// phone's playout stalled while packets queued): playout starts over at this packet's
		// initial delay. What was buffered before that point is dropped unplayed and counted
		// as late; a backlog's newest part, within the delay, stays and plays.
		newPlay := ts - uint32(j.cfg.initial())
		if dropped := j.drop(newPlay); dropped > 0 {
			j.late += uint64((dropped + n - 1) / n)
		}
		j.play = newPlay
		j.first = ts
		slack = int32(j.cfg.initial())
	}
	// Word by word of the presence bitmap (a word never straddles the ring's end: jbSize is
	// a multiple of 64), each run decoded with the law's table.
	dec := decodeTable(c)
	for i := 0; i < n; {
		idx := (ts + uint32(i)) & jbMask
		run := min(n-i, 64-int(idx%64))
		mask := ^uint64(0) >> (64 - run) << (idx % 64)
		w := idx / 64
		if j.have[w]&mask != 0 {
			dup = true
		}
		j.have[w] |= mask
		pcm := j.pcm[idx : int(idx)+run]
		for k, b := range payload[i : i+run] {
			pcm[k] = dec[b]
		}
		i += run
	}
	j.lastPut = at
	if end := ts + uint32(n); int32(end-j.newest) > 0 || j.win == 0 && j.depth == 0 {
		j.newest = end
	}
	j.depth += (float64(int(slack)+n) - j.depth) / 16
	j.minSlack = min(j.minSlack, slack)
	j.win++
	if j.win >= jbWindow {
		j.adapt(jitter, n)
	}
	return dup
}

// drop clears the samples buffered from the playout position up to to (and no further than
// the newest: the ring holds nothing valid beyond it) and returns how many there were.
func (j *jitterBuffer) drop(to uint32) int {
	end := to
	if int32(j.newest-end) < 0 {
		end = j.newest
	}
	n := 0
	for p := j.play; int32(end-p) > 0; p++ {
		idx := p & jbMask
		w, b := idx/64, uint64(1)<<(idx%64)
		if j.have[w]&b != 0 {
			n++
			j.have[w] &^= b
		}
	}
	return n
}

// adapt shrinks the delay when, over the last window, every packet arrived with more slack
// than the measured jitter needs (RFC 3550 jitter doubled, plus 5 ms).
func (j *jitterBuffer) adapt(jitter time.Duration, packet int) {
	need := int32(2*samplesPer(jitter) + 40)
	if j.cfg.Adapt == JitterAdaptUpDown || j.cfg.Adapt == JitterAdaptDown {
		if excess := j.minSlack - need; excess > int32(packet/2) {
			j.play += uint32(min(excess, 160)) // skip at most 20 ms at a time
		}
	}
	j.win = 0
	j.minSlack = 1 << 30
}

// read plays len(out) samples; it returns how many were missing while the stream was
// active (concealed as silence).
func (j *jitterBuffer) read(out []int16, now int64) (missing int) {
	if !j.started {
		clear(out)
		return 0
	}
	for i := 0; i < len(out); {
		pos := j.play + uint32(i)
		idx := pos & jbMask
		run := min(len(out)-i, 64-int(idx%64))
		mask := ^uint64(0) >> (64 - run) << (idx % 64)
		w := idx / 64
		got := j.have[w] & mask
		o, pcm := out[i:i+run], j.pcm[idx:int(idx)+run]
		if got == mask {
			copy(o, pcm)
		} else {
			for k := range o {
				if got&(1<<((idx+uint32(k))%64)) != 0 {
					o[k] = pcm[k]
				} else {
					o[k] = 0
					if int32(pos+uint32(k)-j.first) >= 0 {
						missing++
					}
				}
			}
		}
		j.have[w] &^= mask
		i += run
	}
	j.play += uint32(len(out))
	if now-j.lastPut > int64(time.Second) {
		return 0 // the stream stopped (hold, end): silence is not concealment
	}
	return missing
}

// latency is the average time a sample waits in the buffer (Info Decode_Latency).
func (j *jitterBuffer) latency() time.Duration {
	return time.Duration(j.depth * float64(time.Second) / clockRate)
}
