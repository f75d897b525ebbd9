package dialplan

// Action is what the phone does after a key, a timer expiry or a send.
type Action uint8

const (
	// ActionUnknown is the zero value; a [Matcher] never returns it.
	ActionUnknown Action = iota
	// ActionCollect: keep collecting keys; call [Matcher.Timeout] if [Result.Wait] passes without one.
	ActionCollect
	// ActionDial: place the call to [Result.Number] (or [Result.URI] for IP dialling).
	ActionDial
	// ActionCode: a vertical service code matched; [Result.Code] says which, [Result.Number] holds
	// its argument for the codes that take one. The phone acts on it; no call is placed.
	ActionCode
	// ActionBarred: the number matched a sequence barred with '!'; play the reorder tone.
	ActionBarred
	// ActionInvalid: no sequence can match (or nothing is left to dial); play the reorder tone.
	ActionInvalid
)

// String returns the action in lowercase words.
func (a Action) String() string {
	switch a {
	case ActionCollect:
		return "collect"
	case ActionDial:
		return "dial"
	case ActionCode:
		return "code"
	case ActionBarred:
		return "barred"
	case ActionInvalid:
		return "invalid"
	default:
		return "unknown"
	}
}

// Timer names the timer a [Result.Wait] of [ActionCollect] comes from (SPA-BEHAVIOUR §8.7).
type Timer uint8

const (
	// TimerNone is the zero value, used by the results that do not wait.
	TimerNone Timer = iota
	// TimerLong is the interdigit long timer: no candidate sequence is complete yet. Its value is
	// the line's Interdigit_Long_Timer, the plan's leading "L:s," or a sequence's own "Ls ".
	TimerLong
	// TimerShort is the interdigit short timer: a candidate is complete but others may take more
	// keys. Its value is Interdigit_Short_Timer, the plan's "S:s," or a sequence's own "Ss ".
	TimerShort
	// TimerPause is a sequence's "Ps " pause (warm line, off-hook timer): when it passes without a
	// key the sequence goes on past the pause.
	TimerPause
)

// String returns the timer in lowercase words.
func (t Timer) String() string {
	switch t {
	case TimerLong:
		return "long"
	case TimerShort:
		return "short"
	case TimerPause:
		return "pause"
	default:
		return "none"
	}
}

// Tone is the tone the plan asks for while the phone collects keys.
type Tone uint8

const (
	// ToneNone: the plan asks for nothing; the phone plays its own dial tone before the first
	// key (Dial_Tone, or the MWI/Cfwd variant) and silence after it.
	ToneNone Tone = iota
	// ToneOutside: a ',' was passed; play Outside_Dial_Tone until the next key (SPA-BEHAVIOUR §8.7).
	ToneOutside
	// ToneDial: a vertical service code that takes a number matched; play a dial tone again
	// while the user dials that number.
	ToneDial
)

// String returns the tone in lowercase words.
func (t Tone) String() string {
	switch t {
	case ToneOutside:
		return "outside dial tone"
	case ToneDial:
		return "dial tone"
	default:
		return "none"
	}
}
