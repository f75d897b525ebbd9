// Package fleetfile reads fleet files — the phones of `spa900 fleet --file`, in YAML or CSV —
// and expands them, with the fleet's address ranges and replica ordinal, into one plain
// description per phone.
//
// # YAML
//
//	defaults:                 # optional: fields every row has unless it gives its own
//	  model: SPA942
//	  set:
//	    Resync_Random_Delay: 0
//	    Profile_Rule: http://prov.example/spa$MA.cfg
//	phones:
//	  - count: 100            # a row may stand for many phones (default 1)
//	    mac: 00:0e:08:00:10:00 # the row's first MAC, counted up for its phones
//	    ip: auto              # an address (counted up), or auto: the host's own for all
//	    http: "{{8080+row}}"  # the web server: PORT or HOST:PORT (a template)
//	    name: "desk-{{index}}" # a name in the phone's log lines (a template)
//	    seed: "{{index+1}}"   # the phone's random seed (a template): reproducible delays
//	    set:                  # factory defaults, as --set (templates)
//	      User_ID_1_: "{{1000+index}}"
//	  - mac: 00:0e:08:aa:bb:cc
//	    model: SPA962
//
// # CSV
//
// A header row names the columns: count, model, mac, ip, http, name and seed as in YAML; every
// other column is a parameter name, set to the row's cell (an empty cell sets nothing).
//
//	model,mac,User_ID_1_,Display_Name_1_
//	SPA942,00:0e:08:00:10:00,1000,Reception
//	SPA962,00:0e:08:00:10:01,{{1000+index}},Desk {{index}}
//
// # Expansion
//
// Phones are numbered in file order: row is a phone's number in this process's fleet (from
// 0), count the number of phones the file gives, ordinal the replica (--ordinal), and index
// = ordinal × count + row, its number in the fleet of all replicas. Templates are described
// at [Template].
//
// A phone's MAC is its row's mac plus its place in the row; without one, the fleet's --mac
// plus row; without either, the unit generates one (kept in its flash). Replica n adds n ×
// span to every MAC, span being the distance from the lowest to the highest MAC of replica 0
// plus one, so that the MACs of replicas never overlap; extension numbers stay disjoint when
// their templates grow with index. Addresses are not shifted: each replica has its own host.
//
// Every error names the file, the line (YAML) or row (CSV) and the field.
//
// Who may import it: cmd (and tests, the Kubernetes manifests' among them). It imports
// provisioning/config to check models and parameter names.
package fleetfile

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/spa900/spa900/provisioning/config"
)

// Spec is a fleet as its file describes it.
type Spec struct {
	// File is the file's name, as errors cite it.
	File string
	// Rows are the rows in file order, each with the defaults merged in.
	Rows []Row
}

// Row is one row of a fleet file: one phone, or Count phones alike.
type Row struct {
	// Where is the row's place, "fleet.yaml:12" or "fleet.csv:3".
	Where string
	// Count is the number of phones of the row (1 or more).
	Count int
	// Model is the model name; "" takes the fleet's --model.
	Model string
	// MAC is the first MAC of the row; nil: none given.
	MAC net.HardwareAddr
	// IP is "", "auto" or an address (the row's first).
	IP string
	// HTTP, Name and Seed are templates; nil: none given.
	HTTP, Name, Seed *Template
	// Set are the row's factory defaults, in file order.
	Set []Setting

	at map[string]string // field → its place, for errors
}

// Setting is one NAME=VALUE of a row.
type Setting struct {
	Name  string
	Value *Template
	Where string
}

// maxPhones bounds a file's phones (a typo in count must not allocate a million units).
const maxPhones = 1 << 20

// ErrFleetFile is wrapped by every error about a fleet file's content.
var ErrFleetFile = errors.New("fleet file")

func errAt(where, field, format string, a ...any) error {
	if field != "" {
		where += ": " + field
	}
	return fmt.Errorf("%w: %s: %s", ErrFleetFile, where, fmt.Sprintf(format, a...))
}

// Parse reads a fleet file: YAML for .yaml and .yml, CSV for .csv.
func Parse(name string, data []byte) (*Spec, error) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml":
		return parseYAML(name, data)
	case ".csv":
		return parseCSV(name, data)
	}
	return nil, fmt.Errorf("%w: %s: want a .yaml, .yml or .csv file", ErrFleetFile, name)
}

// Range is the fleet of --count phones without a file: one row of count phones.
func Range(count int) *Spec {
	return &Spec{File: "--count", Rows: []Row{{Where: "--count", Count: count}}}
}

// Phones returns the number of phones the spec gives.
func (s *Spec) Phones() int {
	n := 0
	for _, r := range s.Rows {
		n += r.Count
	}
	return n
}

// field sets one field of a row from its text, checking it.
func (r *Row) field(name, value, where string) error {
	if r.at == nil {
		r.at = map[string]string{}
	}
	r.at[name] = where
	var err error
	switch name {
	case "count":
		n, perr := strconv.Atoi(strings.TrimSpace(value))
		if perr != nil || n < 1 || n > maxPhones {
			return errAt(where, name, "%q: want a number of phones from 1 to %d", value, maxPhones)
		}
		r.Count = n
	case "model":
		m, merr := config.LookupModel(value)
		if merr != nil {
			return errAt(where, name, "%v", merr)
		}
		r.Model = m.Name
	case "mac":
		mac, merr := net.ParseMAC(strings.TrimSpace(value))
		if merr != nil || len(mac) != 6 {
			return errAt(where, name, "%q is not a MAC address (templates are not allowed here: give the row's first MAC)", value)
		}
		r.MAC = mac
	case "ip":
		v := strings.TrimSpace(value)
		if v != "auto" {
			if _, perr := netip.ParseAddr(v); perr != nil {
				return errAt(where, name, "%q is not an IP address or auto", value)
			}
		}
		r.IP = v
	case "http":
		r.HTTP, err = ParseTemplate(value)
	case "name":
		r.Name, err = ParseTemplate(value)
	case "seed":
		r.Seed, err = ParseTemplate(value)
	default:
		return errAt(where, "", "unknown field %q (count, model, mac, ip, http, name, seed, set)", name)
	}
	if err != nil {
		return errAt(where, name, "%v", err)
	}
	return nil
}

func (r *Row) set(name, value, where string) error {
	t, err := ParseTemplate(value)
	if err != nil {
		return errAt(where, "set."+name, "%v", err)
	}
	r.Set = append(r.Set, Setting{Name: name, Value: t, Where: where})
	return nil
}

// merge gives r the defaults' fields it lacks; the defaults' settings come first, so that the
// row's win.
func (r *Row) merge(d *Row) {
	if d == nil {
		return
	}
	if r.Model == "" {
		r.Model = d.Model
	}
	if r.MAC == nil {
		r.MAC = d.MAC
	}
	if r.IP == "" {
		r.IP = d.IP
	}
	if r.HTTP == nil {
		r.HTTP = d.HTTP
	}
	if r.Name == nil {
		r.Name = d.Name
	}
	if r.Seed == nil {
		r.Seed = d.Seed
	}
	r.Set = append(append([]Setting(nil), d.Set...), r.Set...)
}

func parseYAML(name string, data []byte) (*Spec, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrFleetFile, name, err)
	}
	at := func(n *yaml.Node) string { return fmt.Sprintf("%s:%d", name, n.Line) }
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, fmt.Errorf("%w: %s: empty", ErrFleetFile, name)
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, errAt(at(top), "", "want a mapping with phones (and defaults)")
	}
	spec := &Spec{File: name}
	var defaults *Row
	var phones *yaml.Node
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		switch k.Value {
		case "defaults":
			d, err := yamlRow(v, at, true)
			if err != nil {
				return nil, err
			}
			defaults = d
		case "phones":
			if v.Kind != yaml.SequenceNode {
				return nil, errAt(at(v), "phones", "want a list of rows")
			}
			phones = v
		default:
			return nil, errAt(at(k), "", "unknown key %q (defaults, phones)", k.Value)
		}
	}
	if phones == nil || len(phones.Content) == 0 {
		return nil, errAt(name, "phones", "no phones")
	}
	for _, n := range phones.Content {
		r, err := yamlRow(n, at, false)
		if err != nil {
			return nil, err
		}
		r.merge(defaults)
		spec.Rows = append(spec.Rows, *r)
	}
	return spec, spec.check()
}

func yamlRow(n *yaml.Node, at func(*yaml.Node) string, isDefaults bool) (*Row, error) {
	if n.Kind != yaml.MappingNode {
		return nil, errAt(at(n), "", "want a mapping of fields")
	}
	r := &Row{Where: at(n), Count: 1}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case k.Value == "set":
			if v.Kind != yaml.MappingNode {
				return nil, errAt(at(v), "set", "want a mapping of NAME: VALUE")
			}
			for j := 0; j+1 < len(v.Content); j += 2 {
				pk, pv := v.Content[j], v.Content[j+1]
				if pv.Kind != yaml.ScalarNode {
					return nil, errAt(at(pv), "set."+pk.Value, "want a value, not a %s", kindName(pv.Kind))
				}
				if err := r.set(pk.Value, pv.Value, at(pk)); err != nil {
					return nil, err
				}
			}
		case k.Value == "count" && isDefaults:
			return nil, errAt(at(k), "count", "belongs to a row, not to the defaults")
		default:
			if v.Kind != yaml.ScalarNode {
				return nil, errAt(at(v), k.Value, "want a value, not a %s", kindName(v.Kind))
			}
			if err := r.field(k.Value, v.Value, at(k)); err != nil {
				return nil, err
			}
		}
	}
	return r, nil
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.AliasNode:
		return "alias"
	}
	return "document"
}

func parseCSV(name string, data []byte) (*Spec, error) {
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = 0 // every row as long as the header
	cr.TrimLeadingSpace = true
	cr.Comment = '#'
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: %s: empty", ErrFleetFile, name)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrFleetFile, name, err)
	}
	known := map[string]bool{"count": true, "model": true, "mac": true, "ip": true, "http": true, "name": true, "seed": true}
	seen := map[string]bool{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		header[i] = h
		line, col := cr.FieldPos(i)
		if h == "" {
			return nil, errAt(fmt.Sprintf("%s:%d", name, line), fmt.Sprintf("column %d", col), "empty column name")
		}
		if seen[h] {
			return nil, errAt(fmt.Sprintf("%s:%d", name, line), "column "+h, "given twice")
		}
		seen[h] = true
	}
	spec := &Spec{File: name}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrFleetFile, name, err)
		}
		line, _ := cr.FieldPos(0)
		r := Row{Where: fmt.Sprintf("%s:%d", name, line), Count: 1}
		for i, cell := range rec {
			if strings.TrimSpace(cell) == "" {
				continue
			}
			where := r.Where
			if known[header[i]] {
				err = r.field(header[i], cell, where)
			} else {
				err = r.set(header[i], cell, where)
			}
			if err != nil {
				return nil, err
			}
		}
		spec.Rows = append(spec.Rows, r)
	}
	if len(spec.Rows) == 0 {
		return nil, errAt(name, "", "no phones (a header and no rows)")
	}
	return spec, spec.check()
}

// check refuses what no expansion could use: too many phones, parameter names the row's
// model does not have (a row without a model is checked when the fleet's model is known).
func (s *Spec) check() error {
	if n := s.Phones(); n > maxPhones {
		return fmt.Errorf("%w: %s: %d phones, at most %d", ErrFleetFile, s.File, n, maxPhones)
	}
	for _, r := range s.Rows {
		if r.Model == "" {
			continue
		}
		if err := r.checkNames(r.Model); err != nil {
			return err
		}
	}
	return nil
}

func (r *Row) checkNames(model string) error {
	m, err := config.LookupModel(model)
	if err != nil {
		return errAt(r.Where, "model", "%v", err)
	}
	cat := config.CatalogFor(m)
	for _, st := range r.Set {
		if _, ok := cat.Lookup(st.Name); !ok {
			return errAt(st.Where, "set."+st.Name, "%s has no parameter %q", m.Name, st.Name)
		}
	}
	return nil
}
