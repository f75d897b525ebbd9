package sip

import "testing"

// TestSRVPrefix: the auto prefix names the transport's SRV records as RFC 3263 §4.1 does;
// SIP over TLS is the sips service over TCP, not a "_tls" protocol.
func TestSRVPrefix(t *testing.T) {
	for tr, want := range map[Transport]string{
		TransportUDP: "_sip._udp.",
		TransportTCP: "_sip._tcp.",
		TransportTLS: "_sips._tcp.",
	} {
		if got := tr.srvPrefix(); got != want {
			t.Errorf("%v: prefix %q, want %q", tr, got, want)
		}
	}
}
