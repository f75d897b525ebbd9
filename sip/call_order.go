package sip

// The order of a call's events. sipgo hands each request to a goroutine of its own, so an
// INFO that follows the ACK of our 2xx at once (SIPp does, a PBX relaying a digit typed as the
// call is answered does) can be handled before the ACK's consequence, the call's
// CallAnswered, is reported. The phone must see the call connected before a digit in it:
// afterConnected makes the INFO handler wait for it, so the order is the network's whatever
// the goroutines' timing. The same holds for the far end's other requests in the dialog: a
// BYE right behind the ACK (a caller that hangs up as it is answered, an auto-test's
// scenario) was reported CallEnded before CallAnswered, a REFER (a PBX transferring the call
// it just answered) reached the phone for a call not yet connected, and a re-INVITE (a PBX
// moving the media as soon as the call is up) could replace the ACK channel of the 2xx
// before that ACK was taken, leaving the answer retransmitted until it gave up; BYE, REFER
// and re-INVITE wait too (RFC 3261 §13.3.1.4: such a request stands for a lost ACK).

// markConnected says CallAnswered has been emitted (or never will be). Idempotent.
func (c *call) markConnected() {
	if c.connected != nil {
		c.connOnce.Do(func() { close(c.connected) })
	}
}

// afterConnected returns once the call's CallAnswered has been emitted, when the dialog is
// confirmed (our 2xx sent or received) and that is still to come; at once otherwise (an INFO
// in an early dialog belongs to the ringing call). A request in the dialog from the caller
// proves it has our 2xx (RFC 3261 §13.3.1.4): its ACK is on the way, or lost, and the request
// stands for it, as the ACK's own handler would. It returns false when the agent closes
// meanwhile.
func (c *call) afterConnected() bool {
	c.mu.Lock()
	confirmed, connected, acked := c.phase == phaseConfirmed, c.connected, c.acked
	if confirmed && !c.outgoing && acked != nil {
		select {
		case <-acked:
		default:
			select {
			case <-connected:
			default:
				close(acked) // the caller has our answer
			}
		}
	}
	c.mu.Unlock()
	if !confirmed || connected == nil {
		return true
	}
	select {
	case <-connected:
		return true
	case <-c.a.closing:
		return false
	}
}
