package webui

import (
	"strings"
	"testing"

	"github.com/spa900/spa900/phone"
	"github.com/spa900/spa900/provisioning/config"
)

// TestCallsAPIErrors: the calls API's answers without a call: an empty list, 404 for an
// unknown id, 409 with the reason for a call the phone cannot place, 400 for a bad request.
func TestCallsAPIErrors(t *testing.T) {
	u := testUnit(t, phone.Options{Defaults: []config.Change{config.Set("Line_Enable_1_", "No")}})
	_, srv := testHandler(t, u)
	code, body := fetch(t, "GET", srv.URL+"/api/v1/calls", "", noCred)
	if code != 200 || !strings.Contains(body, `"calls":[]`) {
		t.Errorf("GET calls = %d %s", code, body)
	}
	tests := []struct {
		name, method, path, body string
		want                     int
		reason                   string
	}{
		{"unknown call", "POST", "/api/v1/calls/42/answer", "", 404, "no such call"},
		{"unknown action", "POST", "/api/v1/calls/42/juggle", "", 404, "juggle"},
		{"extension out of service", "POST", "/api/v1/calls", `{"extension":1,"to":"1002"}`, 409, "not in service"},
		{"resume on an extension out of service", "POST", "/api/v1/calls", `{"extension":1,"resume_appearance":1}`, 409, "not in service"},
		{"barge on an extension out of service", "POST", "/api/v1/calls", `{"extension":1,"barge_appearance":1}`, 409, "not in service"},
		{"both to and uri", "POST", "/api/v1/calls", `{"to":"1","uri":"sip:a@b"}`, 400, "one of"},
		{"unknown field", "POST", "/api/v1/calls", `{"number":"1"}`, 400, "bad JSON"},
		{"dtmf without digits", "POST", "/api/v1/calls/1/dtmf", `{}`, 400, "digits"},
		{"transfer without target", "POST", "/api/v1/calls/1/transfer", `{}`, 400, "replaces"},
		{"transfer to and replaces", "POST", "/api/v1/calls/1/transfer", `{"to":"1003","replaces":"2"}`, 400, "exclude"},
		{"attended transfer of an unknown call", "POST", "/api/v1/calls/42/transfer", `{"replaces":"2"}`, 404, "no such call"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := fetch(t, tt.method, srv.URL+tt.path, tt.body, noCred)
			if code != tt.want || !strings.Contains(body, `"error":"`) || !strings.Contains(body, tt.reason) {
				t.Errorf("%s %s = %d %s, want %d naming %q", tt.method, tt.path, code, body, tt.want, tt.reason)
			}
		})
	}
}

// TestCallsAPIFeatureCodes: a vertical service code dialled through the API answers 200 with
// what it did and places no call; a code of a feature spa900 has not answers 501.
func TestCallsAPIFeatureCodes(t *testing.T) {
	u := testUnit(t, phone.Options{IP: "127.0.0.1"})
	_, srv := testHandler(t, u)
	code, body := fetch(t, "POST", srv.URL+"/api/v1/calls", `{"extension":1,"to":"*78"}`, noCred)
	if code != 200 || !strings.Contains(body, `"feature":{`) || !strings.Contains(body, `"changed":{"DND_Setting":"Yes"}`) ||
		!strings.Contains(body, `"tone":"Confirm_Tone"`) || strings.Contains(body, `"id"`) {
		t.Errorf("POST *78 = %d %s", code, body)
	}
	if got := u.Status().Config.Get("DND_Setting"); got != "Yes" {
		t.Errorf("DND_Setting = %q after *78", got)
	}
	code, body = fetch(t, "POST", srv.URL+"/api/v1/calls", `{"extension":1,"to":"*66"}`, noCred)
	if code != 501 || !strings.Contains(body, "call back on busy") {
		t.Errorf("POST *66 = %d %s, want 501 naming the feature", code, body)
	}
}
