package phone

import (
	"context"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/spa900/spa900/media"
	"github.com/spa900/spa900/provisioning/config"
	"github.com/spa900/spa900/provisioning/provtest"
)

// TestMediaOnThePhone: the phone's engine takes RTP ports from its range on its IP; a session
// it opens for a call carries audio both ways with a far engine; the far end's tone and
// digits reach the event stream as audio and dtmf events naming the call; Phone Status counts
// the RTP; the Info fields come from the session's statistics.
func TestMediaOnThePhone(t *testing.T) {
	// The phone's range and the far engine's, free a moment ago and out of the kernel's
	// ephemeral range (a window reaching into it was once taken whole under CI).
	base := provtest.FreeUDPRange(t, 200)
	u, events := startUnit(t, Options{IP: "127.0.0.1", Defaults: defaults(
		config.RTPPortMin, strconv.Itoa(base), config.RTPPortMax, strconv.Itoa(base+99), "Line_Enable_1_", "No",
	)}, nil)
	p := mustPhone(t, u)
	var s *media.Session
	var sdp media.SDPConfig
	err := p.do(t.Context(), func(st *state) error {
		eng := st.rtp()
		if eng == nil {
			t.Fatal("no media engine")
		}
		var err error
		if s, err = eng.OpenCall(1); err != nil {
			return err
		}
		st.labelMedia(s, "c1", 1)
		sdp = eng.SDPConfig(1)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if port := int(s.LocalAddr().Port()); port < base || port > base+98 || port%2 != 0 {
		t.Errorf("session port %d outside %d-%d", port, base, base+99)
	}
	// The far end: an engine of its own, answering the phone's offer.
	far, err := media.NewEngine(media.EngineConfig{IP: netip.MustParseAddr("127.0.0.1"), PortMin: uint16(base + 100), PortMax: uint16(base + 199)})
	if err != nil {
		t.Fatal(err)
	}
	defer far.Close()
	fs, err := far.Open()
	if err != nil {
		t.Fatal(err)
	}
	offer, err := media.Offer(sdp, media.Local{Addr: s.LocalAddr(), SessionID: 1, Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	answer, farN, err := media.Answer(media.SDPConfig{Codecs: []media.Codec{media.CodecPCMA}, DTMFPayload: 101}, offer, media.Local{Addr: fs.LocalAddr(), SessionID: 2, Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	n, err := media.Accept(sdp, offer, answer)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(n); err != nil {
		t.Fatal(err)
	}
	fs.Play(media.NewTestTone(1000, -15), "far tone")
	if err := fs.Start(farN); err != nil {
		t.Fatal(err)
	}
	ev := waitMediaEvent(t, events, EventAudio, func(e Event) bool { return e.Data["direction"] == "rx" && e.Data["silent"] == false })
	if ev.Data["call"] != "c1" || ev.Data["ext"] != 1 {
		t.Errorf("audio event %v does not name the call", ev.Data)
	}
	if f := ev.Data["freq_hz"].(float64); f < 990 || f > 1010 {
		t.Errorf("audio event at %v Hz, want 1000", f)
	}
	fs.SendDTMF("73", media.DTMFRFC4733)
	for _, want := range []string{"7", "3"} {
		ev := waitMediaEvent(t, events, eventMediaDTMF, func(Event) bool { return true })
		if ev.Data["digit"] != want || ev.Data["method"] != "rfc4733" || ev.Data["call"] != "c1" {
			t.Errorf("dtmf event %v, want digit %s", ev.Data, want)
		}
	}
	c := p.Status().Info.Counters
	if c.RTPPacketsSent == 0 || c.RTPPacketsRecv == 0 || c.RTPBytesRecv < c.RTPPacketsRecv*16 || c.RTPBytesSent < c.RTPPacketsSent*(12+240) {
		t.Errorf("Phone Status RTP counters %+v", c)
	}
	var ci config.CallInfo
	callMediaInfo(&ci, s.Stats(), media.LoopbackOff)
	if ci.Encoder != "G711a" || ci.Decoder != "G711a" || ci.MappedRTPPort != strconv.Itoa(int(s.LocalAddr().Port())) || ci.Tone != "None" || ci.PacketsRecv == "0" {
		t.Errorf("Info fields %+v", ci)
	}
}

func waitMediaEvent(t *testing.T, events <-chan Event, kind string, ok func(Event) bool) Event {
	t.Helper()
	// 30 s: a loaded 2-core machine under -race delays a phone's first audio by seconds.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for {
		select {
		case e := <-events:
			if e.Kind == kind && ok(e) {
				return e
			}
		case <-ctx.Done():
			t.Fatalf("no %s event", kind)
			return Event{}
		}
	}
}
