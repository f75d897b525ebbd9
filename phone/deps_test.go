package phone

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyDirection enforces DESIGN.md's layering: cmd → webui → phone → {sip, media,
// provisioning} → provisioning/config. The compiler forbids cycles; this forbids drift.
func TestDependencyDirection(t *testing.T) {
	const mod = "github.com/spa900/spa900/"
	// allowed lists, per package, the in-module packages it may import.
	allowed := map[string][]string{
		// jsonstr writes JSON strings as encoding/json does, for encoders written by hand; a
		// leaf of its own, so that the config store imports nothing else in-module.
		"internal/jsonstr":                         {},
		"provisioning/config":                      {"internal/jsonstr"},
		"provisioning/config/internal/exporttable": {},
		"provisioning/config/internal/gencatalog":  {"provisioning/config/internal/exporttable"},
		"provisioning/firmware":                    {},
		"provisioning":                             {"provisioning/config", "provisioning/firmware"},
		"provisioning/provtest":                    {"provisioning", "provisioning/config", "provisioning/firmware"},
		"sip":                                      {},
		// siptest starts SIP peers for tests; peer processes are provtest's (one place for
		// them), which imports nothing in-module.
		"sip/siptest":    {"provisioning/provtest"},
		"media":          {},
		"phone/dialplan": {},
		"phone":          {"sip", "media", "provisioning", "provisioning/config", "provisioning/firmware", "phone/dialplan", "internal/jsonstr"},
		"webui":          {"phone", "provisioning/config"},
		"deploy":         {}, // tests of the image and manifests only
		"metrics":        {"phone", "webui"},
		"fleetfile":      {"provisioning/config"},
		// testlog is the tests' logger (imported by _test files only), importing nothing in-module.
		"internal/testlog": {},
		// mediatest holds checks of recorded audio for tests (imported by _test files only).
		"media/mediatest": {},
		// lab: the peers of spa900 lab (a registrar, a provisioning server); peers of the
		// phones, never parts of them.
		"lab": {"fleetfile", "provisioning/config"},
	}
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, mod+"...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], mod)
		if strings.HasPrefix(pkg, "cmd/") {
			continue // wiring may import anything
		}
		ok, known := allowed[pkg]
		if !known {
			t.Errorf("package %s has no place in the layering: add it to this test with the imports DESIGN.md allows", pkg)
			continue
		}
		for _, imp := range fields[1:] {
			dep, inModule := strings.CutPrefix(imp, mod)
			if !inModule {
				continue
			}
			if !contains(ok, dep) {
				t.Errorf("%s imports %s, against the dependency direction of DESIGN.md", pkg, dep)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
