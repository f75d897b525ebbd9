package media

// Loopback is the session's media loopback (SPA-BEHAVIOUR §8.6: Media_Loopback_Mode mirror
// with Media_Loopback_Type media or packet; RFC 6849's rtp-media-loopback and
// rtp-pkt-loopback).
type Loopback uint8

// The loopback modes.
const (
	// LoopbackOff: the session sends its source.
	LoopbackOff Loopback = iota
	// LoopbackMedia mirrors the received audio after the jitter buffer (decoded and
	// re-encoded, with the session's own timing): what a far end hears is what it sent.
	LoopbackMedia
	// LoopbackPacket mirrors every received audio packet's payload at once, byte for byte,
	// in the session's own RTP stream (no jitter buffer): a test of the network path alone.
	LoopbackPacket
)

// String returns "off", "media" or "packet".
func (l Loopback) String() string {
	switch l {
	case LoopbackMedia:
		return "media"
	case LoopbackPacket:
		return "packet"
	default:
		return "off"
	}
}

// rfc6849 is the SDP loopback-type value.
func (l Loopback) rfc6849() string {
	if l == LoopbackPacket {
		return "rtp-pkt-loopback"
	}
	return "rtp-media-loopback"
}

// SetLoopback sets the session's media loopback. The source side of a loopback (the phone
// that asked for it, Media_Loopback_Mode source) needs nothing special: it plays a source
// and analyses what comes back.
func (s *Session) SetLoopback(l Loopback) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loop = l
	s.echo = l == LoopbackMedia
	if l != LoopbackOff {
		name := "loopback " + l.String()
		s.st.tone.Store(&name)
	} else if s.src == nil {
		s.st.tone.Store(nil)
	}
}

// Loopback returns the session's loopback mode (Info Media_Loopback).
func (s *Session) Loopback() Loopback {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loop
}

// reflect sends a received payload straight back (LoopbackPacket).
func (s *Session) reflect(pt uint8, payload []byte, now int64) {
	if !s.n.Direction.Sends() || len(payload) > len(s.tx.buf)-rtpHeaderLen {
		return
	}
	buf := s.tx.buf[:]
	hl := s.header(pt, s.tx.ts, s.tx.marker, buf)
	n := copy(buf[hl:], payload)
	s.tx.marker = false
	s.tx.ts += uint32(n)
	if dst, ok := s.dest(); ok {
		s.write(buf[:hl+n], dst)
	}
}
