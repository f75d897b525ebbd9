package media

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/spa900/spa900/internal/testlog"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// testEngine starts an engine on 127.0.0.1 with a random port range of 200 ports (other
// programs' ports in it are skipped) and an event recorder.
func testEngine(t *testing.T, sc SessionConfig) (*Engine, *events) {
	t.Helper()
	evs := &events{ch: make(chan Event, 4096)}
	base := uint16(20000 + 2*rand.IntN(19000))
	e, err := NewEngine(EngineConfig{
		IP: loopback, PortMin: base, PortMax: base + 199, Session: sc,
		Logger: testlog.New(t), OnEvent: evs.add, Seed: uint64(base),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, evs
}

// events records an engine's events for a test to wait on.
type events struct {
	mu  sync.Mutex
	all []Event
	ch  chan Event
}

func (e *events) add(ev Event) {
	e.mu.Lock()
	e.all = append(e.all, ev)
	e.mu.Unlock()
	select {
	case e.ch <- ev:
	default:
	}
}

// wait returns the first event (from now on) that ok accepts, or fails at the deadline.
func (e *events) wait(t *testing.T, d time.Duration, what string, ok func(Event) bool) Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	for {
		select {
		case ev := <-e.ch:
			if ok(ev) {
				return ev
			}
		case <-ctx.Done():
			t.Fatalf("no %s within %v", what, d)
			return Event{}
		}
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// pair opens one session on each engine and starts them towards each other.
func pair(t *testing.T, ea, eb *Engine, n Negotiated) (*Session, *Session) {
	t.Helper()
	a, err := ea.Open()
	if err != nil {
		t.Fatal(err)
	}
	b, err := eb.Open()
	if err != nil {
		t.Fatal(err)
	}
	na, nb := n, n
	na.Remote, na.RemoteRTCP = b.LocalAddr(), netip.AddrPortFrom(loopback, b.LocalAddr().Port()+1)
	nb.Remote, nb.RemoteRTCP = a.LocalAddr(), netip.AddrPortFrom(loopback, a.LocalAddr().Port()+1)
	if err := a.Start(na); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(nb); err != nil {
		t.Fatal(err)
	}
	return a, b
}

var pcmu20 = Negotiated{Codec: CodecPCMU, PayloadType: 0, DTMFPayload: 101, PacketTime: 20 * time.Millisecond}

func TestPortsFromTheRangeSkippingBusyOnes(t *testing.T) {
	// Other programs on the machine take ports too: an attempt whose range another socket
	// entered (seen by binding the port after a failure) is repeated on another range.
	for attempt := 0; attempt < 20; attempt++ {
		if portsFromTheRange(t, uint16(20000+2*rand.IntN(6000))) {
			return
		}
	}
	t.Fatal("20 port ranges in a row taken by other programs during the test")
}

// portsFromTheRange runs the test on base..base+5; false when a port of it was not free.
func portsFromTheRange(t *testing.T, base uint16) bool {
	t.Helper()
	// The test holds every port of the range at first (a port it cannot bind is someone
	// else's: another range); then frees all but the first pair's RTCP port, which another
	// program holds for the engine.
	var held []*net.UDPConn
	for p := base; p <= base+5; p++ {
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, p)))
		if err != nil {
			for _, c := range held {
				c.Close()
			}
			return false
		}
		held = append(held, c)
	}
	busy := held[1]
	defer busy.Close()
	for i, c := range held {
		if i != 1 {
			c.Close()
		}
	}
	foreign := func() bool { // a port of the range other than busy's is not free
		for p := base; p <= base+5; p++ {
			if p == base+1 {
				continue
			}
			c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, p)))
			if err != nil {
				return true
			}
			c.Close()
		}
		return false
	}
	e, err := NewEngine(EngineConfig{IP: loopback, PortMin: base, PortMax: base + 5, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	got := map[uint16]bool{}
	for i := 0; i < 2; i++ {
		s, err := e.Open()
		if err != nil {
			for s := range e.sessions {
				s.Close()
			}
			if errors.Is(err, ErrNoPort) && foreign() {
				return false
			}
			t.Fatalf("Open %d: %v", i, err)
		}
		p := s.LocalAddr().Port()
		if p%2 != 0 || p < base || p+1 > base+5 || p == base || got[p] {
			t.Errorf("session %d got port %d, want an even free port of %d-%d (not %d, whose RTCP port is taken)", i, p, base, base+5, base)
		}
		got[p] = true
	}
	if _, err := e.Open(); !errors.Is(err, ErrNoPort) {
		t.Errorf("third Open: %v, want ErrNoPort (the range has two free pairs)", err)
	}
	for s := range e.sessions {
		s.Close()
	}
	if _, err := e.Open(); err != nil {
		t.Errorf("Open after closing: %v (ports must be reusable)", err)
	}
	return true
}

// TestRTPOnTheWire reads what a session sends with a plain socket: payload type, sequence
// numbers and timestamps that advance by one and by the packet's samples, one SSRC, the
// marker bit on the first packet only, 20 ms of PCMA per packet, paced at 20 ms.
func TestRTPOnTheWire(t *testing.T) {
	e, _ := testEngine(t, SessionConfig{})
	far, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer far.Close()
	s, err := e.Open()
	if err != nil {
		t.Fatal(err)
	}
	s.Play(NewTestTone(1000, -10), "test")
	n := Negotiated{Remote: far.LocalAddr().(*net.UDPAddr).AddrPort(), Codec: CodecPCMA, PayloadType: 8, PacketTime: 20 * time.Millisecond}
	// The clock starts before the session does: the first packet leaves at Start, the last
	// 24 packet times later at the earliest (a pacer that fell behind catches up to its
	// deadlines, never ahead of them, and a slot early at most), however late this
	// goroutine reads them.
	first := time.Now()
	if err := s.Start(n); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	var prev rtp.Packet
	const count = 25
	for i := 0; i < count; i++ {
		far.SetReadDeadline(time.Now().Add(2 * time.Second))
		k, from, err := far.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if from != s.LocalAddr() {
			t.Errorf("packet from %v, want the session's port %v (symmetric sending)", from, s.LocalAddr())
		}
		var p rtp.Packet
		if err := p.Unmarshal(buf[:k]); err != nil {
			t.Fatal(err)
		}
		if p.Version != 2 || p.PayloadType != 8 || len(p.Payload) != 160 || p.SSRC != s.SSRC() {
			t.Fatalf("packet %d: v%d pt %d payload %d ssrc %x", i, p.Version, p.PayloadType, len(p.Payload), p.SSRC)
		}
		if p.Marker != (i == 0) {
			t.Errorf("packet %d marker = %v", i, p.Marker)
		}
		if i > 0 && (p.SequenceNumber != prev.SequenceNumber+1 || p.Timestamp != prev.Timestamp+160) {
			t.Errorf("packet %d: seq %d ts %d after seq %d ts %d", i, p.SequenceNumber, p.Timestamp, prev.SequenceNumber, prev.Timestamp)
		}
		prev = p
	}
	// 24 intervals of 20 ms, less a slot; the upper bound is generous for a loaded machine.
	if el := time.Since(first); el < 24*20*time.Millisecond-time.Duration(slot) || el > 3*time.Second {
		t.Errorf("%d packets took %v, want about 480 ms", count, el)
	}
	pcm := Decode(CodecPCMA, prev.Payload)
	var a analyzer
	a.init(-55)
	for k := 0; k < 8; k++ {
		a.feed(pcm, 0, true)
	}
	if math.Abs(a.level-(-13)) > 1.5 {
		t.Errorf("level of a -10 dBFS sine decoded = %.1f dBFS (RMS of a sine is 3 dB under its peak level)", a.level)
	}
}

func TestTwoSessionsToneAndStats(t *testing.T) {
	// A deep jitter buffer that only grows: on a loaded machine (-race, other tests) the
	// pacers run late, and the level assertion must not measure concealment.
	sc := SessionConfig{Analyze: true, RTCPInterval: 200 * time.Millisecond, Jitter: JitterConfig{Initial: 150 * time.Millisecond, Max: 400 * time.Millisecond, Adapt: JitterAdaptUp}}
	ea, _ := testEngine(t, sc)
	eb, evb := testEngine(t, sc)
	a, b := pair(t, ea, eb, pcmu20)
	a.Play(NewTestTone(1000, -12), "test tone")
	ev := evb.wait(t, 3*time.Second, "rx audio event at 1 kHz", func(ev Event) bool {
		return ev.Kind == EventAudio && ev.Session == b && ev.Flow == FlowRx && !ev.Audio.Silent
	})
	if math.Abs(ev.Audio.FreqHz-1000) > 8 || ev.Audio.LevelDBFS < -40 {
		t.Errorf("b heard %.1f Hz at %.1f dBFS, want 1000 Hz", ev.Audio.FreqHz, ev.Audio.LevelDBFS)
	}
	waitFor(t, 10*time.Second, "round-trip delay from RTCP", func() bool { return a.Stats().RoundTripDelay > 0 && b.Stats().RTCPRecv > 0 })
	// The level once a second of audio has played (the first event may come while the
	// jitter buffer still fills).
	waitFor(t, 10*time.Second, "a second of audio at b", func() bool { return b.Stats().PacketsRecv > 60 })
	as, bs := a.Stats(), b.Stats()
	if as.Tone != "test tone" || as.Encoder != CodecPCMU || bs.Decoder != CodecPCMU || bs.PacketsLost != 0 || bs.PacketError != 0 {
		t.Errorf("a %+v\nb %+v", as, bs)
	}
	if as.RoundTripDelay > 2*time.Second {
		t.Errorf("RTT on loopback = %v", as.RoundTripDelay)
	}
	if math.Abs(bs.Rx.LevelDBFS-(-15)) > 1.5 || math.Abs(bs.Rx.FreqHz-1000) > 8 {
		t.Errorf("b's rx level %.1f dBFS at %.1f Hz, want -15 dBFS at 1000 Hz: %+v", bs.Rx.LevelDBFS, bs.Rx.FreqHz, bs)
	}
	if bs.Rx.State != AudioPresent || as.Rx.State != AudioSilence {
		t.Errorf("b rx %v, a rx %v; want audio and silence\n%+v\n%+v", bs.Rx.State, as.Rx.State, bs, as)
	}
	if bs.RFactor <= 0 || bs.RFactor > 93.2 || math.Abs(bs.MOS-mos(bs.RFactor)) > 1e-9 {
		t.Errorf("R = %.1f, MOS %.2f: %+v", bs.RFactor, bs.MOS, bs)
	}
	if got := ea.Stats(); got.PacketsSent == 0 || got.PacketsSent != as.PacketsSent {
		t.Errorf("engine totals %+v, session sent %d", got, as.PacketsSent)
	}
	a.Close()
	a.Close()
	if s := a.Stats(); s.PacketsSent == 0 {
		t.Error("stats lost at Close")
	}
}

func TestHoldStopsSending(t *testing.T) {
	t.Parallel()
	ea, _ := testEngine(t, SessionConfig{})
	eb, _ := testEngine(t, SessionConfig{})
	a, b := pair(t, ea, eb, pcmu20)
	waitFor(t, 2*time.Second, "packets at b", func() bool { return b.Stats().PacketsRecv > 5 })
	n := a.Negotiated()
	n.Direction = DirRecvOnly
	if err := a.Update(n); err != nil {
		t.Fatal(err)
	}
	// Once Update returns the pacer sends nothing more from a; by the time a has received ten
	// more of b's packets, b has drained whatever was in flight.
	mark := a.Stats().PacketsRecv
	waitFor(t, 2*time.Second, "b's packets at a", func() bool { return a.Stats().PacketsRecv > mark+10 })
	before := b.Stats().PacketsRecv
	waitFor(t, 2*time.Second, "more of b's packets at a", func() bool { return a.Stats().PacketsRecv > mark+20 })
	if after := b.Stats().PacketsRecv; after != before {
		t.Errorf("b received %d packets while a held (recvonly)", after-before)
	}
	n.Direction = DirSendRecv
	a.Update(n)
	waitFor(t, 2*time.Second, "resume", func() bool { return b.Stats().PacketsRecv > before+5 })
}

func TestSymmetricRTPLatches(t *testing.T) {
	t.Parallel()
	e, _ := testEngine(t, SessionConfig{Symmetric: true})
	s, err := e.Open()
	if err != nil {
		t.Fatal(err)
	}
	nat, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer nat.Close()
	// The SDP names an address nobody listens on; the peer's packets come from nat.
	n := pcmu20
	n.Remote = netip.MustParseAddrPort("127.0.0.1:9")
	s.Start(n)
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 1, Timestamp: 160, SSRC: 7}, Payload: make([]byte, 160)}
	raw, _ := pkt.Marshal()
	nat.WriteToUDPAddrPort(raw, s.LocalAddr())
	nat.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 1500)
	if _, from, err := nat.ReadFromUDPAddrPort(buf); err != nil || from != s.LocalAddr() {
		t.Fatalf("no RTP back to the latched address: %v %v", from, err)
	}
}

func TestDTMFRFC4733BetweenSessions(t *testing.T) {
	t.Parallel()
	ea, eva := testEngine(t, SessionConfig{})
	eb, _ := testEngine(t, SessionConfig{DTMFDuration: 80 * time.Millisecond})
	_, b := pair(t, ea, eb, pcmu20)
	if err := b.SendDTMF("x", DTMFAuto); err == nil {
		t.Error("SendDTMF accepted x")
	}
	// b sends to a; record the raw packets a receives to check the wire format as well.
	a := firstSession(ea)
	if err := b.SendDTMF("159#", DTMFRFC4733); err != nil {
		t.Fatal(err)
	}
	var got []byte
	for len(got) < 4 {
		ev := eva.wait(t, 3*time.Second, "dtmf at a", func(Event) bool { return true })
		if ev.Kind == EventDTMF {
			if ev.Method != DTMFRFC4733 || ev.Duration < 80*time.Millisecond || ev.Duration > 100*time.Millisecond {
				t.Errorf("digit %c: method %v duration %v, want rfc4733 80 ms", ev.Digit, ev.Method, ev.Duration)
			}
			got = append(got, ev.Digit)
		}
	}
	if string(got) != "159#" || a.Stats().DTMF != "159#" {
		t.Errorf("a received %q (stats %q), want 159#", got, a.Stats().DTMF)
	}
}

// firstSession returns the engine's only session.
func firstSession(e *Engine) *Session {
	e.mu.Lock()
	defer e.mu.Unlock()
	for s := range e.sessions {
		return s
	}
	return nil
}

// TestRFC4733WireFormat checks the event packets themselves (RFC 4733 §2.5.1): one timestamp
// per event, the marker on the first packet, increasing durations at the packet time, three
// end packets with the final duration, the volume from the DTMF level.
func TestRFC4733WireFormat(t *testing.T) {
	e, _ := testEngine(t, SessionConfig{DTMFDuration: 100 * time.Millisecond, DTMFLevel: -10})
	far, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer far.Close()
	s, _ := e.Open()
	n := pcmu20
	n.Remote = far.LocalAddr().(*net.UDPAddr).AddrPort()
	s.Start(n)
	s.SendDTMF("7", DTMFRFC4733)
	buf := make([]byte, 1500)
	var evs []rtp.Packet
	var audioAfter *rtp.Packet
	for audioAfter == nil {
		far.SetReadDeadline(time.Now().Add(2 * time.Second))
		k, _, err := far.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatal(err)
		}
		var p rtp.Packet
		p.Unmarshal(append([]byte(nil), buf[:k]...))
		if p.PayloadType == 101 {
			evs = append(evs, p)
		} else if len(evs) > 0 {
			audioAfter = &p
		}
	}
	if len(evs) != 5+2 {
		t.Fatalf("%d event packets, want 5 (100 ms at 20 ms) + 2 more end packets", len(evs))
	}
	for i, p := range evs {
		end := p.Payload[1]&0x80 != 0
		dur := binary.BigEndian.Uint16(p.Payload[2:])
		wantDur := uint16(min(i+1, 5) * 160)
		if p.Payload[0] != 7 || p.Payload[1]&0x3f != 10 || p.Timestamp != evs[0].Timestamp || dur != wantDur || end != (i >= 4) || p.Marker != (i == 0) {
			t.Errorf("event packet %d: event %d vol %d ts %d dur %d end %v marker %v", i, p.Payload[0], p.Payload[1]&0x3f, p.Timestamp, dur, end, p.Marker)
		}
		if i > 0 && p.SequenceNumber != evs[i-1].SequenceNumber+1 {
			t.Errorf("event packet %d: sequence %d after %d", i, p.SequenceNumber, evs[i-1].SequenceNumber)
		}
	}
	if audioAfter.Timestamp != evs[0].Timestamp+7*160 {
		t.Errorf("audio after the event at ts %d, want %d (the media clock runs under the event)", audioAfter.Timestamp, evs[0].Timestamp+7*160)
	}
}

// TestDTMFInBandBetweenSessions: b sends the sixteen digits in-band, a's Goertzel detector
// reports each once, in order. Virtual time: b's frames run on the test's clock, each packet
// b sends is read from a socket of the test's and handed to a's receive and playout at the
// same time, so a loaded machine cannot cut a gap into a tone (which would split or hide a
// digit); the packets still cross the wire.
func TestDTMFInBandBetweenSessions(t *testing.T) {
	ea, eva := testEngine(t, SessionConfig{Analyze: true, Jitter: JitterConfig{Initial: 60 * time.Millisecond, Max: time.Second, Adapt: JitterAdaptNone}})
	eb, _ := testEngine(t, SessionConfig{DTMFDuration: 100 * time.Millisecond})
	a := manual(t, ea, pcmu20)
	b := manual(t, eb, pcmu20)
	sink, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	b.mu.Lock()
	b.n.Remote = sink.LocalAddr().(*net.UDPAddr).AddrPort()
	b.mu.Unlock()
	const digits = "0123456789*#ABCD"
	if err := b.SendDTMF(digits, DTMFInBand); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	dl, _ := t.Deadline()
	ptime := int64(pcmu20.PacketTime)
	for at := int64(time.Second); at < int64(time.Second)+int64(len(digits))*int64(time.Second)/2; at += ptime {
		b.mu.Lock()
		b.frame(at)
		b.mu.Unlock()
		if !dl.IsZero() {
			sink.SetReadDeadline(dl)
		}
		n, from, err := sink.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("b's packet at %v: %v", time.Duration(at), err)
		}
		a.mu.Lock()
		a.receive(buf[:n], from, at)
		a.frame(at)
		a.mu.Unlock()
	}
	var got []byte
	timeout := time.NewTimer(20 * time.Second)
	defer timeout.Stop()
	for len(got) < len(digits) {
		var ev Event
		select {
		case ev = <-eva.ch:
		case <-timeout.C:
			t.Fatalf("detected %q (receiver %+v)", got, a.Stats())
		}
		if ev.Kind != EventDTMF {
			continue
		}
		if ev.Method != DTMFInBand {
			t.Errorf("method %v", ev.Method)
		}
		got = append(got, ev.Digit)
	}
	if string(got) != digits {
		t.Errorf("detected %q (receiver %+v)", got, a.Stats())
	}
	if d := a.Stats().DTMF; d != digits {
		t.Errorf("the receiver's DTMF %q, want each digit once: %s", d, digits)
	}
}

func TestIgnoreAVT(t *testing.T) {
	t.Parallel()
	ea, _ := testEngine(t, SessionConfig{IgnoreAVT: true})
	eb, _ := testEngine(t, SessionConfig{})
	pair(t, ea, eb, pcmu20)
	firstSession(eb).SendDTMF("5", DTMFRFC4733)
	a := firstSession(ea)
	waitFor(t, 3*time.Second, "the event packets to pass", func() bool { return a.Stats().PacketsRecv > 20 })
	if d := a.Stats().DTMF; d != "" {
		t.Errorf("DTMF_Process_AVT=No still reported %q", d)
	}
}

// TestImpairmentSeenByTheFarEnd: what one session injects, the other's statistics report.
// Loss: exactly the packets the impairment dropped (loopback loses none), and the dropped
// fraction within 3 points of the configured 8%. Jitter: the far end's RFC 3550 jitter within
// 35% of the configured mean delay variation.
func TestImpairmentSeenByTheFarEnd(t *testing.T) {
	tests := []struct {
		name string
		imp  Impairment
	}{
		{name: "random loss", imp: Impairment{Loss: 0.08, Seed: 42}},
		{name: "bursty loss", imp: Impairment{Loss: 0.08, BurstLen: 3, Seed: 43}},
		{name: "jitter", imp: Impairment{Jitter: 15 * time.Millisecond, Seed: 44}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ea, _ := testEngine(t, SessionConfig{Impair: tt.imp})
			eb, _ := testEngine(t, SessionConfig{})
			n := pcmu20
			n.PacketTime = 10 * time.Millisecond
			a, b := pair(t, ea, eb, n)
			// A control stream without impairment, from ea to eb beside a's, measures the
			// machine's own jitter over the same time (the pacers of a loaded machine run
			// late), which adds to the injected one; it stops with a's.
			ctlTx, err := ea.OpenWith(SessionConfig{})
			if err != nil {
				t.Fatal(err)
			}
			ctl, err := eb.Open()
			if err != nil {
				t.Fatal(err)
			}
			nc := n
			nc.Remote = ctl.LocalAddr()
			if err := ctlTx.Start(nc); err != nil {
				t.Fatal(err)
			}
			nr := n
			nr.Remote, nr.Direction = ctlTx.LocalAddr(), DirRecvOnly
			if err := ctl.Start(nr); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 15*time.Second, "600 packets sent", func() bool { return a.Stats().PacketsSent+dropped(a) >= 600 })
			stop := func(s *Session) {
				sn := s.Negotiated()
				sn.Direction = DirRecvOnly
				if err := s.Update(sn); err != nil {
					t.Fatal(err)
				}
			}
			stop(a)
			stop(ctlTx)
			sent, ctlSent := a.Stats().PacketsSent, ctlTx.Stats().PacketsSent
			waitFor(t, 10*time.Second, "the control's last packets", func() bool { return ctl.Stats().PacketsRecv >= ctlSent })
			waitFor(t, 10*time.Second, "the last packets", func() bool { return b.Stats().PacketsRecv >= sent })
			d, _, _ := a.Injected()
			bs := b.Stats()
			total := float64(sent + d)
			if tt.imp.Loss > 0 {
				frac := float64(d) / total
				if math.Abs(frac-tt.imp.Loss) > 0.03 {
					t.Errorf("dropped %.3f of packets, configured %.3f", frac, tt.imp.Loss)
				}
				// Losses after the last received packet are invisible to RFC 3550 counting.
				if bs.PacketsLost > int64(d) || bs.PacketsLost < int64(d)-int64(tt.imp.BurstLen+8) {
					t.Errorf("far end counts %d lost, the impairment dropped %d", bs.PacketsLost, d)
				}
			}
			if tt.imp.Jitter > 0 {
				base := ctl.Stats().Jitter
				if d := (bs.Jitter - tt.imp.Jitter).Abs(); d > tt.imp.Jitter*35/100+2*base {
					t.Errorf("far end jitter %v, injected %v (the machine's own: %v)", bs.Jitter, tt.imp.Jitter, base)
				}
				if bs.DecodeLatency < tt.imp.Jitter {
					t.Errorf("jitter buffer delay %v under the injected jitter %v", bs.DecodeLatency, tt.imp.Jitter)
				}
			}
		})
	}
}

func dropped(s *Session) uint64 { d, _, _ := s.Injected(); return d }

// TestSharedScheduler: two engines (two phones of a fleet) on one scheduler: their sessions
// share its pacers, each engine's calls carry audio, closing one engine leaves the other's
// calls running, and a closed scheduler refuses new sessions.
func TestSharedScheduler(t *testing.T) {
	t.Parallel()
	sc, err := NewScheduler(2)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	engine := func() *Engine {
		base := uint16(20000 + 2*rand.IntN(19000))
		e, err := NewEngine(EngineConfig{IP: loopback, PortMin: base, PortMax: base + 199, Scheduler: sc,
			Session: SessionConfig{Analyze: true}, Logger: testlog.New(t), Seed: uint64(base)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		return e
	}
	ea, eb := engine(), engine()
	a1, b1 := pair(t, ea, eb, pcmu20)
	a2, b2 := pair(t, ea, eb, pcmu20)
	a1.Play(NewTestTone(600, -10), "600")
	a2.Play(NewTestTone(900, -10), "900")
	if st := sc.Stats(); st.Pacers != 2 || st.Sessions != 4 {
		t.Errorf("scheduler %+v, want 2 pacers and 4 sessions", st)
	}
	waitFor(t, 10*time.Second, "both calls carry their tones", func() bool { return near(rxFreq(b1), 600) && near(rxFreq(b2), 900) })
	if err := ea.Close(); err != nil {
		t.Fatal(err)
	}
	if st := sc.Stats(); st.Sessions != 2 {
		t.Errorf("after one engine closed: %d sessions on the scheduler, want 2", st.Sessions)
	}
	sent := b2.Stats().PacketsSent
	ec := engine()
	c, err := ec.Open()
	if err != nil {
		t.Fatal(err)
	}
	n := pcmu20
	n.Remote = b1.LocalAddr()
	if err := c.Start(n); err != nil { // c hears nothing back: b1 sends to the closed a1
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the other engine's sessions go on sending", func() bool { return b2.Stats().PacketsSent > sent+10 })
	waitFor(t, 10*time.Second, "a new engine's session sends on the shared pacers", func() bool { return c.Stats().PacketsSent > 10 })
	if ps := eb.Stats().Pacing; ps.Count == 0 || ps.Count > sc.Stats().Pacing.Count {
		t.Errorf("engine pacing %+v, scheduler %+v: the engine reports its scheduler's", ps, sc.Stats().Pacing)
	}
	// The receivers measured the intervals too (b1 and b2 hear a1 and a2), and the pacers
	// their wake-ups; each is a count of packets or slots, whatever the machine's timing.
	if st := sc.Stats(); st.Arrival.Count == 0 || st.Wake.Count == 0 || st.Realtime != 0 {
		t.Errorf("scheduler %+v: want arrival intervals and wake-ups measured, no real-time pacer", st)
	}
	// Every slot a pacer woke for is a slot whose work it began (Lag counts those it did not
	// sleep before too), and a slot cannot begin later than the longest backlog.
	if st := sc.Stats(); st.Lag.Count < st.Wake.Count || st.Lag.Max < st.Wake.Max || st.Lag.P99 > st.Lag.Max+pacingBucket {
		t.Errorf("scheduler lag %+v, wake %+v: want every slot woken for counted in the lag, within its maximum", st.Lag, st.Wake)
	}
	if err := sc.SetRealtimePriority(10); !errors.Is(err, ErrBadConfig) {
		t.Errorf("SetRealtimePriority after the pacers started: %v, want ErrBadConfig", err)
	}
	ec.Close()
	eb.Close()
	sc.Close()
	sc.Close()
	ed := engine()
	if _, err := ed.Open(); !errors.Is(err, ErrClosed) {
		t.Errorf("Open on a closed scheduler: %v, want ErrClosed", err)
	}
	if _, err := NewScheduler(-1); !errors.Is(err, ErrBadConfig) {
		t.Errorf("NewScheduler(-1): %v", err)
	}
	fresh, _ := NewScheduler(1)
	defer fresh.Close()
	for _, prio := range []int{-1, 100} {
		if err := fresh.SetRealtimePriority(prio); !errors.Is(err, ErrBadConfig) {
			t.Errorf("SetRealtimePriority(%d): %v, want ErrBadConfig", prio, err)
		}
	}
	if err := fresh.SetRealtimePriority(0); err != nil {
		t.Errorf("SetRealtimePriority(0): %v", err)
	}
}

// TestRTPAddressFamilies: an IPv4 session whose far end is an IPv6 address counts each packet
// as a send error (and sends nothing, and does not fail); an IPv6 session pair on ::1 carries
// RTP both ways (the sockaddr the raw send builds for each family).
func TestRTPAddressFamilies(t *testing.T) {
	e, _ := testEngine(t, SessionConfig{})
	s, err := e.Open()
	if err != nil {
		t.Fatal(err)
	}
	n := pcmu20
	n.Remote = netip.MustParseAddrPort("[2001:db8::1]:4000")
	if err := s.Start(n); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "send errors", func() bool { return s.st.sendErrors.Load() >= 3 })
	if sent := s.Stats().PacketsSent; sent != 0 {
		t.Errorf("%d packets sent to an IPv6 address from an IPv4 socket", sent)
	}

	probe, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Logf("no IPv6 loopback here (%v): the IPv6 half is not run", err)
		return
	}
	probe.Close()
	base := uint16(20000 + 2*rand.IntN(19000))
	e6, err := NewEngine(EngineConfig{IP: netip.IPv6Loopback(), PortMin: base, PortMax: base + 199, Logger: testlog.New(t), Seed: uint64(base)})
	if err != nil {
		t.Fatal(err)
	}
	defer e6.Close()
	a, b := pair(t, e6, e6, pcmu20)
	waitFor(t, 10*time.Second, "RTP both ways over IPv6", func() bool {
		return a.Stats().PacketsRecv >= 5 && b.Stats().PacketsRecv >= 5
	})
	if a.st.sendErrors.Load() != 0 || b.st.sendErrors.Load() != 0 {
		t.Errorf("send errors over IPv6: %d, %d", a.st.sendErrors.Load(), b.st.sendErrors.Load())
	}
}

// TestImpairedPacketLeavesWithItsSlot: the pacer runs a session up to a slot before a delayed
// packet is due; the packet then leaves, and the session's next deadline is its next frame
// (not the same packet's deadline again, which had the pacer run it over and over until the
// clock reached it).
func TestImpairedPacketLeavesWithItsSlot(t *testing.T) {
	e, _ := testEngine(t, SessionConfig{Impair: Impairment{Delay: 10 * time.Millisecond}})
	far, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer far.Close()
	n := pcmu20
	n.Remote = far.LocalAddr().(*net.UDPAddr).AddrPort()
	s := manual(t, e, n) // started, but not on the pacer's schedule: the test runs it
	s.mu.Lock()
	s.frameAt = s.e.now()
	first := s.frameAt
	s.mu.Unlock()
	next := s.tick(first) // the frame's packet goes into the delay line
	s.mu.Lock()
	at, ok := s.imp.nextAt()
	frameAt := s.frameAt
	s.mu.Unlock()
	if !ok || next != at {
		t.Fatalf("after the frame: next %d, delayed packet at %d (%v)", next, at, ok)
	}
	// The pacer runs it at the start of the packet's slot, before the packet is due.
	if next = s.tick(at); next == at || s.st.c.packetsSent.Load() != 1 {
		t.Fatalf("run early in its slot: next %d (the packet's %d), %d sent", next, at, s.st.c.packetsSent.Load())
	}
	if next != frameAt {
		t.Errorf("next deadline %d, want the next frame's %d", next, frameAt)
	}
}

// TestRealtimeScheduler: a scheduler asked for real-time pacers carries a call as any other;
// its pacers took the policy where the process may (Realtime is all of them or none).
func TestRealtimeScheduler(t *testing.T) {
	t.Parallel()
	sc, err := NewScheduler(1)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if err := sc.SetRealtimePriority(1); err != nil {
		t.Fatal(err)
	}
	base := uint16(20000 + 2*rand.IntN(19000))
	e, err := NewEngine(EngineConfig{IP: loopback, PortMin: base, PortMax: base + 99, Scheduler: sc,
		Session: SessionConfig{Analyze: true}, Logger: testlog.New(t), Seed: uint64(base)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	a, b := pair(t, e, e, pcmu20)
	a.Play(NewTestTone(700, -10), "700")
	waitFor(t, 10*time.Second, "the call carries its tone", func() bool { return near(rxFreq(b), 700) })
	if st := sc.Stats(); st.Realtime != 0 && st.Realtime != st.Pacers {
		t.Errorf("scheduler %+v: %d of %d pacers real-time", st, st.Realtime, st.Pacers)
	}
}

// TestPacerWaitModes: a pacer carries a call whichever way it waits for its slots: on a Go
// timer, in nanosleep on its thread (the default), or in nanosleep keeping its P (the
// benchmark's comparison, -media.wait=nanosleep-holdp).
func TestPacerWaitModes(t *testing.T) {
	t.Parallel()
	for _, mode := range []int{waitTimer, waitNanosleep, waitNanosleepHoldP} {
		sc, err := NewScheduler(1)
		if err != nil {
			t.Fatal(err)
		}
		sc.waitMode = mode
		base := uint16(20000 + 2*rand.IntN(19000))
		e, err := NewEngine(EngineConfig{IP: loopback, PortMin: base, PortMax: base + 99, Scheduler: sc,
			Session: SessionConfig{Analyze: true}, Logger: testlog.New(t), Seed: uint64(base)})
		if err != nil {
			t.Fatal(err)
		}
		a, b := pair(t, e, e, pcmu20)
		a.Play(NewTestTone(700, -10), "700")
		waitFor(t, 10*time.Second, "the call carries its tone", func() bool { return near(rxFreq(b), 700) })
		if st := sc.Stats(); st.Pacing.Count == 0 || st.Wake.Count == 0 {
			t.Errorf("wait mode %d: scheduler %+v, want packets paced and wake-ups measured", mode, st)
		}
		e.Close()
		sc.Close()
	}
}
