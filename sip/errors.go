package sip

import (
	"errors"
	"fmt"
)

// ErrClosed is returned by the methods of an [Agent] that has been closed.
var ErrClosed = errors.New("sip agent closed")

// ErrNoProxy is returned by [Agent.Register] and [Agent.KeepAlive] when the extension has no
// proxy to talk to.
var ErrNoProxy = errors.New("no proxy configured")

// ErrTimeout is returned when a transaction got no final response in time (RFC 3261 §17.1:
// Timer B or F, as the extension configures them).
var ErrTimeout = errors.New("no response")

// ErrAuth is wrapped when a server challenged a request and the extension's credentials could
// not answer it (no password, an algorithm the phone does not know, or Max_Auth challenges in
// a row).
var ErrAuth = errors.New("authentication failed")

// ErrResolve is wrapped when the proxy's name could not be resolved to an address.
var ErrResolve = errors.New("resolve proxy")

// ErrBadProxy is wrapped when the proxy setting cannot be read (SPA-BEHAVIOUR §8.5 forms).
var ErrBadProxy = errors.New("bad proxy setting")

// ErrNoMWITarget is returned by [Agent.SubscribeMWI] when the extension has nowhere to
// subscribe to (no voice mail server, and the proxy-domain form is off).
var ErrNoMWITarget = errors.New("no message-waiting subscription target")

// ResponseError is a final response other than 2xx to a request the agent sent.
type ResponseError struct {
	Method string
	Code   int
	Reason string
}

// Error returns "REGISTER: 403 Forbidden".
func (e *ResponseError) Error() string {
	return fmt.Sprintf("%s: %d %s", e.Method, e.Code, e.Reason)
}

// StatusCode returns the response's status code.
func (e *ResponseError) StatusCode() int { return e.Code }
