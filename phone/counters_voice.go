package phone

import (
	"sync/atomic"

	"github.com/spa900/spa900/media"
	"github.com/spa900/spa900/sip"
)

// voiceCounters are the SIP and media part of [Counters]: registrations by result, calls by
// direction, SIP messages by kind (the agents count them, sip.Totals), and the RTP totals of
// the calls that ended. The RTP of calls in progress is read from the status snapshots at
// scrape time ([Status.RTPInProgress]); a call's session moves from there to here once, when
// it ends.
type voiceCounters struct {
	sip         sip.Totals
	regOK       atomic.Uint64
	regFailed   atomic.Uint64
	calls       [2]atomic.Uint64 // [0 inbound, 1 outbound]
	rtpSent     atomic.Uint64
	rtpRecv     atomic.Uint64
	rtpLost     atomic.Uint64
	rtpSessions atomic.Uint64
}

// RTPTotals are packet counts of RTP sessions.
type RTPTotals struct {
	// Sent and Received count RTP packets; Lost is RFC 3550's cumulative number lost of the
	// received streams (never below 0 per session).
	Sent, Received, Lost uint64
}

func (t *RTPTotals) add(st media.Stats) {
	t.Sent += st.PacketsSent
	t.Received += st.PacketsRecv
	t.Lost += uint64(max(st.PacketsLost, 0))
}

// sipTotals returns the totals the agents count SIP messages into; nil for a nil Counters.
func (c *Counters) sipTotals() *sip.Totals {
	if c == nil {
		return nil
	}
	return &c.voice.sip
}

// registered counts the end of a registration attempt (RFC 3261 §10: a 2xx, or anything else).
func (c *Counters) registered(ok bool) {
	switch {
	case c == nil:
	case ok:
		c.voice.regOK.Add(1)
	default:
		c.voice.regFailed.Add(1)
	}
}

// callStarted counts a call placed or offered.
func (c *Counters) callStarted(outgoing bool) {
	if c == nil {
		return
	}
	i := 0
	if outgoing {
		i = 1
	}
	c.voice.calls[i].Add(1)
}

// sessionEnded moves a call's RTP session from the calls in progress to the totals. The
// order matters to scrapes, which read the totals first and then the calls in progress
// (skipping the counted ones): the session is marked counted before its packets are added,
// so that a scrape may count it in neither (a moment's undercount, which the collector's
// monotonic counters hide) but never in both.
func (c *Counters) sessionEnded(counted *atomic.Bool, st media.Stats) {
	if counted != nil {
		counted.Store(true)
	}
	if c == nil {
		return
	}
	c.voice.rtpSent.Add(st.PacketsSent)
	c.voice.rtpRecv.Add(st.PacketsRecv)
	c.voice.rtpLost.Add(uint64(max(st.PacketsLost, 0)))
	c.voice.rtpSessions.Add(1)
}

// SIPMessages calls fn with every direction and kind of SIP message and the messages the
// units' agents sent or received (see [sip.Totals]).
func (c *Counters) SIPMessages(fn func(direction, kind string, n uint64)) { c.voice.sip.Each(fn) }

// Registrations returns how many registration attempts ended registered and how many failed.
func (c *Counters) Registrations() (ok, failed uint64) {
	return c.voice.regOK.Load(), c.voice.regFailed.Load()
}

// EachCall calls fn with every direction ("inbound", "outbound") and the calls started.
func (c *Counters) EachCall(fn func(direction string, n uint64)) {
	fn("inbound", c.voice.calls[0].Load())
	fn("outbound", c.voice.calls[1].Load())
}

// RTPEnded returns the RTP totals of the calls that ended, and how many sessions they had.
func (c *Counters) RTPEnded() (RTPTotals, uint64) {
	return RTPTotals{Sent: c.voice.rtpSent.Load(), Received: c.voice.rtpRecv.Load(), Lost: c.voice.rtpLost.Load()},
		c.voice.rtpSessions.Load()
}

// RTPInProgress returns the RTP totals of the calls in progress in this snapshot whose
// sessions have not been counted as ended yet, read now from their statistics.
func (s *Status) RTPInProgress() RTPTotals {
	var t RTPTotals
	for _, l := range s.media {
		if l.counted != nil && l.counted.Load() {
			continue
		}
		t.add(l.sess.Stats())
	}
	return t
}
