package config

import (
	"fmt"
	"slices"
	"strconv"
)

// Snapshot is an immutable set of parameter values and user access for one model.
// The zero value is not usable; start from [NewSnapshot].
//
// Snapshots share what they have in common: values are kept in chunks of 64 that a new
// snapshot takes from the one it was made of and copies only where it changes them, and the
// accesses are shared until one changes. A fleet of phones that differ from the factory in a
// few values holds one copy of the rest (a snapshot of an SPA942 is about 1,300 values).
type Snapshot struct {
	cat    *Catalog
	values [][]string // chunks of chunkSize values; never written once the snapshot is made
	access []Access   // never written once the snapshot is made
}

// chunkSize is how many values a chunk of a snapshot holds.
const chunkSize = 64

// NewSnapshot returns the catalogue's factory defaults.
func NewSnapshot(cat *Catalog) *Snapshot {
	return &Snapshot{cat: cat, values: cat.defaults, access: cat.defaultsAccess}
}

// val returns the i-th value.
func (s *Snapshot) val(i int) string { return s.values[i/chunkSize][i%chunkSize] }

// builder makes a snapshot from another, copying a chunk (or the accesses) the first time it
// changes it.
type builder struct {
	values      [][]string
	access      []Access
	owned       []bool // chunks copied already
	accessOwned bool
}

func newBuilder(s *Snapshot) *builder {
	return &builder{values: slices.Clone(s.values), access: s.access, owned: make([]bool, len(s.values))}
}

func (b *builder) get(i int) string { return b.values[i/chunkSize][i%chunkSize] }

func (b *builder) set(i int, v string) {
	c := i / chunkSize
	if b.values[c][i%chunkSize] == v {
		return
	}
	if !b.owned[c] {
		b.values[c] = slices.Clone(b.values[c])
		b.owned[c] = true
	}
	b.values[c][i%chunkSize] = v
}

func (b *builder) setAccess(i int, a Access) {
	if b.access[i] == a {
		return
	}
	if !b.accessOwned {
		b.access = slices.Clone(b.access)
		b.accessOwned = true
	}
	b.access[i] = a
}

// Catalog returns the snapshot's catalogue.
func (s *Snapshot) Catalog() *Catalog { return s.cat }

// Get returns a parameter's value, or "" for a name the model does not have.
func (s *Snapshot) Get(name string) string {
	if i, ok := s.cat.index[name]; ok {
		return s.val(i)
	}
	return ""
}

// Lookup returns a parameter's value and whether the model has it.
func (s *Snapshot) Lookup(name string) (string, bool) {
	i, ok := s.cat.index[name]
	if !ok {
		return "", false
	}
	return s.val(i), true
}

// ValueAt returns the value of the i-th catalogue parameter.
func (s *Snapshot) ValueAt(i int) string { return s.val(i) }

// AccessAt returns the user access of the i-th catalogue parameter.
func (s *Snapshot) AccessAt(i int) Access { return s.access[i] }

// Access returns the user account's access to a parameter (AccessNA for unknown names).
func (s *Snapshot) Access(name string) Access {
	if i, ok := s.cat.index[name]; ok {
		return s.access[i]
	}
	return AccessNA
}

// effective returns the value, or the default when the value is empty (§8.8).
func (s *Snapshot) effective(name string) string {
	i, ok := s.cat.index[name]
	if !ok {
		return ""
	}
	if v := s.val(i); v != "" {
		return v
	}
	return s.cat.params[i].Default
}

// Bool reports whether a Yes/No parameter is Yes; an empty value reads as its default.
func (s *Snapshot) Bool(name string) bool { return s.effective(name) == "Yes" }

// Int returns an integer parameter; an empty value reads as its default, and a value that is
// not a number reads as 0.
func (s *Snapshot) Int(name string) int64 {
	n, err := parseInt(s.effective(name))
	if err != nil {
		return 0
	}
	return n
}

// Change is one requested change of a parameter.
type Change struct {
	Name string
	// Value is the new value when SetValue is true. A profile's empty element <X/> changes no
	// value (SPA-BEHAVIOUR §1.1): SetValue is false.
	Value    string
	SetValue bool
	// Access is the new user access; AccessUnset leaves it.
	Access Access
	// Line is the line of the profile element the change comes from; 0 for changes made
	// elsewhere (web form, API, --set).
	Line int
}

// Set returns a change that sets a value.
func Set(name, value string) Change { return Change{Name: name, Value: value, SetValue: true} }

// Diff names what an apply changed, in catalogue order.
type Diff struct {
	Values []string // parameters whose value changed
	Access []string // parameters whose user access changed
}

// Empty reports whether nothing changed.
func (d Diff) Empty() bool { return len(d.Values) == 0 && len(d.Access) == 0 }

// ApplyOptions says on whose behalf changes are made.
type ApplyOptions struct {
	// User applies as the user account: only parameters with rw access may change, and
	// access itself may not.
	User bool
}

// Apply validates every change and returns the new snapshot and what changed. On any error
// nothing changes: the receiver is untouched and the error lists every problem
// ([ApplyError]). Later changes of the same parameter win (SPA-BEHAVIOUR §1.1).
func (s *Snapshot) Apply(changes []Change, opts ApplyOptions) (*Snapshot, Diff, error) {
	next, d, _, _, err := s.apply(changes, opts, false)
	return next, d, err
}

// ApplyValid is [Catalog.SkipInvalid] and then Apply, as a resync reads a profile
// (DECISIONS 8), with every value checked once: a value its parameter cannot take is left
// out and returned in skipped (its change keeps its user access), and the rest applies.
// valid is changes without what was skipped: changes itself when nothing was. Other
// problems (a name the catalogue does not have, the user account's rights) fail the whole,
// as in Apply.
func (s *Snapshot) ApplyValid(changes []Change, opts ApplyOptions) (next *Snapshot, d Diff, valid []Change, skipped []Skipped, err error) {
	return s.apply(changes, opts, true)
}

func (s *Snapshot) apply(changes []Change, opts ApplyOptions, skip bool) (*Snapshot, Diff, []Change, []Skipped, error) {
	var (
		problems []error
		valid    []Change // nil while every change is valid: then changes itself
		skipped  []Skipped
	)
	b := newBuilder(s)
	for k, c := range changes {
		i, ok := s.cat.index[c.Name]
		if !ok {
			problems = append(problems, fmt.Errorf("%w: %s", ErrUnknownParam, c.Name))
			continue
		}
		p := &s.cat.params[i]
		if opts.User {
			if b.access[i] != AccessRW || c.Access != AccessUnset {
				problems = append(problems, &ParamError{Name: p.Name, Reason: "the user account may not change it", Err: ErrReadOnly})
				continue
			}
		}
		if c.SetValue {
			v, err := p.Normalize(c.Value)
			if err != nil && !skip {
				problems = append(problems, err)
				continue
			}
			if err != nil {
				if valid == nil {
					valid = append(make([]Change, 0, len(changes)-1), changes[:k]...)
				}
				skipped = append(skipped, skippedValue(p, c, err))
				if c.Access != AccessUnset {
					valid = append(valid, Change{Name: c.Name, Access: c.Access, Line: c.Line})
					b.setAccess(i, c.Access)
				}
				continue
			}
			b.set(i, v)
		}
		if c.Access != AccessUnset {
			b.setAccess(i, c.Access)
		}
		if valid != nil {
			valid = append(valid, c)
		}
	}
	if valid == nil {
		valid = changes
	}
	if len(problems) > 0 {
		return s, Diff{}, valid, skipped, &ApplyError{Problems: problems}
	}
	next := &Snapshot{cat: s.cat, values: b.values, access: b.access}
	d := s.Diff(next)
	if d.Empty() {
		return s, d, valid, skipped, nil
	}
	return next, d, valid, skipped, nil
}

// Diff names what differs from s to next, as [Snapshot.Apply] would have named it: for a
// snapshot made from s by applying changes, the changes need not be applied again to know.
// Snapshots of different catalogues differ in everything.
func (s *Snapshot) Diff(next *Snapshot) Diff {
	if next.cat != s.cat {
		var d Diff
		for i := range s.cat.params {
			d.Values = append(d.Values, s.cat.params[i].Name)
		}
		return d
	}
	var d Diff
	for c := range s.values {
		a, b := s.values[c], next.values[c]
		if &a[0] == &b[0] {
			continue // the same chunk: nothing in it differs
		}
		for j := range a {
			if a[j] != b[j] {
				d.Values = append(d.Values, s.cat.params[c*chunkSize+j].Name)
			}
		}
	}
	if len(s.access) > 0 && &s.access[0] != &next.access[0] {
		for i := range s.access {
			if s.access[i] != next.access[i] {
				d.Access = append(d.Access, s.cat.params[i].Name)
			}
		}
	}
	return d
}

// Overrides returns the values and accesses that differ from the factory defaults, keyed by
// name: what the flash must keep.
func (s *Snapshot) Overrides() (values map[string]string, access map[string]string) {
	values, access = map[string]string{}, map[string]string{}
	for i := range s.cat.params {
		p := &s.cat.params[i]
		if v := s.val(i); v != p.Default {
			values[p.Name] = v
		}
		if s.access[i] != p.Access {
			access[p.Name] = s.access[i].String()
		}
	}
	return values, access
}

// FromOverrides rebuilds a snapshot from the output of [Snapshot.Overrides]. Names the model
// does not have and values it cannot take are skipped and returned, so a flash written by
// another model or release still boots.
func FromOverrides(cat *Catalog, values, access map[string]string) (*Snapshot, []string) {
	return fromOverrides(newBuilder(NewSnapshot(cat)), cat, values, access)
}

// FromOverridesOn is [FromOverrides] made on base, a snapshot of the same catalogue (a unit's
// factory defaults, which a fleet's units share): the snapshot it returns is the same, value
// for value, but it shares with base every chunk in which it holds base's values, so that ten
// thousand phones whose flashes repeat the fleet's --set values hold those chunks once.
// A base of another catalogue is not used.
func FromOverridesOn(base *Snapshot, cat *Catalog, values, access map[string]string) (*Snapshot, []string) {
	if base == nil || base.cat != cat {
		return FromOverrides(cat, values, access)
	}
	b := newBuilder(base)
	// What base changed from the factory and the flash does not keep goes back to the
	// factory's: the flash holds every value that differs from it.
	for c, chunk := range base.values {
		def := cat.defaults[c]
		if &chunk[0] == &def[0] {
			continue
		}
		for j := range chunk {
			i := c*chunkSize + j
			if chunk[j] == def[j] {
				continue
			}
			if _, kept := values[cat.params[i].Name]; !kept {
				b.set(i, def[j])
			}
		}
	}
	if len(base.access) > 0 && &base.access[0] != &cat.defaultsAccess[0] {
		for i, a := range base.access {
			if a == cat.defaultsAccess[i] {
				continue
			}
			if _, kept := access[cat.params[i].Name]; !kept {
				b.setAccess(i, cat.defaultsAccess[i])
			}
		}
	}
	return fromOverrides(b, cat, values, access)
}

func fromOverrides(b *builder, cat *Catalog, values, access map[string]string) (*Snapshot, []string) {
	var skipped []string
	for name, v := range values {
		i, ok := cat.index[name]
		if !ok {
			skipped = append(skipped, name)
			continue
		}
		nv, err := cat.params[i].Normalize(v)
		if err != nil {
			skipped = append(skipped, name)
			continue
		}
		b.set(i, nv)
	}
	for name, a := range access {
		i, ok := cat.index[name]
		acc, valid := ParseAccess(a)
		if !ok || !valid {
			skipped = append(skipped, name)
			continue
		}
		b.setAccess(i, acc)
	}
	slices.Sort(skipped)
	return &Snapshot{cat: cat, values: b.values, access: b.access}, slices.Compact(skipped)
}

// String summarises the snapshot for debugging, without any value.
func (s *Snapshot) String() string {
	return s.cat.model.Name + " snapshot of " + strconv.Itoa(s.cat.Len()) + " parameters"
}
