package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSalvageFlash(t *testing.T) {
	whole := `{"version": 1, "model": "SPA962", "mac": "000E08AABBCC", "serial": "88012BA01234",
 "software": "5.1.18", "hardware": "1.0.5(0617)", "boot_count": 41, "values": {"GPP_A": "x"}, "access": {}}`
	tests := []struct {
		name string
		data string
		want Flash
	}{
		{"whole", whole, Flash{Model: "SPA962", MAC: "000E08AABBCC", Serial: "88012BA01234", Software: "5.1.18", Hardware: "1.0.5(0617)", BootCount: 41}},
		{"truncated in the values", whole[:strings.Index(whole, `"x"`)], Flash{Model: "SPA962", MAC: "000E08AABBCC", Serial: "88012BA01234", Software: "5.1.18", Hardware: "1.0.5(0617)", BootCount: 41}},
		{"truncated in the identity", whole[:strings.Index(whole, `"serial"`)], Flash{Model: "SPA962", MAC: "000E08AABBCC"}},
		{"values first", `{"values": {"a": {"b": [1, 2]}}, "mac": "000E08AABBCC"`, Flash{MAC: "000E08AABBCC"}},
		{"garbage", "\x00\x01\xff garbage", Flash{}},
		{"not an object", `["mac", "000E08AABBCC"]`, Flash{}},
		{"wrong types", `{"mac": 12, "boot_count": "x", "model": {"a": 1}, "serial": "S"}`, Flash{Serial: "S"}},
		{"empty", "", Flash{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SalvageFlash([]byte(tt.data))
			if got.Model != tt.want.Model || got.MAC != tt.want.MAC || got.Serial != tt.want.Serial ||
				got.Software != tt.want.Software || got.Hardware != tt.want.Hardware || got.BootCount != tt.want.BootCount ||
				got.Values != nil {
				t.Errorf("SalvageFlash = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestFlashMoveAside(t *testing.T) {
	dir := t.TempDir()
	f := NewFileFlash(filepath.Join(dir, "flash.json"))
	bad := []byte(`{"version": 1, "mac": "000E08AABBCC", "values": {"GPP_A": "x`)
	at := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	for i, want := range []string{"flash.json.corrupt-20260203T040506Z", "flash.json.corrupt-20260203T040506Z-1"} {
		if err := os.WriteFile(f.Path(), bad, 0o644); err != nil {
			t.Fatal(err)
		}
		moved, fl, err := f.MoveAside(at)
		if err != nil {
			t.Fatalf("MoveAside %d: %v", i, err)
		}
		if filepath.Base(moved) != want || fl.MAC != "000E08AABBCC" {
			t.Errorf("MoveAside %d = %s, %+v; want %s with the MAC", i, moved, fl, want)
		}
		if kept, err := os.ReadFile(moved); err != nil || string(kept) != string(bad) {
			t.Errorf("the damaged file was not kept as it was: %q, %v", kept, err)
		}
		if _, err := f.Load(); err != ErrNoFlash {
			t.Errorf("Load after MoveAside: %v, want ErrNoFlash", err)
		}
	}
}
