package webui

import (
	"bytes"
	"flag"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/net/html"

	"github.com/spa900/spa900/phone"
	"github.com/spa900/spa900/provisioning/config"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/*.golden and testdata/screenshots/*.png")

// golden compares got with testdata/<name>.golden, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *updateGolden {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < max(len(gl), len(wl)); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs at line %d:\n got: %s\nwant: %s\n(run with -update if the change is intended)", path, i+1, g, w)
			}
		}
	}
}

// fixedStatus is a status with fixed identity, time and values, for golden pages.
func fixedStatus(t testing.TB, model string) *phone.Status {
	t.Helper()
	m, err := config.LookupModel(model)
	if err != nil {
		t.Fatal(err)
	}
	snap, _, err := config.NewSnapshot(config.CatalogFor(m)).Apply([]config.Change{
		config.Set(config.ExtName(config.DisplayName, 1), `Alice <b>"&"</b><script>alert(1)</script>`),
		config.Set(config.ExtName(config.UserID, 1), "1001"),
		config.Set(config.ExtName(config.Password, 1), "hunter2"),
		config.Set(config.ExtName(config.Proxy, 1), "pbx.example.com"),
	}, config.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	in := config.Info{
		DHCP: "Enabled", CurrentIP: "192.0.2.42", HostName: "SipuraSPA", Netmask: "255.255.255.0",
		Gateway: "192.0.2.1", PrimaryDNS: "192.0.2.1", ProductName: m.Name, SerialNumber: "88012BA01234",
		SoftwareVersion: "5.1.10", HardwareVersion: "1.0.5(0617)", MAC: "000E08123456",
		ClientCertificate: "Not Installed", Customization: "Open", Licenses: "None",
		CurrentTime: time.Date(2003, 1, 1, 12, 4, 33, 0, time.UTC), Elapsed: 4*time.Minute + 33*time.Second,
		VLAN: "n/a", RingToneStatus: "Idle", RingTones: [2]string{"Not Installed", "Not Installed"},
	}
	for n := 1; n <= m.Extensions; n++ {
		in.Ext = append(in.Ext, config.ExtInfo{RegistrationState: "Not Registered"})
		in.Lines = append(in.Lines, [2]config.CallInfo{{State: "Idle", Tone: "None"}, {State: "Idle", Tone: "None"}})
	}
	return &phone.Status{Model: m.Name, Software: "5.1.10", Config: snap, Info: in, Idle: true}
}

func renderPage(t testing.TB, d *pageData) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := pageTemplates().ExecuteTemplate(&buf, "page", d); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestGoldenPages pins the HTML of a few views of a phone with fixed values, each with the tab
// shown first (the checked radio input), and of the other pages. A view's page holds every
// tab, so one golden file per view is enough: the admin's advanced view shows Info first,
// the others a tab chosen with ?tab=.
func TestGoldenPages(t *testing.T) {
	tests := []struct {
		name  string
		model string
		view  view
		tab   string
	}{
		{"admin-advanced-info-spa942", "SPA942", view{admin: true, advanced: true}, "Info"},
		{"admin-basic-ext1-spa942", "SPA942", view{admin: true}, "Ext_1"},
		{"user-advanced-ext1-spa942", "SPA942", view{advanced: true}, "Ext_1"},
		{"user-basic-system-spa942", "SPA942", view{}, "System"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := fixedStatus(t, tt.model)
			vp, err := renderPanels(st.Config, tt.view)
			if err != nil {
				t.Fatal(err)
			}
			d, ok := viewData(st, tt.view, tt.tab, vp)
			if !ok {
				t.Fatalf("view %+v has no tab %s", tt.view, tt.tab)
			}
			golden(t, tt.name, renderPage(t, d))
		})
	}
	st := fixedStatus(t, "SPA942")
	results := []struct {
		name string
		res  result
	}{
		{"result-saved", result{Saved: true, Restart: true, Busy: "The phone is in use now: the restart waits until it is idle.",
			Changed: []changed{{Name: config.ExtName(config.DisplayName, 1), Label: "Display Name", Tab: "Ext 1"}}}},
		{"result-rejected", result{Problems: []problem{
			{Name: config.ExtName(config.LineEnable, 1), Label: "Line Enable", Value: "<maybe>", Reason: "invalid value: want Yes or No"},
			{Name: "No_Such_Param", Reason: "unknown parameter"},
		}, More: 3}},
	}
	for _, tt := range results {
		t.Run(tt.name, func(t *testing.T) {
			v := view{admin: true, advanced: true}
			d := frame(st, v, "Ext_1", v.tabs(st.Config))
			res := tt.res
			res.BackHref, res.Back = v.tabHref("Ext_1"), "Ext 1"
			d.Body, d.Title, d.Result = bodyResult, "Submit All Changes", &res
			golden(t, tt.name, renderPage(t, d))
		})
	}
	t.Run("pdir", func(t *testing.T) {
		d := frame(st, view{}, "", view{}.tabs(st.Config))
		d.Body, d.Title = bodyPdir, "Personal Directory"
		golden(t, "pdir", renderPage(t, d))
	})
	t.Run("calllog", func(t *testing.T) {
		d := frame(st, view{}, "", view{}.tabs(st.Config))
		d.Body, d.Title = bodyCallLog, "Call History"
		d.CallLists = []callList{{Title: "Redial List"}, {Title: "Answered Calls", Calls: []callRow{{Text: "1001 <x>"}}}, {Title: "Missed Calls"}}
		golden(t, "calllog", renderPage(t, d))
	})
}

// TestInfoFingerprint: the Info tab has the device's table shape and the live values of the
// export's Info/ group (SPA-BEHAVIOUR §5.2, §9).
func TestInfoFingerprint(t *testing.T) {
	u := testUnit(t, phone.Options{Model: "SPA942", MAC: "00:0e:08:12:34:56"})
	_, srv := testHandler(t, u)
	code, body := fetch(t, "GET", srv.URL+"/admin/advanced", "", noCred)
	if code != http.StatusOK {
		t.Fatalf("GET /admin/advanced = %d %s", code, body)
	}
	st := u.Status()
	want := `<tr bgcolor="#dcdcdc"><td>Product Name:<td><font color="darkblue">SPA942</font><td>Serial Number:<td><font color="darkblue">` + st.Serial + `</font>` + "\n" +
		`<tr bgcolor="#d3d3d3"><td>Software Version:<td><font color="darkblue">` + st.Software + `</font><td>Hardware Version:<td><font color="darkblue">` + st.Hardware + `</font>` + "\n" +
		`<tr bgcolor="#dcdcdc"><td>MAC Address:<td><font color="darkblue">000E08123456</font><td>Client Certificate:<td><font color="darkblue">Not Installed</font>`
	if !strings.Contains(body, want) {
		t.Errorf("Info tab lacks the fingerprint rows\n%s", want)
	}
	form, ok := parsePageForm(t, body)
	if !ok || form.checked != infoTabName || len(form.tabs) == 0 || form.tabs[0] != infoTabName {
		t.Fatalf("the view does not show its Info tab first: checked %q, panels %v", form.checked, form.tabs)
	}
	for _, f := range form.fields {
		if f.tab == infoTabName {
			t.Errorf("the Info tab has an input %s; it is read-only", f.name)
		}
	}
	// Every Info field with its live value. The clock fields are brought to the time of each
	// request (the phone's status read); they are the fields that move when the clock of a copy moves.
	moved := *st
	moved.Info.CurrentTime = moved.Info.CurrentTime.Add(time.Hour)
	moved.Info.Elapsed += time.Hour
	cells := infoCells(t, body)
	clockFields := 0
	for _, f := range st.Config.Catalog().Info() {
		key := f.Group + "/" + infoLabel(f.Name)
		got, ok := cells[key]
		if !ok {
			t.Errorf("Info field %s missing", key)
			continue
		}
		if st.Info.Value(f) != moved.Info.Value(f) {
			clockFields++
			if got == "" {
				t.Errorf("Info clock field %s is empty", key)
			}
			continue
		}
		if want := st.Info.Value(f); got != want {
			t.Errorf("Info %s = %q, want %q", key, got, want)
		}
	}
	if clockFields != 2 {
		t.Errorf("%d clock fields, want the current and the elapsed time", clockFields)
	}
}

// infoCells reads the Info tab into "Info/<Section>/<Label>" → value.
func infoCells(t *testing.T, body string) map[string]string {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for tbl := range doc.Descendants() {
		if tbl.Type != html.ElementNode || tbl.Data != "table" {
			continue
		}
		sec := ""
		var tds []*html.Node
		for n := range tbl.Descendants() {
			if n.Type == html.ElementNode && n.Data == "td" {
				if attr(n, "class") == "title" {
					sec = strings.ReplaceAll(text(n), " ", "_")
					continue
				}
				tds = append(tds, n)
			}
		}
		for i := 0; i+1 < len(tds); i += 2 {
			label := strings.TrimSuffix(text(tds[i]), ":")
			if label == "" {
				continue
			}
			out["Info/"+sec+"/"+label] = text(tds[i+1])
		}
	}
	return out
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// text is the text of a node without its child elements' cells (a td's own content).
func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.ElementNode && (c.Data == "td" || c.Data == "tr") {
				continue
			}
			if c.Type == html.TextNode {
				b.WriteString(c.Data)
			}
			walk(c)
		}
	}
	walk(n)
	return strings.TrimSpace(b.String())
}

// formField is one input of a view's form as a browser would submit it.
type formField struct {
	name    string
	kind    string // "text", "password" or "select"
	value   string
	options []string
	label   string
	tab     string // the tab whose panel holds it
}

// pageForm is the form of a view.
type pageForm struct {
	action  string
	fields  []formField
	tabs    []string // the tabs' panels, in order
	radios  []string // the tabs of the radio inputs that switch tabs, in order
	checked string   // the tab whose radio input is checked: the one shown
	ids     map[string]int
}

// values is what a browser submits for the untouched form.
func (f pageForm) values() url.Values {
	v := url.Values{}
	for _, fl := range f.fields {
		v.Add(fl.name, fl.value)
	}
	return v
}

func (f pageForm) field(name string) (formField, bool) {
	for _, fl := range f.fields {
		if fl.name == name {
			return fl, true
		}
	}
	return formField{}, false
}

// parsePageForm reads the form of a view's page as a browser sees it: the fields that a
// submit posts (those inside the form element), the tab of each, and the radio inputs that
// choose the tab shown; ok is false without a form.
func parsePageForm(t *testing.T, body string) (pageForm, bool) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	f := pageForm{ids: map[string]int{}}
	var form *html.Node
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		if id := attr(n, "id"); id != "" {
			f.ids[id]++
		}
		switch {
		case n.Data == "form" && form == nil:
			form = n
			f.action = attr(n, "action")
		case n.Data == "input" && attr(n, "type") == "radio":
			if form != nil && inside(n, form) {
				t.Errorf("radio input %s is inside the form: a submit would post it", attr(n, "id"))
			}
			tab := strings.TrimPrefix(attr(n, "id"), "tab-")
			f.radios = append(f.radios, tab)
			if hasAttr(n, "checked") {
				if f.checked != "" {
					t.Errorf("radio inputs %s and %s are both checked", f.checked, tab)
				}
				f.checked = tab
			}
		}
	}
	if form == nil {
		return f, false
	}
	labels := map[string]string{}
	for n := range form.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		switch n.Data {
		case "div":
			if attr(n, "class") == "panel" {
				f.tabs = append(f.tabs, strings.TrimPrefix(attr(n, "id"), "panel-"))
			}
		case "label":
			labels[attr(n, "for")] = strings.TrimSuffix(text(n), ":")
		case "input":
			typ := attr(n, "type")
			if typ == "submit" || typ == "reset" || attr(n, "name") == "" {
				continue
			}
			f.fields = append(f.fields, formField{name: attr(n, "name"), kind: typ, value: attr(n, "value"), tab: panelOf(n)})
		case "select":
			fl := formField{name: attr(n, "name"), kind: "select", tab: panelOf(n)}
			first, sel := "", false
			for o := range n.Descendants() {
				if o.Type != html.ElementNode || o.Data != "option" {
					continue
				}
				v := attr(o, "value")
				if len(fl.options) == 0 {
					first = v
				}
				fl.options = append(fl.options, v)
				if hasAttr(o, "selected") {
					fl.value, sel = v, true
				}
			}
			if !sel {
				fl.value = first
			}
			f.fields = append(f.fields, fl)
		}
	}
	for i := range f.fields {
		f.fields[i].label = labels[f.fields[i].name]
	}
	return f, true
}

func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Key == key {
			return true
		}
	}
	return false
}

// inside reports whether n is a descendant of anc.
func inside(n, anc *html.Node) bool {
	for p := n.Parent; p != nil; p = p.Parent {
		if p == anc {
			return true
		}
	}
	return false
}

// panelOf is the tab of the panel that holds n, or "".
func panelOf(n *html.Node) string {
	for p := n.Parent; p != nil; p = p.Parent {
		if p.Type == html.ElementNode && p.Data == "div" && attr(p, "class") == "panel" {
			return strings.TrimPrefix(attr(p, "id"), "panel-")
		}
	}
	return ""
}

// pageSite talks to a phone's pages as one account.
type pageSite struct {
	t    *testing.T
	unit *phone.Unit
	base string
	user string // "admin" or "user"; Basic credentials are sent when pass is set
	pass string
}

func newPageSite(t *testing.T, opts phone.Options) *pageSite {
	t.Helper()
	u := testUnit(t, opts)
	_, srv := testHandler(t, u)
	return &pageSite{t: t, unit: u, base: srv.URL, user: "admin"}
}

func (s *pageSite) do(req *http.Request) (int, string) {
	s.t.Helper()
	if s.pass != "" {
		req.SetBasicAuth(s.user, s.pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func (s *pageSite) get(path string) (int, string) {
	s.t.Helper()
	req, err := http.NewRequestWithContext(s.t.Context(), "GET", s.base+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	return s.do(req)
}

// mustGet fetches a page that must answer 200.
func (s *pageSite) mustGet(path string) string {
	s.t.Helper()
	code, body := s.get(path)
	if code != http.StatusOK {
		s.t.Fatalf("GET %s = %d %s", path, code, clip(body, 300))
	}
	return body
}

// post sends a urlencoded form body; hdr are extra header name/value pairs.
func (s *pageSite) post(path, body string, hdr ...string) (int, string) {
	s.t.Helper()
	req, err := http.NewRequestWithContext(s.t.Context(), "POST", s.base+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return s.do(req)
}

func (s *pageSite) snap() *config.Snapshot {
	s.t.Helper()
	settle(s.t, s.unit)
	return s.unit.Status().Config
}

// resultParams returns the data-param of the rows of class cls ("changed" or "problem") of a
// result page.
func resultParams(t *testing.T, body, cls string) []string {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && n.Data == "tr" && attr(n, "class") == cls {
			out = append(out, attr(n, "data-param"))
		}
	}
	return out
}

// sameConfig reports the parameters whose value or access differ between two snapshots.
func configDiff(a, b *config.Snapshot) []string {
	var out []string
	for i, p := range a.Catalog().Params() {
		if a.ValueAt(i) != b.ValueAt(i) || a.AccessAt(i) != b.AccessAt(i) {
			out = append(out, p.Name)
		}
	}
	return out
}

// otherValue returns a valid value of p different from cur (a walk of every parameter).
func otherValue(p *config.Param, cur string, i int) string {
	switch {
	case p.Secret:
		return "s3cret-" + strconv.Itoa(i)
	case p.Kind == config.KindBool:
		if cur == "Yes" {
			return "No"
		}
		return "Yes"
	case p.Kind == config.KindEnum:
		for _, c := range p.Choices {
			if c != cur {
				return c
			}
		}
	case p.Kind == config.KindInt:
		n, err := strconv.ParseInt(cur, 0, 64)
		if err != nil || n != p.Min {
			return strconv.FormatInt(p.Min, 10)
		}
		return strconv.FormatInt(p.Min+1, 10)
	case p.Kind == config.KindDecimal:
		if cur == "1.5" {
			return "2.25"
		}
		return "1.5"
	case p.Kind == config.KindSchedule:
		if cur == "77" {
			return "78"
		}
		return "77"
	}
	return cur + "x"
}

// TestWalkEveryParameter: every parameter of the SPA962 catalogue is on its tab of the
// admin's advanced view, which is one page and one form, as an input of its kind; the
// untouched form, every tab of it, changes nothing; the whole form with every field of one
// tab changed changes exactly those parameters, tab after tab.
func TestWalkEveryParameter(t *testing.T) {
	s := newPageSite(t, phone.Options{Model: "SPA962"})
	cat := s.snap().Catalog()
	v := view{admin: true, advanced: true}
	tabs := v.tabs(s.snap())
	if want := append([]string{"Info"}, cat.Tabs()...); !slices.Equal(tabs, want) {
		t.Fatalf("tabs = %v, want %v", tabs, want)
	}
	body := s.mustGet(v.path())
	form, ok := parsePageForm(t, body)
	if !ok || form.action != "bsipura.spa" {
		t.Fatalf("form action %q, want bsipura.spa", form.action)
	}
	if !slices.Equal(form.tabs, tabs) || !slices.Equal(form.radios, tabs) || form.checked != infoTabName {
		t.Fatalf("panels %v, radio inputs %v (checked %q), want one of each per tab %v, Info checked",
			form.tabs, form.radios, form.checked, tabs)
	}
	for id, n := range form.ids {
		if n > 1 {
			t.Errorf("id %q is on %d elements", id, n)
		}
	}
	before := s.snap()
	onTab := map[string][]int{}
	for i, p := range cat.Params() {
		if p.Hidden {
			continue
		}
		tab := p.Tab()
		onTab[tab] = append(onTab[tab], i)
		f, ok := form.field(p.Name)
		if !ok {
			t.Errorf("%s: no input for %s", tab, p.Name)
			continue
		}
		if f.tab != tab {
			t.Errorf("%s is on tab %s, want %s", p.Name, f.tab, tab)
		}
		if f.label != p.Label {
			t.Errorf("%s: label of %s = %q, want %q", tab, p.Name, f.label, p.Label)
		}
		cur := before.ValueAt(i)
		switch {
		case p.Secret:
			want := ""
			if cur != "" {
				want = secretKept
			}
			if f.kind != "password" || f.value != want {
				t.Errorf("%s: %s is %s %q, want a password input holding %q", tab, p.Name, f.kind, f.value, want)
			}
		case p.Kind == config.KindBool || p.Kind == config.KindEnum:
			choices := p.Choices
			if p.Kind == config.KindBool {
				choices = yesNo[:]
			}
			if f.kind != "select" || f.value != cur {
				t.Errorf("%s: %s is %s %q, want a select on %q", tab, p.Name, f.kind, f.value, cur)
			}
			for _, c := range choices {
				if !slices.Contains(f.options, c) {
					t.Errorf("%s: %s lacks choice %q", tab, p.Name, c)
				}
			}
		default:
			if f.kind != "text" || f.value != cur {
				t.Errorf("%s: %s is %s %q, want a text input holding %q", tab, p.Name, f.kind, f.value, cur)
			}
		}
	}
	visible := 0
	for _, idx := range onTab {
		visible += len(idx)
	}
	if len(form.fields) != visible {
		t.Errorf("%d inputs, want %d", len(form.fields), visible)
	}
	if n := len(form.values().Encode()); n > maxFormBytes/4 || len(form.fields) > maxFormFields/2 {
		t.Errorf("the whole form posts %d bytes in %d fields, too near the limits (%d, %d)", n, len(form.fields), maxFormBytes, maxFormFields)
	}
	if t.Failed() {
		t.FailNow()
	}

	// Untouched: nothing changes.
	code, res := s.post("/admin/bsipura.spa", form.values().Encode(), "Referer", s.base+v.path())
	if code != http.StatusOK || !strings.Contains(res, "Nothing to save") {
		t.Fatalf("untouched submit = %d\n%s", code, clip(res, 2000))
	}
	if d := configDiff(before, s.snap()); len(d) > 0 {
		t.Fatalf("untouched submit changed %v", d)
	}

	// Every field of one tab changed, the whole form posted; System last: it holds the
	// admin password and Enable_Web_Admin_Access.
	order := slices.DeleteFunc(slices.Clone(tabs[1:]), func(s string) bool { return s == "System" })
	order = append(order, "System")
	for _, tab := range order {
		path := v.tabHref(tab)
		form, _ := parsePageForm(t, s.mustGet(path))
		if form.checked != tab {
			t.Errorf("%s shows %s first, want %s", path, form.checked, tab)
		}
		before := s.snap()
		vals := form.values()
		var want []string
		for _, i := range onTab[tab] {
			p := &cat.Params()[i]
			vals.Set(p.Name, otherValue(p, before.ValueAt(i), i))
			want = append(want, p.Name)
		}
		code, res := s.post("/admin/bsipura.spa", vals.Encode(), "Referer", s.base+path)
		if code != http.StatusOK {
			t.Fatalf("%s: changed submit = %d\n%s", tab, code, clip(res, 3000))
		}
		if got := resultParams(t, res, "changed"); !slices.Equal(got, want) {
			t.Errorf("%s: result page lists %v, want %v", tab, got, want)
		}
		if !strings.Contains(res, `href="`+path+`"`) {
			t.Errorf("%s: the result page does not lead back to %s", tab, path)
		}
		after := s.snap()
		if got := configDiff(before, after); !slices.Equal(got, want) {
			t.Errorf("%s: changed %v, want %v", tab, got, want)
		}
		for _, i := range onTab[tab] {
			p := &cat.Params()[i]
			nv, _ := p.Normalize(vals.Get(p.Name))
			if after.ValueAt(i) != nv {
				t.Errorf("%s: %s = %q, want %q", tab, p.Name, after.ValueAt(i), nv)
			}
		}
		if pw := after.Get(config.AdminPasswd); pw != "" {
			s.pass = pw
		}
	}
}

// TestSubmitEveryTab: Submit All Changes applies the edits of every tab at once, and only
// them (SPA-BEHAVIOUR §5.2): the whole form of a view, with edits on two tabs, of the admin
// and of the user.
func TestSubmitEveryTab(t *testing.T) {
	s := newPageSite(t, phone.Options{Model: "SPA942"})
	display := config.ExtName(config.DisplayName, 1)
	enable2 := config.ExtName(config.LineEnable, 2)
	tests := []struct {
		name  string
		user  bool
		page  string
		edits map[string]string
	}{
		{"admin", false, "/admin/advanced?tab=Ext_1", map[string]string{display: "Reception", "Speed_Dial_2": "1002", enable2: "No"}},
		{"user", true, "/advanced?tab=User", map[string]string{config.HostName: "desk-7", "Speed_Dial_3": "1003", "DND_Setting": "Yes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.user = "admin"
			action := "/admin/bsipura.spa"
			if tt.user {
				s.user, action = "user", "/bsipura.spa"
			}
			form, ok := parsePageForm(t, s.mustGet(tt.page))
			if !ok {
				t.Fatal("no form")
			}
			before := s.snap()
			vals := form.values()
			tabs := map[string]bool{}
			var want []string
			for name, val := range tt.edits {
				f, ok := form.field(name)
				if !ok {
					t.Fatalf("no input for %s", name)
				}
				tabs[f.tab] = true
				vals.Set(name, val)
				want = append(want, name)
			}
			if len(tabs) < 2 {
				t.Fatalf("the edits are on %v, want two tabs or more", tabs)
			}
			code, res := s.post(action, vals.Encode(), "Referer", s.base+tt.page)
			if code != http.StatusOK {
				t.Fatalf("submit = %d\n%s", code, clip(res, 3000))
			}
			after := s.snap()
			got := configDiff(before, after)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("changed %v, want %v", got, want)
			}
			for name, val := range tt.edits {
				if after.Get(name) != val {
					t.Errorf("%s = %q, want %q", name, after.Get(name), val)
				}
			}
		})
	}
}

// TestViewTabs: ?tab= chooses the tab shown first, Info by default; every tab of every view
// of every model has its rules in the style sheet, which shows the checked tab's panel and
// marks its label (the pages switch tabs without script).
func TestViewTabs(t *testing.T) {
	s := newPageSite(t, phone.Options{Model: "SPA962"})
	for _, path := range []string{"/", "/advanced?tab=User", "/admin/", "/admin/advanced?tab=SPA932", "/admin/basic?tab=Ext_6"} {
		want := infoTabName
		if _, q, ok := strings.Cut(path, "?tab="); ok {
			want = q
		}
		form, ok := parsePageForm(t, s.mustGet(path))
		if !ok || form.checked != want || !slices.Equal(form.radios, form.tabs) {
			t.Errorf("%s: checked %q, radio inputs %v, panels %v; want %s checked, one radio input per panel",
				path, form.checked, form.radios, form.tabs, want)
		}
	}
	css := string(styleSheet)
	for _, m := range config.Models() {
		snap := config.NewSnapshot(config.CatalogFor(m))
		for _, v := range []view{{}, {advanced: true}, {admin: true}, {admin: true, advanced: true}} {
			for _, tab := range v.tabs(snap) {
				for _, rule := range []string{
					"#tab-" + tab + ":checked ~ .body #panel-" + tab,
					"#tab-" + tab + `:checked ~ .bar label[for="tab-` + tab + `"]`,
					"#tab-" + tab + `:focus-visible ~ .bar label[for="tab-` + tab + `"]`,
				} {
					if !strings.Contains(css, rule) {
						t.Errorf("%s %s: the style sheet lacks %s", m.Name, v.path(), rule)
					}
				}
			}
		}
	}
}

// TestViewCache: a view's tabs are rendered once per configuration snapshot and view, and
// never served for another snapshot or view.
func TestViewCache(t *testing.T) {
	st := fixedStatus(t, "SPA942")
	next, _, err := st.Config.Apply([]config.Change{config.Set(config.ExtName(config.DisplayName, 1), "Bob")}, config.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var c viewCache
	get := func(snap *config.Snapshot, v view) *viewPanels {
		t.Helper()
		vp, err := c.panels(snap, v)
		if err != nil {
			t.Fatal(err)
		}
		if vp.snap != snap {
			t.Fatalf("panels of another snapshot for %s", v.path())
		}
		return vp
	}
	views := []view{{}, {advanced: true}, {admin: true}, {admin: true, advanced: true}}
	first := map[view]*viewPanels{}
	for _, v := range views {
		first[v] = get(st.Config, v)
	}
	for _, v := range views {
		if get(st.Config, v) != first[v] {
			t.Errorf("%s rendered again for the same snapshot", v.path())
		}
		for _, w := range views {
			if w != v && first[w] == first[v] {
				t.Errorf("%s and %s share their panels", v.path(), w.path())
			}
		}
	}
	adm := view{admin: true, advanced: true}
	vp := get(next, adm)
	if vp == first[adm] || !strings.Contains(string(vp.html), `value="Bob"`) || strings.Contains(string(vp.html), "Alice") {
		t.Error("a changed configuration is served from the old snapshot's panels")
	}
	if get(st.Config, adm) == first[adm] {
		t.Error("the cache keeps more than one snapshot per view")
	}
	if get(st.Config, view{}) != first[view{}] {
		t.Error("a view's entry was dropped by another view's")
	}
	// Requests of several snapshots and views at once each get their own.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			snap, v := st.Config, views[i%len(views)]
			if i >= len(views) {
				snap = next // each view is asked for both snapshots at once
			}
			for range 4 {
				vp, err := c.panels(snap, v)
				if err != nil || vp.snap != snap || !slices.Equal(vp.tabs, v.tabs(snap)) {
					t.Errorf("%s: panels of another snapshot or view (%v)", v.path(), err)
					return
				}
			}
		})
	}
	wg.Wait()
	// The user's views never carry what only the admin sees.
	for _, v := range views[:2] {
		if html := string(first[v].html); strings.Contains(html, `id="panel-`+config.TabProvisioning) || strings.Contains(html, `name="`+config.AdminPasswd+`"`) {
			t.Errorf("%s carries the admin's parameters", v.path())
		}
	}
}

// TestViews: the tabs of each view of each model, in the device's order (SPA-BEHAVIOUR §5.2).
func TestViews(t *testing.T) {
	for _, m := range config.Models() {
		snap := config.NewSnapshot(config.CatalogFor(m))
		cat := snap.Catalog()
		adminAdv := view{admin: true, advanced: true}.tabs(snap)
		if want := append([]string{"Info"}, cat.Tabs()...); !slices.Equal(adminAdv, want) {
			t.Errorf("%s admin advanced = %v, want %v", m.Name, adminAdv, want)
		}
		wantExt := m.Extensions
		exts := 0
		for _, tab := range adminAdv {
			if strings.HasPrefix(tab, "Ext_") {
				exts++
			}
		}
		if exts != wantExt {
			t.Errorf("%s: %d Ext tabs, want %d", m.Name, exts, wantExt)
		}
		if got := slices.Contains(adminAdv, "SPA932"); got != m.Sidecar {
			t.Errorf("%s: SPA932 tab %v, want %v", m.Name, got, m.Sidecar)
		}
		for _, v := range []view{{}, {advanced: true}, {admin: true}} {
			tabs := v.tabs(snap)
			if slices.Contains(tabs, config.TabProvisioning) {
				t.Errorf("%s %s: Provisioning tab outside the admin's advanced view", m.Name, v.path())
			}
			if tabs[0] != infoTabName {
				t.Errorf("%s %s: first tab %s, want Info", m.Name, v.path(), tabs[0])
			}
			if !v.advanced {
				for _, tab := range tabs {
					if !v.showsTab(tab) {
						t.Errorf("%s %s: tab %s not in the basic view", m.Name, v.path(), tab)
					}
				}
			}
		}
	}
	snap := config.NewSnapshot(config.CatalogFor(config.Models()[4])) // SPA942
	if got, want := (view{admin: true}).tabs(snap), []string{"Info", "System", "Ext_1", "Ext_2", "Ext_3", "Ext_4", "User"}; !slices.Equal(got, want) {
		t.Errorf("SPA942 admin basic = %v, want %v", got, want)
	}
}

// TestUserViewHides: the user account never sees a parameter whose access is na, never a
// secret's value, and can change only rw parameters; the admin never gets a secret's value
// either (SPA-BEHAVIOUR §5.2).
func TestUserViewHides(t *testing.T) {
	s := newPageSite(t, phone.Options{Model: "SPA962"})
	snap := s.snap()
	cat := snap.Catalog()
	// Give every secret a value to look for, and make one rw and one ro secret visible.
	var changes []config.Change
	secrets := map[string]string{}
	for i, p := range cat.Params() {
		if p.Secret {
			v := "SeCrEt" + strconv.Itoa(i) + "Zq"
			secrets[p.Name] = v
			changes = append(changes, config.Set(p.Name, v))
		}
	}
	pw := config.ExtName(config.Password, 2)
	changes = append(changes, config.Change{Name: pw, Access: config.AccessRO})
	p, err := s.unit.Phone()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Apply(t.Context(), "test", changes, config.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	snap = s.snap()
	s.user, s.pass = "user", secrets[config.UserPassword]
	admin := &pageSite{t: t, unit: s.unit, base: s.base, user: "admin", pass: secrets[config.AdminPasswd]}

	na := map[string]bool{}
	for i, p := range cat.Params() {
		if !snap.AccessAt(i).UserCanRead() {
			na[p.Name] = true
		}
	}
	// A view is one page holding every tab.
	for _, v := range []view{{}, {advanced: true}} {
		body := s.mustGet(v.path())
		for name := range na {
			for _, mark := range []string{`name="` + name + `"`, `id="` + name + `"`, `for="` + name + `"`} {
				if strings.Contains(body, mark) {
					t.Errorf("user %s shows na parameter %s", v.path(), name)
				}
			}
		}
		for name, val := range secrets {
			if strings.Contains(body, val) {
				t.Errorf("user %s shows the value of %s", v.path(), name)
			}
		}
		form, _ := parsePageForm(t, body)
		if !slices.Equal(form.tabs, v.tabs(snap)) {
			t.Errorf("user %s has the panels %v, want %v", v.path(), form.tabs, v.tabs(snap))
		}
		for _, f := range form.fields {
			if snap.Access(f.name) != config.AccessRW {
				t.Errorf("user %s %s: input for %s (access %s)", v.path(), f.tab, f.name, snap.Access(f.name))
			}
		}
	}
	// The ro secret is shown masked, never as an input.
	body := s.mustGet(view{advanced: true}.tabHref("Ext_2"))
	if !strings.Contains(body, secretMask) || strings.Contains(body, `name="`+pw+`"`) {
		t.Errorf("the ro secret %s is not shown masked", pw)
	}
	for _, v := range []view{{admin: true}, {admin: true, advanced: true}} {
		body := admin.mustGet(v.path())
		for name, val := range secrets {
			if strings.Contains(body, val) {
				t.Errorf("admin %s shows the value of %s", v.path(), name)
			}
		}
	}
}

// TestSubmitRefused: hostile or wrong form posts are refused clearly and change nothing
// (DECISIONS 19; the cross-site rules at the top of forms.go).
func TestSubmitRefused(t *testing.T) {
	s := newPageSite(t, phone.Options{Model: "SPA942"})
	cat := s.snap().Catalog()
	display := config.ExtName(config.DisplayName, 1)
	enable := config.ExtName(config.LineEnable, 1)
	userID := config.ExtName(config.UserID, 1)
	ok := url.Values{display: {"Alice"}}.Encode()
	hidden, _ := config.GPP("sa")
	var naParam string
	for _, p := range cat.Params() {
		if p.Access == config.AccessNA && !p.Hidden && !p.Secret {
			naParam = p.Name
			break
		}
	}
	tests := []struct {
		name     string
		path     string
		body     string
		hdr      []string
		user     bool
		wantCode int
		wantText []string
		problems []string
	}{
		{name: "unknown name", path: "/admin/bsipura.spa", body: ok + "&No_Such_Param=1",
			wantCode: 400, wantText: []string{"Nothing was changed", "unknown parameter"}, problems: []string{"No_Such_Param"}},
		{name: "profile-only parameter", path: "/admin/bsipura.spa", body: ok + "&" + hidden + "=x",
			wantCode: 400, problems: []string{hidden}},
		{name: "every problem listed", path: "/admin/bsipura.spa",
			body:     url.Values{enable: {"maybe"}, display: {strings.Repeat("x", 2000)}, "Bogus": {"1"}}.Encode(),
			wantCode: 400, wantText: []string{"want Yes or No", "longer than 1023"}, problems: []string{enable, display, "Bogus"}},
		{name: "markup in a bad value is text", path: "/admin/bsipura.spa", body: url.Values{enable: {"<script>alert(1)</script>"}}.Encode(),
			wantCode: 400, wantText: []string{"&lt;script&gt;alert(1)&lt;/script&gt;"}, problems: []string{enable}},
		{name: "twice", path: "/admin/bsipura.spa", body: ok + "&" + ok,
			wantCode: 400, wantText: []string{"given 2 times"}, problems: []string{display}},
		{name: "non-UTF-8 value", path: "/admin/bsipura.spa", body: url.QueryEscape(display) + "=%FF%FE",
			wantCode: 400, wantText: []string{"invalid UTF-8"}, problems: []string{display}},
		{name: "non-UTF-8 name", path: "/admin/bsipura.spa", body: "%FF%FE=1", wantCode: 400, wantText: []string{"unknown parameter"}},
		{name: "control character", path: "/admin/bsipura.spa", body: url.Values{display: {"a\x00b"}}.Encode(), wantCode: 400},
		{name: "malformed body", path: "/admin/bsipura.spa", body: "a=%zz", wantCode: 400},
		{name: "huge body", path: "/admin/bsipura.spa", body: display + "=" + strings.Repeat("x", maxFormBytes+10), wantCode: 413},
		{name: "not a form", path: "/admin/bsipura.spa", body: ok, hdr: []string{"Content-Type", "application/json"}, wantCode: 415},
		{name: "no content type", path: "/admin/bsipura.spa", body: ok, hdr: []string{"Content-Type", ""}, wantCode: 415},
		{name: "foreign origin", path: "/admin/bsipura.spa", body: ok, hdr: []string{"Origin", "http://evil.example"}, wantCode: 403},
		{name: "null origin", path: "/admin/bsipura.spa", body: ok, hdr: []string{"Origin", "null"}, wantCode: 403},
		{name: "cross-site fetch", path: "/admin/bsipura.spa", body: ok, hdr: []string{"Sec-Fetch-Site", "cross-site"}, wantCode: 403},
		{name: "user: na parameter is unknown", path: "/bsipura.spa", body: url.Values{naParam: {"x"}}.Encode(), user: true,
			wantCode: 400, wantText: []string{"unknown parameter"}, problems: []string{naParam}},
		{name: "user: ro parameter", path: "/bsipura.spa", body: url.Values{userID: {"1002"}}.Encode(), user: true,
			wantCode: 400, wantText: []string{"not writable"}, problems: []string{userID}},
		{name: "user: admin password", path: "/bsipura.spa", body: url.Values{config.AdminPasswd: {"x"}}.Encode(), user: true,
			wantCode: 400, problems: []string{config.AdminPasswd}},
		// Issue 9 item 5: the user pointed the Log_* messages (expanded provisioning URLs) at a
		// host of theirs.
		{name: "user: syslog server", path: "/bsipura.spa", body: url.Values{config.SyslogServer: {"192.0.2.66"}}.Encode(), user: true,
			wantCode: 400, wantText: []string{"unknown parameter"}, problems: []string{config.SyslogServer}},
		{name: "user: debug server", path: "/bsipura.spa", body: url.Values{config.DebugServer: {"192.0.2.66"}}.Encode(), user: true,
			wantCode: 400, wantText: []string{"unknown parameter"}, problems: []string{config.DebugServer}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := s.snap()
			hdr := tt.hdr
			if tt.user {
				hdr = append(hdr, "Referer", s.base+"/advanced?tab=Ext_1")
			}
			code, body := s.post(tt.path, tt.body, hdr...)
			if code != tt.wantCode {
				t.Fatalf("POST %s = %d, want %d\n%s", tt.path, code, tt.wantCode, clip(body, 2000))
			}
			for _, w := range tt.wantText {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q\n%s", w, clip(body, 3000))
				}
			}
			if tt.problems != nil {
				if got := resultParams(t, body, "problem"); !slices.Equal(got, tt.problems) {
					t.Errorf("problems = %v, want %v", got, tt.problems)
				}
			}
			if strings.Contains(body, "<script>") {
				t.Error("page carries markup from the form")
			}
			if d := configDiff(before, s.snap()); len(d) > 0 {
				t.Errorf("refused post changed %v", d)
			}
		})
	}
	t.Run("GET is not a submit", func(t *testing.T) {
		if code, _ := s.get("/admin/bsipura.spa?" + ok); code != http.StatusMethodNotAllowed {
			t.Errorf("GET = %d, want 405", code)
		}
	})
	t.Run("multipart with a file", func(t *testing.T) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		mw.WriteField(display, "Bob")
		fw, _ := mw.CreateFormFile("upload", "x.bin")
		fw.Write([]byte("data"))
		mw.Close()
		before := s.snap()
		code, _ := s.post("/admin/bsipura.spa", b.String(), "Content-Type", mw.FormDataContentType())
		if code != http.StatusBadRequest || len(configDiff(before, s.snap())) > 0 {
			t.Errorf("multipart with a file = %d, want 400 and nothing changed", code)
		}
	})
}

// TestSubmitAccepted: what a good post does and what its page says.
func TestSubmitAccepted(t *testing.T) {
	s := newPageSite(t, phone.Options{Model: "SPA942"})
	display := config.ExtName(config.DisplayName, 1)
	pw := config.ExtName(config.Password, 1)
	markup := `<script>alert("x")</script> & <b>`

	t.Run("markup is kept as text", func(t *testing.T) {
		code, body := s.post("/admin/bsipura.spa", url.Values{display: {markup}}.Encode(), "Origin", s.base)
		if code != http.StatusOK || !strings.Contains(body, "restarts when it is idle") {
			t.Fatalf("POST = %d\n%s", code, body)
		}
		if got := s.snap().Get(display); got != markup {
			t.Fatalf("%s = %q, want %q", display, got, markup)
		}
		page := s.mustGet("/admin/advanced?tab=Ext_1")
		if strings.Contains(page, "<script>") || !strings.Contains(page, `value="&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;"`) {
			t.Errorf("the value is not escaped:\n%s", clip(page[strings.Index(page, display):], 300))
		}
	})
	t.Run("secret: set, kept, cleared", func(t *testing.T) {
		if code, body := s.post("/admin/bsipura.spa", url.Values{pw: {"hunter2"}}.Encode()); code != 200 {
			t.Fatalf("set = %d %s", code, body)
		}
		if s.snap().Get(pw) != "hunter2" {
			t.Fatal("secret not set")
		}
		page := s.mustGet("/admin/advanced?tab=Ext_1")
		if strings.Contains(page, "hunter2") {
			t.Fatal("the page carries the secret")
		}
		form, _ := parsePageForm(t, page)
		if f, _ := form.field(pw); f.value != secretKept {
			t.Fatalf("password input holds %q, want the kept marker", f.value)
		}
		code, body := s.post("/admin/bsipura.spa", form.values().Encode())
		if code != 200 || !strings.Contains(body, "Nothing to save") || s.snap().Get(pw) != "hunter2" {
			t.Fatalf("untouched = %d, secret %q\n%s", code, s.snap().Get(pw), body)
		}
		vals := form.values()
		vals.Set(pw, "")
		if code, _ := s.post("/admin/bsipura.spa", vals.Encode()); code != 200 || s.snap().Get(pw) != "" {
			t.Fatalf("cleared = %d, secret %q", code, s.snap().Get(pw))
		}
	})
	t.Run("provisioning applies at once", func(t *testing.T) {
		code, body := s.post("/admin/bsipura.spa", url.Values{config.ResyncPeriodic: {"7200"}}.Encode())
		if code != 200 || !strings.Contains(body, "apply at once") {
			t.Fatalf("POST = %d\n%s", code, body)
		}
	})
	t.Run("busy phone: restart waits", func(t *testing.T) {
		p, err := s.unit.Phone()
		if err != nil {
			t.Fatal(err)
		}
		if err := p.SetHook(t.Context(), true); err != nil {
			t.Fatal(err)
		}
		code, body := s.post("/admin/bsipura.spa", url.Values{display: {"Bob"}}.Encode())
		if code != 200 || !strings.Contains(body, "in use now") {
			t.Fatalf("POST = %d\n%s", code, body)
		}
		if err := p.SetHook(t.Context(), false); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("user changes an rw parameter", func(t *testing.T) {
		code, body := s.post("/bsipura.spa", url.Values{config.HostName: {"desk-42"}}.Encode(), "Referer", s.base+"/advanced?tab=System")
		if code != 200 || s.snap().Get(config.HostName) != "desk-42" {
			t.Fatalf("POST = %d\n%s", code, body)
		}
		if !strings.Contains(body, `href="/advanced?tab=System"`) {
			t.Error("the result page does not lead back to the tab posted from")
		}
	})
}

// TestPageAccess: the accounts and Enable_Web_Admin_Access (SPA-BEHAVIOUR §5.1, DECISIONS 16).
func TestPageAccess(t *testing.T) {
	s := newPageSite(t, phone.Options{Defaults: []config.Change{
		config.Set(config.AdminPasswd, "adm"), config.Set(config.UserPassword, "usr"),
	}})
	tests := []struct {
		name, method, path string
		c                  cred
		want               int
	}{
		{"admin page without credentials", "GET", "/admin/advanced", noCred, 401},
		{"admin page as user", "GET", "/admin/", basic("user", "usr"), 401},
		{"admin page as admin", "GET", "/admin/advanced?tab=Provisioning", basic("admin", "adm"), 200},
		{"admin without the slash", "GET", "/admin", basic("admin", "adm"), 200},
		{"user page without credentials", "GET", "/", noCred, 401},
		{"user page as user", "GET", "/advanced?tab=User", basic("user", "usr"), 200},
		{"user page as admin", "GET", "/basic", basic("admin", "adm"), 200},
		{"user cannot open Provisioning", "GET", "/advanced?tab=Provisioning", basic("user", "usr"), 404},
		{"admin basic has no Provisioning", "GET", "/admin/basic?tab=Provisioning", basic("admin", "adm"), 404},
		{"unknown tab", "GET", "/admin/advanced?tab=Nope", basic("admin", "adm"), 404},
		{"directory", "GET", "/pdir.htm", basic("user", "usr"), 200},
		{"call log", "GET", "/calllog.htm", basic("user", "usr"), 200},
		{"style sheet needs nothing", "GET", stylePath, noCred, 200},
		{"admin submit as user", "POST", "/admin/bsipura.spa", basic("user", "usr"), 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.method == "POST" {
				body = strings.NewReader("")
			}
			resp := request(t, tt.method, s.base+tt.path, body, tt.c)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("%s %s = %d, want %d", tt.method, tt.path, resp.StatusCode, tt.want)
			}
		})
	}
	// Enable_Web_Admin_Access=No: the admin pages are refused, the user's still work.
	s.user, s.pass = "admin", "adm"
	if code, body := s.post("/admin/bsipura.spa", url.Values{config.EnableWebAdminAccess: {"No"}}.Encode()); code != 200 {
		t.Fatalf("POST = %d %s", code, body)
	}
	for _, path := range []string{"/admin/", "/admin/advanced", "/admin/basic?tab=System"} {
		if code, _ := s.get(path); code != http.StatusForbidden {
			t.Errorf("GET %s with admin access disabled = %d, want 403", path, code)
		}
	}
	if code, _ := s.post("/admin/bsipura.spa", "a=b"); code != http.StatusForbidden {
		t.Errorf("POST /admin/bsipura.spa with admin access disabled = %d, want 403", code)
	}
	s.user, s.pass = "user", "usr"
	s.mustGet("/advanced")
}

// TestPagesSelfContained: pages load nothing from elsewhere and carry no script; the
// directory and the call history show what exists (nothing yet).
func TestPagesSelfContained(t *testing.T) {
	s := newPageSite(t, phone.Options{Model: "SPA962"})
	for _, path := range []string{"/", "/advanced?tab=User", "/admin/advanced?tab=SPA932", "/pdir.htm", "/calllog.htm"} {
		body := s.mustGet(path)
		for _, bad := range []string{`href="http`, `href="//`, "src=", "<script", "<img", "<iframe", "@import"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s contains %q", path, bad)
			}
		}
	}
	if body := s.mustGet("/pdir.htm"); !strings.Contains(body, "Personal Directory") || !strings.Contains(body, "empty") {
		t.Errorf("pdir.htm:\n%s", body)
	}
	if body := s.mustGet("/calllog.htm"); strings.Count(body, "No calls.") != 3 {
		t.Errorf("calllog.htm:\n%s", body)
	}
	resp := request(t, "GET", s.base+stylePath, nil, noCred)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
		t.Errorf("style sheet Content-Type = %q", ct)
	}
	resp = request(t, "GET", s.base+"/admin/advanced", nil, noCred)
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("page headers: CSP %q, Cache-Control %q", csp, resp.Header.Get("Cache-Control"))
	}
}

func TestSectionTitle(t *testing.T) {
	tests := []struct{ in, want string }{
		{"SIP_Timer_Values__sec_", "SIP Timer Values (sec)"},
		{"_Static_IP_Settings", "Static IP Settings"},
		{"Internet_Connection_Type_", "Internet Connection Type"},
		{"Audio_Input_Gain__dB_", "Audio Input Gain (dB)"},
		{"Ext_1_Status", "Ext 1 Status"},
		{"General", "General"},
	}
	for _, tt := range tests {
		if got := sectionTitle(tt.in); got != tt.want {
			t.Errorf("sectionTitle(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzFormPost: any form body is either refused with problems or turned into changes that
// validate; the result page renders whatever the body held.
func FuzzFormPost(f *testing.F) {
	display := config.ExtName(config.DisplayName, 1)
	enable := config.ExtName(config.LineEnable, 1)
	for _, seed := range []string{
		display + "=Alice", enable + "=maybe", "%FF%FE=%00", display + "=%3Cscript%3E&" + display + "=x",
		config.AdminPasswd + "=%09%09%09%09%09%09%09%09", "No_Such=1&" + enable + "=Yes", "a=%zz", "",
	} {
		f.Add(seed, true)
		f.Add(seed, false)
	}
	st := fixedStatus(f, "SPA942")
	f.Fuzz(func(t *testing.T, body string, admin bool) {
		vals, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		changes, problems := formChanges(st.Config, vals, admin)
		_, _, err = st.Config.Apply(changes, config.ApplyOptions{User: !admin})
		if len(problems) == 0 && err == nil {
			return
		}
		problems = append(problems, applyProblems(st.Config.Catalog(), err)...)
		v := view{admin: admin, advanced: true}
		d := frame(st, v, "Ext_1", v.tabs(st.Config))
		d.Body, d.Result = bodyResult, &result{Problems: problems}
		var buf bytes.Buffer
		if err := pageTemplates().ExecuteTemplate(&buf, "page", d); err != nil {
			t.Fatal(err)
		}
		if !utf8.Valid(buf.Bytes()) {
			t.Fatal("result page is not UTF-8")
		}
	})
}

// BenchmarkRenderView renders the largest page, the SPA962's admin advanced view with every
// tab: uncached (every tab rendered, as at the first request after a change of the
// configuration), cached (the parameter tabs from the cache and the live Info tab rendered,
// as at every other request), the Info tab alone, and the whole request through the
// handler (authentication, status, cache, render).
func BenchmarkRenderView(b *testing.B) {
	st := fixedStatus(b, "SPA962")
	v := view{admin: true, advanced: true}
	page := func(b *testing.B, vp *viewPanels) {
		d, ok := viewData(st, v, infoTabName, vp)
		if !ok {
			b.Fatal("no Info tab")
		}
		w := discardWriter{header: http.Header{}}
		if err := render(&w, http.StatusOK, d); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("uncached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			vp, err := renderPanels(st.Config, v)
			if err != nil {
				b.Fatal(err)
			}
			page(b, vp)
		}
	})
	b.Run("cached", func(b *testing.B) {
		var c viewCache
		vp, err := c.panels(st.Config, v)
		if err != nil {
			b.Fatal(err)
		}
		d, _ := viewData(st, v, infoTabName, vp)
		b.Logf("page: %d bytes, of which the parameter tabs %d", len(renderPage(b, d)), len(vp.html))
		b.ReportAllocs()
		for b.Loop() {
			vp, err := c.panels(st.Config, v)
			if err != nil {
				b.Fatal(err)
			}
			page(b, vp)
		}
	})
	b.Run("info", func(b *testing.B) {
		d := &pageData{}
		var buf bytes.Buffer
		b.ReportAllocs()
		for b.Loop() {
			buf.Reset()
			d.Info = infoTab(st)
			if err := pageTemplates().ExecuteTemplate(&buf, "info", d); err != nil {
				b.Fatal(err)
			}
		}
		b.Logf("Info tab: %d bytes", buf.Len())
	})
	b.Run("handler", func(b *testing.B) {
		u := testUnit(b, phone.Options{Model: "SPA962"})
		h := newHandler(u, Options{})
		req := httptest.NewRequest("GET", "/admin/advanced", nil)
		b.ReportAllocs()
		for b.Loop() {
			w := discardWriter{header: http.Header{}}
			h.ServeHTTP(&w, req)
			if w.code != http.StatusOK {
				b.Fatalf("GET /admin/advanced = %d", w.code)
			}
		}
	})
}

// discardWriter is a ResponseWriter that keeps only the status code.
type discardWriter struct {
	header http.Header
	code   int
}

func (w *discardWriter) Header() http.Header { return w.header }
func (w *discardWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return len(b), nil
}
func (w *discardWriter) WriteHeader(code int) { w.code = code }
