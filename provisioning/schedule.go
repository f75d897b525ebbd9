package provisioning

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// maxScheduleSteps bounds the number of elements of a schedule list.
const maxScheduleSteps = 64

// Step is one element of a [Schedule]: a delay plus an optional random extra.
type Step struct {
	// Base is the fixed delay, in whole seconds.
	Base time.Duration
	// Random is the largest random extra (the "+R"), in whole seconds; the extra is uniform in
	// 0…Random, whole seconds.
	Random time.Duration
}

// Schedule is a parsed delay of Resync_Periodic, Resync_Error_Retry_Delay or
// Upgrade_Error_Retry_Delay (SPA-BEHAVIOUR §4.3): a list of steps of which the last repeats.
// The zero Schedule is disabled. A Schedule is immutable and safe for concurrent use.
type Schedule struct {
	steps []Step
}

// ParseSchedule parses the extended delay syntax of SPA-BEHAVIOUR §4.3: a number of seconds,
// or a comma-separated list of them where the last repeats forever, each element optionally
// followed by "+R" for a random extra of 0…R seconds. White space around the numbers, commas
// and plus signs is ignored. Examples: "3600", "3600+600", "1800,3600,7200,14400+3600".
//
// An empty value and a plain "0" (or "0+0") give a disabled schedule: no periodic resync, or
// no retry until another trigger (DECISIONS 10). A 0 inside a longer list, or "0+R", is a
// real step of (up to R seconds after) no delay. Each number is at most 2147483647 seconds, and a
// list has at most 64 elements.
func ParseSchedule(s string) (Schedule, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return Schedule{}, nil
	}
	// The elements are cut one by one rather than split into a list: a phone parses its
	// schedule at every resync.
	n := strings.Count(t, ",") + 1
	if n > maxScheduleSteps {
		return Schedule{}, scheduleError("more than 64 elements")
	}
	steps := make([]Step, 0, n)
	for i, rest := 0, t; i < n; i++ {
		var part string
		part, rest, _ = strings.Cut(rest, ",")
		base, extra, hasExtra := strings.Cut(part, "+")
		b, err := scheduleSeconds(base, i+1, "delay")
		if err != nil {
			return Schedule{}, err
		}
		st := Step{Base: b}
		if hasExtra {
			if st.Random, err = scheduleSeconds(extra, i+1, "random extra"); err != nil {
				return Schedule{}, err
			}
		}
		steps = append(steps, st)
	}
	if len(steps) == 1 && steps[0] == (Step{}) {
		return Schedule{}, nil
	}
	return Schedule{steps: steps}, nil
}

func scheduleSeconds(s string, elem int, what string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, scheduleError("element " + strconv.Itoa(elem) + ": missing " + what)
	}
	if !allDigits(t) {
		return 0, scheduleError("element " + strconv.Itoa(elem) + ": " + what + " must be whole seconds (digits only)")
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n > math.MaxInt32 {
		return 0, scheduleError("element " + strconv.Itoa(elem) + ": " + what + " larger than 2147483647 seconds")
	}
	return time.Duration(n) * time.Second, nil
}

func scheduleError(msg string) error { return &SyntaxError{What: "schedule", Msg: msg} }

// Enabled reports whether the schedule has any step.
func (s Schedule) Enabled() bool { return len(s.steps) > 0 }

// Steps returns a copy of the steps.
func (s Schedule) Steps() []Step { return append([]Step(nil), s.steps...) }

// Delay returns the delay of the index-th attempt (0 for the first): the step at index, or the
// last step once index is past the end, plus a random extra drawn from rnd. The caller resets
// index to 0 after a success [inf]. A nil rnd draws no extra. ok is false for a disabled
// schedule. A negative index counts as 0.
func (s Schedule) Delay(index int, rnd *rand.Rand) (time.Duration, bool) {
	if len(s.steps) == 0 {
		return 0, false
	}
	index = max(index, 0)
	index = min(index, len(s.steps)-1)
	st := s.steps[index]
	d := st.Base
	if st.Random > 0 && rnd != nil {
		d += time.Duration(rnd.Int64N(int64(st.Random/time.Second)+1)) * time.Second
	}
	return d, true
}

// String returns the schedule in its canonical form, such as "1800+300,3600", or "0" when it
// is disabled.
func (s Schedule) String() string {
	if len(s.steps) == 0 {
		return "0"
	}
	b := make([]byte, 0, 8*len(s.steps))
	for i, st := range s.steps {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(st.Base/time.Second), 10)
		if st.Random > 0 {
			b = append(b, '+')
			b = strconv.AppendInt(b, int64(st.Random/time.Second), 10)
		}
	}
	return string(b)
}

// RandomDelayUnit is the unit of Resync_Random_Delay in firmware 5.x: 20 seconds
// (SPA-BEHAVIOUR §4.1, DECISIONS 10).
const RandomDelayUnit = 20 * time.Second

// RandomDelay returns the random delay before the first resync after boot for a
// Resync_Random_Delay of units: uniform in 0…units×20 s, whole seconds. units ≤ 0 or a nil rnd
// give 0.
func RandomDelay(units int, rnd *rand.Rand) time.Duration {
	if units <= 0 || rnd == nil {
		return 0
	}
	units = min(units, math.MaxInt32/20)
	maxSec := int64(units) * int64(RandomDelayUnit/time.Second)
	return time.Duration(rnd.Int64N(maxSec+1)) * time.Second
}
