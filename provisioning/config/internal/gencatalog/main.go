// Command gencatalog derives the SPA962 parameter table (catalog_spa962.tsv) from a real
// /admin/spacfg.xml export of an SPA962 on firmware 5.1.15(aSC).
//
// Each element of the export becomes one row: name, group ("Tab/Section") and the exported
// value, tab separated, in the export's order. Values are kept exactly as exported; the factory
// defaults that differ from the export (the previous owner's settings) are corrected at run time
// by the table in catalog_rules.go, so the correction stays visible and tested.
//
// Usage (from provisioning/config): go run ./internal/gencatalog testdata/spa962-5.1.15-export.xml > catalog_spa962.tsv
package main

import (
	"fmt"
	"os"

	"github.com/spa900/spa900/provisioning/config/internal/exporttable"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gencatalog EXPORT.xml")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out, err := exporttable.Generate(data)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Stdout.Write(out)
}
