package sip

import (
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
)

// Timers are the SIP timers sipgo keeps process-wide (RFC 3261 §17, Table 4): the
// retransmission base T1, its cap T2, the lifetime of a message in the network T4, and the
// server-side waits H (ACK of an INVITE error), D (INVITE answer retransmissions) and J
// (non-INVITE request retransmissions). A phone's Timer B and F are honoured per agent
// (Config.TimerB, TimerF) on top of these.
type Timers struct {
	T1, T2, T4 time.Duration
	H, D, J    time.Duration
}

// SetProcessLogger sends the lines sipgo logs outside any agent (its package default logger)
// to log, at debug level as the agents' own. Only cmd calls it, once, at start.
func SetProcessLogger(log *zap.Logger) {
	sipmsg.SetDefaultLogger(sipgoLogger(log.Named("sip")))
}

// SetProcessReadBuffer sets the size of the buffer each SIP socket reads a datagram into
// (sipgo keeps it per process: 32 KiB unless told), so that a fleet of thousands of
// extensions does not hold 32 KiB per socket. A datagram larger than the buffer is cut and
// fails to parse; n below 4 KiB is taken as 4 KiB. Only cmd calls it, once, before any agent
// exists.
func SetProcessReadBuffer(n int) {
	sipmsg.TransportBufferReadSize = uint16(min(max(n, 4<<10), 65535))
}

// SetProcessTimers sets sipgo's process-wide timers. Only cmd calls it, once, before any
// agent exists: sipgo reads these variables from its transactions without a lock. Values
// already in force are not written again. Zero values leave sipgo's.
func SetProcessTimers(t Timers) {
	if t.T1 <= 0 || t.T2 <= 0 || t.T4 <= 0 {
		t.T1, t.T2, t.T4 = sipmsg.T1, sipmsg.T2, sipmsg.T4
	}
	if t.T1 == sipmsg.T1 && t.T2 == sipmsg.T2 && t.T4 == sipmsg.T4 &&
		(t.H <= 0 || t.H == sipmsg.Timer_H) && (t.D <= 0 || t.D == sipmsg.Timer_D) && (t.J <= 0 || t.J == sipmsg.Timer_J) {
		return
	}
	sipmsg.SetTimers(t.T1, t.T2, t.T4)
	if t.H > 0 {
		sipmsg.Timer_H = t.H
	}
	if t.D > 0 {
		sipmsg.Timer_D = t.D
	}
	if t.J > 0 {
		sipmsg.Timer_J = t.J
	}
}
