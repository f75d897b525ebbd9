package media

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/spa900/spa900/media/mediatest"
)

// The G.711 and RFC 2833 captures SIPp ships (Debian package sip-tester) are real RTP from
// other implementations. These tests play them into a session at their captured timing, on a
// clock of their own (playCapture); phone's TestSIPpPlaysCapturesIntoACall has SIPp send them
// over the wire into a call.

const sippPcaps = "/usr/share/sip-tester"

// requirePeerFile returns path, or skips (fails under CI=true) when the peer package that
// installs it is missing.
func requirePeerFile(t *testing.T, path, pkg string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		msg := path + " not found: install it with `sudo apt-get install " + pkg + "`"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + " (CI=true: peers are required)")
		}
		t.Skip(msg)
	}
	return path
}

// capturedPacket is one UDP payload of a pcap with its capture time.
type capturedPacket struct {
	at      time.Duration
	payload []byte
}

// readPcap reads the UDP payloads of a classic pcap file (Ethernet, Linux cooked or BSD
// loopback link layer, IPv4).
func readPcap(t *testing.T, path string) []capturedPacket {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 24 {
		t.Fatalf("%s: short pcap", path)
	}
	var bo binary.ByteOrder = binary.LittleEndian
	switch binary.LittleEndian.Uint32(b) {
	case 0xa1b2c3d4:
	case 0xd4c3b2a1:
		bo = binary.BigEndian
	default:
		t.Fatalf("%s: not a classic pcap", path)
	}
	link := bo.Uint32(b[20:])
	var l2 int
	switch link {
	case 1:
		l2 = 14
	case 113:
		l2 = 16
	case 0:
		l2 = 4
	default:
		t.Fatalf("%s: link type %d", path, link)
	}
	var out []capturedPacket
	var t0 time.Duration
	for off := 24; off+16 <= len(b); {
		sec, usec, incl := bo.Uint32(b[off:]), bo.Uint32(b[off+4:]), int(bo.Uint32(b[off+8:]))
		off += 16
		if off+incl > len(b) {
			break
		}
		pkt := b[off : off+incl]
		off += incl
		at := time.Duration(sec)*time.Second + time.Duration(usec)*time.Microsecond
		if len(out) == 0 {
			t0 = at
		}
		if len(pkt) < l2+20 || pkt[l2]>>4 != 4 || pkt[l2+9] != 17 {
			continue // not IPv4/UDP
		}
		ihl := int(pkt[l2]&15) * 4
		udp := pkt[l2+ihl:]
		if len(udp) < 8 {
			continue
		}
		out = append(out, capturedPacket{at: at - t0, payload: append([]byte(nil), udp[8:]...)})
	}
	return out
}

// playCapture feeds a capture's packets to a session that is not on the pacer (manual) at
// their captured times on a clock of the test's own, running the session's frames (playout,
// recording, DTMF, analysis) at its packet time in between, and tail of frames after the last
// packet. The capture starts at at0 on that clock (above 0, as a session's time is); the
// time after the tail is returned, for the next capture. Virtual time: what the machine's
// load does to real time cannot reorder, delay or drop anything, so the checks can be exact.
func playCapture(s *Session, pkts []capturedPacket, at0 int64, tail time.Duration) int64 {
	from := netip.MustParseAddrPort("127.0.0.1:9")
	s.mu.Lock()
	defer s.mu.Unlock()
	ptime := int64(s.ptime)
	next := at0 + ptime
	for _, p := range pkts {
		at := at0 + int64(p.at)
		for ; next <= at; next += ptime {
			s.frame(next)
		}
		s.receive(p.payload, from, at)
	}
	for end := at0 + int64(pkts[len(pkts)-1].at+tail); next <= end; next += ptime {
		s.frame(next)
	}
	return next
}

// TestSIPpG711Capture: the recording of what the session received is the capture's audio,
// sample for sample (after the jitter buffer's delay), and nothing was lost or wrong.
func TestSIPpG711Capture(t *testing.T) {
	pkts := readPcap(t, requirePeerFile(t, filepath.Join(sippPcaps, "g711a.pcap"), "sip-tester"))
	e, _ := testEngine(t, SessionConfig{Analyze: true, Jitter: JitterConfig{Initial: 300 * time.Millisecond, Max: time.Second, Adapt: JitterAdaptNone}})
	s := manual(t, e, Negotiated{Codec: CodecPCMA, PayloadType: 8, DTMFPayload: 101, PacketTime: 30 * time.Millisecond, Direction: DirRecvOnly})
	rec := filepath.Join(t.TempDir(), "rx.wav")
	f, _ := os.Create(rec)
	s.Record(f, nil)
	// The jitter buffer plays the last packet 300 ms after it arrived; play 700 ms more.
	playCapture(s, pkts, int64(time.Second), time.Second)
	st := s.Stats()
	s.Close()
	if st.PacketsRecv != uint64(len(pkts)) || st.PacketsLost != 0 || st.PacketError != 0 || st.Decoder != CodecPCMA {
		t.Errorf("%d packets of the capture, stats %+v", len(pkts), st)
	}
	raw, _ := os.ReadFile(rec)
	got, err := ReadWAV(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	// Every captured packet's audio must be in the recording, sample for sample, in order.
	var want [][]int16
	for _, p := range pkts {
		var h rtp.Packet
		if err := h.Unmarshal(p.payload); err != nil {
			t.Fatal(err)
		}
		want = append(want, Decode(CodecPCMA, h.Payload))
	}
	found, audible := mediatest.FindInOrder(got.Samples, want)
	if audible == 0 || found != audible {
		t.Errorf("the recording holds %d of the capture's %d audible packets", found, audible)
	}
}

// TestSIPpRFC2833Captures: each of SIPp's twelve digit captures is reported as
// its digit, with its duration, once (the capture repeats its end packet three times).
func TestSIPpRFC2833Captures(t *testing.T) {
	requirePeerFile(t, filepath.Join(sippPcaps, "dtmf_2833_1.pcap"), "sip-tester")
	e, evs := testEngine(t, SessionConfig{})
	s := manual(t, e, Negotiated{Codec: CodecPCMA, PayloadType: 8, DTMFPayload: 101, PacketTime: 20 * time.Millisecond, Direction: DirRecvOnly})
	names := map[string]byte{"0": '0', "1": '1', "2": '2', "3": '3', "4": '4', "5": '5', "6": '6', "7": '7', "8": '8', "9": '9', "star": '*', "pound": '#'}
	order := []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "star", "pound"}
	at := int64(time.Second)
	for _, name := range order {
		pkts := readPcap(t, filepath.Join(sippPcaps, "dtmf_2833_"+name+".pcap"))
		// The capture's own final duration (its end packets carry it).
		var want time.Duration
		for _, p := range pkts {
			if len(p.payload) >= 16 && p.payload[13]&0x80 != 0 {
				want = time.Duration(binary.BigEndian.Uint16(p.payload[14:])) * time.Second / 8000
			}
		}
		at = playCapture(s, pkts, at, 100*time.Millisecond)
		ev := evs.wait(t, 5*time.Second, "digit "+name, func(ev Event) bool { return ev.Kind == EventDTMF })
		if ev.Digit != names[name] || ev.Method != DTMFRFC4733 || ev.Duration != want || want == 0 {
			t.Errorf("capture %s: digit %c method %v duration %v, want %c rfc4733 %v", name, ev.Digit, ev.Method, ev.Duration, names[name], want)
		}
	}
	if got := s.Stats().DTMF; got != "1234567890*#" {
		t.Errorf("digits %q, want each once: 1234567890*#", got)
	}
}
