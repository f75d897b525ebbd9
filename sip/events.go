package sip

import (
	"sync"
	"time"
)

// Event is what an agent tells its owner. The set is closed: [*ControlRequest],
// [*MessageWaiting], and the calls' [*IncomingCall], [*CallProgress], [*CallAnswered],
// [*CallFailed], [*CallEnded], [*CallReinvite], [*CallReinvited], [*DTMF], and the shared line's
// [*SharedLineState].
type Event interface{ sipEvent() }

// ControlAction is a device action a NOTIFY asks for (SPA-BEHAVIOUR §6, DECISIONS 18).
type ControlAction uint8

// Control actions.
const (
	ControlUnknown ControlAction = iota
	// ControlResync runs the Profile_Rule sequence (Event: resync, check-sync).
	ControlResync
	// ControlReboot is the cold restart (reboot_now, reboot, reboot=true).
	ControlReboot
	// ControlRestart is the warm restart of the voice application (restart_now).
	ControlRestart
	// ControlReport sends the configuration report (report).
	ControlReport
	// ControlResyncReboot resyncs, then reboots (check-sync;reboot=true, Wazo provd).
	ControlResyncReboot
)

// String returns the action as a lower-case word.
func (a ControlAction) String() string {
	switch a {
	case ControlResync:
		return "resync"
	case ControlReboot:
		return "reboot"
	case ControlRestart:
		return "restart"
	case ControlReport:
		return "report"
	case ControlResyncReboot:
		return "resync+reboot"
	}
	return "unknown"
}

// ControlRequest is an accepted (authenticated, when the extension asks for it) NOTIFY that
// asks for a device action. The agent answers it with what [ControlRequest.Respond] says; if
// the phone does not answer within ControlTimeout the NOTIFY gets 503.
type ControlRequest struct {
	Action ControlAction
	// Event is the Event header as received; Alias says it is one of the compatibility
	// aliases of DECISIONS 18 (check-sync, reboot, reboot=true), logged as such.
	Event string
	Alias bool
	// From is the sender's URI, Source the address the NOTIFY came from.
	From, Source string
	// Authenticated says the sender answered the digest challenge.
	Authenticated bool

	reply replier
}

// Respond answers the NOTIFY: 200 when the action is taken (or queued), another final code
// with its reason otherwise. Only the first call counts.
func (c *ControlRequest) Respond(code int, reason string) { c.reply.respond(code, reason) }

// MessageWaiting is a message-summary NOTIFY (RFC 3842, SPA-BEHAVIOUR §13.9), subscribed or
// not: the extension's voice mail has (or no longer has) messages.
type MessageWaiting struct {
	Waiting bool
	// Account is the Message-Account of the body, if any.
	Account string
	// New and Old are the voice-message counts of the Voice-Message line (0 if absent).
	New, Old int
	// Subscribed says the NOTIFY belonged to the agent's own subscription.
	Subscribed bool
}

func (*ControlRequest) sipEvent() {}
func (*MessageWaiting) sipEvent() {}

// ControlTimeout bounds how long a request handler waits for the phone's decision.
const ControlTimeout = 5 * time.Second

// replier is a one-shot answer from the phone to a waiting handler.
type replier struct {
	once sync.Once
	ch   chan reply
}

type reply struct {
	code   int
	reason string
}

func newReplier() replier { return replier{ch: make(chan reply, 1)} }

func (r *replier) respond(code int, reason string) {
	r.once.Do(func() { r.ch <- reply{code, reason} })
}
