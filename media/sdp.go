package media

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pion/sdp/v3"
)

// SDPConfig is what the configuration says about offers and answers (SPA-BEHAVIOUR §8.2, §8.5).
// phone builds it from the catalogue; media never sees parameter names.
type SDPConfig struct {
	// Codecs are the codecs the phone offers and accepts, in preference order (Preferred,
	// Second, Third preferred codec), only codecs the engine has. Duplicates are ignored.
	Codecs []Codec
	// PreferredOnly offers and accepts only Codecs[0] (Use_Pref_Codec_Only_n_).
	PreferredOnly bool
	// ReleaseUnused makes an answer carry only the chosen codec (Release_Unused_Codec_n_);
	// otherwise the answer lists every common codec, the chosen one first.
	ReleaseUnused bool
	// DTMFPayload is the telephone-event payload type the phone offers (AVT_Dynamic_Payload,
	// RFC 4733 §7.1.1); 0 offers and accepts no telephone-event.
	DTMFPayload uint8
	// Names are the rtpmap encoding names per codec (G711u_Codec_Name, G711a_Codec_Name); a
	// missing or empty name is the RFC 3551 one (PCMU, PCMA). Received rtpmaps match either.
	Names map[Codec]string
	// DTMFName is the telephone-event rtpmap name (AVT_Codec_Name); "" is "telephone-event".
	DTMFName string
	// PacketTime is the packet duration the phone wants to receive, written as a=ptime
	// (RTP_Packet_Size, RFC 4566 §6); 0 writes none and sends at 20 ms unless the peer says.
	PacketTime time.Duration
	// HoldNullAddr writes c=0.0.0.0 when this side holds the call (RFC_2543_Call_Hold,
	// RFC 2543 §B.5); the direction attribute is sendonly either way (SPA-BEHAVIOUR §13.4).
	HoldNullAddr bool
	// AcceptLoopback makes an answer to an RFC 6849 loopback offer (a=loopback-source) the
	// mirror (Accept_Media_Loopback_Request automatic; phone asks the user first for manual,
	// and leaves this false for never: the offer is then answered as a normal call).
	AcceptLoopback bool
}

// Local is this side of one exchange: where RTP is received, the direction this side offers or
// answers (DirSendOnly or DirInactive to hold the call, §13.4), and the o= line. The SIP side
// keeps one Local per dialog and increments Version for every new offer or answer whose
// content changed (RFC 3264 §8); [Local.Next] does that.
type Local struct {
	Addr      netip.AddrPort
	Direction Direction
	SessionID uint64
	Version   uint64
	// LoopbackSource asks the far end to loop media back (RFC 6849 a=loopback-source, the
	// device's Media_Loopback_Code with Media_Loopback_Type); LoopbackOff for a normal call.
	LoopbackSource Loopback
	// LoopbackMirror offers LoopbackSource's loopback with this side as the mirror instead
	// (a=loopback-mirror: Media_Loopback_Mode mirror, RFC 6849 §5.2).
	LoopbackMirror bool
}

// Next returns l with the o= version incremented, for a re-offer (RFC 3264 §8).
func (l Local) Next() Local {
	l.Version++
	return l
}

// Negotiated is the outcome of one offer/answer exchange.
type Negotiated struct {
	// Remote is where to send RTP. An unspecified address (c=0.0.0.0, RFC 2543 hold) or an
	// invalid AddrPort means: send nothing.
	Remote netip.AddrPort
	// RemoteRTCP is where to send RTCP: the a=rtcp attribute (RFC 3605) or Remote's port + 1.
	RemoteRTCP netip.AddrPort
	// Codec is the codec both sides send with; PayloadType is its payload type in this session.
	Codec       Codec
	PayloadType uint8
	// DTMFPayload is the peer's telephone-event payload type (RFC 4733); 0 if none.
	DTMFPayload uint8
	// PacketTime is the packet duration to send: the peer's a=ptime, or the configured one.
	PacketTime time.Duration
	// Direction is what this side may do after the exchange.
	Direction Direction
	// RemoteHold says the far end holds this side: it offered sendonly or inactive, or
	// c=0.0.0.0 (it will not receive), or answered so to an offer in which this side wanted to
	// send (SPA-BEHAVIOUR §13.4, Info Remote_Hold). An answer of recvonly to this side's own
	// hold is not remote hold.
	RemoteHold bool
	// Loopback is the RFC 6849 loopback the exchange set up, LoopbackMirror saying this side
	// loops back (Session.SetLoopback(Loopback)) rather than being the source.
	Loopback       Loopback
	LoopbackMirror bool
}

// defaultPacketTime is RFC 3551 §4.5's default packetisation for G.711 when no ptime is given.
const defaultPacketTime = 20 * time.Millisecond

// teName is the RFC 4733 §7.1.1 encoding name.
const teName = "telephone-event"

// usable returns the configuration's codecs without unknowns and duplicates, first only if
// PreferredOnly.
func (cfg SDPConfig) usable() []Codec {
	var out []Codec
	for _, c := range cfg.Codecs {
		if _, ok := c.StaticPayloadType(); !ok || slices.Contains(out, c) {
			continue
		}
		out = append(out, c)
		if cfg.PreferredOnly {
			break
		}
	}
	return out
}

func (cfg SDPConfig) name(c Codec) string {
	if n := strings.TrimSpace(cfg.Names[c]); n != "" {
		return n
	}
	return c.rtpName()
}

func (cfg SDPConfig) dtmfName() string {
	if n := strings.TrimSpace(cfg.DTMFName); n != "" {
		return n
	}
	return teName
}

func (cfg SDPConfig) validate() error {
	if len(cfg.usable()) == 0 {
		return fmt.Errorf("%w: no codec the engine can encode", ErrBadConfig)
	}
	if pt := cfg.DTMFPayload; pt != 0 {
		if pt > 127 {
			return fmt.Errorf("%w: telephone-event payload type %d is not 0-127", ErrBadConfig, pt)
		}
		for _, c := range cfg.usable() {
			if spt, _ := c.StaticPayloadType(); spt == pt {
				return fmt.Errorf("%w: telephone-event payload type %d is %s's", ErrBadConfig, pt, c.DeviceName())
			}
		}
	}
	if cfg.PacketTime < 0 || cfg.PacketTime > time.Second {
		return fmt.Errorf("%w: packet time %v", ErrBadConfig, cfg.PacketTime)
	}
	return nil
}

// packetTime is the configured packet time or RFC 3551's 20 ms.
func (cfg SDPConfig) packetTime() time.Duration {
	if cfg.PacketTime <= 0 {
		return defaultPacketTime
	}
	return cfg.PacketTime
}

// Offer builds an SDP offer (RFC 3264 §5) for one audio stream: the usable codecs in preference
// order with their rtpmaps, telephone-event with events 0-15 when DTMFPayload is set, ptime,
// and l's direction. With HoldNullAddr and a hold direction (sendonly, inactive) the
// connection address is 0.0.0.0 (RFC 2543 hold, SPA-BEHAVIOUR §13.4).
func Offer(cfg SDPConfig, l Local) ([]byte, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if !l.Addr.IsValid() {
		return nil, fmt.Errorf("%w: no local RTP address", ErrBadConfig)
	}
	var fmts []format
	for _, c := range cfg.usable() {
		pt, _ := c.StaticPayloadType()
		fmts = append(fmts, format{pt: pt, name: cfg.name(c)})
	}
	if cfg.DTMFPayload != 0 {
		fmts = append(fmts, format{pt: cfg.DTMFPayload, name: cfg.dtmfName(), te: true})
	}
	return build(cfg, l, l.Direction, fmts, l.LoopbackSource, l.LoopbackMirror && l.LoopbackSource != LoopbackOff).Marshal()
}

// format is one payload type of an m= line as this side writes it.
type format struct {
	pt   uint8
	name string
	te   bool
}

// build writes the session description for one audio stream.
func build(cfg SDPConfig, l Local, dir Direction, fmts []format, lb Loopback, mirror bool) *sdp.SessionDescription {
	addr := l.Addr.Addr().Unmap().WithZone("")
	netAddr := addr
	if cfg.HoldNullAddr && !l.Direction.Receives() {
		if addr.Is4() {
			netAddr = netip.IPv4Unspecified()
		} else {
			netAddr = netip.IPv6Unspecified()
		}
	}
	addrType := "IP4"
	if addr.Is6() {
		addrType = "IP6"
	}
	m := &sdp.MediaDescription{
		MediaName: sdp.MediaName{
			Media:  "audio",
			Port:   sdp.RangedPort{Value: int(l.Addr.Port())},
			Protos: []string{"RTP", "AVP"},
		},
	}
	for _, f := range fmts {
		pt := strconv.Itoa(int(f.pt))
		m.MediaName.Formats = append(m.MediaName.Formats, pt)
		m.Attributes = append(m.Attributes, sdp.NewAttribute("rtpmap", pt+" "+f.name+"/8000"))
		if f.te {
			// RFC 4733 §7.1.1: the sixteen DTMF events.
			m.Attributes = append(m.Attributes, sdp.NewAttribute("fmtp", pt+" 0-15"))
		}
	}
	if cfg.PacketTime > 0 {
		m.Attributes = append(m.Attributes, sdp.NewAttribute("ptime", strconv.Itoa(int(cfg.PacketTime/time.Millisecond))))
	}
	m.Attributes = append(m.Attributes, sdp.NewPropertyAttribute(dir.String()))
	if lb != LoopbackOff {
		// RFC 6849 §5: the loopback type and this side's role.
		m.Attributes = append(m.Attributes, sdp.NewAttribute("loopback", lb.rfc6849()))
		role := "loopback-source"
		if mirror {
			role = "loopback-mirror"
		}
		m.Attributes = append(m.Attributes, sdp.NewPropertyAttribute(role))
	}
	sd := &sdp.SessionDescription{
		Origin: sdp.Origin{
			Username:       "-",
			SessionID:      l.SessionID,
			SessionVersion: l.Version,
			NetworkType:    "IN",
			AddressType:    addrType,
			UnicastAddress: addr.String(),
		},
		SessionName: "-",
		ConnectionInformation: &sdp.ConnectionInformation{
			NetworkType: "IN",
			AddressType: addrType,
			Address:     &sdp.Address{Address: netAddr.String()},
		},
		TimeDescriptions: []sdp.TimeDescription{{}},
	}
	return sd.WithMedia(m)
}

// remote is one audio stream of the other side's description.
type remote struct {
	index    int
	addr     netip.Addr
	port     uint16
	rtcp     netip.AddrPort
	formats  []uint8
	rtpmap   map[uint8]string // payload type → lowercase encoding name (clock 8000 only)
	otherClk map[uint8]bool   // payload types with an rtpmap at another clock rate
	ptime    time.Duration
	dir      Direction
	nullAddr bool
	// RFC 6849: the loopback type and role the stream asks for.
	loopType   Loopback
	loopSource Loopback // loopType when a=loopback-source is present
	loopMirror bool
}

// parse unmarshals an SDP body.
func parse(body []byte) (*sdp.SessionDescription, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, fmt.Errorf("%w: empty body", ErrBadSDP)
	}
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	return &sd, nil
}

// audioStreams returns every audio m= line of sd with a non-zero port and an RTP/AVP profile.
func audioStreams(sd *sdp.SessionDescription) ([]remote, error) {
	var out []remote
	sessDir := DirSendRecv
	for _, a := range sd.Attributes {
		if d, ok := parseDirection(a.Key); ok {
			sessDir = d
		}
	}
	for i, m := range sd.MediaDescriptions {
		if m.MediaName.Media != "audio" || m.MediaName.Port.Value == 0 || strings.Join(m.MediaName.Protos, "/") != "RTP/AVP" {
			continue
		}
		if m.MediaName.Port.Value < 0 || m.MediaName.Port.Value > 65535 {
			return nil, fmt.Errorf("%w: audio port %d", ErrBadSDP, m.MediaName.Port.Value)
		}
		ci := m.ConnectionInformation
		if ci == nil {
			ci = sd.ConnectionInformation
		}
		if ci == nil || ci.Address == nil {
			return nil, fmt.Errorf("%w: audio stream %d has no connection address", ErrBadSDP, i)
		}
		addr, err := netip.ParseAddr(ci.Address.Address)
		if err != nil || ci.NetworkType != "IN" {
			return nil, fmt.Errorf("%w: connection address %q is not an IP address", ErrBadSDP, ci.Address.Address)
		}
		r := remote{
			index:    i,
			addr:     addr.Unmap(),
			port:     uint16(m.MediaName.Port.Value),
			rtpmap:   map[uint8]string{},
			otherClk: map[uint8]bool{},
			dir:      sessDir,
			nullAddr: addr.IsUnspecified(),
		}
		for _, f := range m.MediaName.Formats {
			pt, err := strconv.ParseUint(f, 10, 8)
			if err != nil || pt > 127 {
				continue // RFC 3551 §6: payload types are 0-127; ignore others
			}
			r.formats = append(r.formats, uint8(pt))
		}
		for _, a := range m.Attributes {
			if d, ok := parseDirection(a.Key); ok {
				r.dir = d
				continue
			}
			switch a.Key {
			case "rtpmap":
				r.addRTPMap(a.Value)
			case "ptime":
				if ms, err := strconv.ParseFloat(strings.TrimSpace(a.Value), 64); err == nil && ms >= 1 && ms <= 1000 {
					// Round to the 10 ms grid G.711 phones use; 5 ms is the floor.
					d := time.Duration(ms * float64(time.Millisecond))
					r.ptime = max(5*time.Millisecond, d.Round(5*time.Millisecond))
				}
			case "rtcp":
				r.rtcp = parseRTCPAttr(a.Value, r.addr)
			case "loopback":
				r.loopType = parseLoopback(a.Value)
			case "loopback-source":
				r.loopSource = LoopbackMedia // the type is set below, once all attributes are read
			case "loopback-mirror":
				r.loopMirror = true
			}
		}
		if r.loopSource != LoopbackOff {
			r.loopSource = r.loopType
		}
		out = append(out, r)
	}
	return out, nil
}

// parseLoopback reads RFC 6849's loopback-type value.
func parseLoopback(v string) Loopback {
	switch strings.TrimSpace(v) {
	case "rtp-media-loopback":
		return LoopbackMedia
	case "rtp-pkt-loopback":
		return LoopbackPacket
	}
	return LoopbackOff
}

// addRTPMap records "pt name/rate[/channels]" (RFC 4566 §6).
func (r *remote) addRTPMap(v string) {
	ptStr, rest, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok {
		return
	}
	pt, err := strconv.ParseUint(ptStr, 10, 8)
	if err != nil || pt > 127 {
		return
	}
	parts := strings.Split(strings.TrimSpace(rest), "/")
	if len(parts) < 2 {
		return
	}
	if parts[1] != "8000" || (len(parts) > 2 && parts[2] != "1") {
		r.otherClk[uint8(pt)] = true
		return
	}
	r.rtpmap[uint8(pt)] = strings.ToLower(parts[0])
}

// parseRTCPAttr reads RFC 3605 "port [IN IP4 addr]".
func parseRTCPAttr(v string, def netip.Addr) netip.AddrPort {
	f := strings.Fields(v)
	if len(f) == 0 {
		return netip.AddrPort{}
	}
	port, err := strconv.ParseUint(f[0], 10, 16)
	if err != nil || port == 0 {
		return netip.AddrPort{}
	}
	addr := def
	if len(f) == 4 && f[1] == "IN" {
		if a, err := netip.ParseAddr(f[3]); err == nil {
			addr = a.Unmap()
		}
	}
	return netip.AddrPortFrom(addr, uint16(port))
}

// codecOf says which of the usable codecs payload type pt carries in r: a static type without
// an rtpmap (RFC 3551 §6), or an rtpmap whose name is the codec's configured or RFC name.
func (cfg SDPConfig) codecOf(r *remote, pt uint8, usable []Codec) (Codec, bool) {
	name, mapped := r.rtpmap[pt]
	if r.otherClk[pt] {
		return CodecUnknown, false
	}
	for _, c := range usable {
		spt, _ := c.StaticPayloadType()
		if !mapped && pt == spt {
			return c, true
		}
		if mapped && (name == strings.ToLower(cfg.name(c)) || name == strings.ToLower(c.rtpName())) {
			return c, true
		}
	}
	return CodecUnknown, false
}

// dtmfOf returns the first telephone-event payload type of r.
func (cfg SDPConfig) dtmfOf(r *remote) (uint8, bool) {
	for _, pt := range r.formats {
		name, ok := r.rtpmap[pt]
		if ok && (name == teName || name == strings.ToLower(cfg.dtmfName())) {
			return pt, true
		}
	}
	return 0, false
}

// addrs fills Remote and RemoteRTCP.
func (r *remote) addrs(n *Negotiated) {
	n.Remote = netip.AddrPortFrom(r.addr, r.port)
	n.RemoteRTCP = r.rtcp
	if !n.RemoteRTCP.IsValid() && r.port < 65535 {
		n.RemoteRTCP = netip.AddrPortFrom(r.addr, r.port+1)
	}
}

// Answer answers an SDP offer (RFC 3264 §6): it takes the first audio stream that carries a
// usable codec, chooses the codec by this phone's preference among those offered (only the
// preferred one with PreferredOnly), keeps the offer's payload type numbers, accepts
// telephone-event when configured and offered, leaves out every codec the phone cannot encode,
// and rejects the other streams with port 0. The answer's direction is l.Direction
// intersected with the offer's, reversed. errors.Is(err, ErrNoCommonCodec): answer 488.
func Answer(cfg SDPConfig, offer []byte, l Local) ([]byte, Negotiated, error) {
	if err := cfg.validate(); err != nil {
		return nil, Negotiated{}, err
	}
	if !l.Addr.IsValid() {
		return nil, Negotiated{}, fmt.Errorf("%w: no local RTP address", ErrBadConfig)
	}
	sd, err := parse(offer)
	if err != nil {
		return nil, Negotiated{}, err
	}
	streams, err := audioStreams(sd)
	if err != nil {
		return nil, Negotiated{}, err
	}
	usable := cfg.usable()
	for si := range streams {
		r := &streams[si]
		// common: offered payload types per usable codec, the first offered one per codec.
		common := map[Codec]uint8{}
		for _, pt := range r.formats {
			if c, ok := cfg.codecOf(r, pt, usable); ok {
				if _, seen := common[c]; !seen {
					common[c] = pt
				}
			}
		}
		var fmts []format
		var n Negotiated
		for _, c := range usable {
			pt, ok := common[c]
			if !ok {
				continue
			}
			if n.Codec == CodecUnknown {
				n.Codec, n.PayloadType = c, pt
			} else if cfg.ReleaseUnused {
				continue
			}
			fmts = append(fmts, format{pt: pt, name: cfg.name(c)})
		}
		if n.Codec == CodecUnknown {
			continue
		}
		if cfg.DTMFPayload != 0 {
			if pt, ok := cfg.dtmfOf(r); ok {
				n.DTMFPayload = pt
				fmts = append(fmts, format{pt: pt, name: cfg.dtmfName(), te: true})
			}
		}
		offerDir := r.dir
		if r.nullAddr {
			// RFC 2543 hold: the offerer receives nothing.
			offerDir = offerDir.Intersect(DirSendOnly)
		}
		n.Direction = l.Direction.Intersect(offerDir.Reverse())
		n.RemoteHold = !offerDir.Receives()
		n.PacketTime = r.ptime
		if n.PacketTime == 0 {
			n.PacketTime = cfg.packetTime()
		}
		r.addrs(&n)
		switch {
		case !cfg.AcceptLoopback:
		case r.loopSource != LoopbackOff:
			n.Loopback, n.LoopbackMirror = r.loopSource, true // the caller is the source
		case r.loopMirror && r.loopType != LoopbackOff:
			n.Loopback = r.loopType // the caller mirrors: this side is the source
		}
		body, err := build(cfg, l, n.Direction, fmts, n.Loopback, n.LoopbackMirror).Marshal()
		if err != nil {
			return nil, Negotiated{}, fmt.Errorf("%w: %w", ErrBadSDP, err)
		}
		if len(sd.MediaDescriptions) > 1 {
			body, err = withRejected(cfg, l, n.Direction, fmts, sd, r.index, n.Loopback, n.LoopbackMirror)
			if err != nil {
				return nil, Negotiated{}, err
			}
		}
		return body, n, nil
	}
	return nil, Negotiated{}, fmt.Errorf("%w: the offer has no audio stream with %s", ErrNoCommonCodec, codecList(usable))
}

// withRejected writes an answer with every m= line of the offer, the accepted one at index
// and the others rejected with port 0 (RFC 3264 §6: same number and order of m= lines).
func withRejected(cfg SDPConfig, l Local, dir Direction, fmts []format, offer *sdp.SessionDescription, index int, lb Loopback, mirror bool) ([]byte, error) {
	accepted := build(cfg, l, dir, fmts, lb, mirror)
	audio := accepted.MediaDescriptions[0]
	accepted.MediaDescriptions = nil
	for i, m := range offer.MediaDescriptions {
		if i == index {
			accepted.MediaDescriptions = append(accepted.MediaDescriptions, audio)
			continue
		}
		formats := m.MediaName.Formats
		if len(formats) == 0 {
			formats = []string{"0"}
		}
		accepted.MediaDescriptions = append(accepted.MediaDescriptions, &sdp.MediaDescription{
			MediaName: sdp.MediaName{Media: m.MediaName.Media, Port: sdp.RangedPort{Value: 0}, Protos: m.MediaName.Protos, Formats: formats},
		})
	}
	body, err := accepted.Marshal()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	return body, nil
}

// Accept reads the answer to this phone's offer (RFC 3264 §5, §6): the codec is the first of
// the answer's formats that the offer carried, the DTMF payload type the answer's
// telephone-event, the direction the offer's intersected with the answer's reversed. A
// rejected or missing audio stream, or an answer without an offered codec, is
// ErrNoCommonCodec (the SIP side ends the call: RFC 3261 §13.2.1 says an unacceptable answer
// is followed by BYE or CANCEL).
func Accept(cfg SDPConfig, offer, answer []byte) (Negotiated, error) {
	if err := cfg.validate(); err != nil {
		return Negotiated{}, err
	}
	osd, err := parse(offer)
	if err != nil {
		return Negotiated{}, fmt.Errorf("our offer: %w", err)
	}
	asd, err := parse(answer)
	if err != nil {
		return Negotiated{}, err
	}
	offered, err := audioStreams(osd)
	if err != nil || len(offered) == 0 {
		return Negotiated{}, fmt.Errorf("%w: our offer has no audio stream", ErrBadSDP)
	}
	ours := offered[0]
	answered, err := audioStreams(asd)
	if err != nil {
		return Negotiated{}, err
	}
	usable := cfg.usable()
	for ai := range answered {
		r := &answered[ai]
		if r.index != ours.index {
			continue
		}
		var n Negotiated
		for _, pt := range r.formats {
			if !slices.Contains(ours.formats, pt) {
				continue
			}
			// The codec is what the offer said the payload type carries; an answer that maps
			// the number to another codec is not accepting it (RFC 3264 §6.1).
			c, ok := cfg.codecOf(&ours, pt, usable)
			if !ok {
				continue
			}
			if ac, aok := cfg.codecOf(r, pt, usable); !aok || ac != c {
				continue
			}
			n.Codec, n.PayloadType = c, pt
			break
		}
		if n.Codec == CodecUnknown {
			break
		}
		if cfg.DTMFPayload != 0 {
			if pt, ok := cfg.dtmfOf(r); ok {
				n.DTMFPayload = pt
			}
		}
		ansDir := r.dir
		if r.nullAddr {
			ansDir = ansDir.Intersect(DirSendOnly)
		}
		n.Direction = ours.dir.Intersect(ansDir.Reverse())
		if ours.nullAddr {
			n.Direction = n.Direction.Intersect(DirSendOnly)
		}
		n.RemoteHold = ours.dir.Sends() && !ansDir.Receives()
		switch {
		case ours.loopSource != LoopbackOff && r.loopMirror && r.loopType == ours.loopSource:
			n.Loopback = ours.loopSource // the far end mirrors: this side is the source
		case ours.loopMirror && ours.loopType != LoopbackOff && r.loopSource == ours.loopType:
			n.Loopback, n.LoopbackMirror = ours.loopType, true // the far end is the source
		}
		n.PacketTime = r.ptime
		if n.PacketTime == 0 {
			n.PacketTime = cfg.packetTime()
		}
		r.addrs(&n)
		return n, nil
	}
	return Negotiated{}, fmt.Errorf("%w: the answer accepts no offered codec of the audio stream", ErrNoCommonCodec)
}

func codecList(cs []Codec) string {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.DeviceName()
	}
	return strings.Join(names, ", ")
}

// LoopbackRequest says whether an offer asks for RFC 6849 media loopback: the loopback type of
// its first audio stream that has one and whether the offerer is the mirror (then the
// answerer is the source); LoopbackOff for a normal call or an SDP that does not parse. The
// call model reads it to apply Accept_Media_Loopback_Request before it answers (§8.6).
func LoopbackRequest(offer []byte) (lb Loopback, offererMirrors bool) {
	sd, err := parse(offer)
	if err != nil {
		return LoopbackOff, false
	}
	streams, err := audioStreams(sd)
	if err != nil {
		return LoopbackOff, false
	}
	for _, r := range streams {
		switch {
		case r.loopSource != LoopbackOff:
			return r.loopSource, false
		case r.loopMirror && r.loopType != LoopbackOff:
			return r.loopType, true
		}
	}
	return LoopbackOff, false
}
