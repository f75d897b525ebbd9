package dialplan

import (
	"math"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// DefaultLongTimer and DefaultShortTimer are the factory Interdigit_Long_Timer and
// Interdigit_Short_Timer (SPA-BEHAVIOUR §8.3).
const (
	DefaultLongTimer  = 10 * time.Second
	DefaultShortTimer = 3 * time.Second
)

// MaxKeys bounds the keys one dialling collects (a code and its argument together). The
// sources give no bound; a phone number is at most 39 characters (the Phone data type,
// SPA-BEHAVIOUR §8.8) and the longest IP dialling string (user*a*b*c*d*port) fits well below
// 64, so the key after the 64th is answered with [ActionInvalid] instead of growing forever.
const MaxKeys = 64

// Code is a vertical service activation code, implicitly part of every plan (SPA-BEHAVIOUR
// §8.3, §8.7, §12.7). The phone builds the list from the Regional tab and owns what each code
// does; the matcher only reports which one matched.
type Code struct {
	// Keys is the code as dialled, e.g. "*72". Codes with a byte other than 0-9 * # (or empty
	// ones, the unset parameters) are skipped; see [CheckCode].
	Keys string
	// Arg is true for a code followed by a number, e.g. *72 (call forward all) + destination:
	// after the code the matcher asks for a dial tone ([ToneDial]) and collects the number
	// against the plan (see the package doc).
	Arg bool
}

// CheckCode reports whether s can be a vertical service code: one or more keys 0-9 * #.
func CheckCode(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !IsKey(s[i]) {
			return false
		}
	}
	return true
}

// Options is what the line's configuration says around the plan. The phone builds it from the
// snapshot; the zero value has both interdigit timers at 0 (evaluate at once), so the phone
// always sets them ([DefaultLongTimer], [DefaultShortTimer] are the factory values).
type Options struct {
	// LongTimer and ShortTimer are Interdigit_Long_Timer and Interdigit_Short_Timer (§8.3),
	// overridden by the plan's leading "L:s," / "S:s," and by a sequence's own "Ls " / "Ss ".
	LongTimer, ShortTimer time.Duration
	// IPDialing is Enable_IP_Dialing_n_ (§8.5): [user*]a*b*c*d[*port] dials
	// sip:[user@]a.b.c.d:port.
	IPDialing bool
	// Codes are the vertical service codes, matched before the plan's own sequences. When two
	// entries have the same keys, the first wins.
	Codes []Code
	// RejectIncomplete selects the later firmware's reading of an incomplete number: at a
	// timer's expiry or on '#', it is rejected ([ActionInvalid]) instead of sent as dialled
	// (the 5.1 guide's rule, the default). See the package doc.
	RejectIncomplete bool
}

// Result is what the phone does next. Which fields mean something depends on Action.
type Result struct {
	Action Action
	// Wait, for ActionCollect, is how long the phone waits for the next key before it calls
	// [Matcher.Timeout]; always > 0. Timer says which timer it is.
	Wait  time.Duration
	Timer Timer
	// Tone, for ActionCollect, is the tone the plan asks for while waiting.
	Tone Tone
	// Number, for ActionDial, is the number to call after the plan's substitutions (for IP
	// dialling: the user part, possibly empty). For ActionCode it is the code's argument,
	// empty for a code without one.
	Number string
	// URI, for IP dialling (ActionDial, or ActionCode whose argument was IP-dialled), is the
	// target "sip:[user@]a.b.c.d:port"; empty otherwise. The phone still sends the INVITE
	// through the outbound proxy when one is in use (SPA-BEHAVIOUR §8.5, the 5.1 guide's note).
	URI string
	// Sequence is the index of the plan's sequence that matched (ActionDial, ActionCode's
	// argument, ActionBarred, or an ActionInvalid whose complete sequence sends nothing), or -1
	// when none did: an implicit code, IP dialling, a number sent as dialled, no match.
	Sequence int
	// Code is the index into [Options.Codes] of the code that matched, for ActionCode, and for
	// every result while its argument is collected; -1 otherwise.
	Code int
	// Partial is true when the number was sent as dialled: no sequence was complete when the
	// timer expired or '#' was pressed, and the plan's substitutions were not applied.
	Partial bool
}

// String describes the result in a few words, for logs and test failures.
func (r Result) String() string {
	var b strings.Builder
	b.WriteString(r.Action.String())
	switch r.Action {
	case ActionCollect:
		b.WriteString(" " + r.Timer.String() + " " + r.Wait.String())
		if r.Tone != ToneNone {
			b.WriteString(" " + r.Tone.String())
		}
	case ActionDial, ActionCode:
		if r.Action == ActionCode {
			b.WriteString(" " + strconv.Itoa(r.Code))
		}
		if r.URI != "" {
			b.WriteString(" " + r.URI)
		} else if r.Number != "" {
			b.WriteString(" " + r.Number)
		}
		if r.Partial {
			b.WriteString(" as dialled")
		}
	}
	if r.Sequence >= 0 {
		b.WriteString(" (sequence " + strconv.Itoa(r.Sequence) + ")")
	}
	if r.Code >= 0 && r.Action != ActionCode {
		b.WriteString(" (code " + strconv.Itoa(r.Code) + ")")
	}
	return b.String()
}

// Matcher follows one dialling against a plan: [Matcher.Start] at off-hook, then
// [Matcher.Key] per key press, [Matcher.Timeout] when a [Result.Wait] passes without a key,
// [Matcher.Send] for an explicit send (the Dial soft key). Each returns what to do next. It
// starts no timers and reads no clock: the phone runs [Result.Wait] on its own clock.
//
// A Matcher is not safe for concurrent use; it belongs to the phone's loop. It allocates only
// when it grows its buffers and for the number of a final result, so one Matcher per line may
// serve every call. After a final result (anything but ActionCollect) every call returns that
// result again until Start.
type Matcher struct {
	// immutable after NewMatcher
	plan        *Plan
	opts        Options
	long, short time.Duration // the plan's leading timers, else the options'
	codes       []int         // indexes of the usable entries of opts.Codes

	// one dialling
	all      []byte          // every key of this dialling, as dialled
	base     int             // all[base:] are the keys of the current phase
	idle     []time.Duration // idle[i]: time without a key at key position i of the phase
	argCode  int             // the code whose argument is collected; -1 in the main phase
	codeLive []uint64        // the entries of codes the phase's keys are a prefix of
	codeDone int             // the first entry of codes the keys equal; -1
	codeExt  bool            // some live code is longer than the keys
	ip       ipDial          // the phase's keys against IP dialling
	cur      []uint64        // live states (indexes into plan.elems)
	next     []uint64
	outside  bool // a ',' was passed since the last key
	wait     time.Duration
	timer    Timer
	last     Result
	done     bool
	reach    []bool // scratch of output
}

// NewMatcher returns a matcher of p under o, started as [Matcher.Start] does. A nil p is the
// open (empty) plan.
func NewMatcher(p *Plan, o Options) *Matcher {
	if p == nil {
		p = &Plan{long: noTimer, short: noTimer, open: true}
	}
	m := &Matcher{plan: p, opts: o, long: max(o.LongTimer, 0), short: max(o.ShortTimer, 0)}
	if p.long != noTimer {
		m.long = p.long
	}
	if p.short != noTimer {
		m.short = p.short
	}
	m.opts.Codes = append([]Code(nil), o.Codes...) // the caller's slice may change later
	seen := make(map[string]bool, len(o.Codes))
	for i, c := range m.opts.Codes {
		if CheckCode(c.Keys) && !seen[c.Keys] {
			seen[c.Keys] = true
			m.codes = append(m.codes, i)
		}
	}
	words := (len(p.elems) + 63) / 64
	m.cur = make([]uint64, words)
	m.next = make([]uint64, words)
	m.codeLive = make([]uint64, (len(m.codes)+63)/64)
	m.all = make([]byte, 0, 32)
	m.idle = make([]time.Duration, 1, 33)
	m.Start()
	return m
}

// Start begins a dialling (off-hook, or a line key pressed) and says what to do: usually
// collect under the long timer; dial at once for a hotline ("P0 <:nnn>", "S0 <:nnn>"); wait
// for the pause of a warm line ("P5 <:1000>").
func (m *Matcher) Start() Result {
	m.all = m.all[:0]
	m.base = 0
	m.argCode = -1
	m.done = false
	m.restart()
	return m.decide()
}

// Dialled returns the keys dialled so far, as dialled (the LCD's line).
func (m *Matcher) Dialled() string { return string(m.all) }

// Key feeds one key press, '0'-'9', '*' or '#'. A '#' that no candidate sequence can take is
// the explicit send ([Matcher.Send]) and is not part of the number. A byte that is no key
// changes nothing and returns the last result.
func (m *Matcher) Key(k byte) Result {
	if m.done || !IsKey(k) {
		return m.last
	}
	if k == '#' && !m.consumes(k) {
		return m.Send()
	}
	if len(m.all) >= MaxKeys {
		return m.finish(m.result(ActionInvalid, -1))
	}
	m.all = append(m.all, k)
	m.idle = append(m.idle, 0)
	m.outside = false
	m.step(k)
	m.implicitKey(k)
	return m.decide()
}

// Keys feeds each byte of s as [Matcher.Key] does and returns the last result; it stops at the
// first final one.
func (m *Matcher) Keys(s string) Result {
	r := m.last
	for i := 0; i < len(s) && !m.done; i++ {
		r = m.Key(s[i])
	}
	return r
}

// Timeout says that the last [Result.Wait] passed without a key. It is ignored (the last
// result is returned) unless the last result was ActionCollect.
func (m *Matcher) Timeout() Result {
	if m.done || m.last.Action != ActionCollect {
		return m.last
	}
	m.idle[len(m.idle)-1] += m.wait
	return m.decide()
}

// Send is the explicit send: the complete candidate if there is one, else the keys as dialled
// (SPA-BEHAVIOUR §8.7; see the package doc).
func (m *Matcher) Send() Result {
	if m.done {
		return m.last
	}
	st := m.scan()
	if !st.live {
		return m.finish(m.result(ActionInvalid, -1))
	}
	return m.accept(st)
}

// phase returns the keys of the current phase: the whole dialling, or a code's argument.
func (m *Matcher) phase() []byte { return m.all[m.base:] }

// restart puts every sequence at its start, with no key and no time yet in the phase.
func (m *Matcher) restart() {
	clear(m.cur)
	m.idle = append(m.idle[:0], 0)
	m.outside = false
	for _, s := range m.plan.seqs {
		m.addClosure(m.cur, int(s.start))
	}
	clear(m.codeLive)
	if m.argCode < 0 {
		for i := range m.codes {
			m.codeLive[i>>6] |= 1 << (i & 63)
		}
	}
	m.updateCodes()
	m.ip.reset()
}

// implicitKey moves the implicit candidates (codes, IP dialling) over key k, already appended.
func (m *Matcher) implicitKey(k byte) {
	n := len(m.phase())
	for w, word := range m.codeLive {
		for ; word != 0; word &= word - 1 {
			i := w<<6 | bits.TrailingZeros64(word)
			if c := m.opts.Codes[m.codes[i]].Keys; len(c) < n || c[n-1] != k {
				m.codeLive[w] &^= 1 << (i & 63)
			}
		}
	}
	m.updateCodes()
	if m.opts.IPDialing {
		m.ip.key(k)
	}
}

// updateCodes derives codeDone and codeExt from codeLive.
func (m *Matcher) updateCodes() {
	n := len(m.phase())
	m.codeDone, m.codeExt = -1, false
	for w, word := range m.codeLive {
		for ; word != 0; word &= word - 1 {
			i := w<<6 | bits.TrailingZeros64(word)
			if len(m.opts.Codes[m.codes[i]].Keys) == n {
				if m.codeDone < 0 {
					m.codeDone = i
				}
			} else {
				m.codeExt = true
			}
		}
	}
}

// addClosure adds state g and every state reachable from it without a key (past markers and
// repeated elements) to set; it reports whether a sequence's end was newly reached.
func (m *Matcher) addClosure(set []uint64, g int) (completed bool) {
	els := m.plan.elems
	for {
		e := &els[g]
		switch e.kind {
		case kindComma:
			m.outside = true
			g++
			continue
		case kindSubStart, kindSubEnd, kindLong, kindShort:
			g++
			continue
		}
		w, b := g>>6, uint64(1)<<(g&63)
		if set[w]&b != 0 {
			return false
		}
		set[w] |= b
		switch {
		case e.kind == kindEnd:
			return true
		case e.kind == kindKeys && e.repeat:
			g++
		default:
			return false
		}
	}
}

// step moves every live state over key k.
func (m *Matcher) step(k byte) {
	clear(m.next)
	els := m.plan.elems
	for w, word := range m.cur {
		for ; word != 0; word &= word - 1 {
			g := w<<6 | bits.TrailingZeros64(word)
			e := &els[g]
			if e.kind != kindKeys || !e.set.has(k) {
				continue
			}
			if e.repeat {
				m.addClosure(m.next, g)
			} else {
				m.addClosure(m.next, g+1)
			}
		}
	}
	m.cur, m.next = m.next, m.cur
}

// consumes reports whether some candidate takes key k next.
func (m *Matcher) consumes(k byte) bool {
	els := m.plan.elems
	for w, word := range m.cur {
		for ; word != 0; word &= word - 1 {
			e := &els[w<<6|bits.TrailingZeros64(word)]
			if e.kind == kindKeys && e.set.has(k) {
				return true
			}
		}
	}
	n := len(m.phase())
	for w, word := range m.codeLive {
		for ; word != 0; word &= word - 1 {
			if c := m.opts.Codes[m.codes[w<<6|bits.TrailingZeros64(word)]].Keys; len(c) > n && c[n] == k {
				return true
			}
		}
	}
	return false
}

// passPauses moves the states waiting at a pause the phase's idle time has reached past it;
// it reports whether that completed a sequence.
func (m *Matcher) passPauses() (completed bool) {
	idle := m.idle[len(m.idle)-1]
	els := m.plan.elems
	for changed := true; changed; {
		changed = false
		for w := range m.cur {
			for word := m.cur[w]; word != 0; word &= word - 1 {
				g := w<<6 | bits.TrailingZeros64(word)
				if e := &els[g]; e.kind == kindPause && e.dur <= idle {
					m.cur[w] &^= 1 << (g & 63)
					completed = m.addClosure(m.cur, g+1) || completed
					changed = true
				}
			}
		}
	}
	return completed
}

// status is what the live candidates say at one moment.
type status struct {
	live     bool
	ext      bool // some candidate can take another key (or waits at a pause)
	complete bool // some sequence or IP dialling is complete
	first    int  // the first complete sequence that is not barred; -1
	barred   int  // the first complete barred sequence; -1
	code     int  // the complete code (index into m.codes); -1
	codeExt  bool // some code can take another key
	ip       bool // IP dialling is complete
	short    time.Duration
	long     time.Duration
	pause    time.Duration // the shortest pause a candidate waits at; -1 for none
}

func (m *Matcher) effLong(e *element) time.Duration {
	if e.long != noTimer {
		return e.long
	}
	return m.long
}

func (m *Matcher) effShort(e *element) time.Duration {
	if e.short != noTimer {
		return e.short
	}
	return m.short
}

func (m *Matcher) scan() status {
	st := status{first: -1, barred: -1, code: -1, short: math.MaxInt64, long: -1, pause: -1}
	els := m.plan.elems
	for w, word := range m.cur {
		for ; word != 0; word &= word - 1 {
			e := &els[w<<6|bits.TrailingZeros64(word)]
			st.live = true
			switch e.kind {
			case kindEnd:
				// States ascend with the sequence index, so the first seen is the first in
				// the plan.
				if m.plan.seqs[e.seq].barred {
					if st.barred < 0 {
						st.barred = int(e.seq)
					}
				} else if st.first < 0 {
					st.first = int(e.seq)
				}
				st.short = min(st.short, m.effShort(e))
			case kindPause:
				st.ext = true
				if st.pause < 0 || e.dur < st.pause {
					st.pause = e.dur
				}
				st.long = max(st.long, m.effLong(e))
			default:
				st.ext = true
				st.long = max(st.long, m.effLong(e))
			}
		}
	}
	if m.plan.open {
		st.live, st.ext = true, true
		st.long = max(st.long, m.long)
	}
	if m.codeDone >= 0 {
		st.live, st.code = true, m.codeDone
	}
	if m.codeExt {
		st.live, st.ext, st.codeExt = true, true, true
		st.long = max(st.long, m.long)
	}
	if m.opts.IPDialing && m.ip.live {
		st.live = true
		if m.ip.complete {
			st.ip = true
			st.short = min(st.short, m.short)
		}
		if m.ip.ext {
			st.ext = true
			st.long = max(st.long, m.long)
		}
	}
	st.complete = st.first >= 0 || st.barred >= 0 || st.ip
	return st
}

// decide says what to do now that the candidates have moved (a key, a timer, the start).
func (m *Matcher) decide() Result {
	if m.passPauses() {
		return m.accept(m.scan())
	}
	st := m.scan()
	if !st.live {
		return m.finish(m.result(ActionInvalid, -1))
	}
	complete, ext, short := st.complete, st.ext, st.short
	if st.code >= 0 {
		// A complete code wins over the plan's sequences (see the package doc); only a
		// longer code can still take it over.
		complete, ext, short = true, st.codeExt, m.short
		st.pause = -1
	}
	if complete && !ext {
		return m.accept(st)
	}
	deadline, timer := time.Duration(math.MaxInt64), TimerNone
	switch {
	case complete:
		deadline, timer = short, TimerShort
	case st.pause < 0:
		// The long timer does not run while a candidate waits at a pause: the pause is
		// itself the wait for no key (a warm line longer than the long timer still fires).
		deadline, timer = st.long, TimerLong
	}
	if st.pause >= 0 && st.pause <= deadline {
		deadline, timer = st.pause, TimerPause
	}
	wait := deadline - m.idle[len(m.idle)-1]
	if wait <= 0 {
		// Only an interdigit timer can be due here: passPauses passed every due pause.
		return m.accept(st)
	}
	m.wait, m.timer = wait, timer
	r := m.result(ActionCollect, -1)
	r.Wait, r.Timer = wait, timer
	switch {
	case m.outside:
		r.Tone = ToneOutside
	case m.argCode >= 0 && len(m.phase()) == 0:
		r.Tone = ToneDial
	}
	m.last = r
	return r
}

// accept ends the phase with the best complete candidate: a code, then a barred sequence
// (barring wins over every allowed sequence, see the package doc), then the first complete
// sequence in plan order, then IP dialling; with none, the keys as dialled.
func (m *Matcher) accept(st status) Result {
	if st.code >= 0 {
		return m.codeMatched(m.codes[st.code])
	}
	if st.barred >= 0 {
		return m.finish(m.result(ActionBarred, st.barred))
	}
	if st.first >= 0 {
		num := m.output(st.first, m.phase(), m.idle)
		if num == "" {
			// e.g. "( P5 | xxxx )", the off-hook timer without a number: reorder.
			return m.finish(m.result(ActionInvalid, st.first))
		}
		r := m.result(m.dialAction(), st.first)
		r.Number = num
		return m.finish(r)
	}
	if st.ip {
		return m.acceptIP()
	}
	keys := m.phase()
	if m.opts.RejectIncomplete || len(keys) == 0 {
		return m.finish(m.result(ActionInvalid, -1))
	}
	r := m.result(m.dialAction(), -1)
	r.Number = string(keys)
	r.Partial = true
	return m.finish(r)
}

// codeMatched reports code i of the options, or starts collecting its argument.
func (m *Matcher) codeMatched(i int) Result {
	if !m.opts.Codes[i].Arg {
		r := m.result(ActionCode, -1)
		r.Code = i
		return m.finish(r)
	}
	m.argCode = i
	m.base = len(m.all)
	m.restart()
	return m.decide()
}

func (m *Matcher) acceptIP() Result {
	keys := m.phase()
	user, host, port := ipSplit(keys)
	num := string(user)
	if len(user) > 0 {
		// "If the user-id portion matches a pattern in the dial plan, then it is interpreted
		// as a regular phone number according to the dial plan" (SPA-BEHAVIOUR §8.5 source).
		out, seq, barred := m.transform(user)
		if barred {
			return m.finish(m.result(ActionBarred, seq))
		}
		if seq >= 0 {
			num = out
		}
	}
	var b strings.Builder
	b.WriteString("sip:")
	if num != "" {
		b.WriteString(num)
		b.WriteByte('@')
	}
	b.WriteString(host)
	b.WriteByte(':')
	b.WriteString(strconv.Itoa(port))
	r := m.result(m.dialAction(), -1)
	r.Number = num
	r.URI = b.String()
	return m.finish(r)
}

// transform matches keys against the plan's sequences alone, with no time passing, and
// returns the first complete sequence's number (or the barred one).
func (m *Matcher) transform(keys []byte) (num string, seq int, barred bool) {
	m.restart()
	m.passPauses()
	for _, k := range keys {
		m.step(k)
		m.idle = append(m.idle, 0)
		m.passPauses()
	}
	first, bar := -1, -1
	els := m.plan.elems
	for w, word := range m.cur {
		for ; word != 0; word &= word - 1 {
			e := &els[w<<6|bits.TrailingZeros64(word)]
			if e.kind != kindEnd {
				continue
			}
			if m.plan.seqs[e.seq].barred {
				if bar < 0 {
					bar = int(e.seq)
				}
			} else if first < 0 {
				first = int(e.seq)
			}
		}
	}
	if bar >= 0 {
		return "", bar, true
	}
	if first < 0 {
		return "", -1, false
	}
	return m.output(first, keys, m.idle), first, false
}

func (m *Matcher) dialAction() Action {
	if m.argCode >= 0 {
		return ActionCode
	}
	return ActionDial
}

func (m *Matcher) result(a Action, seq int) Result {
	return Result{Action: a, Sequence: seq, Code: m.argCode}
}

func (m *Matcher) finish(r Result) Result {
	m.done = true
	m.last = r
	return r
}

// output builds the number sequence q sends for keys: the keys, with each substitution's
// dialled part replaced by its sent part. When several paths match (a repeated element next
// to a substitution), the earliest repetition takes as many keys as it can, as regular
// expressions do. idle[i] is the time waited at key position i, which decides the pauses.
func (m *Matcher) output(q int, keys []byte, idle []time.Duration) string {
	s := m.plan.seqs[q]
	els := m.plan.elems[s.start : s.end+1]
	n, M, w := len(els)-1, len(keys), len(els)
	need := (M + 1) * w
	if cap(m.reach) < need {
		m.reach = make([]bool, need)
	}
	reach := m.reach[:need]
	// reach[i*w+p]: from element p with keys[i:] left, the end can be reached.
	for i := M; i >= 0; i-- {
		for p := n; p >= 0; p-- {
			e := &els[p]
			r := false
			switch e.kind {
			case kindEnd:
				r = i == M
			case kindKeys:
				if i < M && e.set.has(keys[i]) {
					if e.repeat {
						r = reach[(i+1)*w+p]
					} else {
						r = reach[(i+1)*w+p+1]
					}
				}
				if !r && e.repeat {
					r = reach[i*w+p+1]
				}
			case kindPause:
				r = idle[i] >= e.dur && reach[i*w+p+1]
			default:
				r = reach[i*w+p+1]
			}
			reach[i*w+p] = r
		}
	}
	if !reach[0] {
		return string(keys) // unreachable: the live states say the end is reached
	}
	out := make([]byte, 0, M+8)
	inSub := false
	for i, p := 0, 0; p < n; {
		e := &els[p]
		switch e.kind {
		case kindKeys:
			if i < M && e.set.has(keys[i]) {
				next := p + 1
				if e.repeat {
					next = p
				}
				if reach[(i+1)*w+next] {
					if !inSub {
						out = append(out, keys[i])
					}
					i++
					p = next
					continue
				}
			}
			p++ // zero (more) repeats
		case kindSubStart:
			out = append(out, m.plan.sentOf(e)...)
			inSub = true
			p++
		case kindSubEnd:
			inSub = false
			p++
		default:
			p++
		}
	}
	return string(out)
}
