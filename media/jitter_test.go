package media

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// packetOf is 160 µ-law codes of value v (decoded as one level).
func packetOf(code byte) []byte {
	p := make([]byte, 160)
	for i := range p {
		p[i] = code
	}
	return p
}

func TestJitterBufferReordersAndConceals(t *testing.T) {
	var j jitterBuffer
	j.reset(JitterConfig{Initial: 40 * time.Millisecond, Adapt: JitterAdaptNone})
	// Packets 0..5 of 20 ms; 2 and 3 arrive swapped, 4 is lost, 1 arrives twice.
	codes := []byte{0x10, 0x20, 0x30, 0x40, 0x50, 0x60}
	order := []int{0, 1, 3, 2, 1, 5}
	dups := 0
	for _, k := range order {
		if j.put(uint32(1000+160*k), packetOf(codes[k]), CodecPCMU, 1, 0) {
			dups++
		}
	}
	if dups != 1 {
		t.Errorf("%d duplicates, want 1", dups)
	}
	out := make([]int16, 160)
	// 40 ms of initial delay play as silence, then packets 0, 1, 2, 3, (4 lost), 5.
	var got []int16
	missing := 0
	for f := 0; f < 8; f++ {
		missing += j.read(out, 2)
		got = append(got, out[0])
	}
	want := []int16{0, 0, decodeSample(CodecPCMU, 0x10), decodeSample(CodecPCMU, 0x20), decodeSample(CodecPCMU, 0x30),
		decodeSample(CodecPCMU, 0x40), 0, decodeSample(CodecPCMU, 0x60)}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("frame %d plays %d, want %d", i, got[i], want[i])
		}
	}
	if missing != 160 {
		t.Errorf("%d samples concealed, want 160 (the lost packet; the initial delay is not concealment)", missing)
	}
	// A packet for samples already played is late and dropped.
	if j.put(uint32(1000), packetOf(0x70), CodecPCMU, 3, 0); j.late != 1 {
		t.Errorf("late = %d, want 1", j.late)
	}
}

func TestJitterBufferAdapts(t *testing.T) {
	var j jitterBuffer
	j.reset(JitterConfig{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond})
	out := make([]int16, 160)
	ts := uint32(0)
	// A packet late by 30 ms grows the delay (adapt up).
	j.put(ts, packetOf(1), CodecPCMU, 0, 0)
	for f := 0; f < 3; f++ {
		j.read(out, 0)
	}
	before := int32(ts - j.play)
	j.put(ts+160, packetOf(1), CodecPCMU, 0, 0) // played already: late
	if after := int32(ts - j.play); after <= before || j.late != 1 {
		t.Errorf("play position %d → %d after a late packet, want it to move back", before, after)
	}
	// A long run of early packets with no jitter shrinks it again (adapt down).
	var k jitterBuffer
	k.reset(JitterConfig{Initial: 150 * time.Millisecond})
	for i := 0; i < 400; i++ {
		k.put(uint32(i*160), packetOf(1), CodecPCMU, 0, 0)
		k.read(out, 0)
	}
	if lat := k.latency(); lat > 80*time.Millisecond {
		t.Errorf("latency %v after 8 s without jitter, started at 150 ms; want it reduced", lat)
	}
	// With adaptation off, it stays.
	var m jitterBuffer
	m.reset(JitterConfig{Initial: 150 * time.Millisecond, Adapt: JitterAdaptNone})
	for i := 0; i < 200; i++ {
		m.put(uint32(i*160), packetOf(1), CodecPCMU, 0, 0)
		m.read(out, 0)
	}
	if lat := m.latency(); lat < 140*time.Millisecond {
		t.Errorf("latency %v with adaptation off, want 150 ms kept", lat)
	}
}

func TestSeqTrackerRFC3550(t *testing.T) {
	var s seqTracker
	s.start(65530)
	for _, q := range []uint16{65531, 65533, 65534, 0, 1, 3, 2, 2} { // wraps; 65532 and (later) none lost
		s.update(q)
	}
	if got := s.expected(); got != 10 {
		t.Errorf("expected = %d, want 10 (65530 to 3)", got)
	}
	if got := s.lost(); got != 1 {
		t.Errorf("lost = %d, want 1 (65532 lost; 3 before 2 is reordering, not loss)", got)
	}
	if s.cycles != 1<<16 || s.reordered != 2 {
		t.Errorf("cycles %d reordered %d", s.cycles, s.reordered)
	}
}

// TestJitterBufferFollowsASenderThatFellBehind: a sender whose pacer stalled longer than the
// playout delay (a loaded machine) sends on with contiguous timestamps; once the buffer has
// run dry, its packets are no stragglers: playout restarts from them at the initial delay
// instead of dropping every one as late from then on (even with adaptation off).
func TestJitterBufferFollowsASenderThatFellBehind(t *testing.T) {
	var j jitterBuffer
	j.reset(JitterConfig{Initial: 40 * time.Millisecond, Adapt: JitterAdaptNone})
	out := make([]int16, 160)
	ts := uint32(5000)
	for f := 0; f < 10; f++ { // steady: one packet in, one frame out
		j.put(ts, packetOf(0x10), CodecPCMU, int64(f), 0)
		ts += 160
		j.read(out, int64(f))
	}
	for f := 0; f < 25; f++ { // the sender stalls half a second; playout runs dry
		j.read(out, 10)
	}
	heard := 0
	for f := 0; f < 10; f++ { // it sends on where it stopped
		j.put(ts, packetOf(0x20), CodecPCMU, 20, 0)
		ts += 160
		j.read(out, 20)
		if out[0] == decodeSample(CodecPCMU, 0x20) {
			heard++
		}
	}
	if heard < 7 {
		t.Errorf("%d of 10 frames after the stall played the sender's audio (late %d), want all but the initial delay", heard, j.late)
	}
	// A straggler older than what the buffer holds is still late.
	late := j.late
	if j.put(5000, packetOf(0x30), CodecPCMU, 21, 0); j.late != late+1 {
		t.Errorf("a straggler was not counted late")
	}
}

// refPut and refRead are the jitter buffer's ring operations sample by sample, the reference
// of the word-by-word ones.
func refPut(j *jitterBuffer, ts uint32, payload []byte, c Codec) (dup bool) {
	for i := range payload {
		idx := (ts + uint32(i)) & jbMask
		w, bit := idx/64, uint64(1)<<(idx%64)
		if j.have[w]&bit != 0 {
			dup = true
		}
		j.have[w] |= bit
		j.pcm[idx] = decodeSample(c, payload[i])
	}
	return dup
}

func refRead(j *jitterBuffer, out []int16) (missing int) {
	if !j.started {
		clear(out)
		return 0
	}
	for i := range out {
		idx := (j.play + uint32(i)) & jbMask
		w, bit := idx/64, uint64(1)<<(idx%64)
		if j.have[w]&bit != 0 {
			out[i] = j.pcm[idx]
			j.have[w] &^= bit
		} else {
			out[i] = 0
			if int32(j.play+uint32(i)-j.first) >= 0 {
				missing++
			}
		}
	}
	j.play += uint32(len(out))
	return missing
}

// TestJitterBufferRingWordByWord: random packets (sizes, offsets, losses, duplicates,
// wrapping the ring and the timestamp) put and read word by word leave the ring, the output
// and the concealment count exactly as sample by sample.
func TestJitterBufferRingWordByWord(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	var a, b jitterBuffer
	cfg := JitterConfig{Initial: 40 * time.Millisecond, Adapt: JitterAdaptNone}
	a.reset(cfg)
	b.reset(cfg)
	ts := uint32(math.MaxUint32 - 5000) // wraps during the test
	payload := make([]byte, 400)
	outA, outB := make([]int16, 400), make([]int16, 400)
	for step := 0; step < 5000; step++ {
		n := 1 + rnd.IntN(len(payload))
		for i := range payload[:n] {
			payload[i] = byte(rnd.Uint32())
		}
		c := CodecPCMU
		if rnd.IntN(2) == 0 {
			c = CodecPCMA
		}
		at := ts + uint32(rnd.IntN(600)) - 300
		if rnd.IntN(5) > 0 {
			// The same decisions (started, slack, adaptation) on both: only the ring differs.
			dupA := a.put(at, payload[:n], c, int64(step), 0)
			b.started, b.play, b.first = a.started, a.play, a.first
			// Packets land 20-620 samples ahead of playout: never late, never far ahead.
			if dupB := refPut(&b, at, payload[:n], c); dupA != dupB {
				t.Fatalf("step %d: dup %v, reference %v", step, dupA, dupB)
			}
		}
		m := 1 + rnd.IntN(len(outA))
		missA := a.read(outA[:m], int64(step))
		missB := refRead(&b, outB[:m])
		if missA != missB || a.play != b.play || a.have != b.have {
			t.Fatalf("step %d: missing %d, reference %d (play %d, %d)", step, missA, missB, a.play, b.play)
		}
		for i := range outA[:m] {
			if outA[i] != outB[i] {
				t.Fatalf("step %d sample %d: %d, reference %d", step, i, outA[i], outB[i])
			}
		}
		ts += uint32(m)
	}
}

// TestJitterBufferBacklogLongerThanTheRing: packets queued while playout stood still (a
// stalled pacer) beyond the ring's second: playout starts over at the newest packet's
// initial delay, the older packets count as late, and the newest part of the backlog plays.
func TestJitterBufferBacklogLongerThanTheRing(t *testing.T) {
	var j jitterBuffer
	j.reset(JitterConfig{Initial: 40 * time.Millisecond, Adapt: JitterAdaptNone}) // 320 samples
	for i := range 60 {
		j.put(uint32(160*i), packetOf(byte(0x10+i)), CodecPCMU, int64(i), 0)
	}
	// Packet 49 no longer fitted (320 + 49·160 + 160 > 8191): playout moved to 49·160 − 320;
	// packets 0-46 were dropped, 47 and 48 stay ahead of it.
	if j.late != 47 {
		t.Errorf("late = %d, want 47 (the packets playout skipped)", j.late)
	}
	out := make([]int16, 160)
	for i := 47; i < 60; i++ {
		if missing := j.read(out, 60); missing != 0 || out[0] != decodeSample(CodecPCMU, byte(0x10+i)) || out[159] != out[0] {
			t.Fatalf("frame of packet %d plays %d…%d (%d missing), want packet %d's samples", i, out[0], out[159], missing, i)
		}
	}
}
