package webui

import (
	"encoding/json"
	"errors"
	"html"
	"net/http"
	"strings"

	"github.com/spa900/spa900/phone"
)

// errorStatus maps an error from the phone to the HTTP status that answers it (STYLE §12).
func errorStatus(err error) int {
	switch {
	case errors.Is(err, phone.ErrInvalidRequest):
		return http.StatusBadRequest
	case errors.Is(err, phone.ErrProvisioningDisabled), errors.Is(err, phone.ErrUpgradeDisabled):
		return http.StatusForbidden
	case errors.Is(err, phone.ErrBooting), errors.Is(err, phone.ErrClosed):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

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
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	t := html.EscapeString(http.StatusText(code))
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
