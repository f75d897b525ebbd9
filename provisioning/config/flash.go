package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/spa900/spa900/internal/jsonstr"
)

// Flash is what the phone keeps across reboots and power cuts: its identity, the firmware it
// runs, and the configuration values and accesses that differ from the factory defaults.
type Flash struct {
	Model     string `json:"model"`
	MAC       string `json:"mac"`
	Serial    string `json:"serial"`
	Software  string `json:"software"`
	Hardware  string `json:"hardware"`
	BootCount int    `json:"boot_count"`
	// Values and Access hold the configuration overrides (see Snapshot.Overrides).
	Values map[string]string `json:"values"`
	Access map[string]string `json:"access,omitempty"`
	// Upgrade keeps the state of the firmware upgrade machinery that survives a reboot.
	Upgrade UpgradeState `json:"upgrade,omitzero"`
}

// UpgradeState is the part of the upgrade bookkeeping kept in flash: the last URL attempted
// (loop protection, SPA-BEHAVIOUR §4.2), its result and what the next boot must report.
type UpgradeState struct {
	LastURL      string `json:"last_url,omitempty"`
	LastRule     string `json:"last_rule,omitempty"`
	LastError    string `json:"last_error,omitempty"`
	PreviousSW   string `json:"previous_sw,omitempty"`
	JustUpgraded bool   `json:"just_upgraded,omitempty"`
}

// flashVersion is the layout version of the flash file.
const flashVersion = 1

type flashFile struct {
	Version int `json:"version"`
	Flash
}

// FileFlash keeps a Flash in one file, the layout a user reads by hand. Saves are atomic: the
// new content is written to a temporary file in the same directory, synced, and renamed over
// the old one, and the directory is synced, so a power cut at any instant leaves either the
// old or the new flash.
//
// [FileFlash.Commit] saves off the caller's goroutine: commits of one flash are written in
// order, and those that pile up while a save runs are coalesced into one write of the
// latest. The flashes of a [FileFlashes] share a bound on the saves running at once.
type FileFlash struct {
	// Immutable after NewFileFlash.
	path  string
	limit chan struct{} // shared bound on concurrent saves; nil: none

	mu      sync.Mutex // serialises Save
	dirMade bool       // guarded by mu: the directory exists (created once)

	cmu     sync.Mutex // guards the commit queue
	next    []byte     // the latest committed document not yet being written
	waiters []func(error)
	running bool // a flusher goroutine runs
}

// NewFileFlash returns the flash kept at path. The directory is created on first save.
func NewFileFlash(path string) *FileFlash { return &FileFlash{path: path} }

// FileFlashes makes the file flashes of a fleet: their background saves share one bound, so
// that ten thousand phones saving at once keep a few system threads busy, not ten thousand.
type FileFlashes struct {
	limit chan struct{}
}

// NewFileFlashes returns a maker of file flashes that run at most parallel saves at once
// (parallel < 1 means 16: enough to keep the journal of a local disk busy, measured by
// BenchmarkFlashCommit).
func NewFileFlashes(parallel int) *FileFlashes {
	if parallel < 1 {
		parallel = 16
	}
	return &FileFlashes{limit: make(chan struct{}, parallel)}
}

// Flash returns the flash kept at path.
func (m *FileFlashes) Flash(path string) *FileFlash { return &FileFlash{path: path, limit: m.limit} }

// Path returns the flash file's path.
func (f *FileFlash) Path() string { return f.path }

// Load reads the flash. It returns ErrNoFlash when none was ever saved.
func (f *FileFlash) Load() (*Flash, error) {
	data, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoFlash
	}
	if err != nil {
		return nil, fmt.Errorf("read flash: %w", err)
	}
	return DecodeFlash(data, f.path)
}

// RemoveStale deletes the temporary files of saves that a power cut interrupted. They are
// never read as flash; call it when no other process writes this flash.
func (f *FileFlash) RemoveStale() error {
	stale, err := filepath.Glob(filepath.Join(filepath.Dir(f.path), ".flash-*"))
	if err != nil {
		return err
	}
	for _, name := range stale {
		if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove stale flash file: %w", err)
		}
	}
	return nil
}

// Save writes the flash atomically and returns when it is durable. It is ordered with the
// commits made before it.
func (f *FileFlash) Save(fl *Flash) error {
	data, err := EncodeFlash(fl)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	f.commitData(data, func(err error) { done <- err })
	return <-done
}

// Commit saves the flash in the background and calls done once it is durable (or failed),
// on another goroutine; done must not block. Commits are written in the order they were
// made; one made while an earlier save runs may be merged with later ones into one write of
// the latest, whose durability answers them all.
func (f *FileFlash) Commit(fl *Flash, done func(error)) {
	data, err := EncodeFlash(fl)
	if err != nil {
		go done(err)
		return
	}
	f.commitData(data, done)
}

func (f *FileFlash) commitData(data []byte, done func(error)) {
	f.cmu.Lock()
	defer f.cmu.Unlock()
	f.next = data
	f.waiters = append(f.waiters, done)
	if !f.running {
		f.running = true
		go f.flush()
	}
}

// flush writes the queued documents until none is left.
func (f *FileFlash) flush() {
	for {
		f.cmu.Lock()
		data, waiters := f.next, f.waiters
		f.next, f.waiters = nil, nil
		if waiters == nil {
			f.running = false
			f.cmu.Unlock()
			return
		}
		f.cmu.Unlock()
		if f.limit != nil {
			f.limit <- struct{}{}
		}
		err := f.write(data)
		if f.limit != nil {
			<-f.limit
		}
		for _, w := range waiters {
			w(err)
		}
	}
}

// CountBoot keeps fl after its boot count changed: one file holds the whole flash, so it is
// saved whole.
func (f *FileFlash) CountBoot(fl *Flash) error { return f.Save(fl) }

// EncodeFlash returns the document a flash is kept as: the JSON of flash.json, byte for byte
// what json.MarshalIndent(flashFile, "", " ") writes, and a newline. It is written here
// rather than by reflection: a fleet's phones save their flashes at every boot storm, and
// the reflective encoder (the values' keys sorted through reflect.Value, then an indenting
// pass) was 6% of a storm's CPU.
func EncodeFlash(fl *Flash) ([]byte, error) {
	return appendFlash(make([]byte, 0, flashDocSize(fl)), fl), nil
}

// flashDocSize is about the length of fl's document, to make its buffer once.
func flashDocSize(fl *Flash) int {
	n := 256 + len(fl.Model) + len(fl.MAC) + len(fl.Serial) + len(fl.Software) + len(fl.Hardware)
	for k, v := range fl.Values {
		n += len(k) + len(v) + 10
	}
	for k, v := range fl.Access {
		n += len(k) + len(v) + 10
	}
	u := fl.Upgrade
	return n + len(u.LastURL) + len(u.LastRule) + len(u.LastError) + len(u.PreviousSW)
}

// appendFlash appends fl's document (see EncodeFlash): flashFile's fields in their order,
// one a line, indented by a space a level; maps with their keys sorted; omitempty and
// omitzero fields left out as encoding/json leaves them.
func appendFlash(dst []byte, fl *Flash) []byte {
	dst = append(dst, "{\n \"version\": "...)
	dst = strconv.AppendInt(dst, flashVersion, 10)
	for _, f := range [...]struct{ name, v string }{
		{"model", fl.Model}, {"mac", fl.MAC}, {"serial", fl.Serial}, {"software", fl.Software}, {"hardware", fl.Hardware},
	} {
		dst = append(dst, ",\n \""...)
		dst = append(dst, f.name...)
		dst = append(dst, "\": "...)
		dst = jsonstr.Append(dst, f.v)
	}
	dst = append(dst, ",\n \"boot_count\": "...)
	dst = strconv.AppendInt(dst, int64(fl.BootCount), 10)
	dst = append(dst, ",\n \"values\": "...)
	dst = appendJSONMap(dst, fl.Values)
	if len(fl.Access) > 0 {
		dst = append(dst, ",\n \"access\": "...)
		dst = appendJSONMap(dst, fl.Access)
	}
	if u := fl.Upgrade; u != (UpgradeState{}) {
		dst = append(dst, ",\n \"upgrade\": {"...)
		first := true
		field := func(name string) {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = append(dst, "\n  \""...)
			dst = append(dst, name...)
			dst = append(dst, "\": "...)
		}
		for _, f := range [...]struct{ name, v string }{
			{"last_url", u.LastURL}, {"last_rule", u.LastRule}, {"last_error", u.LastError}, {"previous_sw", u.PreviousSW},
		} {
			if f.v != "" {
				field(f.name)
				dst = jsonstr.Append(dst, f.v)
			}
		}
		if u.JustUpgraded {
			field("just_upgraded")
			dst = append(dst, "true"...)
		}
		dst = append(dst, "\n }"...)
	}
	return append(dst, "\n}\n"...)
}

// appendJSONMap appends m as an object of the second level, its keys sorted as
// encoding/json sorts them (byte by byte); nil is null, empty is {}.
func appendJSONMap(dst []byte, m map[string]string) []byte {
	if m == nil {
		return append(dst, "null"...)
	}
	if len(m) == 0 {
		return append(dst, "{}"...)
	}
	var arr [64]string
	keys := arr[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, "\n  "...)
		dst = jsonstr.Append(dst, k)
		dst = append(dst, ": "...)
		dst = jsonstr.Append(dst, m[k])
	}
	return append(dst, "\n }"...)
}

// clone returns a copy of fl with maps of its own.
func (fl *Flash) clone() *Flash {
	c := *fl
	c.Values, c.Access = maps.Clone(fl.Values), maps.Clone(fl.Access)
	return &c
}

// decodedClone returns what DecodeFlash makes of EncodeFlash(fl), without the JSON: a copy
// with maps of its own, an empty Access as none (omitted from the document). It returns nil
// when a string is not valid UTF-8 (the encoding replaces its bad bytes).
func (fl *Flash) decodedClone() *Flash {
	u := fl.Upgrade
	for _, s := range [...]string{fl.Model, fl.MAC, fl.Serial, fl.Software, fl.Hardware,
		u.LastURL, u.LastRule, u.LastError, u.PreviousSW} {
		if !utf8.ValidString(s) {
			return nil
		}
	}
	for _, m := range [...]map[string]string{fl.Values, fl.Access} {
		for k, v := range m {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return nil
			}
		}
	}
	c := fl.clone()
	if len(c.Access) == 0 {
		c.Access = nil
	}
	return c
}

// DecodeFlash reads a document written by [EncodeFlash]; where names the flash in errors.
func DecodeFlash(data []byte, where string) (*Flash, error) {
	var ff flashFile
	if err := json.Unmarshal(data, &ff); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorruptFlash, where, err)
	}
	if ff.Version != flashVersion {
		return nil, fmt.Errorf("%w: %s: layout version %d, want %d", ErrCorruptFlash, where, ff.Version, flashVersion)
	}
	return &ff.Flash, nil
}

// write replaces the file with data: temporary file, sync, rename, directory sync.
func (f *FileFlash) write(data []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	dir := filepath.Dir(f.path)
	if !f.dirMade {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("save flash: %w", err)
		}
		f.dirMade = true
	}
	tmp, err := os.CreateTemp(dir, ".flash-*")
	if err != nil {
		return fmt.Errorf("save flash: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("save flash: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save flash: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save flash: %w", err)
	}
	if err := os.Rename(tmp.Name(), f.path); err != nil {
		return fmt.Errorf("save flash: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return fmt.Errorf("save flash: sync directory: %w", err)
		}
	}
	return nil
}

// MoveAside renames a flash that cannot be read to "<path>.corrupt-<UTC time>" beside it,
// kept for forensics, and returns the new path and the identity fields that could be read
// from it (model, mac, serial, software, hardware, boot_count; whatever parsed before the
// damage, see [SalvageFlash]). The configuration is not salvaged: half of a configuration
// is not one the owner made.
func (f *FileFlash) MoveAside(now time.Time) (string, Flash, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	data, err := os.ReadFile(f.path)
	if err != nil {
		return "", Flash{}, fmt.Errorf("move flash aside: %w", err)
	}
	base := f.path + ".corrupt-" + now.UTC().Format("20060102T150405Z")
	to := base
	for i := 1; ; i++ {
		if _, err := os.Lstat(to); errors.Is(err, fs.ErrNotExist) {
			break
		}
		to = fmt.Sprintf("%s-%d", base, i)
	}
	if err := os.Rename(f.path, to); err != nil {
		return "", Flash{}, fmt.Errorf("move flash aside: %w", err)
	}
	if d, err := os.Open(filepath.Dir(f.path)); err == nil {
		d.Sync()
		d.Close()
	}
	return to, SalvageFlash(data), nil
}

// SalvageFlash reads what it can of the identity of a damaged flash file: the top-level
// model, mac, serial, software, hardware and boot_count that come before the damage (a
// truncated file keeps its head, where the identity is written). Fields that cannot be read
// are left empty; nothing is validated here.
func SalvageFlash(data []byte) Flash {
	var fl Flash
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fl
	}
	for {
		key, err := dec.Token()
		if err != nil {
			return fl
		}
		name, ok := key.(string)
		if !ok {
			return fl
		}
		val, err := dec.Token()
		if err != nil {
			return fl
		}
		if _, ok := val.(json.Delim); ok { // an object or array: skip it whole
			if !skipJSON(dec) {
				return fl
			}
			continue
		}
		s, _ := val.(string)
		switch name {
		case "model":
			fl.Model = s
		case "mac":
			fl.MAC = s
		case "serial":
			fl.Serial = s
		case "software":
			fl.Software = s
		case "hardware":
			fl.Hardware = s
		case "boot_count":
			if n, ok := val.(json.Number); ok {
				if i, err := n.Int64(); err == nil && i >= 0 && i < 1<<31 {
					fl.BootCount = int(i)
				}
			}
		}
	}
}

// skipJSON reads past the rest of the object or array just opened.
func skipJSON(dec *json.Decoder) bool {
	depth := 1
	for depth > 0 {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return true
}
