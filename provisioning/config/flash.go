package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
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

// FileFlash keeps a Flash in one file. Saves are atomic: the new content is written to a
// temporary file in the same directory, synced, and renamed over the old one, and the directory
// is synced, so a power cut at any instant leaves either the old or the new flash.
type FileFlash struct {
	path string
	mu   sync.Mutex // serialises Save
}

// NewFileFlash returns the flash kept at path. The directory is created on first save.
func NewFileFlash(path string) *FileFlash { return &FileFlash{path: path} }

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
	var ff flashFile
	if err := json.Unmarshal(data, &ff); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorruptFlash, f.path, err)
	}
	if ff.Version != flashVersion {
		return nil, fmt.Errorf("%w: %s: layout version %d, want %d", ErrCorruptFlash, f.path, ff.Version, flashVersion)
	}
	return &ff.Flash, nil
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

// Save writes the flash atomically.
func (f *FileFlash) Save(fl *Flash) error {
	data, err := json.MarshalIndent(flashFile{Version: flashVersion, Flash: *fl}, "", " ")
	if err != nil {
		return fmt.Errorf("encode flash: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	dir := filepath.Dir(f.path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save flash: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".flash-*")
	if err != nil {
		return fmt.Errorf("save flash: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(append(data, '\n')); err != nil {
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
