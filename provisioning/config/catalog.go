package config

import (
	_ "embed"
	"strconv"
	"strings"
	"sync"
)

// Access is the user account's access to a parameter: the `ua` attribute of a profile
// (SPA-BEHAVIOUR §1.1). The admin account always has full access.
type Access uint8

const (
	// AccessUnset marks a change that leaves the access as it is.
	AccessUnset Access = iota
	// AccessNA hides the parameter from the user account.
	AccessNA
	// AccessRO lets the user account read the parameter.
	AccessRO
	// AccessRW lets the user account read and write the parameter.
	AccessRW
)

// String returns the attribute value: "na", "ro" or "rw" ("" for AccessUnset).
func (a Access) String() string {
	switch a {
	case AccessNA:
		return "na"
	case AccessRO:
		return "ro"
	case AccessRW:
		return "rw"
	}
	return ""
}

// ParseAccess parses a `ua` attribute value. Anything but na, ro and rw is not an access
// (DECISIONS 9) and yields false.
func ParseAccess(s string) (Access, bool) {
	switch s {
	case "na":
		return AccessNA, true
	case "ro":
		return AccessRO, true
	case "rw":
		return AccessRW, true
	}
	return AccessUnset, false
}

// UserCanRead reports whether the user account may see a parameter with this access.
func (a Access) UserCanRead() bool { return a == AccessRO || a == AccessRW }

// Kind is the value type of a parameter, used to validate values (SPA-BEHAVIOUR §8.8).
type Kind uint8

const (
	// KindString is free text up to MaxLen characters.
	KindString Kind = iota
	// KindBool is "Yes" or "No" (case-insensitive on input).
	KindBool
	// KindInt is a decimal integer within [Min, Max].
	KindInt
	// KindDecimal is a non-negative decimal number such as ".5" or "0.030" (seconds).
	KindDecimal
	// KindEnum is one of Choices (case-insensitive on input).
	KindEnum
	// KindSchedule is the extended delay syntax "a,b,c+r" (SPA-BEHAVIOUR §4.3).
	KindSchedule
)

// String returns a lower-case name of the kind.
func (k Kind) String() string {
	switch k {
	case KindString:
		return "string"
	case KindBool:
		return "bool"
	case KindInt:
		return "int"
	case KindDecimal:
		return "decimal"
	case KindEnum:
		return "enum"
	case KindSchedule:
		return "schedule"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Param is one configuration parameter of a model.
type Param struct {
	// Name is the element name exactly as in profile XML, e.g. "Line_Enable_1_".
	Name string
	// Group is "Tab/Section" as in the export's group attribute, e.g. "Ext_1/General".
	Group string
	// Label is the web page label, e.g. "Line Enable".
	Label string
	// Default is the factory default value.
	Default string
	// Kind, Choices, Min, Max and MaxLen say which values are valid.
	Kind    Kind
	Choices []string
	Min     int64
	Max     int64
	MaxLen  int
	// Access is the factory default access of the user account.
	Access Access
	// Secret marks passwords and keys: never logged, never shown to the user account.
	Secret bool
	// Ext is the extension (or line key) index, 1-based; 0 when not per-extension.
	Ext int
	// Hidden marks profile-only parameters (GPP_SA..GPP_SD): neither exported nor on a page.
	Hidden bool
}

// Tab returns the tab part of the group, e.g. "Ext_1".
func (p *Param) Tab() string { t, _, _ := strings.Cut(p.Group, "/"); return t }

// Section returns the section part of the group, e.g. "General".
func (p *Param) Section() string { _, s, _ := strings.Cut(p.Group, "/"); return s }

// InfoField is one read-only status field of the Info tab (SPA-BEHAVIOUR §9).
type InfoField struct {
	Name  string
	Group string // e.g. "Info/Ext_1_Status"
}

// Catalog is the immutable parameter catalogue of one model, in the device's export order.
type Catalog struct {
	model  Model
	params []Param
	index  map[string]int
	info   []InfoField
	tabs   []string
	// defaults are the factory values in snapshot chunks and the factory accesses, which
	// every snapshot of the catalogue starts from and shares until it changes them.
	defaults       [][]string
	defaultsAccess []Access
}

//go:generate sh -c "go run ./internal/gencatalog testdata/spa962-5.1.15-export.xml > catalog_spa962.tsv"

//go:embed catalog_spa962.tsv
var spa962Table string

// catalogs holds one lazily built, immutable catalogue per model.
var catalogs [len(models)]func() *Catalog

func init() {
	for i := range models {
		m := models[i]
		catalogs[i] = sync.OnceValue(func() *Catalog { return buildCatalog(m) })
	}
}

// CatalogFor returns the catalogue of a model. Catalogues are built once and shared.
func CatalogFor(m Model) *Catalog {
	for i := range models {
		if models[i].Name == m.Name {
			return catalogs[i]()
		}
	}
	panic("config: CatalogFor called with a model not from LookupModel: " + m.Name)
}

// Model returns the catalogue's model.
func (c *Catalog) Model() Model { return c.model }

// Params returns the parameters in export order. The slice must not be modified.
func (c *Catalog) Params() []Param { return c.params }

// Len returns the number of parameters, hidden ones included.
func (c *Catalog) Len() int { return len(c.params) }

// Lookup returns the parameter with this exact (case-sensitive) name.
func (c *Catalog) Lookup(name string) (*Param, bool) {
	i, ok := c.index[name]
	if !ok {
		return nil, false
	}
	return &c.params[i], true
}

// Info returns the read-only status fields of the Info tab in export order.
func (c *Catalog) Info() []InfoField { return c.info }

// Tabs returns the configuration tabs in the device's order, e.g. System, SIP, Provisioning,
// Regional, Phone, Ext_1..Ext_n, User and (SPA962) SPA932. Info is not included.
func (c *Catalog) Tabs() []string { return c.tabs }

// buildCatalog derives a model's catalogue from the SPA962 table: extension-indexed groups
// exist for the model's extensions only, the SPA932 tab only on models with a sidecar.
func buildCatalog(m Model) *Catalog {
	c := &Catalog{model: m, index: make(map[string]int, 1400)}
	for _, line := range strings.Split(spa962Table, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, _ := strings.Cut(line, "\t")
		group, value, _ := strings.Cut(rest, "\t")
		if !groupExists(m, group) {
			continue
		}
		if strings.HasPrefix(group, "Info/") {
			c.info = append(c.info, InfoField{Name: name, Group: group})
			continue
		}
		c.add(describe(m, name, group, value))
	}
	for _, p := range hiddenParams() {
		c.add(p)
	}
	for i := range c.params {
		if i%chunkSize == 0 {
			c.defaults = append(c.defaults, make([]string, 0, chunkSize))
		}
		last := len(c.defaults) - 1
		c.defaults[last] = append(c.defaults[last], c.params[i].Default)
		c.defaultsAccess = append(c.defaultsAccess, c.params[i].Access)
	}
	seen := map[string]bool{}
	for i := range c.params {
		if t := c.params[i].Tab(); !seen[t] {
			seen[t] = true
			c.tabs = append(c.tabs, t)
		}
	}
	return c
}

func (c *Catalog) add(p Param) {
	if _, dup := c.index[p.Name]; dup {
		panic("config: duplicate parameter in catalogue: " + p.Name)
	}
	c.index[p.Name] = len(c.params)
	c.params = append(c.params, p)
}

// groupExists reports whether a group of the SPA962 table exists on model m.
func groupExists(m Model, group string) bool {
	tab, section, _ := strings.Cut(group, "/")
	if tab == "SPA932" {
		return m.Sidecar
	}
	if n, ok := indexIn(tab, "Ext_", ""); ok {
		return n <= m.Extensions
	}
	if tab == "Info" {
		if n, ok := indexIn(section, "Ext_", "_Status"); ok {
			return n <= m.Extensions
		}
		if n, ok := indexIn(section, "Line_", ""); ok {
			return n <= m.Extensions
		}
	}
	if tab == "Phone" {
		if n, ok := indexIn(section, "Line_Key_", ""); ok {
			return n <= m.Extensions
		}
	}
	return true
}

// indexIn parses the number after prefix in s ("Ext_3" → 3), up to the next "_" or suffix.
func indexIn(s, prefix, suffix string) (int, bool) {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return 0, false
	}
	rest = strings.TrimSuffix(rest, suffix)
	if i := strings.IndexByte(rest, '_'); i >= 0 {
		rest = rest[:i]
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil && n > 0
}

// extIndex returns the extension index of a per-extension parameter name ("Proxy_3_" → 3) in
// group tab Ext_n or section Line_Key_n, else 0.
func extIndex(group string) int {
	tab, section, _ := strings.Cut(group, "/")
	if n, ok := indexIn(tab, "Ext_", ""); ok {
		return n
	}
	if n, ok := indexIn(section, "Line_Key_", ""); ok {
		return n
	}
	return 0
}

// baseName strips the per-extension suffix: "Proxy_3_" → "Proxy".
func baseName(name string, ext int) string {
	if ext == 0 {
		return name
	}
	return strings.TrimSuffix(name, "_"+strconv.Itoa(ext)+"_")
}

// ExtName returns the name of a per-extension parameter: ExtName(LineEnable, 2) is
// "Line_Enable_2_" (SPA-BEHAVIOUR §1.1).
func ExtName(base string, ext int) string {
	if ext >= 0 && ext < 10 { // one allocation, no formatting: the loop asks for these often
		return base + "_" + string(rune('0'+ext)) + "_"
	}
	return base + "_" + strconv.Itoa(ext) + "_"
}
