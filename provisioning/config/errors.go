package config

import (
	"errors"
	"fmt"
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

// ParamError reports a value a parameter cannot take. Secret values are never included.
type ParamError struct {
	Name   string
	Value  string // empty for secret parameters
	Reason string
	Err    error
}

func (e *ParamError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("%s: %v: %s", e.Name, e.Err, e.Reason)
	}
	return fmt.Sprintf("%s: %v %q: %s", e.Name, e.Err, e.Value, e.Reason)
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
