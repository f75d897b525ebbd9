package phone

import (
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/spa900/spa900/media"
	"github.com/spa900/spa900/phone/dialplan"
	"github.com/spa900/spa900/provisioning/config"
)

// Vertical service codes (SPA-BEHAVIOUR §8.3, §12.7): the Regional tab's star codes, which the
// matcher takes as implicit sequences of every dial plan (§8.7). The phone acts on them as the
// device does:
//
//   - codes that change a setting (*72 number / *73, *90/*91, *92/*93, *56/*57, *67/*68,
//     *77/*87, *78/*79, *16/*17) set the User tab's parameter, persisted in the flash and
//     applied live (config's liveParams: the device does not restart its voice application
//     when the user dials *78), then "play" Confirm_Tone and go back to idle. The emulated
//     phone has no loudspeaker: the tone and its script are reported in the result and on the
//     event stream (event "feature");
//   - per-call codes (*71/*70 call waiting, *81/*82 caller ID, *01…/*02… codec preference,
//     *19 not secure) take the number after them and place that call with the override;
//   - *69 calls the last caller back; *98 + number transfers the extension's held (else
//     connected) call there by REFER, the blind transfer of phones without bxfer (§13.6);
//   - codes the phone knows and cannot honour are refused with the reason, as the device's
//     reorder tone would: *66/*86 call back on busy (it needs a subscription to the callee's
//     state this emulator does not keep), *18 a secure call (no SRTP), and forcing a codec the
//     media engine has not (G.723, G.726, G.729a). Preferring such a codec places the call with
//     the configured preferences, since the preferred codec is only the first choice.
//
// Codes the phone leaves to the PBX (*96 paging, *38/*39 park, *36/*37 pickup, *03 media
// loopback) are not implicit sequences: the dial plan sends them as numbers, which is what the
// 5.x phone does with them [inf, §13.11].

// vscKind is what a vertical service code does.
type vscKind uint8

const (
	vscSet           vscKind = iota // set a User-tab parameter: to value, or to the code's number
	vscPerCall                      // place the call to the number with a per-call override
	vscCallReturn                   // call the last caller (*69)
	vscBlindTransfer                // transfer the held (else connected) call to the number (*98)
	vscRefused                      // a code the phone knows and cannot honour
)

// vsc is one code of the Regional tab.
type vsc struct {
	name  string // the Regional parameter holding the code
	kind  vscKind
	arg   bool   // a number follows the code
	param string // vscSet: the User-tab parameter
	value string // vscSet without arg: the value
	// vscPerCall: the override.
	anonymous, cw override
	codec         media.Codec
	force         bool
	// vscRefused, or a preference for a codec the engine has not: why.
	reason string
}

// override is a per-call setting: unset (the configuration's), on or off.
type override uint8

const (
	unset override = iota
	on
	off
)

// or returns the override's value, def when unset.
func (o override) or(def bool) bool {
	switch o {
	case on:
		return true
	case off:
		return false
	}
	return def
}

// vscTable lists the codes the phone acts on, in the Regional tab's order.
var vscTable = []vsc{
	{name: config.CallReturnCode, kind: vscCallReturn},
	{name: config.BlindTransferCode, kind: vscBlindTransfer, arg: true},
	{name: config.CallBackActCode, kind: vscRefused, reason: "call back on busy is not supported: it needs the callee's state, which spa900 does not subscribe to"},
	{name: config.CallBackDeactCode, kind: vscRefused, reason: "call back on busy is not supported, so there is none to cancel"},
	{name: config.CfwdAllActCode, kind: vscSet, arg: true, param: config.CfwdAllDest},
	{name: config.CfwdAllDeactCode, kind: vscSet, param: config.CfwdAllDest},
	{name: config.CfwdBusyActCode, kind: vscSet, arg: true, param: config.CfwdBusyDest},
	{name: config.CfwdBusyDeactCode, kind: vscSet, param: config.CfwdBusyDest},
	{name: config.CfwdNoAnsActCode, kind: vscSet, arg: true, param: config.CfwdNoAnsDest},
	{name: config.CfwdNoAnsDeactCode, kind: vscSet, param: config.CfwdNoAnsDest},
	{name: config.CWActCode, kind: vscSet, param: config.CWSetting, value: "Yes"},
	{name: config.CWDeactCode, kind: vscSet, param: config.CWSetting, value: "No"},
	{name: config.CWPerCallActCode, kind: vscPerCall, arg: true, cw: on},
	{name: config.CWPerCallDeactCode, kind: vscPerCall, arg: true, cw: off},
	{name: config.BlockCIDActCode, kind: vscSet, param: config.BlockCIDSetting, value: "Yes"},
	{name: config.BlockCIDDeactCode, kind: vscSet, param: config.BlockCIDSetting, value: "No"},
	{name: config.BlockCIDPerCallActCode, kind: vscPerCall, arg: true, anonymous: on},
	{name: config.BlockCIDPerCallDeactCode, kind: vscPerCall, arg: true, anonymous: off},
	{name: config.BlockANCActCode, kind: vscSet, param: config.BlockANCSetting, value: "Yes"},
	{name: config.BlockANCDeactCode, kind: vscSet, param: config.BlockANCSetting, value: "No"},
	{name: config.DNDActCode, kind: vscSet, param: config.DNDSetting, value: "Yes"},
	{name: config.DNDDeactCode, kind: vscSet, param: config.DNDSetting, value: "No"},
	{name: config.SecureAllCallActCode, kind: vscSet, param: config.SecureCallSetting, value: "Yes"},
	{name: config.SecureNoCallActCode, kind: vscSet, param: config.SecureCallSetting, value: "No"},
	{name: config.SecureOneCallActCode, kind: vscRefused, arg: true, reason: "secure calls (SRTP) are not supported"},
	{name: config.SecureOneCallDeactCode, kind: vscPerCall, arg: true},
	{name: config.PreferG711uCode, kind: vscPerCall, arg: true, codec: media.CodecPCMU},
	{name: config.ForceG711uCode, kind: vscPerCall, arg: true, codec: media.CodecPCMU, force: true},
	{name: config.PreferG711aCode, kind: vscPerCall, arg: true, codec: media.CodecPCMA},
	{name: config.ForceG711aCode, kind: vscPerCall, arg: true, codec: media.CodecPCMA, force: true},
	{name: config.PreferG723Code, kind: vscPerCall, arg: true, reason: "G.723 is not available"},
	{name: config.ForceG723Code, kind: vscRefused, arg: true, reason: "G.723 is not available"},
	{name: config.PreferG726r16Code, kind: vscPerCall, arg: true, reason: "G.726-16 is not available"},
	{name: config.ForceG726r16Code, kind: vscRefused, arg: true, reason: "G.726-16 is not available"},
	{name: config.PreferG726r24Code, kind: vscPerCall, arg: true, reason: "G.726-24 is not available"},
	{name: config.ForceG726r24Code, kind: vscRefused, arg: true, reason: "G.726-24 is not available"},
	{name: config.PreferG726r32Code, kind: vscPerCall, arg: true, reason: "G.726-32 is not available"},
	{name: config.ForceG726r32Code, kind: vscRefused, arg: true, reason: "G.726-32 is not available"},
	{name: config.PreferG726r40Code, kind: vscPerCall, arg: true, reason: "G.726-40 is not available"},
	{name: config.ForceG726r40Code, kind: vscRefused, arg: true, reason: "G.726-40 is not available"},
	{name: config.PreferG729aCode, kind: vscPerCall, arg: true, reason: "G.729a is not available"},
	{name: config.ForceG729aCode, kind: vscRefused, arg: true, reason: "G.729a is not available"},
}

// FeatureStatus is what a vertical service code did (SPA-BEHAVIOUR §12.7).
type FeatureStatus struct {
	// Keys is what was dialled; Code the code in it ("*72"), Name its Regional parameter
	// ("Cfwd_All_Act_Code").
	Keys string `json:"keys"`
	Code string `json:"code"`
	Name string `json:"name"`
	// Number is the number (or URI) that followed the code, after the dial plan's
	// substitutions.
	Number string `json:"number,omitempty"`
	// Changed are the User-tab parameters the code set, with their new values.
	Changed map[string]string `json:"changed,omitempty"`
	// Tone is the tone the phone plays after it ("Confirm_Tone"), ToneScript its script.
	Tone       string `json:"tone,omitempty"`
	ToneScript string `json:"tone_script,omitempty"`
	// Transferred is the call *98 handed over.
	Transferred string `json:"transferred,omitempty"`
	// Note says what the phone left out (a preferred codec it has not).
	Note string `json:"note,omitempty"`
}

// DialResult is what dialling did: a call placed (the embedded CallStatus, its ID set), a
// vertical service code acted on (Feature), or both (a per-call code, *69).
type DialResult struct {
	CallStatus
	Feature *FeatureStatus `json:"feature,omitempty"`
}

// Placed reports whether the dialling placed a call.
func (r DialResult) Placed() bool { return r.ID != "" }

// callOpts are the per-call overrides of a code dialled before the number.
type callOpts struct {
	anonymous, cw override
	codec         media.Codec
	force         bool
	loopback      media.Loopback // Media_Loopback_Code dialled: the loopback asked for
	mirror        bool           // and this phone mirrors (Media_Loopback_Mode mirror)
	// replaces and referredBy are the Replaces and Referred-By of the call a transferee
	// places for an attended transfer (RFC 3891, RFC 3892; calls.go onRefer).
	replaces, referredBy string
	// join is the Join of a barge-in on a shared line (RFC 3911; shared.go).
	join string
}

// vscCodes are the codes of the snapshot for the matcher, and the entry of vscTable each
// stands for. Unset codes (empty) and codes that are not keys are left out; with two equal
// codes, the first in the Regional tab's order wins (as the matcher does).
func (st *state) vscCodes() ([]dialplan.Code, []*vsc) {
	codes := make([]dialplan.Code, 0, len(vscTable))
	which := make([]*vsc, 0, len(vscTable))
	for i := range vscTable {
		v := &vscTable[i]
		keys := strings.TrimSpace(st.snap.Get(v.name))
		if !dialplan.CheckCode(keys) {
			continue
		}
		codes = append(codes, dialplan.Code{Keys: keys, Arg: v.arg})
		which = append(which, v)
	}
	return codes, which
}

// runCode acts on a vertical service code dialled on extension ext (SPA-BEHAVIOUR §12.7).
// keys is what was dialled, code the code's keys, number its argument. reply hears the
// outcome once: at once, or, for a setting, once the change is in the flash.
func (st *state) runCode(ext int, v *vsc, keys, code, number string, reply func(DialResult, error)) {
	log := st.lineLog(ext).With(zap.String("code", code), zap.String("feature", v.name))
	fs := &FeatureStatus{Keys: keys, Code: code, Name: v.name, Number: number}
	res := DialResult{Feature: fs}
	if v.arg && number == "" && v.kind != vscRefused {
		reply(res, fmt.Errorf("%w: %s (%s) needs a number after it", ErrInvalidRequest, code, v.name))
		return
	}
	placed := func(c *pcall, err error) {
		if err != nil {
			reply(res, err)
			return
		}
		res.CallStatus = st.callStatus(c)
		st.emitFeature(ext, fs, c.id)
		reply(res, nil)
	}
	switch v.kind {
	case vscRefused:
		log.Info("feature refused", zap.String("reason", v.reason))
		reply(res, fmt.Errorf("%w: %s (%s): %s", ErrNotSupported, code, v.name, v.reason))
	case vscSet:
		value := v.value
		if v.arg {
			value = number
		}
		st.applyChanges("feature "+code, []config.Change{config.Set(v.param, value)}, config.ApplyOptions{}, nil, skippedValues{},
			func(_ config.Diff, err error) {
				if err != nil {
					reply(res, applyError(err))
					return
				}
				fs.Changed = map[string]string{v.param: st.snap.Get(v.param)}
				fs.Tone, fs.ToneScript = config.ConfirmTone, st.snap.Get(config.ConfirmTone)
				log.Info("feature set", zap.String("param", v.param), zap.String("value", st.snap.Get(v.param)))
				st.emitFeature(ext, fs, "")
				reply(res, nil)
			})
	case vscPerCall:
		o := callOpts{anonymous: v.anonymous, cw: v.cw, codec: v.codec, force: v.force}
		if v.reason != "" {
			fs.Note = v.reason + ": the call uses the configured codecs"
		}
		placed(st.placeCall(ext, number, keys, o))
	case vscCallReturn:
		lc := st.calls.lastCaller
		if lc.URI == "" {
			reply(res, fmt.Errorf("%w: %s (call return): no call to return", ErrCallState, code))
			return
		}
		fs.Number = lc.URI
		placed(st.placeCall(ext, lc.URI, keys, callOpts{}))
	case vscBlindTransfer:
		c := st.transferable(ext)
		if c == nil {
			reply(res, fmt.Errorf("%w: %s (blind transfer): extension %d has no held or connected call", ErrCallState, code, ext))
			return
		}
		if err := st.transferTo(c, number); err != nil {
			reply(res, err)
			return
		}
		fs.Transferred = c.id
		st.emitFeature(ext, fs, c.id)
		reply(res, nil)
	default:
		reply(res, fmt.Errorf("%w: %s", ErrNotSupported, v.name))
	}
}

// transferable is the call *98 hands over on extension ext: the one this phone holds (the
// user pressed xfer, which held it, and dialled *98 on a new appearance), else the connected
// one.
func (st *state) transferable(ext int) *pcall {
	var connected *pcall
	for _, c := range st.calls.order {
		if c.ext != ext || c.transferring {
			continue
		}
		if c.state == CallHeld {
			return c
		}
		if c.state == CallConnected && connected == nil {
			connected = c
		}
	}
	return connected
}

// emitFeature puts a code's outcome on the event stream.
func (st *state) emitFeature(ext int, fs *FeatureStatus, call string) {
	d := map[string]any{"ext": ext, "keys": fs.Keys, "code": fs.Code, "name": fs.Name}
	if fs.Number != "" {
		d["number"] = fs.Number
	}
	if fs.Changed != nil {
		d["changed"] = fs.Changed
	}
	if fs.Tone != "" {
		d["tone"] = fs.Tone
	}
	if call != "" {
		d["call"] = call
	}
	if fs.Note != "" {
		d["note"] = fs.Note
	}
	st.emit(EventFeature, d)
}

// callSDP is the offer/answer configuration of call c: its extension's, with the codec a
// per-call code prefers (first) or forces (alone).
func (st *state) callSDP(c *pcall) media.SDPConfig {
	cfg := st.sdpConfig(c.ext)
	if c.opts.codec == media.CodecUnknown {
		return cfg
	}
	if c.opts.force {
		cfg.Codecs = []media.Codec{c.opts.codec}
		return cfg
	}
	codecs := make([]media.Codec, 0, len(cfg.Codecs)+1)
	codecs = append(codecs, c.opts.codec)
	for _, x := range cfg.Codecs {
		if x != c.opts.codec {
			codecs = append(codecs, x)
		}
	}
	cfg.Codecs = codecs
	return cfg
}

// callWaiting reports whether extension ext takes a second call now: CW_Setting, unless a
// call in progress on it was placed with *71 or *70 (SPA-BEHAVIOUR §12.7: for that call only).
func (st *state) callWaiting(ext int) bool {
	cw := st.snap.Bool(config.CWSetting)
	var latest time.Time
	for _, c := range st.calls.order {
		if c.ext == ext && c.opts.cw != unset && !c.created.Before(latest) {
			cw, latest = c.opts.cw.or(cw), c.created
		}
	}
	return cw
}
