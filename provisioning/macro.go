package provisioning

import (
	"net"
	"strconv"
	"strings"
)

// Env is the macro environment read by [Expand], [ExpandKey], [Cond.Eval] and [Rule.Select]:
// a *[Vars]. A nil Env leaves every macro as written. (A concrete type rather than an
// interface keeps an expansion to one allocation, the result.)
type Env = *Vars

// Vars holds the value of every provisioning macro of SPA-BEHAVIOUR §3 for one expansion.
// The phone fills a fresh Vars from its state for each resync, upgrade or log line. Field
// names are the macro names. A Vars must not be modified while an expansion reads it.
type Vars struct {
	// MAC gives $MA (000e08aabbcc), $MAU (000E08AABBCC) and $MAC (00:0e:08:aa:bb:cc).
	MAC net.HardwareAddr
	// PN is the product name, e.g. SPA942.
	PN string
	// PSN is the product series number, e.g. 942.
	PSN string
	// SN is the serial number, e.g. 88012BA01234.
	SN string
	// CCERT gives $CCERT: "Installed" when true, "Not Installed" when false.
	CCERT bool
	// IP is the phone's current LAN address.
	IP string
	// EXTIP is the external (NAT) address.
	EXTIP string
	// SWVER is the software version, e.g. 5.1.15(aSC).
	SWVER string
	// HWVER is the hardware version, e.g. 1.0.5(0617).
	HWVER string
	// PRVST is the provisioning state: -1 explicit request, 0 power-up, 1 periodic, 2 retry.
	PRVST int
	// UPGST is the upgrade state: 1 first attempt, 2 retry after failure.
	UPGST int
	// UPGERR is the $ERR of the previous upgrade attempt.
	UPGERR string
	// PRVTMR is the number of seconds since the last resync attempt.
	PRVTMR int
	// UPGTMR is the number of seconds since the last upgrade attempt.
	UPGTMR int
	// REGTMR holds, per line, the seconds since it lost registration (0 = registered); index 0
	// is line 1 and gives $REGTMR1. $REGTMRn for a line beyond the slice is left as written.
	REGTMR []int
	// ERR is the result message of the resync or upgrade attempt.
	ERR string
	// UID holds User_ID_n_ per line; index 0 gives $UID1. $UIDn beyond the slice is left as
	// written.
	UID []string
	// ISCUST gives $ISCUST: "1" when the unit is customised, else "0".
	ISCUST bool
	// GPP holds GPP_A…GPP_P, the values of $A…$P (and of $GPP_A…$GPP_P).
	GPP [16]string
	// GPPSecret holds GPP_SA…GPP_SD, the values of $SA…$SD, which expand only inside --key
	// (see [ExpandKey]).
	GPPSecret [4]string
	// URL is the current resync or upgrade URL. It gives $SCHEME, $METH, $SERV, $PORT, $PATH,
	// and $SERVIP when SERVIP is empty. While it is nil these macros expand to nothing.
	URL *URL
	// SERVIP is the server address after DNS. When empty, $SERVIP is URL.Host.
	SERVIP string
}

// The macro names, indexed by first letter and listed longest first, so that the first name
// that prefixes the text is the longest match. $UPGCOND always expands to "true" (§3).
var macroNames = [26][]string{
	'A' - 'A': {"A"},
	'B' - 'A': {"B"},
	'C' - 'A': {"CCERT", "C"},
	'D' - 'A': {"D"},
	'E' - 'A': {"EXTIP", "ERR", "E"},
	'F' - 'A': {"F"},
	'G' - 'A': {"GPP_SA", "GPP_SB", "GPP_SC", "GPP_SD",
		"GPP_A", "GPP_B", "GPP_C", "GPP_D", "GPP_E", "GPP_F", "GPP_G", "GPP_H",
		"GPP_I", "GPP_J", "GPP_K", "GPP_L", "GPP_M", "GPP_N", "GPP_O", "GPP_P", "G"},
	'H' - 'A': {"HWVER", "H"},
	'I' - 'A': {"ISCUST", "IP", "I"},
	'J' - 'A': {"J"},
	'K' - 'A': {"K"},
	'L' - 'A': {"L"},
	'M' - 'A': {"METH", "MAU", "MAC", "MA", "M"},
	'N' - 'A': {"N"},
	'O' - 'A': {"O"},
	'P' - 'A': {"PRVTMR", "PRVST", "PATH", "PORT", "PSN", "PN", "P"},
	'R' - 'A': {"REGTMR1", "REGTMR2", "REGTMR3", "REGTMR4", "REGTMR5", "REGTMR6", "REGTMR7",
		"REGTMR8", "REGTMR9"},
	'S' - 'A': {"SCHEME", "SERVIP", "SWVER", "SERV", "SA", "SB", "SC", "SD", "SN"},
	'U' - 'A': {"UPGCOND", "UPGERR", "UPGTMR", "UPGST",
		"UID1", "UID2", "UID3", "UID4", "UID5", "UID6", "UID7", "UID8", "UID9"},
}

// Expand expands the provisioning macros in s (SPA-BEHAVIOUR §3):
//
//   - `$NAME` and `$(NAME)`; `$(NAME:p)` is the value from byte offset p to its end and
//     `$(NAME:p:q)` the q bytes from offset p (offsets beyond the value are clipped);
//   - `$$` is a single `$`;
//   - one pass only: an expanded value is never expanded again, so `$$MAU` gives `$MAU`;
//   - a name that is not a macro, or a macro without a value in env, is left exactly as
//     written: `spa$STRANGE$MAU.cfg` gives `spa$STRANGE000E08012345.cfg`;
//   - `$SA`…`$SD` (and `$GPP_SA`…`$GPP_SD`) are left as written: they expand only in --key,
//     through [ExpandKey].
//
// Names are case-sensitive upper case. In the `$NAME` form the longest macro name that begins
// the text after `$` wins, whatever follows it: `$MAU` is MAU, `$MAC` is MAC, `$MA.cfg` is MA
// then ".cfg", `$MAX` is MA then "X", `$Afile` is GPP_A then "file", `$PORT` is PORT (not GPP_P
// then "ORT"), `$STRANGE` is no macro (no name starts it). The firmware's lexing is not
// documented; this rule agrees with every example of the manuals [inf]. `$GPP_A`…`$GPP_P` are
// accepted as aliases of `$A`…`$P` [inf]. `$REGTMRn` and `$UIDn` take one digit, n = 1..9.
// In `$(…)` the name must match exactly.
//
// A nil env leaves every macro as written but still turns `$$` into `$`.
func Expand(s string, env Env) string { return expand(s, env, false) }

// ExpandKey expands the argument of a --key option: as [Expand], but `$SA`…`$SD` expand to
// GPP_SA…GPP_SD (SPA-BEHAVIOUR §2.4, §3). Never log its result.
func ExpandKey(s string, env Env) string { return expand(s, env, true) }

func expand(s string, env Env, key bool) string {
	i := strings.IndexByte(s, '$')
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 48)
	b.WriteString(s[:i])
	for i < len(s) {
		if s[i] != '$' {
			j := strings.IndexByte(s[i:], '$')
			if j < 0 {
				b.WriteString(s[i:])
				break
			}
			b.WriteString(s[i : i+j])
			i += j
			continue
		}
		// s[i] == '$'
		if i+1 >= len(s) {
			b.WriteByte('$')
			break
		}
		switch c := s[i+1]; {
		case c == '$':
			b.WriteByte('$')
			i += 2
			continue
		case c == '(':
			if n := expandParen(&b, s[i:], env, key); n > 0 {
				i += n
				continue
			}
		case c >= 'A' && c <= 'Z':
			if name := matchMacro(s[i+1:], key); name != "" && writeMacro(&b, env, name) {
				i += 1 + len(name)
				continue
			}
		}
		// Not a macro, or no value: keep the "$"; the rest is copied as plain text.
		b.WriteByte('$')
		i++
	}
	return b.String()
}

// matchMacro returns the longest macro name that prefixes s, or "".
func matchMacro(s string, key bool) string {
	c := s[0]
	if c < 'A' || c > 'Z' {
		return ""
	}
	for _, name := range macroNames[c-'A'] {
		if strings.HasPrefix(s, name) {
			if !key && isSecretMacro(name) {
				return ""
			}
			return name
		}
	}
	return ""
}

// knownMacro reports whether name is exactly a macro name usable in this context.
func knownMacro(name string, key bool) bool {
	if name == "" || name[0] < 'A' || name[0] > 'Z' {
		return false
	}
	for _, n := range macroNames[name[0]-'A'] {
		if n == name {
			return key || !isSecretMacro(name)
		}
	}
	return false
}

func isSecretMacro(name string) bool {
	switch name {
	case "SA", "SB", "SC", "SD", "GPP_SA", "GPP_SB", "GPP_SC", "GPP_SD":
		return true
	}
	return false
}

func writeMacro(b *strings.Builder, env *Vars, name string) bool {
	if name == "UPGCOND" {
		b.WriteString("true")
		return true
	}
	return env.writeMacro(b, name)
}

// expandParen expands `$(NAME)`, `$(NAME:p)` or `$(NAME:p:q)` at the start of s and returns
// the number of bytes consumed, or 0 when s does not start with a valid form of a known macro
// with a value.
func expandParen(b *strings.Builder, s string, env Env, key bool) int {
	end := strings.IndexByte(s, ')')
	if end < 0 {
		return 0
	}
	inner := s[2:end]
	name, offs, hasOff := strings.Cut(inner, ":")
	if !knownMacro(name, key) {
		return 0
	}
	if !hasOff {
		if !writeMacro(b, env, name) {
			return 0
		}
		return end + 1
	}
	pText, qText, hasLen := strings.Cut(offs, ":")
	p, ok := smallUint(pText)
	if !ok {
		return 0
	}
	q := -1
	if hasLen {
		if q, ok = smallUint(qText); !ok {
			return 0
		}
	}
	// The substring needs the whole value first; this is the rare path.
	var tmp strings.Builder
	if !writeMacro(&tmp, env, name) {
		return 0
	}
	v := tmp.String()
	if p > len(v) {
		p = len(v)
	}
	v = v[p:]
	if q >= 0 && q < len(v) {
		v = v[:q]
	}
	b.WriteString(v)
	return end + 1
}

// smallUint parses 1 to 6 decimal digits.
func smallUint(s string) (int, bool) {
	if s == "" || len(s) > 6 || !allDigits(s) {
		return 0, false
	}
	n, _ := strconv.Atoi(s)
	return n, true
}

// writeMacro writes the value of the macro name (a name of macroNames) to b and reports
// whether it has one.
func (v *Vars) writeMacro(b *strings.Builder, name string) bool {
	if v == nil {
		return false
	}
	if len(name) == 1 { // $A … $P
		return v.writeGPP(b, name[0])
	}
	switch name {
	case "MA":
		writeMAC(b, v.MAC, lowerHex, false)
	case "MAU":
		writeMAC(b, v.MAC, upperHex, false)
	case "MAC":
		writeMAC(b, v.MAC, lowerHex, true)
	case "PN":
		b.WriteString(v.PN)
	case "PSN":
		b.WriteString(v.PSN)
	case "SN":
		b.WriteString(v.SN)
	case "CCERT":
		if v.CCERT {
			b.WriteString("Installed")
		} else {
			b.WriteString("Not Installed")
		}
	case "IP":
		b.WriteString(v.IP)
	case "EXTIP":
		b.WriteString(v.EXTIP)
	case "SWVER":
		b.WriteString(v.SWVER)
	case "HWVER":
		b.WriteString(v.HWVER)
	case "PRVST":
		writeInt(b, v.PRVST)
	case "UPGST":
		writeInt(b, v.UPGST)
	case "UPGERR":
		b.WriteString(v.UPGERR)
	case "PRVTMR":
		writeInt(b, v.PRVTMR)
	case "UPGTMR":
		writeInt(b, v.UPGTMR)
	case "UPGCOND":
		b.WriteString("true")
	case "ERR":
		b.WriteString(v.ERR)
	case "ISCUST":
		if v.ISCUST {
			b.WriteByte('1')
		} else {
			b.WriteByte('0')
		}
	case "SCHEME", "METH":
		if v.URL != nil {
			b.WriteString(v.URL.Scheme)
		}
	case "SERV":
		if v.URL != nil {
			b.WriteString(v.URL.Host)
		}
	case "SERVIP":
		if v.SERVIP != "" {
			b.WriteString(v.SERVIP)
		} else if v.URL != nil {
			b.WriteString(v.URL.Host)
		}
	case "PORT":
		if v.URL != nil {
			writeInt(b, v.URL.Port)
		}
	case "PATH":
		if v.URL != nil {
			b.WriteString(v.URL.Path)
		}
	case "SA", "SB", "SC", "SD":
		b.WriteString(v.GPPSecret[name[1]-'A'])
	case "GPP_SA", "GPP_SB", "GPP_SC", "GPP_SD":
		b.WriteString(v.GPPSecret[name[5]-'A'])
	default:
		switch {
		case len(name) == 5 && strings.HasPrefix(name, "GPP_"):
			return v.writeGPP(b, name[4])
		case len(name) == 7 && strings.HasPrefix(name, "REGTMR"):
			n := int(name[6] - '1')
			if n < 0 || n >= len(v.REGTMR) {
				return false
			}
			writeInt(b, v.REGTMR[n])
		case len(name) == 4 && strings.HasPrefix(name, "UID"):
			n := int(name[3] - '1')
			if n < 0 || n >= len(v.UID) {
				return false
			}
			b.WriteString(v.UID[n])
		default:
			return false
		}
	}
	return true
}

func (v *Vars) writeGPP(b *strings.Builder, letter byte) bool {
	if letter < 'A' || letter > 'P' {
		return false
	}
	b.WriteString(v.GPP[letter-'A'])
	return true
}

const (
	lowerHex = "0123456789abcdef"
	upperHex = "0123456789ABCDEF"
)

func writeMAC(b *strings.Builder, mac net.HardwareAddr, digits string, colons bool) {
	for i, c := range mac {
		if colons && i > 0 {
			b.WriteByte(':')
		}
		b.WriteByte(digits[c>>4])
		b.WriteByte(digits[c&0xf])
	}
}

func writeInt(b *strings.Builder, n int) {
	var tmp [20]byte
	b.Write(strconv.AppendInt(tmp[:0], int64(n), 10))
}

// GPPIndex returns the index into [Vars.GPP] of a GPP letter as written in --post, --alias and
// assignments: "a"…"p", either case.
func GPPIndex(letter string) (int, bool) {
	if len(letter) != 1 {
		return 0, false
	}
	c := letter[0] | 0x20 // lower case
	if c < 'a' || c > 'p' {
		return 0, false
	}
	return int(c - 'a'), true
}
