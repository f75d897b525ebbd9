package sip_test

import (
	"strings"
	"testing"
)

// TestReplacesNoDialog: an INVITE whose Replaces names no dialog of the agent is refused 481
// (RFC 3891 §3) and never reaches the phone.
func TestReplacesNoDialog(t *testing.T) {
	a, heard, c := rawAgentPeer(t, 4)
	from := c.LocalAddr().String()
	for _, rep := range []string{"nosuch@h;to-tag=a;from-tag=b", "nosuch@h"} {
		inv := "INVITE sip:1001@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP " + from + ";branch=z9hG4bK-r" + rep[len(rep)-1:] + "\r\n" +
			"From: <sip:t@127.0.0.1>;tag=r1\r\nTo: <sip:1001@127.0.0.1>\r\nCall-ID: r-" + rep + "\r\n" +
			"CSeq: 1 INVITE\r\nContact: <sip:t@" + from + ">\r\nRequire: replaces\r\nReplaces: " + rep + "\r\n" +
			"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
		if res := exchangeRaw(t, c, a, inv, "r-"+rep); !strings.HasPrefix(res, "SIP/2.0 481") {
			t.Errorf("Replaces %q answered\n%s", rep, res)
		}
	}
	select {
	case ev := <-heard:
		t.Errorf("the phone heard %T %+v", ev, ev)
	default:
	}
}
