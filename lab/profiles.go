package lab

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spa900/spa900/fleetfile"
	"github.com/spa900/spa900/provisioning/config"
)

// Phone is one phone a lab provisions: its model and the numbers and strings its profile
// template may use (fleetfile's template variables: index, row, ordinal, count, mac, ip).
type Phone struct {
	Model string
	Vars  fleetfile.Vars
}

// Profile is the rendered profile of one phone and the SIP accounts it configures.
type Profile struct {
	// MAC is the phone's MAC, 12 upper-case hex digits.
	MAC string
	// Data is the flat-profile XML the provisioning server serves.
	Data []byte
	// Accounts are the extensions' credentials the profile gives: User_ID_n_ (Auth_ID_n_
	// when Use_Auth_ID_n_ is Yes) and Password_n_ of every extension with a user ID.
	Accounts []Account
	// Station is its Station_Name, "" when it sets none.
	Station string
}

// Account is a SIP account of a phone's extension.
type Account struct {
	Ext      int    `json:"ext"`
	User     string `json:"user"`
	Password string `json:"-"`
}

// ErrProfile is wrapped by every error of a profile template.
var ErrProfile = errors.New("profile template")

// RenderProfiles expands the template (a flat-profile XML document with fleetfile's
// {{…}} expressions, e.g. <User_ID_1_>{{1001+index}}</User_ID_1_>) for every phone, and
// checks each result as the phone would read it: a document that is not well-formed, a
// value its parameter refuses, or a name the model does not have is an error naming the
// template (name), the phone and the line. Each phone's accounts are read from its own
// profile, so that a registrar's users always match what the phones are given.
func RenderProfiles(name, tmpl string, phones []Phone) ([]Profile, error) {
	t, err := fleetfile.ParseTemplate(tmpl)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrProfile, name, err)
	}
	out := make([]Profile, 0, len(phones))
	for _, p := range phones {
		text, err := t.Expand(p.Vars)
		if err != nil {
			return nil, fmt.Errorf("%w %s: phone %s: %w", ErrProfile, name, p.Vars.MAC, err)
		}
		prof, err := checkProfile([]byte(text), p.Model)
		if err != nil {
			return nil, fmt.Errorf("%w %s: phone %s: %w", ErrProfile, name, p.Vars.MAC, err)
		}
		prof.MAC = p.Vars.MAC
		out = append(out, prof)
	}
	return out, nil
}

// checkProfile reads a rendered profile with the model's catalogue, as a resync would, and
// takes its accounts; any value the phone would skip or name it would ignore is an error: a
// lab's template is the operator's own, and a mistake in it is better said at start.
func checkProfile(data []byte, model string) (Profile, error) {
	m, err := config.LookupModel(model)
	if err != nil {
		return Profile{}, err
	}
	cat := config.CatalogFor(m)
	doc, err := config.DecodeProfile(cat, data, config.DecodeOptions{})
	if err != nil {
		return Profile{}, err
	}
	if len(doc.Unknown) > 0 {
		return Profile{}, fmt.Errorf("line %d: %s has no parameter %s", doc.UnknownLines[0], m.Name, doc.Unknown[0])
	}
	if _, skipped := cat.SkipInvalid(doc.Changes); len(skipped) > 0 {
		s := skipped[0]
		return Profile{}, fmt.Errorf("line %d: %s: %s", s.Line, s.Name, s.Reason)
	}
	snap, _, err := config.NewSnapshot(cat).Apply(doc.Changes, config.ApplyOptions{})
	if err != nil {
		return Profile{}, err
	}
	prof := Profile{Data: data, Station: snap.Get(config.StationName)}
	for ext := 1; ext <= m.Extensions; ext++ {
		user := snap.Get(config.ExtName(config.UserID, ext))
		if snap.Bool(config.ExtName(config.UseAuthID, ext)) {
			user = snap.Get(config.ExtName(config.AuthID, ext))
		}
		if user == "" || !snap.Bool(config.ExtName(config.LineEnable, ext)) {
			continue
		}
		prof.Accounts = append(prof.Accounts, Account{Ext: ext, User: user, Password: snap.Get(config.ExtName(config.Password, ext))})
	}
	return prof, nil
}

// Accounts collects the accounts of profiles for a registrar: user name → password. Two
// phones given one user name with different passwords is an error.
func Accounts(profiles []Profile) (map[string]string, error) {
	out := map[string]string{}
	for _, p := range profiles {
		for _, a := range p.Accounts {
			if pw, seen := out[a.User]; seen && pw != a.Password {
				return nil, fmt.Errorf("%w: account %s has two passwords (phone %s)", ErrProfile, a.User, p.MAC)
			}
			out[a.User] = a.Password
		}
	}
	return out, nil
}

// DefaultTemplate is the profile template of `spa900 lab` without --profile-template: each
// phone gets the extension first+index on Ext 1, registered to registrar (host:port) with a
// password made of secret and the extension, a display and station name, and the other
// extensions switched off (a lab phone has one line; real SPA942s have four).
func DefaultTemplate(model, registrar string, first int, secret string) (string, error) {
	m, err := config.LookupModel(model)
	if err != nil {
		return "", err
	}
	ext := fmt.Sprintf("{{%d+index}}", first)
	set := [][2]string{
		{config.StationName, "Lab " + ext},
		{config.ExtName(config.Proxy, 1), registrar},
		{config.ExtName(config.UserID, 1), ext},
		{config.ExtName(config.Password, 1), secret + "-" + ext},
		{config.ExtName(config.DisplayName, 1), "Lab " + ext},
	}
	for n := 2; n <= m.Extensions; n++ {
		set = append(set, [2]string{config.ExtName(config.LineEnable, n), "No"})
	}
	return WriteProfile(set), nil
}

// WriteProfile writes name, value pairs as a flat-profile document, one element a line, the
// values escaped for XML (a template's {{…}} pass through unchanged).
func WriteProfile(set [][2]string) string {
	var b bytes.Buffer
	b.WriteString("<flat-profile>\n")
	for _, kv := range set {
		b.WriteString("  <" + kv[0] + ">")
		xml.EscapeText(&b, []byte(kv[1]))
		b.WriteString("</" + kv[0] + ">\n")
	}
	b.WriteString("</flat-profile>\n")
	return b.String()
}

// KamailioUsers writes accounts as Kamailio configuration lines that fill the htable the
// project's kamailio.cfg authenticates against ($sht(users=>NAME) = "PASSWORD";), sorted by
// name, for an include_file in its htable:mod-init route. Names and passwords that Kamailio's
// string syntax cannot carry are refused.
func KamailioUsers(accounts map[string]string) ([]byte, error) {
	names := make([]string, 0, len(accounts))
	for n := range accounts {
		names = append(names, n)
	}
	slices.Sort(names)
	var b bytes.Buffer
	b.WriteString("# The lab's SIP accounts, written by spa900 lab profiles.\n")
	for _, n := range names {
		pw := accounts[n]
		if n == "" || strings.ContainsAny(n+pw, "\"\\\r\n$") || strings.ContainsAny(n, " >)") {
			return nil, fmt.Errorf("%w: account %q: Kamailio's configuration cannot carry its name or password", ErrProfile, n)
		}
		fmt.Fprintf(&b, "$sht(users=>%s) = \"%s\";\n", n, pw)
	}
	return b.Bytes(), nil
}
