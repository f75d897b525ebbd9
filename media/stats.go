package media

import (
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"time"
)

// sessionStats are a session's counters, written by the pacer and the readers, read by
// [Session.Stats] without locks.
type sessionStats struct {
	c                        counters
	lost                     atomic.Int64
	packetErrors, sendErrors atomic.Uint64
	overruns, stalls         atomic.Uint64
	concealed, duplicates    atomic.Uint64
	late                     atomic.Uint64
	lostEarlier              atomic.Uint64 // the packets lost of the sources before this one
	jitter, decodeLatency    atomic.Int64  // ns
	rtt                      atomic.Int64  // ns; 0 unknown
	encoder, decoder         atomic.Uint32
	startedAt, closedAt      atomic.Int64
	lastRecvAt               atomic.Int64
	tone                     atomic.Pointer[string]
	bursts                   atomic.Uint64
	remoteLost               atomic.Int64
	remoteFraction           atomic.Uint32
	remoteJitter             atomic.Int64 // ns
	rtcpSent, rtcpRecv       atomic.Uint64
	rx, tx                   audioStats
	oneWay                   atomic.Bool
	dtmfDigits               atomic.Pointer[string]
}

// storeChanged stores v in a when it differs from what a holds, for the statistics the pacer
// alone writes, each packet, with values that seldom change (the decoder, the losses, the
// jitter buffer's delay): on amd64 an atomic load is a plain read, a store a full fence
// (XCHG) that waits for every earlier write and cache miss of the tick.
func storeChanged(a *atomic.Int64, v int64) {
	if a.Load() != v {
		a.Store(v)
	}
}

// storeChangedU is storeChanged for an atomic.Uint64.
func storeChangedU(a *atomic.Uint64, v uint64) {
	if a.Load() != v {
		a.Store(v)
	}
}

// audioStats is one direction's analysis, published by the pacer.
type audioStats struct {
	level  atomic.Uint64 // float64 bits, dBFS
	freq   atomic.Uint64 // float64 bits, Hz
	silent atomic.Bool
	state  atomic.Uint32 // AudioState
}

// AudioState is what one direction carries.
type AudioState uint8

// The audio states. AudioNone: no packets (received) or nothing sent.
const (
	AudioNone AudioState = iota
	AudioSilence
	AudioPresent
)

// String returns "none", "silence" or "audio".
func (a AudioState) String() string {
	switch a {
	case AudioSilence:
		return "silence"
	case AudioPresent:
		return "audio"
	default:
		return "none"
	}
}

// Audio is one direction's audio as the analysis last measured it.
type Audio struct {
	State AudioState
	// LevelDBFS is the RMS level over the last 100 ms (−120 for digital silence).
	LevelDBFS float64
	// FreqHz is the dominant frequency while not silent (0 when silent).
	FreqHz float64
	Silent bool
}

// Stats is a snapshot of one session's statistics (Info Line n Call m Status fields,
// SPA-BEHAVIOUR §9) and its audio analysis.
type Stats struct {
	PacketsSent, PacketsRecv uint64
	BytesSent, BytesRecv     uint64 // RTP header and payload
	// PacketsLost is RFC 3550's cumulative number lost (expected − received; duplicates may
	// make it negative).
	PacketsLost int64
	// PacketError counts received datagrams that were not RTP of a negotiated payload type.
	PacketError uint64
	// Jitter is RFC 3550's interarrival jitter of the received stream.
	Jitter time.Duration
	// RoundTripDelay is from RTCP (RFC 3550 §6.4.1 LSR/DLSR); 0 until a report came back.
	RoundTripDelay time.Duration
	// DecodeLatency is the jitter buffer's current delay.
	DecodeLatency time.Duration
	Encoder       Codec
	Decoder       Codec
	// LocalPort is the session's RTP port (Info Mapped_RTP_Port).
	LocalPort uint16
	// Tone is the name of the tone or file being played ("" for none).
	Tone string
	// Concealed counts samples played as silence because their packet was lost or late;
	// Duplicates counts packets received twice; Overruns datagrams dropped because the
	// engine fell behind; Stalls times the pacer fell more than ten packets behind.
	Concealed, Duplicates, Overruns, Stalls uint64
	// Late counts packets that arrived but were dropped by the jitter buffer unplayed: their
	// playout time had passed (a sender or a network that fell behind by more than the
	// buffer's delay), or playout fell more than the buffer's second behind what arrived
	// (this phone's pacer stalled) and started over at the newest, or the far end switched
	// to a new source (SSRC) before the old one's last packets played. Not lost on the network
	// (they are in PacketsRecv, not PacketsLost), yet never played.
	Late uint64
	// LostAllSources is the packets lost of every source the session received from, where
	// PacketsLost (RFC 3550) is the current source's: the far end may change its SSRC
	// within a call (a capture replayed after another, a re-INVITE to another media server).
	LostAllSources uint64
	// RemoteLost, RemoteFraction and RemoteJitter are the peer's view of this session's
	// stream, from its RTCP receiver reports.
	RemoteLost     int64
	RemoteFraction float64
	RemoteJitter   time.Duration
	RTCPSent       uint64
	RTCPRecv       uint64
	// Rx is what arrived (after the jitter buffer), Tx what was sent.
	Rx, Tx Audio
	// OneWay says the session has sent audio for a while and received none (no packets, or
	// packets of silence): one-way audio.
	OneWay bool
	// RFactor and MOS estimate the received stream's quality (ITU-T G.107 E-model,
	// simplified: G.711 with packet loss concealment, delay from RTT, jitter buffer and
	// packetisation).
	RFactor, MOS float64
	// Duration is how long the session has run since Start (until Close).
	Duration time.Duration
	// DTMF is the digits received so far (RFC 4733 and in-band), at most the last 64.
	DTMF string
}

// Stats returns the session's statistics; it takes no lock.
func (s *Session) Stats() Stats {
	st := &s.st
	out := Stats{
		PacketsSent:    st.c.packetsSent.Load(),
		PacketsRecv:    st.c.packetsRecv.Load(),
		BytesSent:      st.c.bytesSent.Load(),
		BytesRecv:      st.c.bytesRecv.Load(),
		PacketsLost:    st.lost.Load(),
		PacketError:    st.packetErrors.Load(),
		Jitter:         time.Duration(st.jitter.Load()),
		RoundTripDelay: time.Duration(st.rtt.Load()),
		DecodeLatency:  time.Duration(st.decodeLatency.Load()),
		Encoder:        Codec(st.encoder.Load()),
		Decoder:        Codec(st.decoder.Load()),
		LocalPort:      s.local.Port(),
		Concealed:      st.concealed.Load(),
		Duplicates:     st.duplicates.Load(),
		Overruns:       st.overruns.Load(),
		Stalls:         st.stalls.Load(),
		Late:           st.late.Load(),
		LostAllSources: st.lostEarlier.Load() + uint64(max(st.lost.Load(), 0)),
		RemoteLost:     st.remoteLost.Load(),
		RemoteFraction: float64(st.remoteFraction.Load()) / 256,
		RemoteJitter:   time.Duration(st.remoteJitter.Load()),
		RTCPSent:       st.rtcpSent.Load(),
		RTCPRecv:       st.rtcpRecv.Load(),
		Rx:             st.rx.load(),
		Tx:             st.tx.load(),
		OneWay:         st.oneWay.Load(),
	}
	if t := st.tone.Load(); t != nil {
		out.Tone = *t
	}
	if d := st.dtmfDigits.Load(); d != nil {
		out.DTMF = *d
	}
	if start := st.startedAt.Load(); start > 0 {
		end := st.closedAt.Load()
		if end == 0 {
			end = s.e.now()
		}
		out.Duration = time.Duration(end - start)
	}
	expected := out.PacketsRecv + uint64(max(out.PacketsLost, 0))
	out.RFactor = rFactor(expected, out.PacketsLost, st.bursts.Load(), out.RoundTripDelay/2+out.DecodeLatency+20*time.Millisecond)
	out.MOS = mos(out.RFactor)
	return out
}

func (a *audioStats) load() Audio {
	return Audio{
		State:     AudioState(a.state.Load()),
		LevelDBFS: math.Float64frombits(a.level.Load()),
		FreqHz:    math.Float64frombits(a.freq.Load()),
		Silent:    a.silent.Load(),
	}
}

// rFactor is the ITU-T G.107 (06/2015) E-model reduced to what a receiver measures: the
// default R0 − Is = 93.2, the delay impairment Id of §7.3 for a one-way delay d (echo terms
// at their defaults folded in: Id ≈ 0.024·d + 0.11·(d − 177.3)·H(d − 177.3), the common
// simplification), and Ie,eff of §7.5 for G.711 (Ie = 0, Bpl = 25.1 with packet loss
// concealment, G.113 Appendix I) with burst ratio from the observed mean burst length.
func rFactor(expected uint64, lost int64, bursts uint64, delay time.Duration) float64 {
	d := float64(delay) / float64(time.Millisecond)
	id := 0.024 * d
	if d > 177.3 {
		id += 0.11 * (d - 177.3)
	}
	ppl := 0.0
	burstR := 1.0
	if expected > 0 && lost > 0 {
		p := float64(lost) / float64(expected)
		ppl = 100 * p
		if bursts > 0 && p < 1 {
			meanBurst := float64(lost) / float64(bursts)
			// BurstR = observed mean burst length / the mean under random loss, 1/(1−p).
			burstR = max(1, meanBurst*(1-p))
		}
	}
	const ie, bpl = 0.0, 25.1
	ieEff := ie + (95-ie)*ppl/(ppl/burstR+bpl)
	return math.Max(0, math.Min(93.2, 93.2-id-ieEff))
}

// mos maps R to the mean opinion score (G.107 Annex B, B.4).
func mos(r float64) float64 {
	switch {
	case r <= 0:
		return 1
	case r >= 100:
		return 4.5
	default:
		return 1 + 0.035*r + r*(r-60)*(100-r)*7e-6
	}
}

// PRTPStat formats the statistics as the value of the P-RTP-Stat header the device adds to
// BYE and its 200 when Stats_In_BYE is Yes: packets and octets sent and received, packets
// lost, jitter and latency in milliseconds, duration in seconds, and the codecs.
func (st Stats) PRTPStat() string {
	var b strings.Builder
	fmt.Fprintf(&b, "PS=%d,OS=%d,PR=%d,OR=%d,PL=%d,JI=%d,LA=%d,DU=%d",
		st.PacketsSent, st.BytesSent, st.PacketsRecv, st.BytesRecv, max(st.PacketsLost, 0),
		st.Jitter.Milliseconds(), (st.RoundTripDelay/2 + st.DecodeLatency).Milliseconds(),
		int64(st.Duration.Seconds()))
	if st.Encoder != CodecUnknown {
		fmt.Fprintf(&b, ",EN=%s", st.Encoder.DeviceName())
	}
	if st.Decoder != CodecUnknown {
		fmt.Fprintf(&b, ",DE=%s", st.Decoder.DeviceName())
	}
	return b.String()
}
