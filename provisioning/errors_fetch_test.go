package provisioning

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"
)

// errWithOwnText is an error of another layer that words its own $ERR.
type errWithOwnText struct{}

func (errWithOwnText) Error() string   { return "decode: bad xml at line 3" }
func (errWithOwnText) ErrText() string { return "corrupt file" }

func TestErrText(t *testing.T) {
	fe := func(op string, err error) error {
		return &FetchError{URL: "http://10.0.0.1:80/spa942.cfg", Op: op, Err: err}
	}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"http 404", fe("http_get", &StatusError{Code: 404}), "file not found"},
		{"tftp fnf", fe("tftp_get", &TFTPError{Code: 1, Message: "File not found"}), "file not found"},
		{"wrapped fnf", fmt.Errorf("profile rule b: %w", fe("tftp_get", &TFTPError{Code: 1})), "file not found"},
		{"http status", fe("http_get", &StatusError{Code: 403}), "http_get failed (403 Forbidden)"},
		{"unknown status", fe("https_get", &StatusError{Code: 599}), "https_get failed (599)"},
		{"post", fe("http_post", &StatusError{Code: 500}), "http_post failed (500 Internal Server Error)"},
		{"tftp error", fe("tftp_get", &TFTPError{Code: 2, Message: "Access violation"}), "tftp_get failed (tftp error 2: Access violation)"},
		{"tftp put", fe("tftp_put", fmt.Errorf("%w: x", ErrTimeout)), "tftp_put failed (timeout)"},
		{"timeout", fe("http_get", fmt.Errorf("%w: %w", ErrTimeout, context.DeadlineExceeded)), "http_get failed (timeout)"},
		{"too large", fe("http_get", ErrTooLarge), "http_get failed (too large)"},
		{"truncated", fe("http_get", ErrTruncated), "http_get failed (truncated)"},
		{"tls", fe("https_get", &tlsError{detail: "server certificate not trusted"}), "https_get failed (tls: server certificate not trusted)"},
		{"tls over a status", fe("https_get", &tlsError{detail: "server requires a client certificate", err: &StatusError{Code: 400}}), "https_get failed (tls: server requires a client certificate)"},
		{"canceled", fe("http_get", context.Canceled), "http_get failed (canceled)"},
		{"refused", fe("http_get", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}), "http_get failed (connection refused)"},
		{"open files", fe("http_get", &net.OpError{Op: "dial", Err: os.NewSyscallError("socket", syscall.EMFILE)}), "http_get failed (too many open files)"},
		{"no local port", fe("http_get", &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.EADDRNOTAVAIL)}), "http_get failed (no local address or port)"},
		{"closed before an answer", fe("http_get", &url.Error{Op: "Get", URL: "http://10.0.0.1/", Err: io.EOF}), "http_get failed (connection closed)"},
		{"dns", fe("http_get", &net.DNSError{Err: "no such host", Name: "prov.example", IsNotFound: true}), "http_get failed (host not found)"},
		{"unsupported", fe("tftp_post", ErrUnsupported), "tftp_post failed (not supported)"},
		{"no detail", fe("http_get", errors.New("something odd")), "http_get failed"},
		{"another layer's wording", fmt.Errorf("apply: %w", errWithOwnText{}), "corrupt file"},
		{"plain error", errors.New("internal error"), "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ErrText(tt.err); got != tt.want {
				t.Errorf("ErrText(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

func TestFetchErrorsMatch(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		target error
		want   bool
	}{
		{"404 is not found", &StatusError{Code: 404}, ErrNotFound, true},
		{"410 is not", &StatusError{Code: 410}, ErrNotFound, false},
		{"tftp 1 is not found", &TFTPError{Code: 1}, ErrNotFound, true},
		{"tftp 2 is not", &TFTPError{Code: 2}, ErrNotFound, false},
		{"tls error is ErrTLS", &tlsError{detail: "x"}, ErrTLS, true},
		{"through FetchError", &FetchError{Op: "http_get", Err: &StatusError{Code: 404}}, ErrNotFound, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errors.Is(tt.err, tt.target); got != tt.want {
				t.Errorf("errors.Is(%v, %v) = %v, want %v", tt.err, tt.target, got, tt.want)
			}
		})
	}
	var se *StatusError
	err := error(&FetchError{Op: "https_get", Err: &tlsError{detail: "server requires a client certificate", err: &StatusError{Code: 400}}})
	if !errors.As(err, &se) || se.Code != 400 || !errors.Is(err, ErrTLS) {
		t.Errorf("nginx's 400 for a missing certificate: As StatusError = %v, Is ErrTLS = %v", se, errors.Is(err, ErrTLS))
	}
}

func TestFetchErrorMessage(t *testing.T) {
	err := &FetchError{URL: "tftp://10.0.0.1:69/spa942.cfg", Op: "tftp_get", Err: &TFTPError{Code: 1, Message: "File not found"}}
	if got, want := err.Error(), `tftp_get tftp://10.0.0.1:69/spa942.cfg: tftp error 1: "File not found"`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
