package webui

import (
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/spa900/spa900/phone"
)

// ErrNotListening is returned by [Server.WaitListening] when the server settled on not
// listening for a boot of the phone (Enable_Web_Server is No, or the port could not be bound).
var ErrNotListening = errors.New("web server not listening")

// ErrServerStopped is returned by [Server.WaitListening] once [Server.Run] has returned.
var ErrServerStopped = errors.New("web server stopped")

// statusError is an error with the HTTP status that answers it, as the handlers return it
// (Tailscale's tsweb.Error): Msg is shown to the client, Err is logged.
type statusError struct {
	Code int
	Msg  string
	Err  error
}

// Error returns the message and, when there is one, the cause.
func (e *statusError) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

// Unwrap returns the cause.
func (e *statusError) Unwrap() error { return e.Err }

// httpError builds a *statusError.
func httpError(code int, err error, format string, args ...any) error {
	return &statusError{Code: code, Msg: fmt.Sprintf(format, args...), Err: err}
}

// errorStatus maps an error from the phone to the HTTP status that answers it (STYLE §12).
func errorStatus(err error) int {
	var he *statusError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &he):
		return he.Code
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, phone.ErrNoSuchCall):
		return http.StatusNotFound
	case errors.Is(err, phone.ErrCallState):
		return http.StatusConflict
	case errors.Is(err, phone.ErrInvalidRequest):
		return http.StatusBadRequest
	case errors.Is(err, phone.ErrNotSupported):
		return http.StatusNotImplemented
	case errors.Is(err, phone.ErrProvisioningDisabled), errors.Is(err, phone.ErrUpgradeDisabled):
		return http.StatusForbidden
	case errors.Is(err, phone.ErrBooting), errors.Is(err, phone.ErrClosed):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// errorMessage is what the client is told about err.
func errorMessage(code int, err error) string {
	var he *statusError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &he):
		return he.Msg
	case errors.As(err, &mbe):
		return fmt.Sprintf("request body larger than %d bytes", mbe.Limit)
	case code == http.StatusInternalServerError:
		return "internal error: " + err.Error()
	}
	return err.Error()
}

// route is a handler of the route table ([routeTable]) that returns its error: it serves r
// as phone h's; [serve] answers the error.
type route func(h *handler, w http.ResponseWriter, r *http.Request) error

// handlerKey is the request context key of the phone a request is for (handlerOf).
type handlerKey struct{}

// handlerOf returns the phone's handler that ServeHTTP gave the request to the route table.
func handlerOf(r *http.Request) *handler {
	return r.Context().Value(handlerKey{}).(*handler)
}

// plain adapts a handler of the route table that writes its whole answer itself.
func plain(fn func(h *handler, w http.ResponseWriter, r *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fn(handlerOf(r), w, r) })
}

// serve adapts a route: one place turns errors into statuses and log lines, for every
// handler of the package (Tailscale's tsweb.ReturnHandler). An error after the response has
// started can only be logged.
func serve(fn route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := handlerOf(r)
		rw := &trackingWriter{ResponseWriter: w}
		err := fn(h, rw, r)
		if err == nil {
			return
		}
		code := errorStatus(err)
		log := h.log.With(zap.String("method", r.Method), zap.String("path", r.URL.Path),
			zap.Int("code", code), zap.String("remote", r.RemoteAddr))
		switch {
		case code >= 500 && code != http.StatusServiceUnavailable:
			log.Error("request failed", zap.Error(err))
		default:
			log.Info("request refused", zap.Error(err))
		}
		if rw.wrote {
			return
		}
		writeError(rw, r, code, errorMessage(code, err))
	})
}

// trackingWriter remembers whether the response has started.
type trackingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *trackingWriter) WriteHeader(code int) {
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *trackingWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flushes of the event stream).
func (w *trackingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// isAPI reports whether a request is for the JSON API, which answers errors in JSON.
func isAPI(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/") }

// writeError answers a request with an error: {"error": msg} for the API, a short HTML page
// for the device's own URLs.
func writeError(w http.ResponseWriter, r *http.Request, code int, msg string) {
	w.Header().Set("Cache-Control", "no-store")
	if isAPI(r) {
		writeJSON(w, code, map[string]string{"error": msg})
		return
	}
	t := http.StatusText(code)
	writeHTML(w, code, t, msg)
}

// writeHTML answers with a short page of one paragraph, as the device's action URLs do
// (SPA-BEHAVIOUR §5.4: "the exact HTML is undocumented").
func writeHTML(w http.ResponseWriter, code int, title, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	t := html.EscapeString(title)
	w.Write([]byte("<html><head><title>" + t + "</title></head><body><h1>" + t + "</h1><p>" +
		html.EscapeString(msg) + "</p></body></html>\n"))
}

// writeJSON answers with one JSON value.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"encode response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}
