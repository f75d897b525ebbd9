package media

import (
	"strings"
	"time"
)

// Codec is an audio codec the engine encodes and decodes. Only the G.711 laws are built in:
// G.729, G.726, G.723 and G.722 have no sound pure-Go implementation, so the phone never offers
// or accepts them (it leaves them out of answers, RFC 3264 §6.1) rather than pretending.
type Codec uint8

// The codecs. CodecUnknown is the zero value and never negotiated.
const (
	CodecUnknown Codec = iota
	CodecPCMU          // G.711 µ-law, RFC 3551 §4.5.14, static payload type 0
	CodecPCMA          // G.711 A-law, RFC 3551 §4.5.14, static payload type 8
)

// clockRate is the RTP clock of every codec the engine has (G.711 and telephone-event at 8 kHz).
const clockRate = 8000

// String returns the codec's lowercase name ("pcmu", "pcma", "unknown").
func (c Codec) String() string {
	switch c {
	case CodecPCMU:
		return "pcmu"
	case CodecPCMA:
		return "pcma"
	default:
		return "unknown"
	}
}

// DeviceName returns the name the device's Info page shows in Encoder and Decoder and that
// its Preferred_Codec choices use ("G711u", "G711a"; SPA-BEHAVIOUR §8.5, §9), or "" for
// CodecUnknown.
func (c Codec) DeviceName() string {
	switch c {
	case CodecPCMU:
		return "G711u"
	case CodecPCMA:
		return "G711a"
	default:
		return ""
	}
}

// rtpName returns the RFC 3551 encoding name, used when the configuration names none.
func (c Codec) rtpName() string {
	switch c {
	case CodecPCMU:
		return "PCMU"
	case CodecPCMA:
		return "PCMA"
	default:
		return ""
	}
}

// StaticPayloadType returns the RFC 3551 §6 payload type of the codec (0 for PCMU, 8 for
// PCMA); ok is false for CodecUnknown.
func (c Codec) StaticPayloadType() (pt uint8, ok bool) {
	switch c {
	case CodecPCMU:
		return 0, true
	case CodecPCMA:
		return 8, true
	default:
		return 0, false
	}
}

// ParseCodec maps a device codec choice (Preferred_Codec values such as "G711u", "G711a") or an
// RTP encoding name ("PCMU", "PCMA") to a Codec; ok is false for codecs the engine has not
// (G729a, G726-32, G723, Unspecified, …), which the caller leaves out of [SDPConfig.Codecs].
func ParseCodec(s string) (c Codec, ok bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "g711u", "pcmu", "g.711u", "g711-u":
		return CodecPCMU, true
	case "g711a", "pcma", "g.711a", "g711-a":
		return CodecPCMA, true
	default:
		return CodecUnknown, false
	}
}

// Direction is an SDP stream direction (RFC 3264 §5.1, §6.1), seen from this side: DirSendOnly
// means this phone sends and does not receive. The zero value DirSendRecv is RFC 4566's default
// when no direction attribute is present.
type Direction uint8

// The directions.
const (
	DirSendRecv Direction = iota
	DirSendOnly
	DirRecvOnly
	DirInactive
)

// String returns the SDP attribute name ("sendrecv", "sendonly", "recvonly", "inactive").
func (d Direction) String() string {
	switch d {
	case DirSendOnly:
		return "sendonly"
	case DirRecvOnly:
		return "recvonly"
	case DirInactive:
		return "inactive"
	default:
		return "sendrecv"
	}
}

// Sends reports whether the direction lets this side send media.
func (d Direction) Sends() bool { return d == DirSendRecv || d == DirSendOnly }

// Receives reports whether the direction lets this side receive media.
func (d Direction) Receives() bool { return d == DirSendRecv || d == DirRecvOnly }

// Reverse returns the direction as the other side sees it (sendonly ↔ recvonly).
func (d Direction) Reverse() Direction {
	switch d {
	case DirSendOnly:
		return DirRecvOnly
	case DirRecvOnly:
		return DirSendOnly
	default:
		return d
	}
}

// directionOf builds a Direction from send and receive permissions.
func directionOf(send, recv bool) Direction {
	switch {
	case send && recv:
		return DirSendRecv
	case send:
		return DirSendOnly
	case recv:
		return DirRecvOnly
	default:
		return DirInactive
	}
}

// Intersect returns the direction both d and o allow (RFC 3264 §6.1: an answer's direction is
// at most what the offer allows, reversed).
func (d Direction) Intersect(o Direction) Direction {
	return directionOf(d.Sends() && o.Sends(), d.Receives() && o.Receives())
}

// parseDirection reads an SDP direction attribute key; ok is false for other attributes.
func parseDirection(key string) (Direction, bool) {
	switch key {
	case "sendrecv":
		return DirSendRecv, true
	case "sendonly":
		return DirSendOnly, true
	case "recvonly":
		return DirRecvOnly, true
	case "inactive":
		return DirInactive, true
	default:
		return DirSendRecv, false
	}
}

// samplesPer returns the 8 kHz samples in one packet of d (at least one).
func samplesPer(d time.Duration) int {
	n := int(d * clockRate / time.Second)
	if n < 1 {
		n = 1
	}
	return n
}
