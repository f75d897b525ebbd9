package webui

import (
	"context"
	"net/http"

	"github.com/spa900/spa900/phone"
)

// The media actions of the calls API: POST /api/v1/calls/{id}/play, /record, /echo, /impair,
// and /conference ({"with": "2"}, or {} for the extension's other call: the local three-way
// conference, SPA-BEHAVIOUR §13.5).

// apiCallMedia handles a media action; ok is false for an action that is not one.
func (h *handler) apiCallMedia(w http.ResponseWriter, r *http.Request, id, action string) (ok bool, err error) {
	var do func(p *phone.Phone, ctx context.Context) (phone.CallStatus, error)
	switch action {
	case "play":
		var req phone.PlayRequest
		if err := decodeJSON(w, r, &req, true); err != nil {
			return true, err
		}
		do = func(p *phone.Phone, ctx context.Context) (phone.CallStatus, error) { return p.CallPlay(ctx, id, req) }
	case "record":
		var req phone.RecordRequest
		if err := decodeJSON(w, r, &req, false); err != nil {
			return true, err
		}
		do = func(p *phone.Phone, ctx context.Context) (phone.CallStatus, error) { return p.CallRecord(ctx, id, req) }
	case "echo":
		req := struct {
			On *bool `json:"on"`
		}{}
		if err := decodeJSON(w, r, &req, true); err != nil {
			return true, err
		}
		on := req.On == nil || *req.On
		do = func(p *phone.Phone, ctx context.Context) (phone.CallStatus, error) { return p.CallEcho(ctx, id, on) }
	case "impair":
		var req phone.ImpairRequest
		if err := decodeJSON(w, r, &req, true); err != nil {
			return true, err
		}
		do = func(p *phone.Phone, ctx context.Context) (phone.CallStatus, error) { return p.CallImpair(ctx, id, req) }
	case "conference":
		req := struct {
			With string `json:"with"`
		}{}
		if err := decodeJSON(w, r, &req, true); err != nil {
			return true, err
		}
		do = func(p *phone.Phone, ctx context.Context) (phone.CallStatus, error) {
			return p.CallConference(ctx, id, req.With)
		}
	default:
		return false, nil
	}
	p, err := h.unit.Phone()
	if err != nil {
		return true, err
	}
	cs, err := do(p, r.Context())
	if err != nil {
		return true, err
	}
	writeJSON(w, http.StatusOK, cs)
	return true, nil
}
