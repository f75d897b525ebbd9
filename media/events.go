package media

import "time"

// Flow is one direction of a session's audio: what it received or what it sent.
type Flow uint8

// The flows.
const (
	FlowRx Flow = iota
	FlowTx
)

// String returns "rx" or "tx".
func (f Flow) String() string {
	if f == FlowTx {
		return "tx"
	}
	return "rx"
}

// EventKind says what an [Event] reports.
type EventKind uint8

// The event kinds.
const (
	// EventAudio: a flow's audio changed (silence ↔ audio, a new dominant frequency, a level
	// step of 6 dB or more); rate-limited to changes, never per packet.
	EventAudio EventKind = iota + 1
	// EventDTMF: a digit was received (RFC 4733 or in-band), reported when it ended.
	EventDTMF
	// EventOneWay: one-way audio started or ended (Event.OneWay says which).
	EventOneWay
)

// String returns "audio", "dtmf" or "oneway".
func (k EventKind) String() string {
	switch k {
	case EventAudio:
		return "audio"
	case EventDTMF:
		return "dtmf"
	case EventOneWay:
		return "oneway"
	default:
		return "unknown"
	}
}

// Event is something a session observed. phone turns it into its own event stream (event
// names audio and dtmf with the fields below).
type Event struct {
	Session *Session
	Kind    EventKind
	At      time.Time
	// Flow and Audio: for EventAudio.
	Flow  Flow
	Audio Audio
	// Digit ('0'-'9', '*', '#', 'A'-'D'), Duration and Method: for EventDTMF.
	Digit    byte
	Duration time.Duration
	Method   DTMFMethod
	// OneWay: for EventOneWay.
	OneWay bool
}
