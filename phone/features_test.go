package phone

import (
	"errors"
	"strings"
	"testing"

	"github.com/spa900/spa900/provisioning/config"
	"github.com/spa900/spa900/sip/siptest"
)

// carol starts a third phone registered to k as 1003.
func carol(t *testing.T, k *siptest.Kamailio, sets ...string) (*Unit, <-chan Event) {
	t.Helper()
	u, e := startUnit(t, Options{IP: "127.0.0.1", Clock: NewManualClock(voiceStart),
		Defaults: sipDefaults(t, k, append([]string{"User_ID_1_", "1003", "Password_1_", "secret1003", "Display_Name_1_", "Carol"}, sets...)...)}, nil)
	waitRegistration(t, e, 1, "Registered")
	return u, e
}

// answerNext waits for the next call ringing on a phone and answers it; it returns its id.
func answerNext(t *testing.T, p *Phone, events <-chan Event) string {
	t.Helper()
	id := waitCall(t, events, "", CallRinging).Data["call"].(string)
	if _, err := p.Answer(t.Context(), id); err != nil {
		t.Fatalf("Answer: %v", err)
	}
	waitCall(t, events, id, CallConnected)
	return id
}

// hangupBoth hangs up call id on p and waits for it to end on both sides.
func hangupBoth(t *testing.T, p *Phone, pe <-chan Event, id string, other <-chan Event, otherID string) {
	t.Helper()
	if _, err := p.Hangup(t.Context(), id); err != nil {
		t.Fatalf("Hangup: %v", err)
	}
	waitCall(t, pe, id, "Ended")
	waitCall(t, other, otherID, "Ended")
}

// setByCode dials a code that changes a setting and checks the outcome: the parameter's new
// value, Confirm_Tone, the event, and no warm restart.
func setByCode(t *testing.T, u *Unit, events <-chan Event, keys, param, want string) {
	t.Helper()
	res, err := mustPhone(t, u).Dial(t.Context(), 1, keys, false)
	if err != nil {
		t.Fatalf("dial %s: %v", keys, err)
	}
	if res.Placed() || res.Feature == nil || res.Feature.Changed[param] != want ||
		res.Feature.Tone != "Confirm_Tone" || res.Feature.ToneScript != "600@-16;1(.25/.25/1)" {
		t.Fatalf("dial %s = %+v, feature %+v; want %s=%q, Confirm_Tone, no call", keys, res.CallStatus, res.Feature, param, want)
	}
	ev := waitEvent(t, events, EventConfigApplied)
	if ev.Data["restart"] != false || !strings.HasPrefix(ev.Data["source"].(string), "feature ") {
		t.Errorf("config_applied of %s = %v, want applied live by the feature", keys, ev.Data)
	}
	if fe := waitEvent(t, events, EventFeature); fe.Data["tone"] != "Confirm_Tone" || fe.Data["code"] == "" {
		t.Errorf("feature event = %v", fe.Data)
	}
	st := u.Status()
	if st.Config.Get(param) != want || len(st.Pending) != 0 || st.Extensions[0].Registration != "Registered" {
		t.Errorf("after %s: %s=%q, pending %v, registration %s; want %q, nothing pending, still registered",
			keys, param, st.Config.Get(param), st.Pending, st.Extensions[0].Registration, want)
	}
}

// TestVerticalServiceCodes dials the star codes of SPA-BEHAVIOUR §12.7 on phones registered
// to Kamailio and checks what each does on the wire: settings (DND, forward all, anonymous
// block) change the User tab live and act on the next call; per-call codes (caller ID block,
// codec, call waiting) shape the call they place; *69 calls the last caller; *98 transfers.
func TestVerticalServiceCodes(t *testing.T) {
	k := siptest.StartKamailio(t, siptest.KamailioOptions{})
	ua, ub, ea, eb := twoPhones(t, k)
	uc, ec := carol(t, k)
	pa, pb, pc := mustPhone(t, ua), mustPhone(t, ub), mustPhone(t, uc)
	ctx := t.Context()

	t.Run("DND", func(t *testing.T) {
		setByCode(t, ub, eb, "*78", config.DNDSetting, "Yes")
		c, err := pa.Dial(ctx, 1, "1002", false)
		if err != nil {
			t.Fatal(err)
		}
		if ev := waitCall(t, ea, c.ID, "Ended"); ev.Data["code"] != 480 {
			t.Errorf("call to a DND phone ended %v, want 480", ev.Data)
		}
		setByCode(t, ub, eb, "*79", config.DNDSetting, "No")
	})

	t.Run("forward all", func(t *testing.T) {
		setByCode(t, ub, eb, "*72 1003", config.CfwdAllDest, "1003")
		c, err := pa.Dial(ctx, 1, "1002", false)
		if err != nil {
			t.Fatal(err)
		}
		cid := answerNext(t, pc, ec) // the 302 took A to C
		waitCall(t, ea, c.ID, CallConnected)
		hangupBoth(t, pa, ea, c.ID, ec, cid)
		setByCode(t, ub, eb, "*73", config.CfwdAllDest, "")
	})

	t.Run("caller ID block per call, anonymous block", func(t *testing.T) {
		res, err := pa.Dial(ctx, 1, "*81 1002", false)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Placed() || res.Feature == nil || res.Feature.Name != config.BlockCIDPerCallActCode || res.Dialled != "*81 1002" {
			t.Fatalf("*81 1002 = %+v, feature %+v", res.CallStatus, res.Feature)
		}
		ring := waitCall(t, eb, "", CallRinging)
		if p := ring.Data["peer"].(string); !strings.Contains(p, "anonymous") {
			t.Errorf("B sees the caller as %s, want anonymous", p)
		}
		bid := ring.Data["call"].(string)
		hangupBoth(t, pa, ea, res.ID, eb, bid)

		setByCode(t, ub, eb, "*77", config.BlockANCSetting, "Yes")
		res, err = pa.Dial(ctx, 1, "*81 1002", false)
		if err != nil {
			t.Fatal(err)
		}
		if ev := waitCall(t, ea, res.ID, "Ended"); ev.Data["code"] != 433 {
			t.Errorf("anonymous call to a Block_ANC phone ended %v, want 433", ev.Data)
		}
		// Without the code, the same call has an identity and rings.
		c, err := pa.Dial(ctx, 1, "1002", false)
		if err != nil {
			t.Fatal(err)
		}
		bid = answerNext(t, pb, eb)
		hangupBoth(t, pa, ea, c.ID, eb, bid)
		setByCode(t, ub, eb, "*87", config.BlockANCSetting, "No")
	})

	t.Run("call return", func(t *testing.T) {
		// A called B last (the subtest before): *69 on B calls A.
		res, err := pb.Dial(ctx, 1, "*69", false)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Placed() || !strings.Contains(res.Feature.Number, "1001") {
			t.Fatalf("*69 = %+v, feature %+v", res.CallStatus, res.Feature)
		}
		aid := answerNext(t, pa, ea)
		waitCall(t, eb, res.ID, CallConnected)
		hangupBoth(t, pb, eb, res.ID, ea, aid)
	})

	t.Run("codec forced per call", func(t *testing.T) {
		res, err := pa.Dial(ctx, 1, "*027111 1002", false)
		if err != nil {
			t.Fatal(err)
		}
		bid := answerNext(t, pb, eb)
		waitCall(t, ea, res.ID, CallConnected)
		for _, st := range []*Status{ua.Status(), ub.Status()} {
			if len(st.Calls) != 1 || st.Calls[0].Codec != "G711a" {
				t.Errorf("calls %+v, want one in G711a", st.Calls)
			}
		}
		hangupBoth(t, pa, ea, res.ID, eb, bid)
	})

	t.Run("call waiting off for one call", func(t *testing.T) {
		res, err := pb.Dial(ctx, 1, "*70 1003", false)
		if err != nil {
			t.Fatal(err)
		}
		cid := answerNext(t, pc, ec)
		waitCall(t, eb, res.ID, CallConnected)
		c, err := pa.Dial(ctx, 1, "1002", false)
		if err != nil {
			t.Fatal(err)
		}
		if ev := waitCall(t, ea, c.ID, "Ended"); ev.Data["code"] != 486 {
			t.Errorf("second call while *70 holds ended %v, want 486", ev.Data)
		}
		hangupBoth(t, pb, eb, res.ID, ec, cid)
	})

	t.Run("blind transfer by *98", func(t *testing.T) {
		c, err := pa.Dial(ctx, 1, "1002", false)
		if err != nil {
			t.Fatal(err)
		}
		bid := answerNext(t, pb, eb)
		waitCall(t, ea, c.ID, CallConnected)
		res, err := pb.Dial(ctx, 1, "*98 1003", false)
		if err != nil {
			t.Fatalf("*98 1003: %v", err)
		}
		if res.Placed() || res.Feature.Transferred != bid {
			t.Errorf("*98 1003 = %+v, feature %+v; want the transfer of call %s", res.CallStatus, res.Feature, bid)
		}
		cid := answerNext(t, pc, ec)
		waitCall(t, eb, bid, "Ended")
		waitCall(t, ea, c.ID, "Ended")
		st := ua.Status()
		if len(st.Calls) != 1 || st.Calls[0].PeerPhone != "1003" {
			t.Fatalf("A's calls after *98: %+v", st.Calls)
		}
		hangupBoth(t, pc, ec, cid, ea, st.Calls[0].ID)
	})

	t.Run("refused", func(t *testing.T) {
		if _, err := pa.Dial(ctx, 1, "*66", false); !errors.Is(err, ErrNotSupported) {
			t.Errorf("*66 = %v, want ErrNotSupported", err)
		}
		if _, err := pa.Dial(ctx, 1, "*98 1003", false); !errors.Is(err, ErrCallState) {
			t.Errorf("*98 without a call = %v, want ErrCallState", err)
		}
		if len(ua.Status().Calls) != 0 {
			t.Error("a refused code placed a call")
		}
	})
}
