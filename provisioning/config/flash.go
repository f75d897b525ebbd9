package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
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
