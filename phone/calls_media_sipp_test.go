package phone

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/spa900/spa900/media"
	"github.com/spa900/spa900/media/mediatest"
	"github.com/spa900/spa900/provisioning/provtest"
	"github.com/spa900/spa900/sip/siptest"
)

// TestSIPpPlaysCapturesIntoACall: SIPp calls the phone and plays the Debian package's G.711
// A-law capture and an RFC 2833 digit capture into the call (the phone answered PCMU: the
// capture's PT 8 packets are still decoded as A-law, by their static payload type). The
// phone's recording of what it received is the capture's audio; the digit is reported, and
// then the phone hangs up.
func TestSIPpPlaysCapturesIntoACall(t *testing.T) {
	const pcaps = "/usr/share/sip-tester"
	provtest.RequirePeer(t, "sipp", "sip-tester")
	audio, dtmf := filepath.Join(pcaps, "g711a.pcap"), filepath.Join(pcaps, "dtmf_2833_1.pcap")
	if _, err := os.Stat(audio); err != nil {
		t.Fatalf("%v: the sip-tester package ships it", err)
	}
	// The phone records every call from the moment its media starts (--record-dir): a
	// recording started through the API after the answer could miss the capture's first
	// packets on a loaded machine (SIPp plays half a second after its ACK).
	dir := t.TempDir()
	port := strconv.Itoa(provtest.FreeUDPPort(t))
	u, events := startUnit(t, Options{IP: "127.0.0.1", Clock: NewManualClock(voiceStart), Media: MediaOptions{RecordDir: dir},
		Defaults: defaults("Resync_On_Reset", "No", "Proxy_1_", "", "User_ID_1_", "1001", "Password_1_", "secret1001",
			"SIP_Port_1_", port, "Line_Enable_2_", "No", "Line_Enable_3_", "No", "Line_Enable_4_", "No",
			"Network_Jitter_Level_1_", "extremely high", "Jitter_Buffer_Adjustment_1_", "disable")}, nil)
	target := "127.0.0.1:" + port
	scen, _ := filepath.Abs(filepath.Join("testdata", "sipp-pcap-call.xml"))
	uac := siptest.StartSIPp(t, siptest.SIPpRun{Scenario: scen, Target: target, Service: "1001", Timeout: 30 * time.Second,
		Keys: map[string]string{"pcap_audio": audio, "pcap_dtmf": dtmf},
		Args: []string{"-mi", "127.0.0.1", "-mp", strconv.Itoa(provtest.FreeUDPPort(t))}})
	id := waitCall(t, events, "", CallRinging).Data["call"].(string)
	p := mustPhone(t, u)
	if _, err := p.Answer(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	ev := waitMediaEvent(t, events, eventMediaDTMF, func(e Event) bool { return e.Data["call"] == id })
	if ev.Data["digit"] != "1" || ev.Data["method"] != "rfc4733" {
		t.Errorf("dtmf event %v, want digit 1 by rfc4733", ev.Data)
	}
	// The digit follows the audio capture (the scenario): what the phone did with the
	// capture's packets is counted by now.
	status := u.Status()
	st := status.Info.Lines[0][0]
	var rx ReceiveCounts
	for _, c := range status.Calls {
		if c.ID == id && c.Receive != nil {
			rx = *c.Receive
		}
	}
	// The phone hangs up (SIPp waits for its BYE): a BYE of SIPp's a fixed time after the digit
	// ended the call before a loaded machine had played the digit out ("no dtmf event").
	if _, err := p.Hangup(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	waitCall(t, events, id, "Ended") // the call and its recording end
	if res := uac.Wait(15 * time.Second); res.Err != nil {
		t.Fatalf("sipp: %v\n%s", res.Err, res.Output)
	}
	if st.Decoder != "G711a" || st.PacketsLost != "0" {
		t.Errorf("Line 1 Call 1 during the capture: %+v", st)
	}
	if rx.PacketsRecv == 0 {
		t.Errorf("the call's receive figures %+v: want packets", rx)
	}
	recs, _ := filepath.Glob(filepath.Join(dir, "*-rx.wav"))
	if len(recs) != 1 {
		t.Fatalf("recordings of what the phone received: %v, want one", recs)
	}
	got := readRecording(t, recs[0])
	// Every audible packet of the capture must be in the recording, sample for sample, in
	// order; silence matches anywhere, and a playout gap of a stalled machine (silence
	// inserted between two packets) does not shift what follows out of the comparison. The
	// jitter buffer's delay may not grow (Jitter_Buffer_Adjustment disable): a packet that
	// arrived after its playout time, where SIPp or this phone stalled on a loaded machine,
	// was dropped as late, and the phone counts it (receive.late); SIPp stalled on a loaded
	// machine may fail to send some (receive.lost: sequence numbers that never arrived).
	// Each audible packet is in the recording or among those. (A second's stall of the
	// machine under -race drops 30 packets of 196 late; most of the capture is there.)
	found, audible := mediatest.FindInOrder(got, captureAudio(t, audio))
	if audible == 0 || uint64(found)+rx.Late+rx.Lost < uint64(audible) || 2*found < audible {
		t.Errorf("the recording (%d samples) holds %d of the capture's %d audible packets; %d arrived late, %d were lost", len(got), found, audible, rx.Late, rx.Lost)
	}
	if found < audible {
		t.Logf("%d of the capture's %d audible packets not played: %d arrived after their playout time, %d never arrived", audible-found, audible, rx.Late, rx.Lost)
	}
}

func readRecording(t *testing.T, path string) []int16 {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := media.ReadWAV(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return p.Samples
}

// captureAudio decodes the RTP payloads of a pcap (Ethernet, IPv4, UDP) as A-law.
func captureAudio(t *testing.T, path string) [][]int16 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]int16
	for off := 24; off+16 <= len(b); {
		incl := int(binary.LittleEndian.Uint32(b[off+8:]))
		pkt := b[off+16 : min(off+16+incl, len(b))]
		off += 16 + incl
		if len(pkt) < 14+20+8+12 {
			continue
		}
		ihl := int(pkt[14]&15) * 4
		rtp := pkt[14+ihl+8:]
		out = append(out, media.Decode(media.CodecPCMA, rtp[12:]))
	}
	return out
}
