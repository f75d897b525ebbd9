package media

import (
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// TestRFactor checks the simplified E-model against values worked by hand from G.107:
// no loss and 20 ms → 93.2 − 0.48; 2% random loss → Ie,eff = 95·2/(2+25.1) = 7.01;
// 300 ms one-way → Id = 7.2 + 0.11·122.7 = 20.7.
func TestRFactor(t *testing.T) {
	tests := []struct {
		name     string
		expected uint64
		lost     int64
		bursts   uint64
		delay    time.Duration
		want     float64
	}{
		{"clean", 1000, 0, 0, 20 * time.Millisecond, 92.72},
		{"2% random", 1000, 20, 20, 0, 93.2 - 7.011},
		{"2% in bursts of 4", 1000, 20, 5, 0, 93.2 - 95*2/(2/(4*0.98)+25.1)},
		{"300 ms", 1000, 0, 0, 300 * time.Millisecond, 93.2 - 7.2 - 0.11*122.7},
		{"all lost", 100, 100, 1, 0, 93.2 - 95*100/(100+25.1)},
	}
	for _, tt := range tests {
		if got := rFactor(tt.expected, tt.lost, tt.bursts, tt.delay); math.Abs(got-tt.want) > 0.01 {
			t.Errorf("%s: R = %.3f, want %.3f", tt.name, got, tt.want)
		}
	}
	if m := mos(93.2); math.Abs(m-4.41) > 0.01 {
		t.Errorf("MOS(93.2) = %.3f, want 4.41", m)
	}
}

func TestPRTPStat(t *testing.T) {
	st := Stats{PacketsSent: 1505, BytesSent: 258860, PacketsRecv: 1506, BytesRecv: 259032, PacketsLost: 3,
		Jitter: 12 * time.Millisecond, DecodeLatency: 40 * time.Millisecond, RoundTripDelay: 20 * time.Millisecond,
		Duration: 30500 * time.Millisecond, Encoder: CodecPCMU, Decoder: CodecPCMA}
	want := "PS=1505,OS=258860,PR=1506,OR=259032,PL=3,JI=12,LA=50,DU=30,EN=G711u,DE=G711a"
	if got := st.PRTPStat(); got != want {
		t.Errorf("PRTPStat() = %q, want %q", got, want)
	}
	if got := (Stats{PacketsLost: -2}).PRTPStat(); !strings.Contains(got, "PL=0") {
		t.Errorf("negative loss shown: %q", got)
	}
}

// TestLateDropsCounted: a packet that arrives after its playout time is counted as late, not
// lost: received, never played.
func TestLateDropsCounted(t *testing.T) {
	e, _ := testEngine(t, SessionConfig{})
	s := manual(t, e, pcmu20)
	from := netip.MustParseAddrPort("127.0.0.1:9")
	pkt := func(i int) []byte {
		b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: uint16(100 + i),
			Timestamp: uint32(8000 + 160*i), SSRC: 7}, Payload: make([]byte, 160)}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	s.mu.Lock()
	for i := range 10 {
		if i != 5 {
			s.receive(pkt(i), from, int64(i)*int64(20*time.Millisecond))
		}
	}
	for i := range 30 { // play out well past packet 5's time
		s.frame(int64(10+i) * int64(20*time.Millisecond))
	}
	s.receive(pkt(5), from, int64(40)*int64(20*time.Millisecond))
	s.mu.Unlock()
	st := s.Stats()
	if st.Late != 1 || st.PacketsRecv != 10 || st.PacketsLost != 0 || st.LostAllSources != 0 {
		t.Errorf("late %d, received %d, lost %d (%d of all sources): want the straggler late, all 10 received, none lost",
			st.Late, st.PacketsRecv, st.PacketsLost, st.LostAllSources)
	}
	// A second source after two packets of the first went missing: PacketsLost is the new
	// source's (RFC 3550), LostAllSources keeps the first one's two.
	s.mu.Lock()
	s.receive(pkt(12), from, int64(41)*int64(20*time.Millisecond))
	other, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 9, Timestamp: 1, SSRC: 8},
		Payload: make([]byte, 160)}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s.receive(other, from, int64(42)*int64(20*time.Millisecond))
	s.mu.Unlock()
	// Packet 12 of the first source was buffered, unplayed, when the new one came: late too.
	if st := s.Stats(); st.PacketsLost != 0 || st.LostAllSources != 2 || st.Late != 2 {
		t.Errorf("after a new source: lost %d, of all sources %d, late %d; want 0, 2 and 2", st.PacketsLost, st.LostAllSources, st.Late)
	}
}
