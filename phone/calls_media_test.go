package phone

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spa900/spa900/media"
	"github.com/spa900/spa900/sip/siptest"
)

// TestCallMediaThroughKamailio: a call between two phones through Kamailio carries audio both
// ways: a plays a tone, b's audio event and recording show its frequency; a plays the
// Regional busy tone by name; b echoes and a hears its own tone back; digits a sends (Auto:
// RFC 4733) arrive at b as dtmf events; loss a injects shows in b's Line 1 Call 1 Status.
func TestCallMediaThroughKamailio(t *testing.T) {
	k := siptest.StartKamailio(t, siptest.KamailioOptions{})
	ua, ub, ea, eb := twoPhones(t, k)
	pa, pb := mustPhone(t, ua), mustPhone(t, ub)
	ctx := t.Context()
	call, bid := callAnswered(t, pa, ea, pb, eb, "1002")

	rec := filepath.Join(t.TempDir(), "b-rx.wav")
	if _, err := pb.CallRecord(ctx, bid, RecordRequest{RxFile: rec}); err != nil {
		t.Fatal(err)
	}
	if _, err := pa.CallPlay(ctx, call.ID, PlayRequest{Tone: "1000"}); err != nil {
		t.Fatal(err)
	}
	ev := waitMediaEvent(t, eb, EventAudio, func(e Event) bool {
		f, _ := e.Data["freq_hz"].(float64)
		return e.Data["call"] == bid && e.Data["direction"] == "rx" && math.Abs(f-1000) < 10
	})
	if ev.Data["silent"] != false {
		t.Errorf("audio event %v", ev.Data)
	}
	if st := ua.Status(); st.Info.Lines[0][0].Tone != "1000 Hz" || st.Info.Lines[0][0].Encoder != "G711u" {
		t.Errorf("a's Line 1 Call 1: %+v", st.Info.Lines[0][0])
	}
	if _, err := pb.CallRecord(ctx, bid, RecordRequest{Stop: true}); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(rec)
	pcm, err := media.ReadWAV(bytes.NewReader(raw))
	if err != nil || pcm.Duration() < 200*time.Millisecond {
		t.Fatalf("recording: %v, %v", err, pcm)
	}

	if _, err := pa.CallPlay(ctx, call.ID, PlayRequest{Tone: "Busy_Tone"}); err != nil {
		t.Fatal(err)
	}
	waitMediaEvent(t, eb, EventAudio, func(e Event) bool {
		f, _ := e.Data["freq_hz"].(float64)
		return e.Data["call"] == bid && e.Data["direction"] == "rx" && (math.Abs(f-480) < 10 || math.Abs(f-620) < 10)
	})
	if _, err := pa.CallPlay(ctx, call.ID, PlayRequest{Tone: "No_Such_Tone"}); err == nil {
		t.Error("an unknown tone name played")
	}

	if _, err := pb.CallEcho(ctx, bid, true); err != nil {
		t.Fatal(err)
	}
	if _, err := pa.CallPlay(ctx, call.ID, PlayRequest{Tone: "700"}); err != nil {
		t.Fatal(err)
	}
	waitMediaEvent(t, ea, EventAudio, func(e Event) bool {
		f, _ := e.Data["freq_hz"].(float64)
		return e.Data["call"] == call.ID && e.Data["direction"] == "rx" && math.Abs(f-700) < 10
	})
	pb.CallEcho(ctx, bid, false)

	if _, err := pa.SendDTMF(ctx, call.ID, "42#"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"4", "2", "#"} {
		ev := waitMediaEvent(t, eb, eventMediaDTMF, func(e Event) bool { return e.Data["call"] == bid })
		if ev.Data["digit"] != want || ev.Data["method"] != "rfc4733" {
			t.Errorf("dtmf at b: %v, want %s by rfc4733", ev.Data, want)
		}
	}

	if _, err := pa.CallImpair(ctx, call.ID, ImpairRequest{Loss: 2}); err == nil {
		t.Error("loss 2 accepted")
	}
	if _, err := pa.CallImpair(ctx, call.ID, ImpairRequest{Loss: 0.2, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "loss at b", func() bool { l := ub.Status().Info.Lines[0][0].PacketsLost; return l != "" && l != "0" })
	if _, err := pa.CallPlay(ctx, "nope", PlayRequest{Tone: "1000"}); err == nil {
		t.Error("play on an unknown call worked")
	}
	pa.Hangup(ctx, call.ID)
	waitCall(t, ea, call.ID, "Ended")
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) || t.Context().Err() != nil {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling a status that has no event of its own
	}
}
