package media

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ToneScript is a parsed call-progress tone in the device's syntax (SPA-BEHAVIOUR §8.3,
// §8.8): "FreqScript;Z1[;Z2…]" where FreqScript is "F1@L1[,F2@L2…]" (up to six components,
// Hz at dBm0) and each section Zn is "D(on/off/f[,on/off/f…])": for D seconds (or "*",
// forever) the cadence segments repeat, each on for "on" seconds (or "*") with the components
// f ("1+2"; 0 plays nothing) and then off. Example: dial tone "350@-19,440@-19;10(*/0/1+2)".
type ToneScript struct {
	Components []ToneComponent
	Sections   []ToneSection
}

// ToneComponent is one frequency of a tone.
type ToneComponent struct {
	Hz      float64
	LevelDB float64 // dBm0
}

// ToneSection is one "D(…)" of a script; Forever ignores Duration.
type ToneSection struct {
	Duration time.Duration
	Forever  bool
	Segments []ToneSegment
}

// ToneSegment is one "on/off/f" of a cadence; Components are indexes into
// ToneScript.Components (0-based); OnForever plays the segment's on part forever.
type ToneSegment struct {
	On, Off    time.Duration
	OnForever  bool
	Components []int
}

// maxToneScript is the longest script the device accepts (ToneScript is Str127, §8.8).
const maxToneScript = 127

// ParseToneScript parses a tone script; every error wraps ErrBadToneScript and names the part
// it rejects.
func ParseToneScript(s string) (*ToneScript, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %q: %s", ErrBadToneScript, s, fmt.Sprintf(format, a...))
	}
	text := strings.Join(strings.Fields(s), "")
	if text == "" {
		return nil, bad("empty")
	}
	if len(text) > maxToneScript {
		return nil, bad("longer than %d characters", maxToneScript)
	}
	parts := strings.Split(text, ";")
	if len(parts) < 2 {
		return nil, bad("no cadence section after the frequencies")
	}
	t := &ToneScript{}
	for _, c := range strings.Split(parts[0], ",") {
		hz, lvl, ok := strings.Cut(c, "@")
		if !ok {
			return nil, bad("component %q is not frequency@level", c)
		}
		f, err := strconv.ParseFloat(hz, 64)
		if err != nil || f <= 0 || f >= clockRate/2 {
			return nil, bad("frequency %q is not between 0 and 4000 Hz", hz)
		}
		l, err := strconv.ParseFloat(lvl, 64)
		if err != nil || l < -90 || l > 3 {
			return nil, bad("level %q is not between -90 and 3 dBm0", lvl)
		}
		t.Components = append(t.Components, ToneComponent{Hz: f, LevelDB: l})
	}
	if len(t.Components) > 6 {
		return nil, bad("more than six frequencies")
	}
	for _, sec := range parts[1:] {
		d, body, ok := strings.Cut(sec, "(")
		if !ok || !strings.HasSuffix(body, ")") {
			return nil, bad("section %q is not duration(cadence)", sec)
		}
		var ts ToneSection
		if d == "*" {
			ts.Forever = true
		} else {
			dur, err := seconds(d)
			if err != nil || dur <= 0 {
				return nil, bad("section duration %q", d)
			}
			ts.Duration = dur
		}
		for _, seg := range strings.Split(strings.TrimSuffix(body, ")"), ",") {
			f := strings.Split(seg, "/")
			if len(f) != 3 {
				return nil, bad("segment %q is not on/off/components", seg)
			}
			var sg ToneSegment
			if f[0] == "*" {
				sg.OnForever = true
			} else if sg.On, ok = secondsOK(f[0]); !ok {
				return nil, bad("on time %q", f[0])
			}
			if sg.Off, ok = secondsOK(f[1]); !ok {
				return nil, bad("off time %q", f[1])
			}
			for _, c := range strings.Split(f[2], "+") {
				n, err := strconv.Atoi(c)
				if err != nil || n < 0 || n > len(t.Components) {
					return nil, bad("component %q of segment %q is not 0-%d", c, seg, len(t.Components))
				}
				if n > 0 {
					sg.Components = append(sg.Components, n-1)
				}
			}
			if !sg.OnForever && sg.On == 0 && sg.Off == 0 {
				return nil, bad("segment %q lasts no time", seg)
			}
			ts.Segments = append(ts.Segments, sg)
		}
		t.Sections = append(t.Sections, ts)
	}
	return t, nil
}

// seconds parses a decimal number of seconds (".5", "0.25", "10").
func seconds(s string) (time.Duration, error) {
	if s == "" || strings.ContainsAny(s, "eE+-_xXpP") {
		return 0, strconv.ErrSyntax
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 86400 {
		return 0, strconv.ErrRange
	}
	return time.Duration(f * float64(time.Second)).Round(time.Millisecond / 8), nil
}

func secondsOK(s string) (time.Duration, bool) {
	d, err := seconds(s)
	return d, err == nil
}

// String writes the script back in the device's syntax.
func (t *ToneScript) String() string {
	var b strings.Builder
	for i, c := range t.Components {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatFloat(c.Hz, 'f', -1, 64) + "@" + strconv.FormatFloat(c.LevelDB, 'f', -1, 64))
	}
	sec := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }
	for _, s := range t.Sections {
		b.WriteByte(';')
		if s.Forever {
			b.WriteByte('*')
		} else {
			b.WriteString(sec(s.Duration))
		}
		b.WriteByte('(')
		for i, g := range s.Segments {
			if i > 0 {
				b.WriteByte(',')
			}
			if g.OnForever {
				b.WriteByte('*')
			} else {
				b.WriteString(sec(g.On))
			}
			b.WriteString("/" + sec(g.Off) + "/")
			if len(g.Components) == 0 {
				b.WriteByte('0')
			}
			for j, c := range g.Components {
				if j > 0 {
					b.WriteByte('+')
				}
				b.WriteString(strconv.Itoa(c + 1))
			}
		}
		b.WriteByte(')')
	}
	return b.String()
}
