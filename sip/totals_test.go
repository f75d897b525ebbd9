package sip

import "testing"

// TestTotalsKinds checks that every message falls in one of the fixed kinds, whatever a peer
// sends, so that the metrics' label values stay bounded.
func TestTotalsKinds(t *testing.T) {
	for _, tc := range []struct{ msg, kind string }{
		{"REGISTER sip:example.com SIP/2.0\r\n", "REGISTER"},
		{"INVITE sip:1002@example.com SIP/2.0\r\n", "INVITE"},
		{"SIP/2.0 401 Unauthorized\r\n", "4xx"},
		{"SIP/2.0 200 OK\r\n", "2xx"},
		{"SIP/2.0 180 Ringing\r\n", "1xx"},
		{"SIP/2.0 699 Whatever\r\n", "6xx"},
		{"SIP/2.0 700 Out of range\r\n", "other"},
		{"SIP/2.0 ", "other"},
		{"\r\n\r\n", "keepalive"},
		{"FOOBAR sip:x SIP/2.0\r\n", "other"},
		{"AVERYLONGMETHODNAME sip:x SIP/2.0\r\n", "other"},
		{" leading", "other"},
		{"", "keepalive"}, // an empty datagram keeps a NAT binding too
		{"garbage", "other"},
	} {
		if got := MessageKinds[messageKind([]byte(tc.msg))]; got != tc.kind {
			t.Errorf("kind of %q = %s, want %s", tc.msg, got, tc.kind)
		}
	}
	var tot Totals
	tot.count(0, []byte("BYE sip:x SIP/2.0\r\n"))
	tot.count(1, []byte("SIP/2.0 200 OK\r\n"))
	tot.count(1, []byte("SIP/2.0 200 OK\r\n"))
	var nilTotals *Totals
	nilTotals.count(0, []byte("BYE sip:x SIP/2.0\r\n")) // a nil Totals counts nothing
	got := map[[2]string]uint64{}
	n := 0
	tot.Each(func(dir, kind string, v uint64) { got[[2]string{dir, kind}] = v; n++ })
	if n != 2*len(MessageKinds) {
		t.Errorf("Each reported %d series, want %d", n, 2*len(MessageKinds))
	}
	if got[[2]string{"sent", "BYE"}] != 1 || got[[2]string{"received", "2xx"}] != 2 || got[[2]string{"sent", "2xx"}] != 0 {
		t.Errorf("totals = %v", got)
	}
}
