package config

import (
	"fmt"
	"strings"
)

// Model describes one emulated phone model (SPA-BEHAVIOUR §10, DECISIONS 1).
type Model struct {
	// Name is the product name as $PN expands it, e.g. "SPA942".
	Name string
	// Series is the product series number as $PSN expands it, e.g. "942".
	Series string
	// Extensions is the number of extensions (and of line keys).
	Extensions int
	// Display reports whether the phone has an LCD (the SPA901 has none).
	Display bool
	// Sidecar reports whether the model takes SPA932 attendant consoles (SPA962 only).
	Sidecar bool
}

// HTTPName is the hyphenated model name used in the HTTP User-Agent, e.g. "SPA-942"
// (SPA-BEHAVIOUR §7.1).
func (m Model) HTTPName() string { return "SPA-" + m.Series }

// models is the constant table of supported models, in series order.
var models = [...]Model{
	{Name: "SPA901", Series: "901", Extensions: 1},
	{Name: "SPA921", Series: "921", Extensions: 1, Display: true},
	{Name: "SPA922", Series: "922", Extensions: 1, Display: true},
	{Name: "SPA941", Series: "941", Extensions: 4, Display: true},
	{Name: "SPA942", Series: "942", Extensions: 4, Display: true},
	{Name: "SPA962", Series: "962", Extensions: 6, Display: true, Sidecar: true},
}

// DefaultModel is the model a phone emulates unless told otherwise.
const DefaultModel = "SPA942"

// Models returns every supported model.
func Models() []Model { return append([]Model(nil), models[:]...) }

// LookupModel finds a model by name, case-insensitively ("spa942", "SPA942" or "942").
func LookupModel(name string) (Model, error) {
	for _, m := range models {
		if strings.EqualFold(name, m.Name) || name == m.Series {
			return m, nil
		}
	}
	names := make([]string, len(models))
	for i, m := range models {
		names[i] = m.Name
	}
	return Model{}, fmt.Errorf("%w: %q (known: %s)", ErrUnknownModel, name, strings.Join(names, ", "))
}
