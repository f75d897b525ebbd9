package sip

import "sync/atomic"

// Counters count SIP messages and bytes (the Phone Status section's SIP_Messages_Sent/Recv and
// SIP_Bytes_Sent/Recv, SPA-BEHAVIOUR §9). Every retransmission counts, as on the wire. The
// zero value is ready; it is safe for concurrent use.
type Counters struct {
	msgsSent, bytesSent, msgsRecv, bytesRecv atomic.Uint64
}

// CounterValues is a reading of [Counters].
type CounterValues struct {
	MessagesSent, BytesSent, MessagesRecv, BytesRecv uint64
}

// Load reads the counters.
func (c *Counters) Load() CounterValues {
	if c == nil {
		return CounterValues{}
	}
	return CounterValues{
		MessagesSent: c.msgsSent.Load(), BytesSent: c.bytesSent.Load(),
		MessagesRecv: c.msgsRecv.Load(), BytesRecv: c.bytesRecv.Load(),
	}
}

func (c *Counters) sent(n int) {
	if c != nil {
		c.msgsSent.Add(1)
		c.bytesSent.Add(uint64(n))
	}
}

func (c *Counters) recv(n int) {
	if c != nil {
		c.msgsRecv.Add(1)
		c.bytesRecv.Add(uint64(n))
	}
}
