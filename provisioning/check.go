package provisioning

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/spa900/spa900/provisioning/config"
)

// Firmware is the firmware line whose behaviour the phone emulates and [CheckProfile] reports.
const Firmware = "5.1"

// The statuses of a [CheckLine].
const (
	// CheckApplied: the phone takes the value (and the ua access, when given).
	CheckApplied = "applied"
	// CheckAccess: an empty element <X ua="rw"/>: only the user access changes.
	CheckAccess = "access"
	// CheckOverridden: a later element of the same parameter wins (SPA-BEHAVIOUR §1.1).
	CheckOverridden = "overridden"
	// CheckSkipped: the parameter cannot take the value; it keeps its own (DECISIONS 8).
	CheckSkipped = "skipped"
	// CheckUnknown: not a parameter of the model; ignored.
	CheckUnknown = "unknown"
)

// CheckReport is what a phone of the model, firmware 5.1, would do with a profile: the
// report of `spa900 profile check` for provisioning-server developers. Its JSON form is
// documented in README.md and is stable: fields may be added, none removed or renamed.
type CheckReport struct {
	// Source is the file or URL checked.
	Source string `json:"source"`
	// Model and Firmware are the phone the report is for, e.g. SPA942 and 5.1.
	Model    string `json:"model"`
	Firmware string `json:"firmware"`
	// Verdict is the report in one line.
	Verdict string `json:"verdict"`
	// Refused is true when a real phone would refuse the profile as a whole (its resync
	// fails); `profile check` exits 1 then, and only then.
	Refused bool `json:"refused"`
	// Error is why the profile is refused, the text of $ERR; ErrorLine its line, 0 if none.
	Error     string `json:"error,omitempty"`
	ErrorLine int    `json:"error_line,omitempty"`
	// Encrypted, KeyDerivation and Compressed say how the file came (see [ReadInfo]).
	Encrypted     bool   `json:"encrypted"`
	KeyDerivation string `json:"key_derivation,omitempty"`
	Compressed    bool   `json:"compressed"`
	// Encoding is the character encoding the document was read in, and why.
	Encoding *CheckEncoding `json:"encoding,omitempty"`
	// Notes are remarks a server developer should read: warnings that do not refuse the
	// profile (encoding, SHA-256 accepted as an extension, non-ASCII values).
	Notes []string `json:"notes"`
	// Counts sums up the lines.
	Counts CheckCounts `json:"counts"`
	// Lines is what happens to each parameter element, in document order; an unknown name
	// is listed once, at its first occurrence.
	Lines []CheckLine `json:"lines"`
}

// CheckEncoding is [config.Encoding] in the report.
type CheckEncoding struct {
	Declared string `json:"declared,omitempty"`
	Used     string `json:"used"`
	Warning  string `json:"warning,omitempty"`
}

// CheckCounts sums up a report.
type CheckCounts struct {
	Elements   int `json:"elements"`
	Applied    int `json:"applied"`
	Access     int `json:"access"`
	Overridden int `json:"overridden"`
	Skipped    int `json:"skipped"`
	Unknown    int `json:"unknown"`
}

// CheckLine is what happens to one parameter element.
type CheckLine struct {
	Line   int    `json:"line"`
	Param  string `json:"param"`
	Status string `json:"status"` // one of the Check* statuses
	// Value is the value as the phone stores it; "(secret)" for passwords and keys, which a
	// report never shows; absent for unknown names and empty elements.
	Value string `json:"value,omitempty"`
	// Written is the value as the profile wrote it, when the phone stores it differently
	// (case, GMT+1:00 for GMT+01:00) or skips it. Never shown for secrets.
	Written string `json:"written,omitempty"`
	// Access is the user access the ua attribute sets, when it has one.
	Access string `json:"access,omitempty"`
	// Reason says why a value is skipped, a name unknown or an element overridden.
	Reason string `json:"reason,omitempty"`
}

// CheckProfile reads data exactly as a phone of model m reads a downloaded profile
// ([ReadProfile], so the two cannot disagree) and reports what it would do, line by line.
// Unknown names are told apart by the SPA962 catalogue, the union of the 5.1 parameters:
// "not a 5.1 parameter", or "not on this model" for a parameter of another model (a sixth
// extension on a SPA942, say), or a read-only status field of the Info tab.
func CheckProfile(m config.Model, source string, data []byte, opts ReadOptions) *CheckReport {
	rep := &CheckReport{Source: source, Model: m.Name, Firmware: Firmware, Notes: []string{}, Lines: []CheckLine{}}
	cat := config.CatalogFor(m)
	prof, info, err := ReadProfile(cat, data, opts)
	rep.Encrypted, rep.KeyDerivation, rep.Compressed = info.Encrypted, info.KeyDerivation, info.Compressed
	if info.KeyDerivation == KeyDerivationSHA256 && err == nil {
		rep.Notes = append(rep.Notes, "key derived with SHA-256: accepted by --accept-sha256-profiles, an extension; "+
			"a real "+m.Name+" "+Firmware+" fails the resync (encrypt with openssl enc -md md5)")
	}
	if err != nil {
		rep.Refused = true
		rep.Error = ReadErrText(err)
		if detail := err.Error(); detail != rep.Error && !strings.Contains(rep.Error, "(") {
			rep.Notes = append(rep.Notes, detail)
		}
		var se *config.SyntaxError
		if errors.As(err, &se) {
			rep.ErrorLine = se.Line
		}
		rep.Verdict = fmt.Sprintf("a %s %s refuses this profile: %s", m.Name, Firmware, rep.Error)
		return rep
	}
	rep.Encoding = &CheckEncoding{Declared: prof.Encoding.Declared, Used: prof.Encoding.Used, Warning: prof.Encoding.Warning}
	if w := prof.Encoding.Warning; w != "" {
		rep.Notes = append(rep.Notes, "encoding: "+w)
	}
	rep.Lines = checkLines(cat, prof)
	nonASCII := 0
	for _, l := range rep.Lines {
		switch l.Status {
		case CheckApplied:
			rep.Counts.Applied++
		case CheckAccess:
			rep.Counts.Access++
		case CheckOverridden:
			rep.Counts.Overridden++
		case CheckSkipped:
			rep.Counts.Skipped++
		case CheckUnknown:
			rep.Counts.Unknown++
		}
		if l.Status == CheckApplied && !isASCII(l.Value) {
			nonASCII++
		}
	}
	rep.Counts.Elements = prof.Elements
	if nonASCII > 0 {
		// SPA-BEHAVIOUR §1.1: "only ASCII is supported", which the device means of its display.
		rep.Notes = append(rep.Notes, fmt.Sprintf("%s with characters outside ASCII: a %s stores them, its display shows only ASCII",
			plural(nonASCII, "applied value"), m.Name))
	}
	c := rep.Counts
	parts := []string{plural(c.Applied, "value") + " applied"}
	if c.Access > 0 {
		parts = append(parts, plural(c.Access, "access change"))
	}
	parts = append(parts, plural(c.Skipped, "value")+" skipped", plural(c.Unknown, "unknown name")+" ignored")
	rep.Verdict = fmt.Sprintf("a %s %s applies this profile: %s", m.Name, Firmware, strings.Join(parts, ", "))
	return rep
}

// checkLines lists what happens to each element of prof, in document order. Each change is
// judged by [config.Catalog.SkipInvalid], as the resync judges it.
func checkLines(cat *config.Catalog, prof *config.Profile) []CheckLine {
	bad := map[int]config.Skipped{} // by index in prof.Changes
	last := map[string]int{}        // the index of the change that sets a value last, by name
	for i, c := range prof.Changes {
		if _, sk := cat.SkipInvalid(prof.Changes[i : i+1]); len(sk) > 0 {
			bad[i] = sk[0]
		} else if c.SetValue {
			last[c.Name] = i
		}
	}
	lines := make([]CheckLine, 0, len(prof.Changes)+len(prof.Unknown))
	for i, c := range prof.Changes {
		p := mustParam(cat, c.Name)
		l := CheckLine{Line: c.Line, Param: c.Name, Access: c.Access.String()}
		switch s, skip := bad[i]; {
		case skip:
			l.Status, l.Reason = CheckSkipped, s.Reason
			if !p.Secret {
				l.Written = s.Value
			}
		case !c.SetValue:
			l.Status = CheckAccess
		case last[c.Name] != i:
			l.Status = CheckOverridden
			l.Reason = "line " + strconv.Itoa(prof.Changes[last[c.Name]].Line) + " sets it again"
		default:
			l.Status = CheckApplied
			v, _ := p.Normalize(c.Value)
			l.Value = v
			if w := strings.TrimSpace(c.Value); w != v {
				l.Written = w
			}
			if p.Secret {
				l.Value, l.Written = "(secret)", ""
			}
		}
		lines = append(lines, l)
	}
	union := config.CatalogFor(mustModel(config.LookupModel("SPA962")))
	info := map[string]bool{}
	for _, f := range union.Info() {
		info[f.Name] = true
	}
	for i, name := range prof.Unknown {
		l := CheckLine{Line: prof.UnknownLines[i], Param: name, Status: CheckUnknown, Reason: "not a " + Firmware + " parameter"}
		if _, ok := union.Lookup(name); ok {
			l.Reason = "not on this model (a " + cat.Model().Name + " has no such parameter; the SPA962 has)"
		} else if info[name] {
			l.Reason = "a read-only status field of the Info tab, not a parameter"
		}
		lines = append(lines, l)
	}
	sortByLine(lines)
	return lines
}

// sortByLine orders lines by line, stably: changes and unknown names merge in document order.
func sortByLine(lines []CheckLine) {
	// Insertion sort over two runs already in order: linear for real profiles.
	for i := 1; i < len(lines); i++ {
		for j := i; j > 0 && lines[j].Line < lines[j-1].Line; j-- {
			lines[j], lines[j-1] = lines[j-1], lines[j]
		}
	}
}

func mustParam(cat *config.Catalog, name string) *config.Param {
	p, ok := cat.Lookup(name)
	if !ok {
		panic("provisioning: a profile change of a parameter the catalogue lacks: " + name)
	}
	return p
}

func mustModel(m config.Model, err error) config.Model {
	if err != nil {
		panic(err)
	}
	return m
}

// plural is "1 value" or "3 values".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// ReadErrText words why a profile cannot be read as $ERR shows it (SPA-BEHAVIOUR §3): "corrupt
// file", with the reason when it is the key or the XML (the line and the fault, DECISIONS 8).
// The resync and `spa900 profile check` both word it here.
func ReadErrText(err error) string {
	var se *config.SyntaxError
	switch {
	case errors.Is(err, ErrNoKey):
		return "corrupt file (encrypted profile and no --key)"
	case errors.Is(err, ErrWrongKey):
		return "corrupt file (wrong key)"
	case errors.Is(err, ErrSHA256Key):
		return "corrupt file (key derived with SHA-256: encrypt with openssl enc -md md5)"
	case errors.As(err, &se):
		return "corrupt file (" + se.Short() + ")"
	}
	return "corrupt file"
}
