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
// phone's recording of what it received is the capture's audio; the digit is reported.
func TestSIPpPlaysCapturesIntoACall(t *testing.T) {
	const pcaps = "/usr/share/sip-tester"
	provtest.RequirePeer(t, "sipp", "sip-tester")
	audio, dtmf := filepath.Join(pcaps, "g711a.pcap"), filepath.Join(pcaps, "dtmf_2833_1.pcap")
	if _, err := os.Stat(audio); err != nil {
		t.Fatalf("%v: the sip-tester package ships it", err)
	}
	u, events, target := notifyPhone(t, "Network_Jitter_Level_1_", "extremely high", "Jitter_Buffer_Adjustment_1_", "disable")
	scen, _ := filepath.Abs(filepath.Join("testdata", "sipp-pcap-call.xml"))
	uac := siptest.StartSIPp(t, siptest.SIPpRun{Scenario: scen, Target: target, Service: "1001", Timeout: 30 * time.Second,
		Keys: map[string]string{"pcap_audio": audio, "pcap_dtmf": dtmf},
		Args: []string{"-mi", "127.0.0.1", "-mp", strconv.Itoa(provtest.FreeUDPPort(t))}})
	id := waitCall(t, events, "", CallRinging).Data["call"].(string)
	p := mustPhone(t, u)
	rec := filepath.Join(t.TempDir(), "rx.wav")
	if _, err := p.Answer(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	if _, err := p.CallRecord(t.Context(), id, RecordRequest{RxFile: rec}); err != nil {
		t.Fatal(err)
	}
	ev := waitMediaEvent(t, events, eventMediaDTMF, func(e Event) bool { return e.Data["call"] == id })
	if ev.Data["digit"] != "1" || ev.Data["method"] != "rfc4733" {
		t.Errorf("dtmf event %v, want digit 1 by rfc4733", ev.Data)
	}
	st := u.Status().Info.Lines[0][0]
	waitCall(t, events, id, "Ended") // SIPp's BYE ends the call and the recording
	if res := uac.Wait(15 * time.Second); res.Err != nil {
		t.Fatalf("sipp: %v\n%s", res.Err, res.Output)
	}
	if st.Decoder != "G711a" || st.PacketsLost != "0" {
		t.Errorf("Line 1 Call 1 during the capture: %+v", st)
	}
	got := readRecording(t, rec)
	// Every audible packet of the capture must be in the recording, sample for sample, in
	// order; silence matches anywhere, and a playout gap of a stalled machine (silence
	// inserted between two packets) does not shift what follows out of the comparison.
	found, audible := mediatest.FindInOrder(got, captureAudio(t, audio))
	if audible == 0 || found != audible {
		t.Errorf("the recording (%d samples) holds %d of the capture's %d audible packets", len(got), found, audible)
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
