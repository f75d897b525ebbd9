package media

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spa900/spa900/media/mediatest"
)

func deep() SessionConfig {
	return SessionConfig{Analyze: true, Jitter: JitterConfig{Initial: 150 * time.Millisecond, Max: 500 * time.Millisecond, Adapt: JitterAdaptUp}}
}

func rxFreq(s *Session) float64 { return s.Stats().Rx.FreqHz }

func near(f, want float64) bool { return math.Abs(f-want) < 10 }

// TestEchoAndRecording: b echoes what a plays; a's recording of what it received and b's of
// what it sent hold the tone.
func TestEchoAndRecording(t *testing.T) {
	ea, _ := testEngine(t, deep())
	eb, _ := testEngine(t, deep())
	a, b := pair(t, ea, eb, pcmu20)
	dir := t.TempDir()
	arx, _ := os.Create(filepath.Join(dir, "a-rx.wav"))
	btx, _ := os.Create(filepath.Join(dir, "b-tx.wav"))
	if err := a.Record(arx, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Record(nil, btx); err != nil {
		t.Fatal(err)
	}
	b.SetEcho(true)
	a.Play(NewTestTone(700, -10), "700")
	waitFor(t, 10*time.Second, "a hears its tone echoed", func() bool { return near(rxFreq(a), 700) && a.Stats().Rx.State == AudioPresent })
	if got := b.Stats().Tone; got != "echo" {
		t.Errorf("b's Tone = %q, want echo", got)
	}
	waitFor(t, 10*time.Second, "a second of echo", func() bool { return a.Stats().PacketsRecv > 100 })
	if err := a.StopRecording(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil { // Close finishes b's recording
		t.Fatal(err)
	}
	for _, name := range []string{"a-rx.wav", "b-tx.wav"} {
		raw, _ := os.ReadFile(filepath.Join(dir, name))
		p, err := ReadWAV(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// The packet times of audio, after the echo began: a stall of a loaded machine
		// makes playout gaps (concealed as silence) that b echoes and both record; they are
		// left out. The tone's 14 cycles a packet time keep the rest continuous.
		audio := loudFrames(p.Samples)
		if len(audio) < 4000 {
			t.Fatalf("%s holds %d samples of audio, want the echoed tone", name, len(audio))
		}
		tail := &PCM{Samples: audio[len(audio)-4000:]}
		if hz, level := measure(tail); !near(hz, 700) || level < -20 {
			t.Errorf("%s ends with %.1f Hz at %.1f dBFS, want the 700 Hz tone", name, hz, level)
		}
	}
}

// loudFrames is x's 20 ms frames that are not silence, in order.
func loudFrames(x []int16) []int16 {
	var out []int16
	for i := 0; i+160 <= len(x); i += 160 {
		if mediatest.Loud(x[i : i+160]) {
			out = append(out, x[i:i+160]...)
		}
	}
	return out
}

// TestPacketLoopback: b mirrors every packet a sends, one for one (RFC 6849 packet loopback):
// a hears its own tone, and once a stops, b has sent back exactly what it received.
func TestPacketLoopback(t *testing.T) {
	ea, _ := testEngine(t, deep())
	eb, _ := testEngine(t, SessionConfig{})
	a, err := ea.Open()
	if err != nil {
		t.Fatal(err)
	}
	b, err := eb.Open()
	if err != nil {
		t.Fatal(err)
	}
	b.SetLoopback(LoopbackPacket) // before it starts: b sends nothing of its own
	na, nb := pcmu20, pcmu20
	na.Remote, nb.Remote = b.LocalAddr(), a.LocalAddr()
	if err := a.Start(na); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(nb); err != nil {
		t.Fatal(err)
	}
	a.Play(NewTestTone(1100, -10), "1100")
	waitFor(t, 10*time.Second, "a hears its tone looped back", func() bool { return near(rxFreq(a), 1100) })
	if b.Loopback() != LoopbackPacket || b.Stats().Tone != "loopback packet" {
		t.Errorf("loopback %v, tone %q", b.Loopback(), b.Stats().Tone)
	}
	na.Direction = DirRecvOnly
	if err := a.Update(na); err != nil { // a sends no more once Update returns
		t.Fatal(err)
	}
	sent := a.Stats().PacketsSent
	waitFor(t, 10*time.Second, "b to send back each of a's packets", func() bool {
		bs := b.Stats()
		return bs.PacketsRecv == sent && bs.PacketsSent == sent
	})
}

// TestConferenceMixesTheLegs: the phone P hosts a conference of A and B (§13.5): A hears B's
// tone and B hears A's.
func TestConferenceMixesTheLegs(t *testing.T) {
	ep, _ := testEngine(t, deep())
	ea, _ := testEngine(t, deep())
	eb, _ := testEngine(t, deep())
	p1, a := pair(t, ep, ea, pcmu20)
	p2, b := pair(t, ep, eb, pcmu20)
	a.Play(NewTestTone(500, -10), "500")
	b.Play(NewTestTone(1500, -10), "1500")
	p1.Conference(p2)
	waitFor(t, 10*time.Second, "A hears B and B hears A through P", func() bool {
		return near(rxFreq(a), 1500) && near(rxFreq(b), 500)
	})
	p1.Conference(nil)
	waitFor(t, 10*time.Second, "the legs apart again", func() bool {
		return a.Stats().Rx.State == AudioSilence && b.Stats().Rx.State == AudioSilence
	})
}

// TestOneWayAudio: a sends audio to b, b sends nothing back (its packets go elsewhere): a
// reports one-way audio, and the report clears when b's audio arrives.
func TestOneWayAudio(t *testing.T) {
	ea, eva := testEngine(t, SessionConfig{Analyze: true, OneWayAfter: 500 * time.Millisecond})
	eb, _ := testEngine(t, SessionConfig{})
	a, b := pair(t, ea, eb, pcmu20)
	a.Play(NewTestTone(800, -10), "800")
	n := b.Negotiated()
	n.Direction = DirRecvOnly // b sends nothing, as a far end whose media is lost
	b.Update(n)
	ev := eva.wait(t, 10*time.Second, "one-way audio", func(ev Event) bool { return ev.Kind == EventOneWay })
	if !ev.OneWay || !a.Stats().OneWay {
		t.Errorf("event %+v, stats one-way %v", ev, a.Stats().OneWay)
	}
	n.Direction = DirSendRecv
	b.Update(n)
	b.Play(NewTestTone(400, -10), "400")
	ev = eva.wait(t, 10*time.Second, "one-way audio cleared", func(ev Event) bool { return ev.Kind == EventOneWay })
	if ev.OneWay || a.Stats().OneWay {
		t.Errorf("still one-way after b's audio: %+v", ev)
	}
}

// TestCallProgressToneOverRTP plays the Regional busy tone and checks the far end's events:
// audio at the tone's frequency, then silence, alternating at the cadence.
func TestCallProgressToneOverRTP(t *testing.T) {
	ea, _ := testEngine(t, SessionConfig{})
	eb, evb := testEngine(t, deep())
	a, b := pair(t, ea, eb, pcmu20)
	busy, _ := ParseToneScript(regionalTones["Busy_Tone"])
	a.Play(NewToneSource(busy), "Busy_Tone")
	on := evb.wait(t, 10*time.Second, "busy tone on", func(ev Event) bool {
		return ev.Session == b && ev.Flow == FlowRx && ev.Audio.State == AudioPresent
	})
	if !near(on.Audio.FreqHz, 480) && !near(on.Audio.FreqHz, 620) {
		t.Errorf("busy tone heard at %.1f Hz, want 480 or 620", on.Audio.FreqHz)
	}
	off := evb.wait(t, 10*time.Second, "busy tone off", func(ev Event) bool {
		return ev.Session == b && ev.Flow == FlowRx && ev.Audio.State == AudioSilence
	})
	// And on again: the cadence repeats (its timing is the tone source's, tested in
	// TestToneSourceCadence; event times on a loaded machine are not precise enough).
	evb.wait(t, 10*time.Second, "busy tone on again", func(ev Event) bool {
		return ev.Session == b && ev.Flow == FlowRx && ev.Audio.State == AudioPresent && ev.At.After(off.At)
	})
	if got := a.Stats().Tone; got != "Busy_Tone" {
		t.Errorf("Tone = %q", got)
	}
}
