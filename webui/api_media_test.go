package webui

import (
	"strings"
	"testing"

	"github.com/spa900/spa900/phone"
	"github.com/spa900/spa900/provisioning/config"
)

// TestCallMediaAPIErrors: the media actions are routed and their bodies checked: 404 for an
// unknown call, 400 for a bad body, before any call exists. (Media in a real call:
// phone.TestCallMediaThroughKamailio.)
func TestCallMediaAPIErrors(t *testing.T) {
	u := testUnit(t, phone.Options{Defaults: []config.Change{config.Set("Line_Enable_1_", "No")}})
	_, srv := testHandler(t, u)
	tests := []struct {
		name, path, body string
		want             int
		reason           string
	}{
		{"play unknown call", "/api/v1/calls/42/play", `{"tone":"Busy_Tone"}`, 404, "no such call"},
		{"play a file and a tone", "/api/v1/calls/42/play", `{"tone":"1000","file":"/x.wav"}`, 400, "not both"},
		{"play a file that is not there", "/api/v1/calls/42/play", `{"file":"/no/such.wav"}`, 400, "no such file"},
		{"play bad JSON", "/api/v1/calls/42/play", `{"tune":"1"}`, 400, "bad JSON"},
		{"record nothing", "/api/v1/calls/42/record", `{}`, 400, "rx_file"},
		{"echo unknown call", "/api/v1/calls/42/echo", `{"on":true}`, 404, "no such call"},
		{"impair unknown call", "/api/v1/calls/42/impair", `{"loss":0.1,"jitter_ms":20}`, 404, "no such call"},
		{"conference unknown call", "/api/v1/calls/42/conference", `{"with":"43"}`, 404, "no such call"},
		{"conference bad JSON", "/api/v1/calls/42/conference", `{"width":"43"}`, 400, "bad JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := fetch(t, "POST", srv.URL+tt.path, tt.body, noCred)
			if code != tt.want || !strings.Contains(body, `"error":"`) || !strings.Contains(body, tt.reason) {
				t.Errorf("POST %s = %d %s, want %d naming %q", tt.path, code, body, tt.want, tt.reason)
			}
		})
	}
}
