// Package dialplan reads the SPA dial-plan language of Dial_Plan_n_ and follows a dialling
// against it, key by key (SPA-BEHAVIOUR §8.7, §8.3, §8.5, §12.7, §13.2).
//
// [Parse] turns the text into an immutable [Plan]. A [Matcher] follows one dialling: the phone
// calls [Matcher.Start] at off-hook, [Matcher.Key] for each key, [Matcher.Timeout] when the
// [Result.Wait] it was given passes without a key, and [Matcher.Send] for the Dial soft key.
// Each call returns a [Result]: keep collecting (with the timer and tone that apply), dial a
// number or an IP target, act on a vertical service code, barred, or invalid.
//
// The package is pure: no goroutines, no clock, no I/O, no logging. Time reaches it only as
// "the wait you asked for has passed", so the phone runs the timers on its injected clock and
// the tests are tables.
//
// Who may import it: phone (the call model). It imports nothing from this module, and knows no
// parameter names: the phone passes the timers, the IP-dialling switch and the codes in
// [Options].
//
// Concurrency: a Plan is safe for concurrent use; a Matcher belongs to one goroutine.
//
// # The language
//
//	plan      = [ "L:" secs "," ] [ "S:" secs "," ] "(" sequence { "|" sequence } ")"
//	sequence  = { element } [ "!" ]
//	element   = key [ "." ] | "x" [ "." ] | set [ "." ] | "," | "<" dialled ":" sent ">"
//	          | "L" secs | "S" secs | "P" secs
//	set       = "[" { key | digit "-" digit } "]"
//	dialled   = { key [ "." ] | "x" [ "." ] | set [ "." ] | "," }
//	sent      = { key | "+" }
//	key       = "0" … "9" | "*" | "#"
//	secs      = [ digits [ "." digits ] ]
//
// White space is ignored anywhere, except that it ends a timer's seconds ("S3 123" is S3 and
// then 123; "S3123" is 3123 s, an error above [MaxTimer]).
//
// # Matching
//
// Every sequence is a candidate; each key keeps the candidates it can extend. Then:
//   - no candidate left: [ActionInvalid];
//   - some candidate complete and none can take more: accept it now;
//   - some candidate complete and others can take more: wait the short timer, then accept;
//   - none complete: wait the long timer, then accept what is there (see "incomplete").
//
// Accepting applies the sequence's substitutions; a complete sequence that sends nothing
// ("( P5 | xxxx )", the off-hook timer without a number) is [ActionInvalid].
//
// # Decisions where the sources are silent or disagree
//
// Each says what the package does and why; RejectIncomplete is the one a server may want to
// change.
//
//   - Incomplete number at a timer's expiry or on '#': sent as dialled ([Result.Partial],
//     substitutions not applied). The 5.1 phone guide (and the SPA-2000 it descends from) says
//     "the digit sequence is accepted and transmitted as dialed if incomplete"; the later Cisco
//     guides reject it. [Options.RejectIncomplete] selects the later reading. With no key at
//     all there is nothing to send: [ActionInvalid].
//   - '#' is a key when some candidate can take it (a plan may spell "*xx#" or "[#*]"), and the
//     explicit send otherwise, not part of the number; the guides only say "'#' sends".
//   - Short timer: the smallest short timer among the complete candidates. "S0" means "evaluate
//     at once", and the factory plan's "1xxx[2-9]xxxxxxS0" only dials at the eleventh digit if
//     its S0 beats the 3 s the still-incomplete "xxxxxxxxxxxx." would ask for.
//   - Long timer: the largest long timer among the live candidates. Its expiry ends the
//     dialling for all of them at once, so no candidate is cut short of the time it asked for
//     (a salesman's "L15 " sequence keeps 15 s even though the others say 10).
//   - A sequence's own "Ls "/"Ss " applies from its place in the sequence on: the value in
//     effect at the element a candidate waits at (or at its end, for a complete one).
//   - "x." and the short timer: a complete candidate that can repeat is both complete and
//     extendable, so the short timer runs after each key (the factory plan's
//     "xxxxxxxxxxxx." sends a 12+-digit number 3 s after the last key, or at '#').
//   - Pause "Ps ": the candidate waits there; any key before s seconds drops it, s seconds
//     without a key move it on. The long timer does not run while some candidate waits at a
//     pause (a P15 warm line with a 10 s long timer still fires at 15 s). A sequence completed
//     by its pause is accepted at once, without a further short timer: the user has already
//     waited ("P5 <:1000>" dials 1000 after five seconds, as the guide says). "P0 <:nnn>" and
//     "S0 <:nnn>" are both hotlines: [Matcher.Start] returns [ActionDial].
//   - Off-hook: the long timer runs for the first key too; at its expiry with no key the
//     result is [ActionInvalid] (the later guides' "off-hook timer" evaluates the null entry).
//   - Barring: a complete barred sequence wins over every allowed one, whatever the order. The
//     Cisco guide's own example lists "9, 1 [2-9] xxxxxxxxx" before "9, 1 900 xxxxxxx !",
//     which bars nothing if the first match won. Among allowed ones the first in plan order wins.
//   - Outside dial tone: [ToneOutside] when any live candidate passed a ',' since the last key
//     ("( [1-8]xx | 8, xxxxxxx )" plays it after 8), until the next key.
//   - Substitutions apply only to a complete sequence. Where a repetition and a substitution
//     could share keys, the earlier repetition takes as many as it can (regular-expression
//     greed). The sent side may hold keys and '+' (for E.164 numbers); the dialled side keys,
//     x, sets, repetitions and ','.
//   - Timer values: seconds with an optional fraction (milliseconds kept, as Time<n>, §8.8); no
//     value means [DefaultTimer] (5 s, the later guides' rule); at most [MaxTimer]. A timer in
//     a sequence is written without ':' ("S0"); "S:0" there is an error rather than a silent
//     outside-dial-tone ','.
//   - 'X' is read as 'x'. An empty text is the open plan: every key but '#' is collected under
//     the long timer and sent as dialled on '#' or at its expiry (an unset plan then restricts
//     nothing, which is what an admin who clears the field expects).
//
// # Implicit sequences
//
// Vertical service codes ([Options.Codes], §8.3, §12.7) are matched before the plan: once the
// keys equal a code (and no longer code can still match), the code wins at once, even over a
// complete sequence such as the factory plan's "*xx" — otherwise *78 (DND on) would be sent to
// the proxy as a number with the factory plan, and the guide says listing codes in the plan
// does "no harm". A code with [Code.Arg] then collects its number against the plan's
// sequences and IP dialling (not the codes), with the same timers, substitutions and barring,
// and ends in [ActionCode] with [Result.Number] (or [Result.URI]); the result's Code is set
// while the number is collected, and the first wait asks for [ToneDial].
//
// IP dialling ([Options.IPDialing]): [user*]a*b*c*d[*port] is a further implicit candidate,
// live for any prefix of that form (so, like a sequence "x.", it keeps a string of digits
// alive), complete once it is one. The user id is matched against the plan as a number of its
// own ("if the user-id portion matches a pattern in the dial plan, then it is interpreted as a
// regular phone number", the 5.1 guide): its substitutions apply and a barred one is barred.
// The result carries [Result.URI] "sip:[user@]a.b.c.d:port".
package dialplan
