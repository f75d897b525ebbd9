package provisioning

import (
	"strconv"
	"strings"
)

// maxVersionParts is the largest number of dot-separated numbers in a [Version].
const maxVersionParts = 4

// Version is a firmware or hardware version number: dot-separated integers with an optional
// alphanumeric suffix in brackets, such as 5.1.15(aSC), 6.1.5(a), 1.0.31(b), 2.0.3(0412s),
// 1.0.5(0617), or the short 1.0 of the legacy rule `(<1.0)?` (SPA-BEHAVIOUR §2.1, §3 SWVER).
// It is used by conditions and by the firmware upgrade check of Downgrade_Rev_Limit.
//
// The zero Version is not valid; use [ParseVersion].
type Version struct {
	nums   [maxVersionParts]uint32
	n      int    // number of numbers written, 1..maxVersionParts
	suffix string // without the brackets; may be empty
}

// ParseVersion parses a version number: one to four dot-separated decimal numbers (each at
// most nine digits), optionally followed by a bracketed suffix of letters and digits. No white
// space is allowed anywhere (SPA-BEHAVIOUR §2.1). "5" is accepted as a version, so that a
// Downgrade_Rev_Limit of "5" means 5.0.0; a condition types a plain number as an integer
// first (see [Cond]).
func ParseVersion(s string) (Version, error) {
	var v Version
	rest := s
	if i := strings.IndexByte(s, '('); i >= 0 {
		if !strings.HasSuffix(s, ")") || i == len(s)-2 {
			return Version{}, versionError(s, "bad suffix")
		}
		v.suffix = s[i+1 : len(s)-1]
		for j := 0; j < len(v.suffix); j++ {
			if !isAlnum(v.suffix[j]) {
				return Version{}, versionError(s, "suffix must be letters and digits")
			}
		}
		rest = s[:i]
	}
	for {
		part := rest
		dot := strings.IndexByte(rest, '.')
		if dot >= 0 {
			part = rest[:dot]
		}
		if part == "" || len(part) > 9 || !allDigits(part) {
			return Version{}, versionError(s, "expected dot-separated numbers")
		}
		if v.n == maxVersionParts {
			return Version{}, versionError(s, "more than 4 numbers")
		}
		n, _ := strconv.ParseUint(part, 10, 32) // cannot fail: at most 9 digits
		v.nums[v.n] = uint32(n)
		v.n++
		if dot < 0 {
			break
		}
		rest = rest[dot+1:]
	}
	return v, nil
}

func versionError(s, msg string) error {
	return &SyntaxError{What: "version", Msg: strconv.Quote(s) + ": " + msg}
}

// Compare returns -1, 0 or +1 as v sorts before, equal to or after o.
//
// The numbers are compared first, left to right, a missing number counting as 0 (so 1.0 equals
// 1.0.0 and 5.1 is less than 5.1.15). When the numbers are equal, the suffix decides: no suffix
// sorts before any suffix (5.1.15 < 5.1.15(a), the lettered builds being later respins), and
// two suffixes compare byte by byte (a < aSC < b; upper case sorts before lower case). The
// manuals define no order among suffixes; this one is total and stable [inf].
func (v Version) Compare(o Version) int {
	for i := range maxVersionParts {
		switch {
		case v.nums[i] < o.nums[i]:
			return -1
		case v.nums[i] > o.nums[i]:
			return +1
		}
	}
	return strings.Compare(v.suffix, o.suffix)
}

// Suffix returns the bracketed suffix without its brackets ("aSC" for 5.1.15(aSC)), or "".
func (v Version) Suffix() string { return v.suffix }

// String returns the version as parsed: the numbers that were written, then the suffix.
func (v Version) String() string {
	if v.n == 0 {
		return ""
	}
	b := make([]byte, 0, 16)
	for i := range v.n {
		if i > 0 {
			b = append(b, '.')
		}
		b = strconv.AppendUint(b, uint64(v.nums[i]), 10)
	}
	if v.suffix != "" {
		b = append(b, '(')
		b = append(b, v.suffix...)
		b = append(b, ')')
	}
	return string(b)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
