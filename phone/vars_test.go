package phone

import (
	"strconv"
	"testing"

	"github.com/spa900/spa900/provisioning"
	"github.com/spa900/spa900/provisioning/config"
)

// TestFillConfigVars: the configuration's macros of every model, $UID1… one per extension
// from its User_ID_n_, $A and $SA from GPP_A and GPP_SA; a second fill from another
// configuration replaces them all.
func TestFillConfigVars(t *testing.T) {
	for _, m := range config.Models() {
		t.Run(m.Name, func(t *testing.T) {
			cat := config.CatalogFor(m)
			fill := func(v *provisioning.Vars, tag string) {
				t.Helper()
				changes := []config.Change{config.Set("GPP_A", "a"+tag), config.Set("GPP_SA", "sa"+tag)}
				for n := 1; n <= m.Extensions; n++ {
					changes = append(changes, config.Set(config.ExtName(config.UserID, n), tag+strconv.Itoa(n)))
				}
				snap, _, err := config.NewSnapshot(cat).Apply(changes, config.ApplyOptions{})
				if err != nil {
					t.Fatal(err)
				}
				fillConfigVars(v, snap)
				if len(v.UID) != m.Extensions {
					t.Fatalf("%d $UIDn, want %d", len(v.UID), m.Extensions)
				}
				for n, got := range v.UID {
					if want := tag + strconv.Itoa(n+1); got != want {
						t.Errorf("$UID%d = %q, want %q", n+1, got, want)
					}
				}
				if v.GPP[0] != "a"+tag || v.GPPSecret[0] != "sa"+tag {
					t.Errorf("$A = %q, $SA = %q; want a%s, sa%s", v.GPP[0], v.GPPSecret[0], tag, tag)
				}
			}
			var v provisioning.Vars
			fill(&v, "x")
			fill(&v, "y")
		})
	}
}
