package sip

import "time"

// Party is one end of a call as its headers name it.
type Party struct {
	// Display is the display name ("" when none); URI the address; User its user part.
	Display, URI, User string
}

// IncomingCall is a new INVITE to the extension (RFC 3261 §13.3). The phone answers it with
// [Agent.Ring], [Agent.Answer], [Agent.Reject] or [Agent.Redirect]; a call the phone leaves
// alone gets 480 when its INVITE expires, and a CANCEL ends it with [CallFailed] (487).
type IncomingCall struct {
	ID       string
	From, To Party
	// SDP is the offer (nil for an INVITE without one: the phone's answer is then an offer).
	SDP []byte
	// Anonymous is a caller without identity: From anonymous (RFC 3323) or no user.
	Anonymous bool
	// AutoAnswer says the INVITE asks to be answered at once: a page or intercom call
	// (Call-Info answer-after=0, Alert-Info "Ring Answer" or info=alert-autoanswer,
	// ;intercom=true on the Request-URI; SPA-BEHAVIOUR §13.3).
	AutoAnswer bool
	// Replaces is the ID of the agent's call this one replaces (RFC 3891), in an attended
	// transfer whose target the phone is; "" if none. The agent checked that the Replaces
	// header names one of its calls (481, 603 or 486 otherwise, RFC 3891 §3); the phone
	// answers the new call at once and ends the old one.
	Replaces string
	// Join is the ID of the agent's call this one joins (RFC 3911: a barge-in on a shared
	// line, SPA-BEHAVIOUR §13.8), checked as Replaces is; "" if none. The phone answers it
	// and conferences it with that call.
	Join string
	// ReferredBy is the Referred-By of a call made on a transfer's behalf, if any.
	ReferredBy string
	// Authenticated says the caller answered the extension's challenge (Auth_INVITE).
	Authenticated bool
}

// CallProgress is a provisional answer to the phone's INVITE: 180 Ringing, 183 Session
// Progress (with early media's SDP when it has one).
type CallProgress struct {
	ID     string
	Code   int
	Reason string
	SDP    []byte
}

// CallAnswered says a call is up: the 2xx to the phone's INVITE (with the answer SDP), or the
// ACK to the phone's 2xx to an incoming one (SDP set only when that ACK carried the answer).
type CallAnswered struct {
	ID  string
	SDP []byte
}

// CallFailed is a call that ended before it was up: a final answer of 300 or more to the
// phone's INVITE (after following redirections), no answer, or a CANCEL of an incoming call
// (Code 487).
type CallFailed struct {
	ID     string
	Code   int
	Reason string
}

// CallEnded is a call that was up and is now over: a BYE either way.
type CallEnded struct {
	ID string
	// Remote says the far end hung up.
	Remote bool
	Reason string
}

// CallReinvite is a re-INVITE from the far end (hold, resume, a new address or codec). The
// phone answers with [CallReinvite.Accept] and its answer SDP, or [CallReinvite.Reject].
type CallReinvite struct {
	ID  string
	SDP []byte
	rep reinviteReply
}

type reinviteReply struct {
	ch chan reinviteAnswer
}

type reinviteAnswer struct {
	code   int
	reason string
	sdp    []byte
}

// Accept answers 200 with sdp.
func (r *CallReinvite) Accept(sdp []byte) {
	select {
	case r.rep.ch <- reinviteAnswer{code: 200, reason: "OK", sdp: sdp}:
	default:
	}
}

// Reject answers with code (488 Not Acceptable Here for an offer the phone cannot take).
func (r *CallReinvite) Reject(code int, reason string) {
	select {
	case r.rep.ch <- reinviteAnswer{code: code, reason: reason}:
	default:
	}
}

// CallReinvited is the outcome of the phone's own re-INVITE ([Agent.Reinvite]): 200 with the
// answer SDP, or the failure code.
type CallReinvited struct {
	ID     string
	Code   int
	Reason string
	SDP    []byte
}

// DTMF is a digit the far end sent in a SIP INFO (application/dtmf-relay).
type DTMF struct {
	ID       string
	Digit    rune
	Duration time.Duration
}

func (*IncomingCall) sipEvent()  {}
func (*CallProgress) sipEvent()  {}
func (*CallAnswered) sipEvent()  {}
func (*CallFailed) sipEvent()    {}
func (*CallEnded) sipEvent()     {}
func (*CallReinvite) sipEvent()  {}
func (*CallReinvited) sipEvent() {}
func (*DTMF) sipEvent()          {}
