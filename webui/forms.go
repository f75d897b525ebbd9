package webui

import (
	"errors"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/spa900/spa900/phone"
	"github.com/spa900/spa900/provisioning/config"
)

// Submit All Changes (SPA-BEHAVIOUR §5.2, DECISIONS 19): the form of a view, which holds
// every tab of the view, posts to bsipura.spa, relative to the page (/admin/bsipura.spa,
// /bsipura.spa for the user), with the parameter names as field names: "Submit All Changes
// applies every tab's edits at once". Fields whose value is the one in force are not
// changes; the others are validated by the phone all or nothing, and the page that answers
// lists what was saved and whether the phone restarts when idle (200), or every problem and
// that nothing changed (400, so that tools see the refusal; a browser shows the page and
// notes the status in its console).
//
// Undo All Changes is the form's reset button: it happens in the browser only (§5.2).
//
// The user's pages apply changes as the user account, whoever logs in to them (the admin may
// open them too); the admin's pages as the admin.
//
// Cross-site requests: the device has no protection, but a page of this emulator should not
// be driven by another site a browser visits. A post must be a form (urlencoded or
// multipart, else 415); a browser's cross-origin post is refused with 403 (the Sec-Fetch-Site
// header, or an Origin header that names another host, or "null"). Tools that send neither
// header, such as curl, are not browsers and are let through. The pages carry no script, are
// never framed, and secrets never leave the phone.

// secretKept is what a password input holds for a secret that is set: eight tabs, shown as
// eight dots. Left as it is, it means "unchanged"; a real value can never equal it, because
// values are trimmed of white space (SPA-BEHAVIOUR §1.1). Whatever is typed into the input
// replaces the secret, and emptying the input clears it.
const secretKept = "\t\t\t\t\t\t\t\t"

// Limits of a form post: the whole form of the SPA962's admin advanced view, every tab, is
// about 22 KiB and 910 fields with the default values.
const (
	maxFormBytes  = 1 << 20
	maxFormFields = 2000
	maxProblems   = 100 // problems listed on the result page; the rest are counted
)

// problem is one reason a form post was refused, as the result page lists it.
type problem struct {
	Name   string
	Label  string
	Value  string // the value given, clipped; never for secrets
	Reason string
	order  int // catalogue index, or past the end for unknown names
}

// submit handles Submit All Changes of the admin's (admin) or the user's pages.
func submit(admin bool) route {
	return func(h *handler, w http.ResponseWriter, r *http.Request) error {
		st := h.allow(w, r, admin)
		if st == nil {
			return nil
		}
		if err := checkFormRequest(r); err != nil {
			return err
		}
		release, err := h.upload(r)
		if err != nil {
			return err
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		vals, err := readForm(r)
		release()
		if err != nil {
			return err
		}
		acct := AccountUser
		if admin {
			acct = AccountAdmin
		}
		opts := config.ApplyOptions{User: !admin}
		snap := st.Config
		changes, problems := formChanges(snap, vals, admin)
		res := &result{}
		if len(problems) > 0 {
			// Nothing is applied; validate the rest anyway so that the page lists every
			// problem at once. Snapshot.Apply is pure: it changes nothing.
			if _, _, err := snap.Apply(changes, opts); err != nil {
				problems = append(problems, applyProblems(snap.Catalog(), err)...)
			}
		} else {
			p, err := h.unit.Phone()
			if err != nil {
				return err
			}
			diff, err := p.Apply(r.Context(), "web:"+acct.String(), changes, opts)
			switch {
			case errors.Is(err, phone.ErrInvalidRequest):
				problems = applyProblems(snap.Catalog(), err)
				if len(problems) == 0 {
					problems = []problem{{Reason: clip(err.Error(), 200)}}
				}
			case err != nil:
				return httpError(errorStatus(err), err, "changes not saved")
			default:
				res.Saved = true
				res.Restart = len(diff.Values) > 0 && snap.Catalog().NeedsRestart(diff.Values)
				for _, name := range diff.Values {
					if prm, ok := snap.Catalog().Lookup(name); ok {
						res.Changed = append(res.Changed, changed{Name: name, Label: prm.Label, Tab: tabLabel(prm.Tab())})
					}
				}
			}
		}
		if now := h.unit.Status(); now != nil && now.Config != nil {
			st = now
			if res.Restart && !now.Idle {
				res.Busy = "The phone is in use now: the restart waits until it is idle."
			}
		}
		code := http.StatusOK
		if !res.Saved {
			code = http.StatusBadRequest
			slices.SortStableFunc(problems, func(a, b problem) int { return a.order - b.order })
			if len(problems) > maxProblems {
				res.More = len(problems) - maxProblems
				problems = problems[:maxProblems]
			}
			res.Problems = problems
			names := make([]string, 0, len(problems))
			for _, p := range problems {
				names = append(names, p.Name)
			}
			h.log.Info("web form rejected", zap.String("account", acct.String()),
				zap.Int("problems", len(problems)+res.More), zap.Strings("param", names))
		} else {
			h.log.Info("web form applied", zap.String("account", acct.String()),
				zap.Int("changed", len(res.Changed)), zap.Bool("restart", res.Restart))
		}
		v, tab := backTo(r, admin)
		tabs := v.tabs(st.Config)
		if !slices.Contains(tabs, tab) {
			tab = infoTabName
		}
		d := frame(st, v, tab, tabs)
		d.Body, d.Title, d.Result = bodyResult, "Submit All Changes", res
		res.BackHref, res.Back = v.tabHref(tab), tabLabel(tab)
		return render(w, code, d)
	}
}

// checkFormRequest refuses what is not a same-origin form post (see the comment at the top
// of this file).
func checkFormRequest(r *http.Request) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/x-www-form-urlencoded" && mt != "multipart/form-data") {
		return httpError(http.StatusUnsupportedMediaType, nil,
			"a form post must be application/x-www-form-urlencoded or multipart/form-data")
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host == "" || !strings.EqualFold(u.Host, r.Host) {
			return httpError(http.StatusForbidden, nil, "cross-origin form post refused")
		}
	}
	var cop http.CrossOriginProtection
	if err := cop.Check(r); err != nil {
		return httpError(http.StatusForbidden, err, "cross-origin form post refused")
	}
	return nil
}

// readForm parses the body of a form post: its fields, never the URL's query.
func readForm(r *http.Request) (url.Values, error) {
	var err error
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
		err = r.ParseMultipartForm(maxFormBytes)
		if r.MultipartForm != nil {
			defer r.MultipartForm.RemoveAll()
			if len(r.MultipartForm.File) > 0 {
				return nil, httpError(http.StatusBadRequest, nil, "a form post carries no files")
			}
		}
	} else {
		err = r.ParseForm()
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, err
	case isTimeout(err):
		return nil, httpError(http.StatusRequestTimeout, err, "the form did not arrive in time")
	case err != nil:
		return nil, httpError(http.StatusBadRequest, err, "malformed form")
	}
	return r.PostForm, nil
}

// formChanges turns the fields of a form into the changes they ask for, and the problems
// that refuse the form before validation: names the account does not know (profile-only
// parameters, and for the user account those it may not see, are unknown too), fields
// given more than once, and changes of parameters the user account may only read. A field
// is a change when its value is not the one in force; for a secret, when it is not
// secretKept.
func formChanges(snap *config.Snapshot, vals url.Values, admin bool) ([]config.Change, []problem) {
	cat := snap.Catalog()
	if len(vals) > maxFormFields {
		return nil, []problem{{Reason: "too many fields: " + strconv.Itoa(len(vals)), order: cat.Len()}}
	}
	var changes []config.Change
	var problems []problem
	params := cat.Params()
	known := 0
	for i := range params {
		p := &params[i]
		vs, ok := vals[p.Name]
		if !ok {
			continue
		}
		known++
		acc := snap.AccessAt(i)
		if p.Hidden || (!admin && !acc.UserCanRead()) {
			problems = append(problems, problem{Name: p.Name, Reason: config.ErrUnknownParam.Error(), order: cat.Len()})
			continue
		}
		pr := problem{Name: p.Name, Label: p.Label, order: i}
		if len(vs) != 1 {
			pr.Reason = "given " + strconv.Itoa(len(vs)) + " times"
			problems = append(problems, pr)
			continue
		}
		v := vs[0]
		if p.Secret {
			if v == secretKept {
				continue
			}
		} else {
			if v == snap.ValueAt(i) {
				continue
			}
			pr.Value = clip(v, 60)
		}
		if !admin && acc != config.AccessRW {
			pr.Reason = config.ErrReadOnly.Error() + ": the user account may only read it"
			problems = append(problems, pr)
			continue
		}
		changes = append(changes, config.Set(p.Name, v))
	}
	if known < len(vals) {
		for name := range vals {
			if _, ok := cat.Lookup(name); !ok {
				problems = append(problems, problem{Name: clip(name, 60), Reason: config.ErrUnknownParam.Error(), order: cat.Len()})
			}
		}
		slices.SortStableFunc(problems, func(a, b problem) int {
			if a.order != b.order {
				return a.order - b.order
			}
			return strings.Compare(a.Name, b.Name)
		})
	}
	return changes, problems
}

// applyProblems lists the problems of an apply error (*config.ApplyError in its chain).
func applyProblems(cat *config.Catalog, err error) []problem {
	var ae *config.ApplyError
	if !errors.As(err, &ae) {
		return nil
	}
	out := make([]problem, 0, len(ae.Problems))
	for _, e := range ae.Problems {
		var pe *config.ParamError
		pr := problem{Reason: clip(e.Error(), 200), order: cat.Len()}
		if errors.As(e, &pe) {
			pr.Name, pr.Value = pe.Name, clip(pe.Value, 60)
			pr.Reason = pe.Err.Error() + ": " + pe.Reason
			if prm, ok := cat.Lookup(pe.Name); ok {
				pr.Label = prm.Label
				if prm.Secret {
					pr.Value = ""
				}
				if i, ok := catalogIndex(cat, pe.Name); ok {
					pr.order = i
				}
			}
		}
		out = append(out, pr)
	}
	return out
}

// catalogIndex returns the export-order index of a parameter.
func catalogIndex(cat *config.Catalog, name string) (int, bool) {
	p, ok := cat.Lookup(name)
	if !ok {
		return 0, false
	}
	params := cat.Params()
	for i := range params {
		if &params[i] == p {
			return i, true
		}
	}
	return 0, false
}

// backTo returns the view a form was posted from and the tab it showed when it loaded (the
// tab on screen is chosen in the browser and not posted), read from the Referer of the same
// host; by default the Info tab of the level's basic view.
func backTo(r *http.Request, admin bool) (view, string) {
	v := view{admin: admin}
	u, err := url.Parse(r.Referer())
	if err != nil || (u.Host != "" && !strings.EqualFold(u.Host, r.Host)) {
		return v, infoTabName
	}
	for _, c := range []view{{admin: admin}, {admin: admin, advanced: true}} {
		if u.Path == c.path() {
			v = c
		}
	}
	tab := u.Query().Get("tab")
	if tab == "" {
		tab = infoTabName
	}
	return v, tab
}

// clip makes a client-supplied string fit for a page or a log line: valid UTF-8, no control
// characters, at most n runes.
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	i := 0
	for _, c := range s {
		if i == n {
			b.WriteString("…")
			break
		}
		if c < 0x20 || c == 0x7f {
			c = '\uFFFD'
		}
		b.WriteRune(c)
		i++
	}
	return b.String()
}
