package webui

import (
	"context"
	"net/http"

	"github.com/spa900/spa900/phone"
)

// The calls API (an extension: the device has none): list, place, and act on calls.
//
//	GET  /api/v1/calls                      the calls in progress
//	POST /api/v1/calls                      {"extension": 1, "to": "1002"} dialled through the
//	                                        extension's dial plan; {"uri": "sip:…"} bypasses it.
//	                                        201 with the call; a vertical service code ("*78",
//	                                        "*72 1003") answers 200 {"feature": {…}} when it
//	                                        places no call, 201 with the call and its "feature"
//	                                        when it does (*81 1003, *69); 501 for a code of a
//	                                        feature spa900 does not have (*66);
//	                                        {"extension": 2, "resume_appearance": 1} takes over
//	                                        the call another phone holds on shared appearance 1
//	                                        (INVITE with Replaces, SPA-BEHAVIOUR §13.8);
//	                                        {"extension": 2, "barge_appearance": 1} joins the
//	                                        call in progress there (SCA_Barge-In_Enable; Join)
//	POST /api/v1/calls/{id}/answer|hangup|hold|resume
//	POST /api/v1/calls/{id}/dtmf            {"digits": "159#"}
//	POST /api/v1/calls/{id}/transfer        {"to": "1003"}: blind transfer by REFER
//	POST /api/v1/calls/{id}/conference      {"with": "2"}: local three-way conference (api_media.go)
//
// An unknown id answers 404; an action the call's state forbids 409, with the reason.

func (h *handler) apiCalls(w http.ResponseWriter, r *http.Request) error {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		st := h.unit.Status()
		calls := st.Calls
		if calls == nil {
			calls = []phone.CallStatus{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"calls": calls})
		return nil
	}
	var req struct {
		Extension int    `json:"extension"`
		To        string `json:"to"`
		URI       string `json:"uri"`
		Resume    int    `json:"resume_appearance"`
		Barge     int    `json:"barge_appearance"`
	}
	if err := decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	if req.Resume != 0 || req.Barge != 0 {
		p, err := h.unit.Phone()
		if err != nil {
			return err
		}
		act, app := p.ResumeShared, req.Resume
		if req.Barge != 0 {
			act, app = p.BargeShared, req.Barge
		}
		c, err := act(r.Context(), max(req.Extension, 1), app)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, c)
		return nil
	}
	if (req.To == "") == (req.URI == "") {
		return httpError(http.StatusBadRequest, nil, `give one of "to" (dialled through the dial plan) or "uri"`)
	}
	if req.Extension == 0 {
		req.Extension = 1
	}
	p, err := h.unit.Phone()
	if err != nil {
		return err
	}
	to, uri := req.To, false
	if req.URI != "" {
		to, uri = req.URI, true
	}
	res, err := p.Dial(r.Context(), req.Extension, to, uri)
	if err != nil {
		return err
	}
	if !res.Placed() {
		writeJSON(w, http.StatusOK, map[string]any{"feature": res.Feature})
		return nil
	}
	writeJSON(w, http.StatusCreated, res)
	return nil
}

func (h *handler) apiCallAction(w http.ResponseWriter, r *http.Request) error {
	id, action := r.PathValue("id"), r.PathValue("action")
	var do func(p *phone.Phone, ctx context.Context) (phone.CallStatus, error)
	switch action {
	case "answer":
		do = func(p *phone.Phone, ctx context.Context) (phone.CallStatus, error) { return p.Answer(ctx, id) }
	case "hangup":
		do = func(p *phone.Phone, ctx context.Context) (phone.CallStatus, error) { return p.Hangup(ctx, id) }
	case "hold":
		do = func(p *phone.Phone, ctx context.Context) (phone.CallStatus, error) { return p.Hold(ctx, id) }
	case "resume":
		do = func(p *phone.Phone, ctx context.Context) (phone.CallStatus, error) { return p.Resume(ctx, id) }
	case "dtmf":
		var req struct {
			Digits string `json:"digits"`
		}
		if err := decodeJSON(w, r, &req, false); err != nil {
			return err
		}
		if req.Digits == "" {
			return httpError(http.StatusBadRequest, nil, `missing "digits"`)
		}
		do = func(p *phone.Phone, ctx context.Context) (phone.CallStatus, error) {
			return p.SendDTMF(ctx, id, req.Digits)
		}
	case "transfer":
		// {"to": …} blind; {"replaces": id} attended: the far end goes to call id's far end.
		var req struct {
			To       string `json:"to"`
			Replaces string `json:"replaces"`
		}
		if err := decodeJSON(w, r, &req, false); err != nil {
			return err
		}
		switch {
		case req.To != "" && req.Replaces != "":
			return httpError(http.StatusBadRequest, nil, `"to" and "replaces" exclude each other`)
		case req.Replaces != "":
			do = func(p *phone.Phone, ctx context.Context) (phone.CallStatus, error) {
				return p.TransferReplaces(ctx, id, req.Replaces)
			}
		case req.To != "":
			do = func(p *phone.Phone, ctx context.Context) (phone.CallStatus, error) {
				return p.Transfer(ctx, id, req.To)
			}
		default:
			return httpError(http.StatusBadRequest, nil, `missing "to" or "replaces"`)
		}
	default:
		if ok, err := h.apiCallMedia(w, r, id, action); ok {
			return err // play, record, echo, impair: api_media.go
		}
		return httpError(http.StatusNotFound, nil, "no call action %q", action)
	}
	if action != "dtmf" && action != "transfer" {
		if err := noBody(w, r); err != nil {
			return err
		}
	}
	p, err := h.unit.Phone()
	if err != nil {
		return err
	}
	cs, err := do(p, r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, cs)
	return nil
}
