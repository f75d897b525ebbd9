package webui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/spa900/spa900/phone"
)

// statusResponse is GET /api/v1/status: the phone's status with the live Info values, keyed
// by section ("System_Information", "Ext_1_Status", "Line_1_Call_1_Status") and name, the
// same values the export's Info/ group shows.
type statusResponse struct {
	*phone.Status
	Info map[string]map[string]string `json:"info"`
}

func (h *handler) apiStatus(w http.ResponseWriter, r *http.Request) error {
	st := h.unit.Status()
	resp := statusResponse{Status: st, Info: map[string]map[string]string{}}
	if st.Config != nil {
		for _, f := range st.Config.Catalog().Info() {
			_, section, _ := strings.Cut(f.Group, "/")
			m := resp.Info[section]
			if m == nil {
				m = map[string]string{}
				resp.Info[section] = m
			}
			m[f.Name] = st.Info.Value(f)
		}
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// configResponse is GET /api/v1/config: every parameter's value and user access, as the admin
// sees them (profile-only parameters such as GPP_SA are left out, as in the export).
type configResponse struct {
	Model  string            `json:"model"`
	Values map[string]string `json:"values"`
	Access map[string]string `json:"access"`
}

func (h *handler) apiConfig(w http.ResponseWriter, r *http.Request) error {
	st := h.unit.Status()
	if st.Config == nil {
		return phone.ErrBooting
	}
	params := st.Config.Catalog().Params()
	resp := configResponse{Model: st.Model, Values: make(map[string]string, len(params)),
		Access: make(map[string]string, len(params))}
	for i := range params {
		if params[i].Hidden {
			continue
		}
		resp.Values[params[i].Name] = st.Config.ValueAt(i)
		resp.Access[params[i].Name] = st.Config.AccessAt(i).String()
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// outcomeResponse answers the gated actions: whether the operation started at once or waits
// for the phone to be idle.
type outcomeResponse struct {
	Op      string `json:"op"`
	Outcome string `json:"outcome"`
}

func writeOutcome(w http.ResponseWriter, op string, out phone.Outcome) {
	writeJSON(w, http.StatusAccepted, outcomeResponse{Op: op, Outcome: out.String()})
}

// apiHook is POST /api/v1/hook {"offhook": true|false}: the handset. Until SIP lands it is the
// only thing that makes the phone busy (issue 2).
func (h *handler) apiHook(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		OffHook *bool `json:"offhook"`
	}
	if err := decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	if req.OffHook == nil {
		return httpError(http.StatusBadRequest, nil, `missing "offhook"`)
	}
	p, err := h.unit.Phone()
	if err != nil {
		return err
	}
	if err := p.SetHook(r.Context(), *req.OffHook); err != nil {
		return fmt.Errorf("hook: %w", err)
	}
	writeJSON(w, http.StatusOK, map[string]bool{"offhook": *req.OffHook})
	return nil
}

// apiReboot is POST /api/v1/reboot: as /admin/reboot, through the idle gate.
func (h *handler) apiReboot(w http.ResponseWriter, r *http.Request) error {
	return h.apiGated(w, r, "reboot", (*phone.Phone).RequestReboot)
}

// apiRestart is POST /api/v1/restart: the warm restart, through the idle gate.
func (h *handler) apiRestart(w http.ResponseWriter, r *http.Request) error {
	return h.apiGated(w, r, "restart", (*phone.Phone).RequestRestart)
}

// apiGated asks the phone for a gated operation and answers whether it started or waits.
func (h *handler) apiGated(w http.ResponseWriter, r *http.Request, op string,
	request func(p *phone.Phone, ctx context.Context, reason string) (phone.Outcome, error)) error {
	if err := noBody(w, r); err != nil {
		return err
	}
	p, err := h.unit.Phone()
	if err != nil {
		return err
	}
	out, err := request(p, r.Context(), "api from "+requester(r))
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	writeOutcome(w, op, out)
	return nil
}

// apiProfile is POST /api/v1/profile: a flat-profile XML body applied exactly as a resync
// applies it (DECISIONS 8): 400 and no change for a document that is not well-formed; in a
// well-formed one, values their parameters cannot take are skipped and listed ("skipped",
// "skipped_count") and the rest applies, 200 with what changed. The web form, by contrast,
// refuses any invalid value with its problem page.
func (h *handler) apiProfile(w http.ResponseWriter, r *http.Request) error {
	release, err := h.upload(r)
	if err != nil {
		return err
	}
	defer release()
	body, err := readBody(w, r, maxProfileBody)
	if err != nil {
		return fmt.Errorf("read profile: %w", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return httpError(http.StatusBadRequest, nil, "empty profile")
	}
	p, err := h.unit.Phone()
	if err != nil {
		return err
	}
	res, err := p.ApplyProfile(r.Context(), "api", body)
	if err != nil {
		return fmt.Errorf("apply profile: %w", err)
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (h *handler) apiFactoryReset(w http.ResponseWriter, r *http.Request) error {
	if err := noBody(w, r); err != nil {
		return err
	}
	out, err := h.unit.FactoryReset(r.Context())
	if err != nil {
		return fmt.Errorf("factory reset: %w", err)
	}
	writeOutcome(w, "factory-reset", out)
	return nil
}

// urlRequest is the optional body of POST /api/v1/resync and /api/v1/upgrade.
type urlRequest struct {
	URL string `json:"url"`
}

// apiResync is POST /api/v1/resync, optionally {"url": "..."}: as /admin/resync[?URL].
func (h *handler) apiResync(w http.ResponseWriter, r *http.Request) error {
	return h.apiURLAction(w, r, opResync)
}

// apiUpgrade is POST /api/v1/upgrade {"url": "..."}: as /admin/upgrade?URL. Without a URL the
// phone evaluates Upgrade_Rule.
func (h *handler) apiUpgrade(w http.ResponseWriter, r *http.Request) error {
	return h.apiURLAction(w, r, opUpgrade)
}

func (h *handler) apiURLAction(w http.ResponseWriter, r *http.Request, op urlOp) error {
	var req urlRequest
	if err := decodeJSON(w, r, &req, true); err != nil {
		return err
	}
	out, err := h.requestURLAction(r, req.URL, op)
	if err != nil {
		return err
	}
	writeOutcome(w, op.name, out)
	return nil
}

// apiReport is POST /api/v1/report: send the configuration report to Report_Rule once
// (SPA-BEHAVIOUR §4.5); the result comes on the event stream.
func (h *handler) apiReport(w http.ResponseWriter, r *http.Request) error {
	if err := noBody(w, r); err != nil {
		return err
	}
	p, err := h.unit.Phone()
	if err != nil {
		return err
	}
	if err := p.RequestReport(r.Context()); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"op": "report"})
	return nil
}

// readBody reads a whole body of at most limit bytes (413 beyond), into one buffer of the
// announced size when there is one.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	rd := http.MaxBytesReader(w, r.Body, limit)
	var body []byte
	var err error
	if n := r.ContentLength; n > 0 && n <= limit {
		body = make([]byte, n)
		_, err = io.ReadFull(rd, body)
	} else {
		body, err = io.ReadAll(rd)
	}
	switch {
	case err == nil:
		return body, nil
	case isTimeout(err):
		return nil, httpError(http.StatusRequestTimeout, err, "the body did not arrive in time")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return nil, httpError(http.StatusBadRequest, err, "the body is shorter than its Content-Length")
	}
	return nil, err
}

// isTimeout reports whether err is a read or write that passed its deadline.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// decodeJSON reads a small JSON body into v: unknown fields and trailing data are refused,
// an empty body is allowed only when optional.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any, optional bool) error {
	body, err := readBody(w, r, maxJSONBody)
	if err != nil {
		return fmt.Errorf("read request: %w", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if optional {
			return nil
		}
		return httpError(http.StatusBadRequest, nil, "empty request body, want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return httpError(http.StatusBadRequest, err, "bad JSON: %s", jsonProblem(err))
	}
	if dec.More() {
		return httpError(http.StatusBadRequest, nil, "bad JSON: data after the object")
	}
	return nil
}

// jsonProblem says what is wrong with a JSON body, without echoing it.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return "syntax error at offset " + strconv.FormatInt(se.Offset, 10)
	case errors.As(err, &te):
		return "field " + strconv.Quote(te.Field) + " must be " + te.Type.String()
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated"
	}
	return err.Error()
}

// noBody refuses a body on the actions that take none (beyond an empty JSON object).
func noBody(w http.ResponseWriter, r *http.Request) error {
	var req struct{}
	return decodeJSON(w, r, &req, true)
}

// apiEvents is GET /api/v1/events: the unit's events as server-sent events (issue 2), each
//
//	id: <seq>
//	event: <kind>
//	data: {"seq":…, "time":…, "kind":…, <the event's fields>}
//
// A client that reconnects with Last-Event-ID (or a script with ?after=<seq>) first gets the
// kept events after that one, so nothing is lost across a reboot; what is kept is bounded
// (phone.Bus), so a replay is too, and it is read from the bus a page at a time. Comment
// lines every 15 s keep the connection open. Each write has Limits.WriteTimeout: a client
// that stops reading is dropped once the kernel's buffers are full. The stream ends then,
// when the client goes away, when it falls too far behind (it reconnects and catches up), or
// when the phone shuts down.
func (h *handler) apiEvents(w http.ResponseWriter, r *http.Request) error {
	replay, after, err := eventsAfter(r)
	if err != nil {
		return err
	}
	rc := http.NewResponseController(w)
	// The request has been read: the server's read deadline would end the stream (net/http
	// cancels a request whose connection fails to read), so lift it. Errors mean a writer
	// without deadlines (a test recorder): nothing to lift.
	_ = rc.SetReadDeadline(time.Time{})
	ctx := r.Context()
	bus := h.unit.Bus()
	// Subscribe first, then read the history: nothing falls between the two, and the events
	// that are in both are sent once.
	live := bus.Subscribe(ctx, 0)
	if replay && after > bus.LastSeq() {
		// An ID this bus never gave: the client saw another run of the emulator. It gets
		// everything kept, rather than nothing until the numbers catch up.
		after = 0
	}
	deadline := func() { _ = rc.SetWriteDeadline(time.Now().Add(h.limits.WriteTimeout)) }
	deadline()

	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// A reconnecting browser waits a second: about a boot (DECISIONS 21).
	if _, err := io.WriteString(w, "retry: 1000\n\n"); err != nil {
		return nil
	}
	if err := rc.Flush(); err != nil {
		return nil
	}

	var buf []byte
	sent := after
	var werr error // why a write failed
	defer func() {
		if isTimeout(werr) {
			h.refusal(&h.streamDropped, msgStreamDropped).note(zap.String("remote", r.RemoteAddr), zap.Uint64("last_id", sent),
				zap.String("reason", "the client stopped reading: a write waited "+h.limits.WriteTimeout.String()))
		}
	}()
	send := func(e phone.Event) bool {
		buf = fmt.Appendf(buf[:0], "id: %d\nevent: %s\ndata: ", e.Seq, e.Kind)
		var err error
		if buf, err = e.AppendJSON(buf); err != nil { // encoded here, into the stream's buffer
			return false
		}
		buf = append(buf, "\n\n"...)
		deadline()
		if _, werr = w.Write(buf); werr != nil {
			return false
		}
		sent = e.Seq
		werr = rc.Flush()
		return werr == nil
	}
	for replay {
		page := bus.SinceN(sent, replayPage)
		for _, e := range page {
			if !send(e) {
				return nil
			}
		}
		if len(page) < replayPage {
			break
		}
	}
	beat := time.NewTicker(h.heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-ctx.Done():
			// The server closes for a reboot: the events already here (the shutdown among
			// them) still go out.
			for {
				select {
				case e, ok := <-live:
					if !ok || (e.Seq > sent && !send(e)) || e.Kind == phone.EventShutdown {
						return nil
					}
				default:
					// net/http also ends the request when a write to its connection
					// failed: a last line says whether it was a timeout (the client stopped
					// reading) or the client went away.
					deadline()
					if _, werr = io.WriteString(w, ": end\n\n"); werr == nil {
						werr = rc.Flush()
					}
					return nil
				}
			}
		case <-beat.C:
			deadline()
			if _, werr = io.WriteString(w, ": heartbeat\n\n"); werr != nil {
				return nil
			}
			if werr = rc.Flush(); werr != nil {
				return nil
			}
		case e, ok := <-live:
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				// Fell behind: the client reconnects with Last-Event-ID.
				h.refusal(&h.streamDropped, msgStreamDropped).note(zap.String("remote", r.RemoteAddr), zap.Uint64("last_id", sent),
					zap.String("reason", "the client fell behind by more than the bus keeps"))
				return nil
			}
			if e.Seq > sent && !send(e) {
				return nil
			}
			if e.Kind == phone.EventShutdown {
				return nil
			}
		}
	}
}

// replayPage is how many kept events a replay reads from the bus at a time.
const replayPage = 64

// eventsAfter reads where an event stream starts: Last-Event-ID (a reconnecting EventSource)
// or ?after=<seq>; with neither, only new events are sent.
func eventsAfter(r *http.Request) (replay bool, after uint64, err error) {
	v, from := r.Header.Get("Last-Event-ID"), "Last-Event-ID"
	if v == "" {
		v, from = r.URL.Query().Get("after"), "after"
		if v == "" && !r.URL.Query().Has("after") {
			return false, 0, nil
		}
	}
	after, err = strconv.ParseUint(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return false, 0, httpError(http.StatusBadRequest, nil, "%s must be an event sequence number", from)
	}
	return true, after, nil
}
