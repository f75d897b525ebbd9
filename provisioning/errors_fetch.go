package provisioning

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
)

// Sentinels and typed errors of the fetchers ([Fetcher.Fetch], [Fetcher.Upload]). Every error
// the fetchers return is a [*FetchError] whose Err wraps one of these or a lower-level cause.
// None of them ever holds a password, a key or URL user information.

// ErrNotFound is the file-not-found (FNF) of SPA-BEHAVIOUR §2.3: an HTTP 404, or a TFTP ERROR
// packet with code 1 "File not found". Whether it fails the resync is Resync_Fails_On_FNF's
// decision, taken by the caller.
var ErrNotFound = errors.New("file not found")

// ErrTimeout is returned when the fetch did not complete within its bound (the context's
// deadline or [FetcherConfig.Timeout]), or when a TFTP server stopped answering after all
// retransmissions. It is joined with the underlying cause, so errors.Is also finds
// context.DeadlineExceeded where that was the cause.
var ErrTimeout = errors.New("timeout")

// ErrTooLarge is returned when a response or a TFTP transfer exceeds the size limit
// ([FetcherConfig.MaxSize] or [Request.MaxSize]). Nothing of the body is returned.
var ErrTooLarge = errors.New("file too large")

// ErrTruncated is returned when the body ended before its announced length (HTTP
// Content-Length or chunked framing), or the connection broke in the middle of the body.
var ErrTruncated = errors.New("truncated")

// ErrTLS is returned for HTTPS failures of trust rather than transport: the server's
// certificate does not verify against the phone's trust anchors (SPA-BEHAVIOUR §7.4), the
// server refused or required a client certificate (nginx answers such requests with HTTP 400
// "No required SSL certificate was sent" instead of failing the handshake; that answer is
// mapped here), or the peer does not speak TLS at all.
var ErrTLS = errors.New("tls")

// ErrUnsupported is returned for a request the scheme cannot carry: an unknown scheme, or a
// POST (--post, SPA-BEHAVIOUR §2.4) to a TFTP URL.
var ErrUnsupported = errors.New("not supported")

// FetchError is the error of one fetch or upload. URL is the target as a URL, never with user
// information or a password; Op names the operation as the device words it in $ERR:
// "tftp_get", "tftp_put", "http_get", "http_post", "https_get", "https_post".
type FetchError struct {
	// URL is the redacted target, e.g. "tftp://10.0.0.1:69/spa942.cfg".
	URL string
	// Redirected is the redacted URL the fetch ended at when it followed HTTP redirects
	// (the one that failed); "" when it followed none.
	Redirected string
	// Op is the operation, e.g. "http_get".
	Op string
	// Err is the cause: one of the sentinels above, a [*StatusError], a [*TFTPError], or a
	// network error.
	Err error
}

// Error formats the error as "http_get http://10.0.0.1:80/spa942.cfg: file not found", or
// "http_get http://10.0.0.1:80/spa942.cfg (redirected to http://10.0.0.2/p.cfg): file not
// found".
func (e *FetchError) Error() string {
	if e.Redirected != "" {
		return e.Op + " " + e.URL + " (redirected to " + e.Redirected + "): " + e.Err.Error()
	}
	return e.Op + " " + e.URL + ": " + e.Err.Error()
}

// FetchedURL returns the URL the fetch ended at: Redirected when it followed redirects,
// else URL.
func (e *FetchError) FetchedURL() string {
	if e.Redirected != "" {
		return e.Redirected
	}
	return e.URL
}

// Unwrap returns the cause.
func (e *FetchError) Unwrap() error { return e.Err }

// StatusError is an HTTP answer other than 2xx (after redirects and authentication). A 404
// matches [ErrNotFound] with errors.Is.
type StatusError struct {
	// Code is the HTTP status code, e.g. 403.
	Code int
}

// Error formats the error as "http status 403 Forbidden".
func (e *StatusError) Error() string {
	s := "http status " + strconv.Itoa(e.Code)
	if t := http.StatusText(e.Code); t != "" {
		s += " " + t
	}
	return s
}

// Is reports whether the status is a file-not-found (404 matches [ErrNotFound]).
func (e *StatusError) Is(target error) bool {
	return target == ErrNotFound && e.Code == http.StatusNotFound
}

// TFTP error codes of RFC 1350 §5 that the fetchers give meaning to.
const (
	// TFTPFileNotFound is the code of "File not found": FNF (SPA-BEHAVIOUR §2.3).
	TFTPFileNotFound = 1
	// TFTPAccessViolation is the code of "Access violation".
	TFTPAccessViolation = 2
)

// TFTPError is an ERROR packet received from a TFTP server (RFC 1350 §5). Code 1 ("File not
// found") matches [ErrNotFound] with errors.Is.
type TFTPError struct {
	// Code is the TFTP error code (0–8).
	Code int
	// Message is the server's text, e.g. "File not found".
	Message string
}

// Error formats the error as `tftp error 1: "File not found"`.
func (e *TFTPError) Error() string {
	return "tftp error " + strconv.Itoa(e.Code) + ": " + strconv.Quote(e.Message)
}

// Is reports whether the error is a file-not-found (code 1 matches [ErrNotFound]).
func (e *TFTPError) Is(target error) bool {
	return target == ErrNotFound && e.Code == TFTPFileNotFound
}

// tlsError carries the ErrTLS detail: why the TLS session was not trusted.
type tlsError struct {
	detail string // short, e.g. "server certificate not trusted"
	err    error  // the cause, or nil
	terse  bool   // detail says all the cause would: leave it out of the message
}

func (e *tlsError) Error() string {
	if e.err != nil && !e.terse {
		return "tls: " + e.detail + ": " + e.err.Error()
	}
	return "tls: " + e.detail
}

func (e *tlsError) Unwrap() []error {
	if e.err != nil {
		return []error{ErrTLS, e.err}
	}
	return []error{ErrTLS}
}

// ErrText returns the short $ERR text the device puts in Log_Resync_Failure_Msg and
// Log_Upgrade_Failure_Msg for a fetch or upload error (SPA-BEHAVIOUR §3: "http_get failed",
// "corrupt file"). The wording is:
//
//   - "file not found" for a file-not-found ([ErrNotFound], §2.3);
//   - "<op> failed (<detail>)" otherwise, where op is [FetchError.Op] ("tftp_get",
//     "http_get", "https_post", "tftp_put"…) and the detail, when known, is one of "timeout",
//     "too large", "truncated", "canceled", "connection refused", "connection reset",
//     "connection closed", "too many open files", "no local address or port", "host not found",
//     "tls: <reason>", the HTTP status ("403 Forbidden") or the TFTP error ("tftp error 2:
//     Access violation");
//   - for an error that is not a [*FetchError]: its own ErrText() string if it has such a
//     method, else its Error() text.
//
// ErrText(nil) is "". The text never holds a password or URL user information, nor a control
// character: what a server sent (a TFTP error text, a rule or value quoted by an error) is
// cleaned with [CleanText] and the whole is at most [MaxErrText] bytes, as it goes into
// syslog datagrams and the status.
func ErrText(err error) string {
	if err == nil {
		return ""
	}
	return CleanText(errText(err), MaxErrText)
}

// MaxErrText bounds the length of [ErrText].
const MaxErrText = 256

func errText(err error) string {
	var fe *FetchError
	if !errors.As(err, &fe) {
		var t interface{ ErrText() string }
		if errors.As(err, &t) {
			return t.ErrText()
		}
		return err.Error()
	}
	if errors.Is(fe.Err, ErrNotFound) {
		return "file not found"
	}
	s := fe.Op + " failed"
	if d := errDetail(fe.Err); d != "" {
		s += " (" + d + ")"
	}
	return s
}

// errDetail is the parenthesised detail of ErrText.
func errDetail(err error) string {
	var (
		se *StatusError
		te *TFTPError
		le *tlsError
		de *net.DNSError
	)
	switch {
	case errors.As(err, &le):
		return "tls: " + le.detail
	case errors.As(err, &se):
		return strings.TrimPrefix(se.Error(), "http status ")
	case errors.As(err, &te):
		return "tftp error " + strconv.Itoa(te.Code) + ": " + te.Message
	case errors.Is(err, ErrTimeout):
		return "timeout"
	case errors.Is(err, ErrTooLarge):
		return "too large"
	case errors.Is(err, ErrTruncated):
		return "truncated"
	case errors.Is(err, ErrTLS):
		return "tls"
	case errors.Is(err, ErrUnsupported):
		return "not supported"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "unreachable"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		// The phone's own process is out of file descriptors (a fleet above its open
		// file limit): the server never saw a connection.
		return "too many open files"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no local address or port"
	case errors.Is(err, io.EOF):
		return "connection closed" // by the server, before it answered
	case errors.As(err, &de):
		return "host not found"
	}
	return ""
}
