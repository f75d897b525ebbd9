package phone

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spa900/spa900/sip/siptest"
)

func TestParseMediaFlags(t *testing.T) {
	wav := filepath.Join(t.TempDir(), "tone.wav")
	writeToneWAV(t, wav, 440, 1)
	sources := []struct {
		in, want string
		ok       bool
	}{
		{"", "silence", true},
		{"silence", "silence", true},
		{"echo", "echo", true},
		{"tone:1000", "tone:1000", true},
		{"tone:Dial_Tone", "tone:Dial_Tone", true},
		{"file:" + wav, "file:" + wav, true},
		{"file:/no/such.wav", "", false},
		{"tone:", "", false},
		{"noise", "", false},
		{"echo:1", "", false},
	}
	for _, tt := range sources {
		got, err := ParseAudioSource(tt.in)
		if (err == nil) != tt.ok || (tt.ok && got.String() != tt.want) {
			t.Errorf("ParseAudioSource(%q) = %v, %v; want %q ok %v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("ParseAudioSource(%q) error %v is not ErrInvalidRequest", tt.in, err)
		}
	}
	impairs := []struct {
		in   string
		want ImpairRequest
		ok   bool
	}{
		{"", ImpairRequest{}, true},
		{"loss=0.05,burst=2,jitter=20ms,delay=50ms,reorder=0.01,seed=7", ImpairRequest{Loss: 0.05, BurstLen: 2, JitterMS: 20, DelayMS: 50, Reorder: 0.01, Seed: 7}, true},
		{"loss=1.5", ImpairRequest{}, false},
		{"jitter=20", ImpairRequest{}, false},
		{"lost=0.1", ImpairRequest{}, false},
		{"loss", ImpairRequest{}, false},
	}
	for _, tt := range impairs {
		got, err := ParseImpairment(tt.in)
		if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("ParseImpairment(%q) = %+v, %v; want %+v ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// TestImpairmentSeenByTheFarPhone: phone A runs with the per-phone flags' options — every call
// sends a 1 kHz tone, impaired by 10% loss and 30 ms jitter — and B records every call to a
// directory. In a call through Kamailio, B's Line 1 Call 1 Status shows the loss A's call
// status says it injected (between what A had dropped before B's count was read and after,
// within the packets in flight), and an RFC 3550 jitter within 50% of the injected one (plus
// what the machine adds, as A hears it); B's recording of the call holds the tone.
func TestImpairmentSeenByTheFarPhone(t *testing.T) {
	k := siptest.StartKamailio(t, siptest.KamailioOptions{})
	src, err := ParseAudioSource("tone:1000")
	if err != nil {
		t.Fatal(err)
	}
	imp, err := ParseImpairment("loss=0.1,jitter=30ms,seed=7")
	if err != nil {
		t.Fatal(err)
	}
	recDir := t.TempDir()
	ua, ea := startUnit(t, Options{IP: "127.0.0.1", Clock: NewManualClock(voiceStart), Defaults: sipDefaults(t, k),
		Media: MediaOptions{Source: src, Impair: imp}}, nil)
	ub, eb := startUnit(t, Options{IP: "127.0.0.1", Clock: NewManualClock(voiceStart), Defaults: sipDefaults(t, k,
		"User_ID_1_", "1002", "Password_1_", "secret1002"), Media: MediaOptions{RecordDir: recDir}}, nil)
	waitRegistration(t, ea, 1, "Registered")
	waitRegistration(t, eb, 1, "Registered")
	pa, pb := mustPhone(t, ua), mustPhone(t, ub)
	ctx := t.Context()
	call, err := pa.Dial(ctx, 1, "1002", false)
	if err != nil {
		t.Fatal(err)
	}
	bid := waitCall(t, eb, "", CallRinging).Data["call"].(string)
	if _, err := pb.Answer(ctx, bid); err != nil {
		t.Fatal(err)
	}
	waitCall(t, ea, call.ID, CallConnected)
	waitFor(t, 20*time.Second, "150 packets at B", func() bool { return atoiOr0(ub.Status().Info.Lines[0][0].PacketsRecv) >= 150 })

	// A's counts are read before and after B's, so that B's reading falls between them: the
	// stream goes on meanwhile, by as many packets as a loaded machine takes between two
	// reads, and B's count is bound by what A had injected at each end of that span.
	injected := func() (*InjectedCounts, float64) {
		t.Helper()
		st := ua.Status()
		for _, c := range st.Calls {
			if c.ID == call.ID {
				if inj := c.Injected; inj != nil && inj.Dropped > 0 && inj.JitterMS == 30 && inj.LossFraction == 0.1 {
					return inj, float64(atoiOr0(st.Info.Lines[0][0].Jitter))
				}
				t.Fatalf("A's injected counts %+v", c.Injected)
			}
		}
		t.Fatalf("A's call %s is gone", call.ID)
		return nil, 0
	}
	before, natBefore := injected()
	bi := ub.Status().Info.Lines[0][0]
	after, natAfter := injected()
	// B counts a packet lost once a later one arrived: at the first read, the drops of A's
	// last packets may not be countable yet, and at the second, packets A sent before it that
	// jitter holds back (30 ms: one or two packets of 30 ms) are counted lost until they come.
	const inFlight = 3
	lost := uint64(atoiOr0(bi.PacketsLost))
	if lost+inFlight < before.Dropped || lost > after.Dropped+inFlight {
		t.Errorf("B counts %d packets lost, A had dropped %d (of %d) before B's count and %d (of %d) after",
			lost, before.Dropped, before.PacketsSent, after.Dropped, after.PacketsSent)
	}
	// The jitter B measures is the injected one plus the machine's own: late pacer wake-ups
	// on a loaded machine. A hears B's unimpaired stream through the same machine, so A's
	// jitter, read on both sides of B's, is that share; B's may exceed 1.5 times the injected
	// by twice it (both ends' pacers) and the whole milliseconds the status rounds to.
	natural := max(natBefore, natAfter)
	if j := float64(atoiOr0(bi.Jitter)); j < 0.5*before.JitterMS || j > 1.5*before.JitterMS+2*natural+1 {
		t.Errorf("B's jitter %v ms, A injected %v ms (A hears %v ms of the machine's own)", j, before.JitterMS, natural)
	}
	pa.Hangup(ctx, call.ID)
	waitCall(t, eb, bid, "Ended")

	files, _ := filepath.Glob(filepath.Join(recDir, "*-"+bid+"-*-rx.wav"))
	if len(files) != 1 {
		all, _ := os.ReadDir(recDir)
		t.Fatalf("recordings %v in %v", files, all)
	}
	if _, err := os.Stat(strings.TrimSuffix(files[0], "rx.wav") + "tx.wav"); err != nil {
		t.Error(err)
	}
	rx := readRecording(t, files[0])
	if share := toneShare(rx[len(rx)/2:], 1000); share < 0.5 {
		t.Errorf("B's recording: 1 kHz has %.2f of the energy", share)
	}
}
