package webui

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/spa900/spa900/phone"
	"github.com/spa900/spa900/provisioning/config"
)

// This file turns a phone's status into the device's pages: the view model (tabs, sections,
// rows of two fields) and the html/template files under templates/.

//go:embed templates/*.html
var templateFiles embed.FS

// styleSheet is the one style sheet of the pages, served at stylePath. The phone has no
// internet, so nothing else is ever loaded (SPA-BEHAVIOUR §5).
//
//go:embed static/spa900.css
var styleSheet []byte

// stylePath is where the style sheet is served.
const stylePath = "/spa900.css"

// pageTemplates are the parsed templates: built once, immutable afterwards and shared by every
// phone of the process (html/template is safe for concurrent use).
var pageTemplates = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("pages").ParseFS(templateFiles, "templates/*.html"))
})

// secretMask is what the user account reads in place of a read-only secret that is set.
const secretMask = "********"

// Content kinds of a page: which part of templates/page.html fills the body.
const (
	bodyView    = "view" // a view: the Info tab and the parameter tabs, one form
	bodyResult  = "result"
	bodyPdir    = "pdir"
	bodyCallLog = "calllog"
)

// pageData is everything templates/page.html shows.
type pageData struct {
	Product string // "SPA942"
	Version string // software version, shown in the header
	Body    string // one of the body kinds
	// Admin and Advanced say which view the page belongs to.
	Admin, Advanced bool
	Nav             nav
	// Tabs is the tab row: on a view's page, labels of the radio inputs that choose the
	// tab shown; on the other pages, links to the tabs of a view.
	Tabs  []tabLink
	Title string // the tab's or the page's title

	// A view: the live Info tab, and the parameter tabs rendered from the configuration
	// (renderPanels), all in one form.
	Info     []infoSection
	Panels   template.HTML
	Editable bool   // any input in the view: show Submit/Undo
	Action   string // the form handler, relative to the page (DECISIONS 19)
	// Result page of a form post.
	Result *result
	// Call log page.
	CallLists []callList
}

// nav are the links between levels and views, as on the device: "Admin Login" or "User
// Login", "basic" and "advanced" (SPA-BEHAVIOUR §5.2).
type nav struct {
	LevelLabel string // "Admin Login" on user pages, "User Login" on admin pages
	LevelHref  string
	BasicHref  string
	AdvHref    string
}

// tabLink is one tab of the tab row. On a view's page the tab's radio input is
// "tab-"+Name and its panel "panel-"+Name (static/spa900.css has a rule for each); Current
// is the tab shown when the page loads.
type tabLink struct {
	Name    string // "Ext_1"
	Label   string // "Ext 1"
	Href    string // the tab's URL, for the pages outside a view
	Current bool
}

// panel is one parameter tab of a view.
type panel struct {
	Tab      string
	Sections []section
}

// infoSection is one section of the Info tab: read-only fields two per row.
type infoSection struct {
	Title string
	Rows  []infoRow
}

// infoRow is one row of two fields; Odd rows are shaded #d3d3d3, the others #dcdcdc, as in
// the device's tables (SPA-BEHAVIOUR §5.2 fingerprint). The shades are literal in the
// templates: a row costs no escaping for them.
type infoRow struct {
	Odd bool
	A   infoCell
	B   *infoCell
}

type infoCell struct {
	Label string
	Value string
}

// section is one section of a parameter tab: a title bar and rows of two fields.
type section struct {
	Title string
	Rows  []fieldRow
}

type fieldRow struct {
	Odd bool
	A   *field
	B   *field
}

// field is one parameter as the page shows it.
type field struct {
	Name  string
	Label string
	Value string // the value in the input; for secrets secretKept or "", never the secret
	// One of: Static (text, not editable), Options (a select), Password, or a text input.
	Static   bool
	Password bool
	Options  []option
}

type option struct {
	Value    string
	Selected bool
}

// result is what a form post did (forms.go).
type result struct {
	Saved    bool
	Changed  []changed
	Restart  bool   // the changes need the restart of the voice application (DECISIONS 12)
	Busy     string // why the restart waits, when the phone is not idle
	Problems []problem
	More     int // problems left off the page
	BackHref string
	Back     string
}

type changed struct {
	Name  string
	Label string
	Tab   string
}

// callList is one list of the call history page.
type callList struct {
	Title string
	Calls []callRow
}

type callRow struct {
	Odd  bool
	Text string
}

// yesNo are the choices of a Bool parameter (SPA-BEHAVIOUR §8.8).
var yesNo = [...]string{"Yes", "No"}

// paramTab builds the sections of one parameter tab as the view sees it: for the user
// account only parameters with access ro or rw, editable only when rw (SPA-BEHAVIOUR §5.2).
// A section with nothing visible is left out.
func paramTab(snap *config.Snapshot, tab string, v view) (secs []section, editable bool) {
	params := snap.Catalog().Params()
	last := ""
	for i := range params {
		p := &params[i]
		if p.Hidden || p.Tab() != tab {
			continue
		}
		sec := p.Section()
		if !v.showsSection(tab, sec) {
			continue
		}
		f := newField(p, snap.ValueAt(i), snap.AccessAt(i), v.admin)
		if f == nil {
			continue
		}
		if !f.Static {
			editable = true
		}
		if len(secs) == 0 || sec != last {
			secs = append(secs, section{Title: sectionTitle(sec)})
			last = sec
		}
		s := &secs[len(secs)-1]
		if n := len(s.Rows); n > 0 && s.Rows[n-1].B == nil {
			s.Rows[n-1].B = f
			continue
		}
		s.Rows = append(s.Rows, fieldRow{Odd: len(s.Rows)%2 == 1, A: f})
	}
	return secs, editable
}

// newField describes one parameter for the page, or returns nil when the account may not
// see it. Secrets are password inputs that never carry the value: secretKept stands for
// "unchanged" (forms.go).
func newField(p *config.Param, value string, acc config.Access, admin bool) *field {
	if !admin && !acc.UserCanRead() {
		return nil
	}
	f := &field{Name: p.Name, Label: p.Label, Value: value}
	switch {
	case !admin && acc != config.AccessRW:
		f.Static = true
		if p.Secret && value != "" {
			f.Value = secretMask
		}
	case p.Secret:
		f.Password = true
		if value != "" {
			f.Value = secretKept
		}
	case p.Kind == config.KindBool:
		f.Options = options(yesNo[:], value)
	case p.Kind == config.KindEnum:
		f.Options = options(p.Choices, value)
	}
	return f
}

// options lists the choices of a select with value selected. A value outside the choices
// (the empty "use the default" value, SPA-BEHAVIOUR §8.8) is offered first, so that an
// untouched select submits the value in force.
func options(choices []string, value string) []option {
	out := make([]option, 0, len(choices)+1)
	found := false
	for _, c := range choices {
		if c == value {
			found = true
			break
		}
	}
	if !found {
		out = append(out, option{Value: value, Selected: true})
	}
	for _, c := range choices {
		out = append(out, option{Value: c, Selected: c == value})
	}
	return out
}

// viewPanels is the part of a view's page that depends only on the configuration: its tabs
// and the HTML of its parameter tabs. It is immutable once built.
type viewPanels struct {
	snap     *config.Snapshot // rendered from this snapshot
	tabs     []string         // the view's tabs, Info first
	html     template.HTML    // one panel per tab after Info, in order
	editable bool             // any input among them
}

// renderPanels renders the parameter tabs of view v of a configuration, each in a panel
// (templates/params.html); the page of the view shows one at a time (SPA-BEHAVIOUR §5.2:
// every tab is in the one form that Submit All Changes posts).
func renderPanels(snap *config.Snapshot, v view) (*viewPanels, error) {
	vp := &viewPanels{snap: snap, tabs: v.tabs(snap)}
	var buf bytes.Buffer
	buf.Grow(256 << 10)
	t := pageTemplates()
	for _, tab := range vp.tabs {
		if tab == infoTabName {
			continue
		}
		secs, editable := paramTab(snap, tab, v)
		vp.editable = vp.editable || editable
		if err := t.ExecuteTemplate(&buf, "panel", panel{Tab: tab, Sections: secs}); err != nil {
			return nil, fmt.Errorf("render tab %s: %w", tab, err)
		}
	}
	// The text comes from html/template, which escaped every value in its context.
	vp.html = template.HTML(buf.String())
	return vp, nil
}

// infoTab builds the Info tab: the live status, the same values as the export's Info/ group,
// two fields per row (SPA-BEHAVIOUR §5.2, §9).
func infoTab(st *phone.Status) []infoSection {
	var secs []infoSection
	last := ""
	for _, f := range st.Config.Catalog().Info() {
		_, sec, _ := strings.Cut(f.Group, "/")
		if len(secs) == 0 || sec != last {
			secs = append(secs, infoSection{Title: sectionTitle(sec)})
			last = sec
		}
		s := &secs[len(secs)-1]
		c := infoCell{Label: infoLabel(f.Name), Value: st.Info.Value(f)}
		if n := len(s.Rows); n > 0 && s.Rows[n-1].B == nil {
			s.Rows[n-1].B = &c
			continue
		}
		s.Rows = append(s.Rows, infoRow{Odd: len(s.Rows)%2 == 1, A: c})
	}
	return secs
}

// sectionTitle turns a section's export name back into its title: "SIP_Timer_Values__sec_"
// is "SIP Timer Values (sec)" (SPA-BEHAVIOUR §1.1: spaces and brackets became "_").
func sectionTitle(s string) string {
	s = strings.TrimLeft(s, "_")
	if i := strings.Index(s, "__"); i >= 0 {
		s = s[:i] + " (" + strings.Trim(s[i+2:], "_") + ")"
	}
	return strings.TrimSpace(strings.ReplaceAll(s, "_", " "))
}

// infoLabel is the label of an Info field: "Primary__DNS" is "Primary DNS".
func infoLabel(name string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(name, "_", " ")), " ")
}

// tabLabel is a tab's title: "Ext_1" is "Ext 1".
func tabLabel(tab string) string { return strings.ReplaceAll(tab, "_", " ") }

// render writes a page with its status code. The page is rendered into memory first, so a
// template failure is a clean 500 and never half a page.
func render(w http.ResponseWriter, code int, d *pageData) error {
	var buf bytes.Buffer
	buf.Grow(32<<10 + len(d.Panels))
	if err := pageTemplates().ExecuteTemplate(&buf, "page", d); err != nil {
		return httpError(http.StatusInternalServerError, err, "render page")
	}
	pageHeaders(w.Header())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(code)
	_, err := w.Write(buf.Bytes())
	return err
}

// pageHeaders are the headers of every page: never cached (the Info tab is live and the
// pages show configuration), never framed, no script, nothing loaded from elsewhere.
func pageHeaders(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; "+
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
}

// view is one of the four sets of pages: the user's or the admin's, basic or advanced
// (SPA-BEHAVIOUR §5.2).
type view struct {
	admin    bool
	advanced bool
}

// path is the view's own URL.
func (v view) path() string {
	p := "/"
	if v.admin {
		p = "/admin/"
	}
	if v.advanced {
		return p + "advanced"
	}
	return p + "basic"
}

// index numbers the four views from 0 to 3.
func (v view) index() int {
	i := 0
	if v.admin {
		i += 2
	}
	if v.advanced {
		i++
	}
	return i
}

// tabHref is the URL of a view's page showing one tab first; Info, the first tab, is the
// view's own URL.
func (v view) tabHref(tab string) string {
	if tab == infoTabName {
		return v.path()
	}
	return v.path() + "?tab=" + url.QueryEscape(tab)
}

// navFor builds the level and view links of a page of view v.
func navFor(v view) nav {
	other := view{admin: !v.admin, advanced: v.advanced}
	n := nav{LevelLabel: "Admin Login", LevelHref: other.path()}
	if v.admin {
		n.LevelLabel = "User Login"
	}
	n.BasicHref = view{admin: v.admin}.path()
	n.AdvHref = view{admin: v.admin, advanced: true}.path()
	return n
}
