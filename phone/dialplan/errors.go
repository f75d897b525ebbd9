package dialplan

import (
	"errors"
	"fmt"
)

// ErrSyntax is wrapped by every [SyntaxError]: errors.Is(err, ErrSyntax) tells a dial plan the
// phone cannot read from other failures.
var ErrSyntax = errors.New("dial plan syntax")

// SyntaxError reports where a dial plan stops making sense and what was expected there.
type SyntaxError struct {
	// Column is the 1-based byte position in the text; len(text)+1 means the end of the text.
	Column int
	// Msg says what was found and what was expected, e.g. "unexpected 'q': expected …".
	Msg string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("dial plan: column %d: %s", e.Column, e.Msg)
}

// Unwrap returns [ErrSyntax].
func (e *SyntaxError) Unwrap() error { return ErrSyntax }
