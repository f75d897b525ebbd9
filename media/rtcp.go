package media

import (
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/pion/rtcp"
)

// ntpEpochOffset is the seconds from 1900 (NTP) to 1970 (Unix), RFC 3550 §4.
const ntpEpochOffset = 2208988800

func ntpTime(t time.Time) uint64 {
	secs := uint64(t.Unix()) + ntpEpochOffset
	frac := uint64(t.Nanosecond()) << 32 / uint64(time.Second)
	return secs<<32 | frac
}

// sendRTCP sends a compound report (RFC 3550 §6.1): SR when this session sent RTP since the
// last report, else RR, with a reception report of the peer's stream, and SDES CNAME. RTCP
// is sent every few seconds, so its allocation (pion's marshaller) is off the per-packet path.
func (s *Session) sendRTCP(now int64) {
	dst := s.n.RemoteRTCP
	if s.cfg.Symmetric && s.latched.IsValid() {
		dst = netip.AddrPortFrom(s.latched.Addr(), s.latched.Port()+1)
		if lr := s.lastRTCPFrom(); lr.IsValid() {
			dst = lr
		}
	}
	if !dst.IsValid() || dst.Addr().IsUnspecified() {
		return
	}
	var reports []rtcp.ReceptionReport
	if s.rx.seq.init {
		lost := s.rx.seq.lost()
		lost = min(max(lost, -(1<<23)), 1<<23-1)
		lsr, lsrAt := s.lastSR()
		var dlsr uint32
		if lsrAt > 0 {
			dlsr = uint32(time.Duration(now-lsrAt) * 65536 / time.Second)
		}
		reports = append(reports, rtcp.ReceptionReport{
			SSRC:               s.rx.ssrc,
			FractionLost:       s.rx.seq.intervalLoss(),
			TotalLost:          uint32(lost) & 0xffffff,
			LastSequenceNumber: s.rx.seq.extendedMax(),
			Jitter:             uint32(s.rx.jit),
			LastSenderReport:   lsr,
			Delay:              dlsr,
		})
	}
	var first rtcp.Packet
	sent := s.st.c.packetsSent.Load()
	if sent > 0 {
		first = &rtcp.SenderReport{
			SSRC:        s.ssrc,
			NTPTime:     ntpTime(time.Now()),
			RTPTime:     s.tx.ts,
			PacketCount: uint32(sent),
			OctetCount:  uint32(s.st.c.bytesSent.Load() - sent*rtpHeaderLen),
			Reports:     reports,
		}
	} else {
		first = &rtcp.ReceiverReport{SSRC: s.ssrc, Reports: reports}
	}
	b, err := rtcp.Marshal([]rtcp.Packet{first, rtcp.NewCNAMESourceDescription(s.ssrc, s.cname())})
	if err != nil {
		return
	}
	if _, err := s.rtcp.WriteToUDPAddrPort(b, dst); err == nil {
		s.st.rtcpSent.Add(1)
	}
}

func (s *Session) cname() string { return "spa900@" + s.local.Addr().String() }

// rtcpState is what the RTCP reader learned, for the next report and round-trip delay.
type rtcpState struct {
	lsr   uint32 // middle 32 bits of the last SR's NTP time
	lsrAt int64
	from  netip.AddrPort
}

func (s *Session) lastSR() (uint32, int64) {
	s.rtcpMu.Lock()
	defer s.rtcpMu.Unlock()
	return s.rtcpSt.lsr, s.rtcpSt.lsrAt
}

func (s *Session) lastRTCPFrom() netip.AddrPort {
	s.rtcpMu.Lock()
	defer s.rtcpMu.Unlock()
	return s.rtcpSt.from
}

// readRTCP is the session's RTCP reader.
func (s *Session) readRTCP() {
	defer s.e.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, from, err := s.rtcp.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		s.handleRTCP(buf[:n], from, s.e.now(), time.Now())
	}
}

// handleRTCP takes one compound RTCP packet (RFC 3550 §6.4): the peer's SR (for LSR/DLSR)
// and the reception reports about this session's stream (round-trip delay, the peer's loss
// and jitter).
func (s *Session) handleRTCP(b []byte, from netip.AddrPort, now int64, wall time.Time) {
	pkts, err := rtcp.Unmarshal(b)
	if err != nil {
		s.st.packetErrors.Add(1)
		return
	}
	s.st.rtcpRecv.Add(1)
	s.rtcpMu.Lock()
	s.rtcpSt.from = from
	s.rtcpMu.Unlock()
	for _, p := range pkts {
		var reports []rtcp.ReceptionReport
		switch p := p.(type) {
		case *rtcp.SenderReport:
			s.rtcpMu.Lock()
			s.rtcpSt.lsr = uint32(p.NTPTime >> 16)
			s.rtcpSt.lsrAt = now
			s.rtcpMu.Unlock()
			reports = p.Reports
		case *rtcp.ReceiverReport:
			reports = p.Reports
		}
		for _, r := range reports {
			if r.SSRC != s.ssrc {
				continue
			}
			lost := int64(r.TotalLost)
			if lost&0x800000 != 0 {
				lost -= 1 << 24
			}
			s.st.remoteLost.Store(lost)
			s.st.remoteFraction.Store(uint32(r.FractionLost))
			s.st.remoteJitter.Store(int64(time.Duration(r.Jitter) * time.Second / clockRate))
			if r.LastSenderReport != 0 {
				// RFC 3550 §6.4.1: RTT = A − LSR − DLSR in 1/65536 s.
				a := uint32(ntpTime(wall) >> 16)
				rtt := int64(int32(a - r.LastSenderReport - r.Delay))
				if rtt >= 0 {
					s.st.rtt.Store(rtt * int64(time.Second) / 65536)
				}
			}
		}
	}
}
