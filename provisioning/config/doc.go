// Package config is the phone's configuration store: the parameter catalogue of each SPA 900
// model, immutable snapshots of parameter values and user access, all-or-nothing application of
// changes (with [Catalog.SkipInvalid] to leave out a profile's bad values first, as a resync
// does), the flat-profile XML the device reads and exports, in any character encoding, and the
// phone's persistent flash.
//
// It is a leaf: it imports nothing else from this module, and it is the only package that knows
// SPA parameter names. Everything else refers to them through the constants in names.go.
//
// Concurrency: a [Catalog] and a [Snapshot] are immutable and safe for concurrent use. A
// [FileFlash] serialises its own writes.
package config
