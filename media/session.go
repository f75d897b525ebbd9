package media

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"go.uber.org/zap"
)

// SessionConfig is what the configuration says about one session (SPA-BEHAVIOUR §8.2, §8.5).
type SessionConfig struct {
	// Symmetric sends RTP to where the peer's RTP comes from once it arrives (Symmetric_RTP),
	// instead of to the SDP address.
	Symmetric bool
	// RTCPInterval is the RTCP report interval (RTCP_Tx_Interval); 0 sends no RTCP (the
	// device's default). Received RTCP is always read (round-trip delay, the peer's view).
	RTCPInterval time.Duration
	// Jitter configures the receive jitter buffer.
	Jitter JitterConfig
	// IgnoreAVT drops received telephone-event packets instead of reporting the digits
	// (DTMF_Process_AVT_n_ = No).
	IgnoreAVT bool
	// DTMFLevel is the level of generated DTMF in dBm0 (DTMF_Playback_Level; 0 is -16) and
	// the volume field of RFC 4733 events; DTMFDuration the length of each digit
	// (DTMF_Playback_Length; 0 is 100 ms).
	DTMFLevel    float64
	DTMFDuration time.Duration
	// Impair is the impairment applied to what the session sends.
	Impair Impairment
	// Analyze runs the audio analysis (level, frequency, in-band DTMF, events) on both
	// directions; without it the session only counts packets.
	Analyze bool
	// SilenceDBFS is the level under which audio counts as silence (0 is -55 dBFS).
	SilenceDBFS float64
	// OneWayAfter is how long the session sends audio while receiving nothing or silence
	// before it reports one-way audio (0 is 3 s).
	OneWayAfter time.Duration
}

func (sc SessionConfig) validate() error {
	if sc.RTCPInterval < 0 {
		return fmt.Errorf("%w: RTCP interval %v", ErrBadConfig, sc.RTCPInterval)
	}
	if err := sc.Jitter.validate(); err != nil {
		return err
	}
	return sc.Impair.validate()
}

func (sc SessionConfig) dtmfLevel() float64 {
	if sc.DTMFLevel == 0 {
		return -16
	}
	return sc.DTMFLevel
}

func (sc SessionConfig) dtmfDuration() time.Duration {
	if sc.DTMFDuration <= 0 {
		return 100 * time.Millisecond
	}
	return sc.DTMFDuration
}

func (sc SessionConfig) silence() float64 {
	if sc.SilenceDBFS == 0 {
		return -55
	}
	return sc.SilenceDBFS
}

func (sc SessionConfig) oneWayAfter() time.Duration {
	if sc.OneWayAfter <= 0 {
		return 3 * time.Second
	}
	return sc.OneWayAfter
}

// Packet sizes.
const (
	minPacketTime = 10 * time.Millisecond
	maxPacketTime = 120 * time.Millisecond
	maxFrame      = int(maxPacketTime * clockRate / time.Second) // samples
	rtpHeaderLen  = 12
	slotSize      = 1280 // receive slot: a 120 ms G.711 packet with header, CSRCs and extension
	ringSlots     = 32   // packets a reader can hand over before the pacer drains them
)

// rxSlot is one received datagram handed from the reader to the pacer.
type rxSlot struct {
	n    int
	from netip.AddrPort
	at   int64
	buf  [slotSize]byte
}

// rxRing is a single-producer (the reader), single-consumer (the pacer) ring of slots.
type rxRing struct {
	w, r  atomic.Uint32
	slots [ringSlots]rxSlot
}

// Session is one call's RTP stream: a socket pair on the engine's IP, the send state the
// pacer advances, the receive jitter buffer, DTMF, audio sources and sinks, analysis and
// statistics. Open it with [Engine.Open]; [Session.Start] it with the outcome of the SDP
// exchange; [Session.Update] it after a re-INVITE; [Session.Close] it at the end.
type Session struct {
	// immutable after Open
	e     *Engine
	cfg0  SessionConfig
	rtp   *net.UDPConn
	rtcp  *net.UDPConn
	local netip.AddrPort
	ssrc  uint32
	log   *zap.Logger

	// pc is the pacer the session runs on (set at Open, then immutable); its schedule fields
	// below are guarded by pc.mu.
	pc     *pacer
	next   int64
	queued bool

	// ring is written by the reader goroutine and read by the pacer (lock-free), where the
	// pacer cannot poll the socket itself (poll_other.go).
	ring *rxRing
	// poll is the pacer's own receive state where it polls (poll_linux.go); guarded by mu.
	poll poller

	// mu guards everything below; the pacer holds it while it runs the session.
	mu      sync.Mutex
	cfg     SessionConfig
	n       Negotiated
	started bool
	closed  bool
	ptime   time.Duration
	spf     int   // samples per frame at ptime
	frameAt int64 // the next frame's due time
	lastTx  int64 // when the last RTP packet left, for the pacing histogram
	latched netip.AddrPort
	tx      txState
	rx      rxState
	jb      jitterBuffer
	src     Source
	srcName string
	echo    bool
	loop    Loopback
	conf    *Session
	rxFrame [maxFrame]int16
	txFrame [maxFrame]int16
	dtmfTx  dtmfSender
	dtmfRx  dtmfReceiver
	detect  dtmfDetector
	anRx    analyzer
	anTx    analyzer
	recRx   *wavWriter
	recTx   *wavWriter
	imp     impairer
	rtcpAt  int64
	oneWay  oneWayState

	// rtcpMu guards rtcpSt, shared by the RTCP reader and the pacer.
	rtcpMu sync.Mutex
	rtcpSt rtcpState

	// mixMu guards mix, the last frame this session played, which a conference peer mixes in.
	mixMu sync.Mutex
	mix   [maxFrame]int16
	mixN  int

	// atomic: statistics readers take without locks.
	st sessionStats
}

// txState is the RTP sender's state (RFC 3550 §5.1).
type txState struct {
	seq    uint16
	ts     uint32
	marker bool
	hdr    rtp.Header
	buf    [slotSize]byte
}

func newSession(e *Engine, sc SessionConfig, rtpConn, rtcpConn *net.UDPConn, seed uint64) *Session {
	local := rtpConn.LocalAddr().(*net.UDPAddr).AddrPort()
	s := &Session{
		e:     e,
		cfg0:  sc,
		cfg:   sc,
		rtp:   rtpConn,
		rtcp:  rtcpConn,
		local: netip.AddrPortFrom(local.Addr().Unmap(), local.Port()),
		ssrc:  uint32(seed),
		log:   e.log.With(zap.Uint16("rtp_port", local.Port())),
	}
	// RFC 3550 §5.1: random initial sequence number and timestamp.
	s.tx.seq = uint16(seed >> 32)
	s.tx.ts = uint32(seed>>16) ^ uint32(seed>>48)
	s.tx.marker = true
	s.jb.reset(sc.Jitter)
	s.imp.configure(sc.Impair, seed)
	s.st.encoder.Store(uint32(CodecUnknown))
	s.anRx.init(sc.silence())
	s.anTx.init(sc.silence())
	s.detect.reset()
	return s
}

// LocalAddr is where the session receives RTP (its RTCP port is one above), for the SDP.
func (s *Session) LocalAddr() netip.AddrPort { return s.local }

// SSRC is the session's RTP synchronisation source.
func (s *Session) SSRC() uint32 { return s.ssrc }

// Start begins sending and playing out per n (RFC 3264 §5/§6 outcome). Starting a started
// session is an Update.
func (s *Session) Start(n Negotiated) error { return s.apply(n, true) }

// Update applies a new exchange's outcome (re-INVITE: hold, resume, a new address or codec).
// Sequence numbers and timestamps continue (RFC 3550 §5.1); a changed codec restarts the
// marker bit.
func (s *Session) Update(n Negotiated) error { return s.apply(n, false) }

func (s *Session) apply(n Negotiated, start bool) error {
	if _, ok := n.Codec.StaticPayloadType(); !ok {
		return fmt.Errorf("%w: no codec negotiated", ErrBadConfig)
	}
	pt := n.PacketTime
	if pt == 0 {
		pt = defaultPacketTime
	}
	pt = min(max(pt, minPacketTime), maxPacketTime).Round(5 * time.Millisecond)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	was := s.started
	old := s.n
	s.n = n
	s.ptime = pt
	s.spf = samplesPer(pt)
	if old.Codec != n.Codec || old.Remote != n.Remote || !old.Direction.Sends() && n.Direction.Sends() {
		s.tx.marker = true // RFC 3551 §4.1: the first packet of a talkspurt
	}
	if old.Remote != n.Remote {
		s.latched = netip.AddrPort{}
	}
	s.started = true
	now := s.e.now()
	first := now
	if !was {
		first = s.pc.place(now, int64(pt))
		s.frameAt = first
		s.rtcpAt = now + int64(s.cfg.RTCPInterval)
		s.st.startedAt.Store(now)
	}
	s.st.encoder.Store(uint32(n.Codec))
	s.mu.Unlock()
	if !was {
		s.e.schedule(s, first)
	}
	verb := "media session updated"
	if !was {
		verb = "media session started"
	}
	_ = start
	s.log.Debug(verb, zap.Stringer("remote", n.Remote), zap.Stringer("codec", n.Codec),
		zap.Stringer("direction", n.Direction), zap.Duration("ptime", pt), zap.Bool("remote_hold", n.RemoteHold))
	return nil
}

// Negotiated returns what the session runs with (the last Start or Update).
func (s *Session) Negotiated() Negotiated {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// Close stops the session and releases its ports; it is idempotent, and Stats stay readable.
// Recordings are finished (their WAV headers written).
func (s *Session) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.started = false
	err := s.stopRecordingLocked()
	s.mu.Unlock()
	s.e.forget(s)
	err = errors.Join(err, s.closeRTP(), s.rtcp.Close())
	s.e.giveFiles()
	s.st.closedAt.Store(s.e.now())
	s.log.Debug("media session closed", zap.Uint64("packets_sent", s.st.c.packetsSent.Load()),
		zap.Uint64("packets_recv", s.st.c.packetsRecv.Load()), zap.Int64("packets_lost", s.st.lost.Load()))
	return err
}

// readRTP is the session's RTP reader: it hands each datagram to the pacer through the ring.
func (s *Session) readRTP() {
	defer s.e.wg.Done()
	var scratch [slotSize]byte
	for {
		w := s.ring.w.Load()
		if w-s.ring.r.Load() >= ringSlots {
			// The pacer is behind: the datagram is read and dropped, as a full socket would.
			if _, _, err := s.rtp.ReadFromUDPAddrPort(scratch[:]); err != nil {
				return
			}
			s.st.overruns.Add(1)
			continue
		}
		slot := &s.ring.slots[w%ringSlots]
		n, from, err := s.rtp.ReadFromUDPAddrPort(slot.buf[:])
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		slot.n, slot.from, slot.at = n, from, s.e.now()
		s.ring.w.Store(w + 1)
	}
}

// tick runs the session at its due time on the pacer: it takes in what arrived, plays out
// one frame, sends one frame, flushes impaired packets and sends RTCP when due. It returns the
// next due time, or 0 to leave the schedule.
func (s *Session) tick(due int64) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || !s.started {
		return 0
	}
	if s.poll.ok {
		s.pollRTP()
	} else {
		s.drain()
	}
	now := s.e.now()
	if due >= s.frameAt {
		late := now - s.frameAt
		if late > int64(10*s.ptime) {
			// The machine stalled: drop the backlog rather than burst it out.
			s.frameAt = now
			s.st.stalls.Add(1)
		}
		s.frame(now)
		s.frameAt += int64(s.ptime)
	}
	// Delayed packets leave with their slot, as frames do: the pacer runs a session up to a
	// slot before its deadline (scheduler.go), and one due later in the slot than now would
	// otherwise be its next deadline again at once.
	s.imp.flush(s, max(now, due))
	if s.cfg.RTCPInterval > 0 && now >= s.rtcpAt {
		s.sendRTCP(now)
		s.rtcpAt = now + int64(s.cfg.RTCPInterval)
	}
	next := s.frameAt
	if at, ok := s.imp.nextAt(); ok && at < next {
		next = at
	}
	return next
}

// drain takes every datagram the reader handed over.
func (s *Session) drain() {
	for {
		r := s.ring.r.Load()
		if r == s.ring.w.Load() {
			return
		}
		slot := &s.ring.slots[r%ringSlots]
		s.receive(slot.buf[:slot.n], slot.from, slot.at)
		s.ring.r.Store(r + 1)
	}
}

// frame plays out and sends one packet time of audio.
func (s *Session) frame(now int64) {
	n := s.spf
	rx := s.rxFrame[:n]
	concealed := s.jb.read(rx, now)
	if concealed > 0 {
		s.st.concealed.Add(uint64(concealed))
	}
	storeChanged(&s.st.decodeLatency, int64(s.jb.latency()))
	if s.recRx != nil {
		s.recRx.write(rx)
	}
	if s.conf != nil {
		// The conference peer mixes what this session played into what it sends.
		s.mixMu.Lock()
		copy(s.mix[:n], rx)
		s.mixN = n
		s.mixMu.Unlock()
	}
	arrived := now-s.rx.lastAt < int64(500*time.Millisecond) && s.rx.lastAt > 0
	if s.cfg.Analyze {
		s.anRx.feed(rx, now, arrived)
		s.detect.feed(rx, s)
		s.anRx.publish(s, FlowRx, now)
	}
	s.dtmfRx.poll(s, now)

	// The frame to send: the source, or the echo of what was received, plus the conference
	// peer's received audio; DTMF replaces it while a digit plays.
	tx := s.txFrame[:n]
	switch {
	case s.echo:
		copy(tx, rx)
	case s.src != nil:
		if !s.src.Read(tx) {
			s.src = nil
			s.srcName = ""
			s.st.tone.Store(nil)
			clear(tx)
		}
	default:
		clear(tx)
	}
	if c := s.conf; c != nil {
		c.mixMu.Lock()
		for i := 0; i < n && i < c.mixN; i++ {
			tx[i] = sat16(int32(tx[i]) + int32(c.mix[i]))
		}
		c.mixMu.Unlock()
	}
	event := s.dtmfTx.frame(s, tx, now)
	if s.recTx != nil {
		s.recTx.write(tx)
	}
	if s.cfg.Analyze {
		s.anTx.feed(tx, now, true)
		s.anTx.publish(s, FlowTx, now)
	}
	s.oneWay.update(s, now)
	if event {
		return // the DTMF sender sent this packet time's telephone-event packet
	}
	if s.loop == LoopbackPacket {
		return // the received packets themselves go back (reflect)
	}
	if !s.n.Direction.Sends() {
		s.tx.ts += uint32(n)
		s.tx.marker = true
		return
	}
	buf := s.tx.buf[:]
	hl := s.header(s.n.PayloadType, s.tx.ts, s.tx.marker, buf)
	encode(s.n.Codec, tx, buf[hl:hl+n])
	s.tx.marker = false
	s.tx.ts += uint32(n)
	s.send(buf[:hl+n], now)
}

// header writes the next RTP header into buf and returns its length.
func (s *Session) header(pt uint8, ts uint32, marker bool, buf []byte) int {
	h := &s.tx.hdr
	h.Version = 2
	h.PayloadType = pt
	h.SequenceNumber = s.tx.seq
	h.Timestamp = ts
	h.SSRC = s.ssrc
	h.Marker = marker
	s.tx.seq++
	n, err := h.MarshalTo(buf)
	if err != nil {
		return 0 // cannot happen: the header is fixed-size and buf is large
	}
	return n
}

// dest is where RTP goes: the latched source with Symmetric_RTP, else the SDP address.
func (s *Session) dest() (netip.AddrPort, bool) {
	if s.cfg.Symmetric && s.latched.IsValid() {
		return s.latched, true
	}
	r := s.n.Remote
	if !r.IsValid() || r.Addr().IsUnspecified() || r.Port() == 0 {
		return netip.AddrPort{}, false
	}
	return r, true
}

// send hands one packet to the impairment stage, which writes it now or later.
func (s *Session) send(pkt []byte, now int64) {
	dst, ok := s.dest()
	if !ok {
		return
	}
	// The send-interval error is taken as the packet goes to the kernel (the tick's now is
	// before the receive, playout and analysis work of this session).
	at := s.e.now()
	if s.lastTx > 0 {
		s.pc.pacing.add(time.Duration(at-s.lastTx) - s.ptime)
	}
	s.lastTx = at
	s.imp.send(s, pkt, dst, now)
}

// write puts a packet on the wire and counts it.
func (s *Session) write(pkt []byte, dst netip.AddrPort) {
	var err error
	if s.poll.ok {
		err = s.writeRaw(pkt, dst)
	} else {
		_, err = s.rtp.WriteToUDPAddrPort(pkt, dst)
	}
	if err != nil {
		s.st.sendErrors.Add(1)
		return
	}
	s.st.c.packetsSent.Add(1)
	s.st.c.bytesSent.Add(uint64(len(pkt)))
	t := &s.e.totals[s.pc.idx]
	t.packetsSent.Add(1)
	t.bytesSent.Add(uint64(len(pkt)))
}

// receive handles one datagram on the pacer.
func (s *Session) receive(b []byte, from netip.AddrPort, at int64) {
	s.st.c.packetsRecv.Add(1)
	s.st.c.bytesRecv.Add(uint64(len(b)))
	t := &s.e.totals[s.pc.idx]
	t.packetsRecv.Add(1)
	t.bytesRecv.Add(uint64(len(b)))
	h := &s.rx.hdr
	hl, err := h.Unmarshal(b)
	if err != nil || hl > len(b) {
		s.st.packetErrors.Add(1)
		return
	}
	payload := b[hl:]
	if h.Padding {
		if len(payload) == 0 || int(payload[len(payload)-1]) > len(payload) {
			s.st.packetErrors.Add(1)
			return
		}
		payload = payload[:len(payload)-int(payload[len(payload)-1])]
	}
	codec, audio := s.codecFor(h.PayloadType)
	isDTMF := s.n.DTMFPayload != 0 && h.PayloadType == s.n.DTMFPayload
	if !audio && !isDTMF && h.PayloadType != 13 {
		s.st.packetErrors.Add(1) // a payload type this session did not negotiate
		return
	}
	if s.cfg.Symmetric && from != s.latched {
		s.latched = from
	}
	if h.SSRC != s.rx.ssrc || !s.rx.seq.init {
		if s.rx.seq.init {
			// A new source (the far end switched streams, or SIPp's next capture): the
			// previous one's losses stay in the call's total, and what the jitter buffer
			// still held of it, in its own timestamps, is dropped unplayed (counted late).
			s.st.lostEarlier.Add(uint64(max(s.rx.seq.lost(), 0)))
			if n := len(b) - hl; n > 0 && s.jb.started {
				if left := s.jb.drop(s.jb.newest); left > 0 {
					s.st.late.Add(uint64((left + n - 1) / n))
				}
			}
		}
		s.rx.ssrc = h.SSRC
		s.rx.seq.start(h.SequenceNumber)
		s.jb.reset(s.cfg.Jitter)
		s.dtmfRx.reset()
	} else {
		s.rx.seq.update(h.SequenceNumber)
	}
	storeChanged(&s.st.lost, s.rx.seq.lost())
	storeChangedU(&s.st.bursts, s.rx.seq.bursts)
	s.rx.lastAt = at
	s.st.lastRecvAt.Store(at)
	switch {
	case isDTMF:
		if !s.cfg.IgnoreAVT {
			s.dtmfRx.packet(s, h.Timestamp, payload, at)
		}
	case audio:
		if s.st.decoder.Load() != uint32(codec) {
			s.st.decoder.Store(uint32(codec))
		}
		if s.loop == LoopbackPacket {
			s.reflect(h.PayloadType, payload, at)
		}
		s.rx.interval(s, h.SequenceNumber, h.Timestamp, at)
		s.rx.jitter(h.Timestamp, at)
		storeChanged(&s.st.jitter, int64(s.rx.jitterDur()))
		late := s.jb.late
		dup := s.jb.put(h.Timestamp, payload, codec, at, s.rx.jitterDur())
		if dup {
			s.st.duplicates.Add(1)
		}
		if s.jb.late != late {
			s.st.late.Add(s.jb.late - late)
		}
	default:
		// RFC 3389 comfort noise: the peer is silent; the jitter buffer plays silence.
	}
}

// codecFor maps a received payload type to a codec: the negotiated one, or the other G.711
// law by its static type (a peer may switch among the answer's codecs, RFC 3264 §5.1).
func (s *Session) codecFor(pt uint8) (Codec, bool) {
	if pt == s.n.PayloadType {
		return s.n.Codec, true
	}
	switch pt {
	case 0:
		return CodecPCMU, true
	case 8:
		return CodecPCMA, true
	}
	return CodecUnknown, false
}

// rxState is the receiver's state (RFC 3550 A.1, A.8).
type rxState struct {
	hdr     rtp.Header
	ssrc    uint32
	seq     seqTracker
	lastAt  int64
	transit int64
	haveT   bool
	jit     float64 // RFC 3550 A.8 interarrival jitter, timestamp units

	// the previous audio packet, for the arrival-interval histogram
	prevSeq  uint16
	prevTS   uint32
	prevAt   int64
	prevSSRC uint32
	havePrev bool
}

// interval adds the packet's arrival interval error to the pacer's arrival histogram when it
// follows its stream's previous packet by exactly one packet time (sequence and timestamp):
// the send-interval error of the far sender as a receiver measures it.
func (r *rxState) interval(s *Session, seq uint16, ts uint32, at int64) {
	if r.havePrev && r.prevSSRC == r.ssrc && seq == r.prevSeq+1 && s.spf > 0 && ts-r.prevTS == uint32(s.spf) {
		s.pc.arrival.add(time.Duration(at-r.prevAt) - s.ptime)
	}
	r.prevSeq, r.prevTS, r.prevAt, r.prevSSRC, r.havePrev = seq, ts, at, r.ssrc, true
}

// jitter updates the interarrival jitter with one packet (RFC 3550 §6.4.1, A.8).
func (r *rxState) jitter(ts uint32, at int64) {
	arrival := at * clockRate / int64(time.Second)
	transit := arrival - int64(ts)
	if r.haveT {
		d := transit - r.transit
		// Timestamps wrap at 2^32; a difference beyond half of that is the wrap.
		if d > math.MaxUint32/2 {
			d -= math.MaxUint32 + 1
		} else if d < -math.MaxUint32/2 {
			d += math.MaxUint32 + 1
		}
		if d < 0 {
			d = -d
		}
		r.jit += (float64(d) - r.jit) / 16
	}
	r.transit = transit
	r.haveT = true
}

func (r *rxState) jitterDur() time.Duration {
	return time.Duration(r.jit * float64(time.Second) / clockRate)
}

// seqTracker counts received, expected and lost packets (RFC 3550 A.1, A.3).
type seqTracker struct {
	init      bool
	maxSeq    uint16
	cycles    uint32
	baseSeq   uint32
	badSeq    uint32
	received  uint64
	bursts    uint64 // gaps seen (loss bursts)
	expPrior  uint64
	recvPrior uint64
	lostPrior int64
	reordered uint64
}

const (
	maxDropout    = 3000
	maxMisorder   = 100
	rtpSeqMod     = 1 << 16
	noBadSequence = rtpSeqMod + 1
)

func (t *seqTracker) start(seq uint16) {
	*t = seqTracker{init: true, maxSeq: seq, baseSeq: uint32(seq), badSeq: noBadSequence, received: 1}
}

func (t *seqTracker) update(seq uint16) {
	delta := seq - t.maxSeq
	switch {
	case delta == 0:
		t.received++ // a duplicate; RFC 3550 counts it (lost may go negative)
	case delta < maxDropout:
		if seq < t.maxSeq {
			t.cycles += rtpSeqMod
		}
		if delta > 1 {
			t.bursts++
		}
		t.maxSeq = seq
		t.received++
	case delta <= rtpSeqMod-maxMisorder:
		// A very large jump: restart after two sequential packets (the peer restarted).
		if uint32(seq) == t.badSeq {
			t.start(seq)
			return
		}
		t.badSeq = uint32(seq+1) & (rtpSeqMod - 1)
	default:
		t.reordered++ // late or reordered
		t.received++
	}
}

func (t *seqTracker) extendedMax() uint32 { return t.cycles + uint32(t.maxSeq) }

func (t *seqTracker) expected() uint64 {
	if !t.init {
		return 0
	}
	return uint64(t.extendedMax()-t.baseSeq) + 1
}

func (t *seqTracker) lost() int64 { return int64(t.expected()) - int64(t.received) }

// intervalLoss returns the fraction lost since the last call (RFC 3550 A.3), for RTCP.
func (t *seqTracker) intervalLoss() (fraction uint8) {
	exp := t.expected()
	expInt := exp - t.expPrior
	recvInt := t.received - t.recvPrior
	t.expPrior, t.recvPrior = exp, t.received
	if expInt == 0 || recvInt >= expInt {
		return 0
	}
	return uint8(((expInt - recvInt) << 8) / expInt)
}

// sat16 saturates a sum to the int16 range.
func sat16(v int32) int16 {
	if v > math.MaxInt16 {
		return math.MaxInt16
	}
	if v < math.MinInt16 {
		return math.MinInt16
	}
	return int16(v)
}
