package provisioning

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinels of the pure core (rules, conditions, macros, URLs, schedules, profile decoding).
// The fetch and upload code adds its own in errors_fetch.go.
//
// The text of an error returned while a resync or an upgrade runs becomes $ERR (SPA-BEHAVIOUR
// §3), so the texts are short and say what went wrong. None of them ever contains a key, a
// password or the content of a secret parameter.

// ErrSyntax is wrapped by every [SyntaxError]: a rule, condition, trigger, URL, schedule, alias
// map or SPC source that cannot be parsed.
var ErrSyntax = errors.New("syntax error")

// ErrStringOrder is returned when a condition applies an ordering operator (< <= > >= and their
// mnemonics) to a string operand; only = and != are defined on strings (SPA-BEHAVIOUR §2.1).
var ErrStringOrder = errors.New("ordering comparison on a string")

// ErrNoServer is returned by [ParseURL] for a URL without a server when no TFTP server is known
// from DHCP option 66 (SPA-BEHAVIOUR §2.2, DECISIONS 14).
var ErrNoServer = errors.New("no server in the URL and no TFTP server (option 66) known")

// ErrCorruptFile is the $ERR of a downloaded profile that cannot be decrypted, inflated or read
// as a <flat-profile> document (SPA-BEHAVIOUR §1.4–1.6, DECISIONS 7). [DecodeProfile] returns it
// bare for content that is not a profile, so that $ERR is exactly "corrupt file", and wraps it
// with a detail otherwise.
var ErrCorruptFile = errors.New("corrupt file")

// ErrNoKey is returned, wrapped with [ErrCorruptFile], for an encrypted profile fetched by a
// rule without a --key option (SPA-BEHAVIOUR §1.4).
var ErrNoKey = errors.New("encrypted profile and no --key")

// ErrWrongKey is returned by [Decrypt], and wrapped with [ErrCorruptFile] by [DecodeProfile],
// when no supported key derivation turns the key into a valid decryption (DECISIONS 6).
var ErrWrongKey = errors.New("wrong key")

// ErrSHA256Key is returned, wrapped with [ErrCorruptFile], for an encrypted profile that
// decrypts only with SHA-256 key derivation, openssl 1.1's default: a real SPA942 5.1 derives
// the key with MD5 and fails the resync (DECISIONS 6). Its text names the fix; the phone's
// --accept-sha256-profiles accepts such files as an extension.
var ErrSHA256Key = errors.New("key derived with SHA-256 (openssl >= 1.1 default); a 5.1 phone needs openssl enc -md md5")

// SyntaxError describes where and why a text could not be parsed. Its message names the problem
// precisely, because it becomes $ERR and a log line; it never quotes a key or a password.
type SyntaxError struct {
	// What is parsed: "rule", "trigger", "url", "version", "schedule", "alias map", "spc".
	What string
	// File is the SPC file being compiled (empty for the top-level source and for other kinds).
	File string
	// Line is the 1-based line of an SPC source, 0 otherwise.
	Line int
	// Alt is the 1-based alternative of a rule, 0 otherwise.
	Alt int
	// Msg says what is wrong.
	Msg string
}

// Error formats the error as `rule: alternative 1: condition without ")?"`,
// `spc: base.txt: line 3: missing ";"` and the like.
func (e *SyntaxError) Error() string {
	var b strings.Builder
	b.WriteString(e.What)
	b.WriteString(": ")
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	if e.Line > 0 {
		b.WriteString("line ")
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteString(": ")
	}
	if e.Alt > 0 {
		b.WriteString("alternative ")
		b.WriteString(strconv.Itoa(e.Alt))
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns [ErrSyntax].
func (e *SyntaxError) Unwrap() error { return ErrSyntax }
