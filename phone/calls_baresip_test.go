package phone

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spa900/spa900/media"
	"github.com/spa900/spa900/provisioning/provtest"
	"github.com/spa900/spa900/sip/siptest"
)

// baresip is a headless baresip registered to Kamailio as 1002: its aufile module plays a
// WAV as the microphone, its sndfile module writes what it decodes to a WAV (baresip 1.0's
// aufile has no player); it answers automatically.
type baresip struct {
	proc  *provtest.Process
	dir   string
	heard string
	ctrl  string // its ctrl_tcp listener: commands as netstrings of JSON
}

// startBaresip writes baresip's config for the test and starts it. source is the WAV it plays.
//
// Its ports are chosen free a moment before baresip binds them, and anything on the machine
// may take one meanwhile (another test's ephemeral port): baresip then exits ("ua: init
// failed") or, for its ctrl_tcp port, runs without its control socket. Either shows in its
// log before it registers (ctrl_tcp is loaded before the account), so such a start is
// stopped and made again on other ports, as siptest.StartKamailio does.
func startBaresip(t *testing.T, k *siptest.Kamailio, source string) *baresip {
	t.Helper()
	bin := provtest.RequirePeer(t, "baresip", "baresip")
	var failure string
	for range 5 {
		dir := t.TempDir()
		rtp := 30000 + 2*(provtest.FreeUDPPort(t)%10000)
		sipPort := freeUDPTCPPort(t)
		b := &baresip{dir: dir, heard: filepath.Join(dir, "heard.wav"), ctrl: fmt.Sprintf("127.0.0.1:%d", provtest.FreeTCPPort(t))}
		cfg := fmt.Sprintf(`sip_listen 127.0.0.1:%d
ctrl_tcp_listen %s
call_max_calls 2
audio_source aufile,%s
audio_player aufile,%s
audio_alert aufile,%s
audio_telev_pt 101
rtp_ports %d-%d
module_path /usr/lib/baresip/modules
module g711.so
module aufile.so
module sndfile.so
snd_path %s
module_app ctrl_tcp.so
module_app menu.so
module_app account.so
`, sipPort, b.ctrl, source, b.heard, filepath.Join(dir, "alert.wav"), rtp, rtp+20, dir)
		acc := fmt.Sprintf("<sip:1002@127.0.0.1;transport=udp>;auth_pass=secret1002;outbound=\"sip:%s\";regint=60;answermode=auto;dtmfmode=rtpevent\n", k.Addr)
		for name, body := range map[string]string{"config": cfg, "accounts": acc} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		p, err := provtest.StartProcess(bin, []string{"-f", dir, "-v"}, filepath.Join(dir, "baresip.log"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Stop) // Stop is idempotent: a failed start is stopped at once too
		b.proc = p
		contact := fmt.Sprintf("127.0.0.1:%d", sipPort)
		failure = ""
		waitFor(t, 20*time.Second, "baresip registered", func() bool {
			if out := p.Output(); p.Exited() || strings.Contains(out, "Address already in use") {
				failure = out
				return true
			}
			for _, bd := range k.Bindings(t) {
				if strings.Contains(bd.AOR, "1002") && strings.Contains(bd.Contact, contact) {
					return true
				}
			}
			return false
		})
		if failure == "" {
			return b
		}
		p.Stop() // most likely a port was taken meanwhile: again, on other ports
		t.Logf("baresip did not start, trying other ports: %s", failureLine(failure))
	}
	t.Fatalf("baresip did not start in 5 attempts; the last one's output:\n%s", failure)
	return nil
}

// failureLine is the line of a peer's output that says a port was in use, or its last line.
func failureLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, l := range lines {
		if strings.Contains(l, "already in use") {
			return l
		}
	}
	return lines[len(lines)-1]
}

// command runs one of baresip's long commands (as typed after "/") through ctrl_tcp and
// returns its response: {"command":…,"params":…,"token":…} in a netstring, answered by a
// netstring of {"response":true,"ok":…,"data":…,"token":…}. baresip also sends events on the
// connection; they are skipped.
func (b *baresip) command(t *testing.T, cmd, params string) string {
	t.Helper()
	var d net.Dialer
	conn, err := d.DialContext(t.Context(), "tcp", b.ctrl)
	if err != nil {
		t.Fatalf("baresip ctrl_tcp: %v", err)
	}
	defer conn.Close()
	if dl, ok := t.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	msg, _ := json.Marshal(map[string]string{"command": cmd, "params": params, "token": "spa900"})
	fmt.Fprintf(conn, "%d:%s,", len(msg), msg)
	r := bufio.NewReader(conn)
	for {
		head, err := r.ReadString(':')
		if err != nil {
			t.Fatalf("baresip ctrl_tcp %s: %v", cmd, err)
		}
		n, err := strconv.Atoi(strings.TrimSuffix(head, ":"))
		if err != nil || n > 1<<16 {
			t.Fatalf("baresip ctrl_tcp %s: netstring length %q", cmd, head)
		}
		body := make([]byte, n+1) // the body and its ","
		if _, err := io.ReadFull(r, body); err != nil {
			t.Fatalf("baresip ctrl_tcp %s: %v", cmd, err)
		}
		var resp struct {
			Response bool   `json:"response"`
			OK       bool   `json:"ok"`
			Data     string `json:"data"`
			Token    string `json:"token"`
		}
		if json.Unmarshal(body[:n], &resp) != nil || !resp.Response || resp.Token != "spa900" {
			continue // an event
		}
		if !resp.OK {
			t.Fatalf("baresip ctrl_tcp %s %s: %s", cmd, params, resp.Data)
		}
		return resp.Data
	}
}

// freeUDPTCPPort returns a port of 127.0.0.1 free a moment ago for UDP and TCP, with the
// next port free for TCP: baresip listens on UDP and TCP there and on TLS one port up, and
// a UDP port that is free may be a TCP one in use.
func freeUDPTCPPort(t *testing.T) int {
	t.Helper()
	free := func(port int) bool {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			return false
		}
		l.Close()
		return true
	}
	for range 100 {
		if port := provtest.FreeUDPPort(t); port < 65535 && free(port) && free(port+1) {
			return port
		}
	}
	t.Fatal("no port free for UDP, TCP and TLS")
	return 0
}

// writeToneWAV writes seconds of a sine at hz, 8 kHz mono 16-bit.
func writeToneWAV(t *testing.T, path string, hz float64, seconds int) {
	t.Helper()
	n := 8000 * seconds
	var data bytes.Buffer
	for i := 0; i < n; i++ {
		binary.Write(&data, binary.LittleEndian, int16(8000*math.Sin(2*math.Pi*hz*float64(i)/8000)))
	}
	var h bytes.Buffer
	h.WriteString("RIFF")
	binary.Write(&h, binary.LittleEndian, uint32(36+data.Len()))
	h.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(8000), uint32(16000), uint16(2), uint16(16)} {
		binary.Write(&h, binary.LittleEndian, v)
	}
	h.WriteString("data")
	binary.Write(&h, binary.LittleEndian, uint32(data.Len()))
	h.Write(data.Bytes())
	if err := os.WriteFile(path, h.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCallWithBaresip: the phone calls baresip through Kamailio. The phone plays a 1 kHz tone
// and baresip's recording (aufile) holds 1 kHz; baresip plays a 1.5 kHz file and the phone's
// audio events and recording show 1.5 kHz; the phone's RFC 4733 digits show in baresip's log,
// and the RFC 4733 digits baresip sends (its sndcode command) arrive as the phone's dtmf events.
func TestCallWithBaresip(t *testing.T) {
	k := siptest.StartKamailio(t, siptest.KamailioOptions{})
	src := filepath.Join(t.TempDir(), "tone.wav")
	writeToneWAV(t, src, 1500, 30)
	bs := startBaresip(t, k, src)
	u, events := startUnit(t, Options{IP: "127.0.0.1", Clock: NewManualClock(voiceStart), Defaults: sipDefaults(t, k)}, nil)
	waitRegistration(t, events, 1, "Registered")
	p := mustPhone(t, u)
	ctx := t.Context()
	call, err := p.Dial(ctx, 1, "1002", false)
	if err != nil {
		t.Fatal(err)
	}
	waitCall(t, events, call.ID, CallConnected)
	rec := filepath.Join(t.TempDir(), "phone-rx.wav")
	if _, err := p.CallRecord(ctx, call.ID, RecordRequest{RxFile: rec}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.CallPlay(ctx, call.ID, PlayRequest{Tone: "1000"}); err != nil {
		t.Fatal(err)
	}
	waitMediaEvent(t, events, EventAudio, func(e Event) bool {
		f, _ := e.Data["freq_hz"].(float64)
		return e.Data["call"] == call.ID && e.Data["direction"] == "rx" && math.Abs(f-1500) < 10
	})
	// Two seconds of audio each way before the digits and the hang-up.
	waitFor(t, 15*time.Second, "two seconds of RTP each way", func() bool {
		l := u.Status().Info.Lines[0][0]
		sent, _ := strconv.Atoi(l.PacketsSent)
		recv, _ := strconv.Atoi(l.PacketsRecv)
		return sent >= 70 && recv >= 70
	})
	if _, err := p.SendDTMF(ctx, call.ID, "159"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "baresip's log of the digits", func() bool {
		out := bs.proc.Output()
		return strings.Contains(out, "'1'") && strings.Contains(out, "'5'") && strings.Contains(out, "'9'")
	})
	bs.command(t, "sndcode", "2468")
	var got string
	for len(got) < 4 {
		ev := waitMediaEvent(t, events, eventMediaDTMF, func(e Event) bool { return e.Data["call"] == call.ID })
		if ev.Data["method"] != "rfc4733" {
			t.Errorf("dtmf event %v, want method rfc4733", ev.Data)
		}
		got += ev.Data["digit"].(string)
	}
	if got != "2468" {
		t.Errorf("the phone reported digits %q, baresip sent 2468", got)
	}
	if _, err := p.Hangup(ctx, call.ID); err != nil {
		t.Fatal(err)
	}
	waitCall(t, events, call.ID, "Ended")
	bs.proc.Stop() // baresip finishes its recording's header on exit
	dec, _ := filepath.Glob(filepath.Join(bs.dir, "*dec*.wav"))
	if len(dec) != 1 {
		t.Fatalf("baresip's recording of what it decoded: %v\n%s", dec, bs.proc.Output())
	}
	raw, err := os.ReadFile(dec[0])
	if err != nil {
		t.Fatal(err)
	}
	heard, err := media.ReadWAV(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if hz := dominantTail(heard.Samples); math.Abs(hz-1000) > 10 {
		t.Errorf("baresip heard %.1f Hz, the phone played 1000 Hz", hz)
	}
	if hz := dominantTail(readRecording(t, rec)); math.Abs(hz-1500) > 10 {
		t.Errorf("the phone recorded %.1f Hz, baresip played 1500 Hz", hz)
	}
}

// dominantTail is the frequency of the sine that fills most of x's loud part: the median of
// zero-crossing counts over 100 ms windows (independent of the engine's own analysis).
func dominantTail(x []int16) float64 {
	var est []float64
	for start := 0; start+800 <= len(x); start += 800 {
		w := x[start : start+800]
		loud, crossings := 0, 0
		for i := 1; i < len(w); i++ {
			if w[i] > 500 || w[i] < -500 {
				loud++
			}
			if (w[i-1] < 0) != (w[i] < 0) {
				crossings++
			}
		}
		if loud > 400 { // a window of tone, not of silence or a gap
			est = append(est, float64(crossings)/2/0.1)
		}
	}
	if len(est) == 0 {
		return 0
	}
	slices.Sort(est)
	return est[len(est)/2]
}

// TestBaresipCallsPhone: baresip calls the phone through Kamailio; the phone rings, is
// answered, hears baresip's 1.5 kHz file, and takes baresip's hang-up.
func TestBaresipCallsPhone(t *testing.T) {
	k := siptest.StartKamailio(t, siptest.KamailioOptions{})
	src := filepath.Join(t.TempDir(), "tone.wav")
	writeToneWAV(t, src, 1500, 30)
	u, events := startUnit(t, Options{IP: "127.0.0.1", Clock: NewManualClock(voiceStart), Defaults: sipDefaults(t, k)}, nil)
	waitRegistration(t, events, 1, "Registered")
	bs := startBaresip(t, k, src)
	bs.command(t, "dial", "sip:1001@127.0.0.1")
	ring := waitCall(t, events, "", CallRinging)
	id := ring.Data["call"].(string)
	if peer, _ := ring.Data["peer"].(string); !strings.Contains(peer, "1002") {
		t.Errorf("ringing call from %q, want 1002", peer)
	}
	p := mustPhone(t, u)
	if _, err := p.Answer(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	waitCall(t, events, id, CallConnected)
	waitMediaEvent(t, events, EventAudio, func(e Event) bool {
		f, _ := e.Data["freq_hz"].(float64)
		return e.Data["call"] == id && e.Data["direction"] == "rx" && math.Abs(f-1500) < 10
	})
	bs.command(t, "hangup", "")
	if ev := waitCall(t, events, id, "Ended"); ev.Data["reason"] != "remote hang-up" {
		t.Errorf("ended %v", ev.Data)
	}
}
