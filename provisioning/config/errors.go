package config

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// ErrUnknownModel is returned for a model name that is not an SPA 900-series phone.
var ErrUnknownModel = errors.New("unknown model")

// ErrUnknownParam is returned when a change names a parameter the model does not have.
var ErrUnknownParam = errors.New("unknown parameter")

// ErrInvalidValue is wrapped by a [ParamError] whose value the parameter cannot take.
var ErrInvalidValue = errors.New("invalid value")

// ErrReadOnly is wrapped by a [ParamError] for a change the account may not make.
var ErrReadOnly = errors.New("not writable")

// ErrMalformedProfile is returned for a profile that is not well-formed flat-profile XML.
var ErrMalformedProfile = errors.New("malformed profile")

// ErrNoFlash is returned by [FileFlash.Load] when no flash has been written yet.
var ErrNoFlash = errors.New("no flash")

// ErrCorruptFlash is returned by [FileFlash.Load] when the flash file cannot be decoded.
var ErrCorruptFlash = errors.New("corrupt flash")

// ErrFlashClosed is returned by saves into a [FlashDB] that was closed.
var ErrFlashClosed = errors.New("flash database closed")

// ParamError reports a value a parameter cannot take. Secret values are never included.
type ParamError struct {
	Name   string
	Value  string // empty for secret parameters
	Reason string
	Err    error
}

// Error names the parameter, the value (quoted, and cut to its first 64 bytes: a profile may
// carry a value of any length, and the message goes into logs and events) and the reason.
func (e *ParamError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("%s: %v: %s", e.Name, e.Err, e.Reason)
	}
	return fmt.Sprintf("%s: %v %q: %s", e.Name, e.Err, clipValue(e.Value, 64), e.Reason)
}

// clipValue cuts v to at most n bytes on a rune boundary, marking the cut with "…".
func clipValue(v string, n int) string {
	if len(v) <= n {
		return v
	}
	for n > 0 && !utf8.RuneStart(v[n]) {
		n--
	}
	return v[:n] + "…"
}

func (e *ParamError) Unwrap() error { return e.Err }

// ApplyError collects every problem found while validating a set of changes, so that a user
// sees all of them at once. Nothing was changed when it is returned.
type ApplyError struct {
	Problems []error
}

func (e *ApplyError) Error() string {
	if len(e.Problems) == 1 {
		return e.Problems[0].Error()
	}
	return fmt.Sprintf("%v (and %d more problems)", e.Problems[0], len(e.Problems)-1)
}

// Unwrap returns every problem, for errors.Is and errors.As.
func (e *ApplyError) Unwrap() []error { return e.Problems }
