package sip

import (
	sipmsg "github.com/emiago/sipgo/sip"
)

// Call statistics in BYE (SPA-BEHAVIOUR §8.2 Stats_In_BYE): when the phone's configuration
// says so, the BYE the phone sends and its 200 to the far end's BYE carry a P-RTP-Stat header
// with the call's RTP statistics. sip knows nothing of RTP: the phone hands each call a
// function that formats the header's value (media builds it), called when the BYE or the 200
// is built, so the figures are those of that moment.

// headerPRTPStat is the statistics header of the device's BYE and 200 (the Sipura/Linksys
// P-RTP-Stat, also sent by Cisco SPA phones).
const headerPRTPStat = "P-RTP-Stat"

// SetStats gives call id the function whose value goes in a P-RTP-Stat header on its BYE and
// on the 200 to the far end's BYE; nil (the default) sends none. Safe for concurrent use; f
// runs on sip's goroutines and must be too.
func (a *Agent) SetStats(id string, f func() string) error {
	c, err := a.call(id)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.stats = f
	c.mu.Unlock()
	return nil
}

// statsHeader is the call's P-RTP-Stat header, or nil.
func (c *call) statsHeader() sipmsg.Header {
	c.mu.Lock()
	f := c.stats
	c.mu.Unlock()
	if f == nil {
		return nil
	}
	v := f()
	if v == "" {
		return nil
	}
	return sipmsg.NewHeader(headerPRTPStat, v)
}
