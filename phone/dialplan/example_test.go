package dialplan_test

import (
	"fmt"

	"github.com/spa900/spa900/phone/dialplan"
)

// The phone's side of a dialling: start at off-hook, feed keys, arm Result.Wait on the phone's
// clock and call Timeout when it fires, act on the final result.
func ExampleMatcher() {
	plan, err := dialplan.Parse("(*xx|[3469]11|0|00|[2-9]xxxxxx|1xxx[2-9]xxxxxxS0|xxxxxxxxxxxx.)")
	if err != nil {
		fmt.Println(err) // the phone logs it and keeps its last good plan
		return
	}
	m := dialplan.NewMatcher(plan, dialplan.Options{
		LongTimer:  dialplan.DefaultLongTimer,
		ShortTimer: dialplan.DefaultShortTimer,
		IPDialing:  true,
		Codes:      []dialplan.Code{{Keys: "*72", Arg: true}, {Keys: "*78"}},
	})
	show := func(r dialplan.Result) {
		switch r.Action {
		case dialplan.ActionCollect:
			fmt.Printf("wait %v (%v timer), tone: %v\n", r.Wait, r.Timer, r.Tone)
		case dialplan.ActionDial:
			fmt.Printf("INVITE %s%s\n", r.Number, r.URI)
		case dialplan.ActionCode:
			fmt.Printf("code %d, argument %q\n", r.Code, r.Number)
		default:
			fmt.Println("reorder:", r.Action)
		}
	}
	show(m.Start())
	for _, k := range []byte("555123") {
		m.Key(k)
	}
	show(m.Key('4'))
	show(m.Timeout()) // the short timer passed without a key

	m.Start()
	show(m.Keys("*78"))

	m.Start()
	show(m.Keys("*72"))
	show(m.Keys("1002#"))

	m.Start()
	show(m.Keys("192*168*1*20*5062#"))
	// Output:
	// wait 10s (long timer), tone: none
	// wait 3s (short timer), tone: none
	// INVITE 5551234
	// code 1, argument ""
	// wait 10s (long timer), tone: dial tone
	// code 0, argument "1002"
	// INVITE sip:192.168.1.20:5062
}
