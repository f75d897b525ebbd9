package config

import (
	"fmt"
	"slices"
	"strconv"
)

// Snapshot is an immutable set of parameter values and user access for one model.
// The zero value is not usable; start from [NewSnapshot].
type Snapshot struct {
	cat    *Catalog
	values []string
	access []Access
}

// NewSnapshot returns the catalogue's factory defaults.
func NewSnapshot(cat *Catalog) *Snapshot {
	s := &Snapshot{cat: cat, values: make([]string, cat.Len()), access: make([]Access, cat.Len())}
	for i := range cat.params {
		s.values[i] = cat.params[i].Default
		s.access[i] = cat.params[i].Access
	}
	return s
}

// Catalog returns the snapshot's catalogue.
func (s *Snapshot) Catalog() *Catalog { return s.cat }

// Get returns a parameter's value, or "" for a name the model does not have.
func (s *Snapshot) Get(name string) string {
	if i, ok := s.cat.index[name]; ok {
		return s.values[i]
	}
	return ""
}

// Lookup returns a parameter's value and whether the model has it.
func (s *Snapshot) Lookup(name string) (string, bool) {
	i, ok := s.cat.index[name]
	if !ok {
		return "", false
	}
	return s.values[i], true
}

// ValueAt returns the value of the i-th catalogue parameter.
func (s *Snapshot) ValueAt(i int) string { return s.values[i] }

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
	if v := s.values[i]; v != "" {
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
	var problems []error
	values := slices.Clone(s.values)
	access := slices.Clone(s.access)
	for _, c := range changes {
		i, ok := s.cat.index[c.Name]
		if !ok {
			problems = append(problems, fmt.Errorf("%w: %s", ErrUnknownParam, c.Name))
			continue
		}
		p := &s.cat.params[i]
		if opts.User {
			if access[i] != AccessRW || c.Access != AccessUnset {
				problems = append(problems, &ParamError{Name: p.Name, Reason: "the user account may not change it", Err: ErrReadOnly})
				continue
			}
		}
		if c.SetValue {
			v, err := p.Normalize(c.Value)
			if err != nil {
				problems = append(problems, err)
				continue
			}
			values[i] = v
		}
		if c.Access != AccessUnset {
			access[i] = c.Access
		}
	}
	if len(problems) > 0 {
		return s, Diff{}, &ApplyError{Problems: problems}
	}
	d := s.diff(values, access)
	if d.Empty() {
		return s, d, nil
	}
	return &Snapshot{cat: s.cat, values: values, access: access}, d, nil
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
	return s.diff(next.values, next.access)
}

func (s *Snapshot) diff(values []string, access []Access) Diff {
	var d Diff
	for i := range values {
		if values[i] != s.values[i] {
			d.Values = append(d.Values, s.cat.params[i].Name)
		}
		if access[i] != s.access[i] {
			d.Access = append(d.Access, s.cat.params[i].Name)
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
		if s.values[i] != p.Default {
			values[p.Name] = s.values[i]
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
	s := NewSnapshot(cat)
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
		s.values[i] = nv
	}
	for name, a := range access {
		i, ok := cat.index[name]
		acc, valid := ParseAccess(a)
		if !ok || !valid {
			skipped = append(skipped, name)
			continue
		}
		s.access[i] = acc
	}
	slices.Sort(skipped)
	return s, slices.Compact(skipped)
}

// String summarises the snapshot for debugging, without any value.
func (s *Snapshot) String() string {
	return s.cat.model.Name + " snapshot of " + strconv.Itoa(len(s.values)) + " parameters"
}
