package phone

import (
	"math"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/spa900/spa900/sip/siptest"
)

// TestLocalConference: phone A calls B and C through Kamailio and joins the two calls in a
// local three-way conference (SPA-BEHAVIOUR §13.5, the held leg resumed); A plays 1000 Hz, B
// 700 Hz, C 1300 Hz, and each phone's recording of what it receives holds the other two
// tones and not its own. A's two appearances stay busy, each call naming the other as its
// conference; when C hangs up, A and B go on.
func TestLocalConference(t *testing.T) {
	k := siptest.StartKamailio(t, siptest.KamailioOptions{})
	ua, ub, ea, eb := twoPhones(t, k)
	uc, ec := carol(t, k)
	pa, pb, pc := mustPhone(t, ua), mustPhone(t, ub), mustPhone(t, uc)
	ctx := t.Context()
	connect := func(to string, pf *Phone, ef <-chan Event) (aid, fid string) {
		t.Helper()
		c, err := pa.Dial(ctx, 1, to, false)
		if err != nil {
			t.Fatal(err)
		}
		fid = waitCall(t, ef, "", CallRinging).Data["call"].(string)
		if _, err := pf.Answer(ctx, fid); err != nil {
			t.Fatal(err)
		}
		waitCall(t, ea, c.ID, CallConnected)
		waitCall(t, ef, fid, CallConnected)
		return c.ID, fid
	}
	ab, bid := connect("1002", pb, eb)
	if _, err := pa.Hold(ctx, ab); err != nil { // conf holds the first call, as the device does
		t.Fatal(err)
	}
	waitCall(t, ea, ab, CallHeld)
	ac, cid := connect("1003", pc, ec)
	if _, err := pa.CallConference(ctx, ab, ab); err == nil {
		t.Error("a call conferenced with itself")
	}
	cs, err := pa.CallConference(ctx, ac, "")
	if err != nil {
		t.Fatal(err)
	}
	if cs.Conference != ab {
		t.Errorf("conference of %s = %q, want %s", ac, cs.Conference, ab)
	}
	waitCall(t, ea, ab, CallConnected) // the held leg resumed
	st := ua.Status()
	if len(st.Calls) != 2 || st.Info.Lines[0][0].State == "" || st.Info.Lines[0][1].State == "" {
		t.Errorf("a's calls %+v, appearances %q %q", st.Calls, st.Info.Lines[0][0].State, st.Info.Lines[0][1].State)
	}
	for _, c := range st.Calls {
		if c.Conference == "" {
			t.Errorf("call %s not in the conference: %+v", c.ID, c)
		}
	}

	dir := t.TempDir()
	type party struct {
		p    *Phone
		call string
		hz   float64
		rec  string
	}
	parties := []party{{pa, ab, 1000, filepath.Join(dir, "a.wav")}, {pb, bid, 700, filepath.Join(dir, "b.wav")}, {pc, cid, 1300, filepath.Join(dir, "c.wav")}}
	for _, x := range parties {
		if _, err := x.p.CallPlay(ctx, x.call, PlayRequest{Tone: formatHz(x.hz)}); err != nil {
			t.Fatal(err)
		}
	}
	// A records one leg: it hears that leg's far party only (the mixer feeds each leg the
	// others; A's own ear is each leg's received audio). B and C record all they receive.
	for _, x := range parties {
		if _, err := x.p.CallRecord(ctx, x.call, RecordRequest{RxFile: x.rec}); err != nil {
			t.Fatal(err)
		}
	}
	// A second and a half of mixed audio in each recording: each recording leg (appearance 1
	// of every phone) receives 75 more packets.
	units := []*Unit{ua, ub, uc}
	var from [3]int
	for i, u := range units {
		from[i] = atoiOr0(u.Status().Info.Lines[0][0].PacketsRecv)
	}
	waitFor(t, 20*time.Second, "1.5 s of audio at every phone", func() bool {
		for i, u := range units {
			if atoiOr0(u.Status().Info.Lines[0][0].PacketsRecv) < from[i]+75 {
				return false
			}
		}
		return true
	})
	for _, x := range parties {
		if _, err := x.p.CallRecord(ctx, x.call, RecordRequest{Stop: true}); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string][]float64{"a.wav": {700}, "b.wav": {1000, 1300}, "c.wav": {1000, 700}}
	for _, x := range parties {
		pcm := readRecording(t, x.rec)
		tail := pcm[len(pcm)/2:]
		name := filepath.Base(x.rec)
		for _, f := range want[name] {
			if share := toneShare(tail, f); share < 0.2 {
				t.Errorf("%s: %v Hz has %.2f of the energy, want the tone heard", name, f, share)
			}
		}
		if share := toneShare(tail, x.hz); share > 0.02 {
			t.Errorf("%s: its own %v Hz has %.2f of the energy, want none", name, x.hz, share)
		}
	}

	pc.Hangup(ctx, cid)
	waitCall(t, ea, ac, "Ended")
	if st := ua.Status(); len(st.Calls) != 1 || st.Calls[0].Conference != "" || st.Calls[0].State != CallConnected {
		t.Errorf("after C left, a's calls %+v", st.Calls)
	}
}

func formatHz(hz float64) string { return strconv.FormatFloat(hz, 'f', -1, 64) }

func atoiOr0(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// toneShare is the fraction of x's energy at frequency hz (Goertzel over 20 ms blocks at 8 kHz).
func toneShare(x []int16, hz float64) float64 {
	const n = 160
	w := 2 * math.Pi * hz / 8000
	coeff := 2 * math.Cos(w)
	var tone, total float64
	for off := 0; off+n <= len(x); off += n {
		var s1, s2 float64
		for _, v := range x[off : off+n] {
			f := float64(v)
			total += f * f
			s := f + coeff*s1 - s2
			s2, s1 = s1, s
		}
		// |X(k)|² of the block, scaled to the block's energy for a pure tone (2/N).
		tone += (s1*s1 + s2*s2 - coeff*s1*s2) * 2 / n
	}
	if total == 0 {
		return 0
	}
	return tone / total
}
