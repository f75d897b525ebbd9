package media

import (
	"bytes"
	"encoding/binary"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// The G.711 and RFC 2833 captures SIPp ships (Debian package sip-tester) are real RTP from
// other implementations. These tests replay them into a session at their captured timing.

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

// replay sends the captured payloads to dst at their captured timing.
func replay(t *testing.T, pkts []capturedPacket, dst *net.UDPAddr) {
	t.Helper()
	c, err := net.DialUDP("udp", nil, dst)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	for _, p := range pkts {
		if d := p.at - time.Since(start); d > 0 {
			time.Sleep(d) // the peer's own pacing, as SIPp replays a capture
		}
		if _, err := c.Write(p.payload); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSIPpG711Capture: the recording of what the session received is the capture's audio,
// sample for sample (after the jitter buffer's delay), and nothing was lost or wrong.
func TestSIPpG711Capture(t *testing.T) {
	pkts := readPcap(t, requirePeerFile(t, filepath.Join(sippPcaps, "g711a.pcap"), "sip-tester"))
	e, _ := testEngine(t, SessionConfig{Analyze: true, Jitter: JitterConfig{Initial: 300 * time.Millisecond, Max: time.Second, Adapt: JitterAdaptNone}})
	s, err := e.Open()
	if err != nil {
		t.Fatal(err)
	}
	rec := filepath.Join(t.TempDir(), "rx.wav")
	f, _ := os.Create(rec)
	s.Record(f, nil)
	s.Start(Negotiated{Codec: CodecPCMA, PayloadType: 8, DTMFPayload: 101, PacketTime: 30 * time.Millisecond, Direction: DirRecvOnly})
	replay(t, pkts, net.UDPAddrFromAddrPort(s.LocalAddr()))
	sent := s.Stats().Duration
	waitFor(t, 10*time.Second, "every packet", func() bool { return s.Stats().PacketsRecv == uint64(len(pkts)) })
	// The jitter buffer plays the last packet 300 ms after it arrived: wait for that much
	// real time to pass (the session's own clock), with margin.
	waitFor(t, 10*time.Second, "playout of the tail", func() bool { return s.Stats().Duration > sent+700*time.Millisecond })
	st := s.Stats()
	s.Close()
	if st.PacketsLost != 0 || st.PacketError != 0 || st.Decoder != CodecPCMA {
		t.Errorf("stats %+v", st)
	}
	raw, _ := os.ReadFile(rec)
	got, err := ReadWAV(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	// Every captured packet's audio must be in the recording, sample for sample, in order (a
	// stalled machine may cut a gap into playout, which a single alignment would not survive).
	found, audible, pos := 0, 0, 0
	for _, p := range pkts {
		var h rtp.Packet
		if err := h.Unmarshal(p.payload); err != nil {
			t.Fatal(err)
		}
		want := Decode(CodecPCMA, h.Payload)
		if !loud(want) {
			continue // silence matches anywhere
		}
		audible++
		if at := indexOf(got.Samples[pos:], want); at >= 0 {
			found++
			pos += at + len(want)
		}
	}
	if audible == 0 || found < audible*97/100 {
		t.Errorf("the recording holds %d of the capture's %d audible packets", found, audible)
	}
}

func loud(x []int16) bool {
	for _, v := range x {
		if v > 256 || v < -256 {
			return true
		}
	}
	return false
}

// indexOf finds want in x.
func indexOf(x, want []int16) int {
	for i := 0; i+len(want) <= len(x); i++ {
		if x[i] != want[0] {
			continue
		}
		j := 1
		for j < len(want) && x[i+j] == want[j] {
			j++
		}
		if j == len(want) {
			return i
		}
	}
	return -1
}

// TestSIPpRFC2833Captures: each of SIPp's twelve digit captures is reported as
// its digit, with its duration, once (the capture repeats its end packet three times).
func TestSIPpRFC2833Captures(t *testing.T) {
	requirePeerFile(t, filepath.Join(sippPcaps, "dtmf_2833_1.pcap"), "sip-tester")
	e, evs := testEngine(t, SessionConfig{})
	s, err := e.Open()
	if err != nil {
		t.Fatal(err)
	}
	s.Start(Negotiated{Codec: CodecPCMA, PayloadType: 8, DTMFPayload: 101, PacketTime: 20 * time.Millisecond, Direction: DirRecvOnly})
	names := map[string]byte{"0": '0', "1": '1', "2": '2', "3": '3', "4": '4', "5": '5', "6": '6', "7": '7', "8": '8', "9": '9', "star": '*', "pound": '#'}
	order := []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "star", "pound"}
	for _, name := range order {
		pkts := readPcap(t, filepath.Join(sippPcaps, "dtmf_2833_"+name+".pcap"))
		// The capture's own final duration (its end packets carry it).
		var want time.Duration
		for _, p := range pkts {
			if len(p.payload) >= 16 && p.payload[13]&0x80 != 0 {
				want = time.Duration(binary.BigEndian.Uint16(p.payload[14:])) * time.Second / 8000
			}
		}
		replay(t, pkts, net.UDPAddrFromAddrPort(s.LocalAddr()))
		ev := evs.wait(t, 5*time.Second, "digit "+name, func(ev Event) bool { return ev.Kind == EventDTMF })
		if ev.Digit != names[name] || ev.Method != DTMFRFC4733 || ev.Duration != want || want == 0 {
			t.Errorf("capture %s: digit %c method %v duration %v, want %c rfc4733 %v", name, ev.Digit, ev.Method, ev.Duration, names[name], want)
		}
	}
	if got := s.Stats().DTMF; got != "1234567890*#" {
		t.Errorf("digits %q, want each once: 1234567890*#", got)
	}
}
