package provisioning

import (
	"reflect"
	"strings"
	"testing"

	"github.com/spa900/spa900/provisioning/config"
)

// TestCheckProfileLines: each element's fate, in document order, as the resync decides it.
func TestCheckProfileLines(t *testing.T) {
	m, err := config.LookupModel("SPA942")
	if err != nil {
		t.Fatal(err)
	}
	doc := "<flat-profile>\n<Station_Name>One</Station_Name>\n<Foo/>\n<Dial_Plan_1_ ua=\"rw\"/>\n" +
		"<Admin_Passwd>" + strings.Repeat("x", 2000) + "</Admin_Passwd>\n<Station_Name>Two</Station_Name>\n" +
		"<Line_Enable_1_>yes</Line_Enable_1_>\n<Foo>again</Foo>\n</flat-profile>\n"
	rep := CheckProfile(m, "p.xml", []byte(doc), ReadOptions{})
	want := []CheckLine{
		{Line: 2, Param: "Station_Name", Status: CheckOverridden, Reason: "line 6 sets it again"},
		{Line: 3, Param: "Foo", Status: CheckUnknown, Reason: "not a 5.1 parameter"},
		{Line: 4, Param: "Dial_Plan_1_", Status: CheckAccess, Access: "rw"},
		{Line: 5, Param: "Admin_Passwd", Status: CheckSkipped, Reason: "longer than 1023 characters"},
		{Line: 6, Param: "Station_Name", Status: CheckApplied, Value: "Two"},
		{Line: 7, Param: "Line_Enable_1_", Status: CheckApplied, Value: "Yes", Written: "yes"},
	}
	if !reflect.DeepEqual(rep.Lines, want) {
		t.Errorf("lines\n%+v\nwant\n%+v", rep.Lines, want)
	}
	if c := rep.Counts; c != (CheckCounts{Elements: 7, Applied: 2, Access: 1, Overridden: 1, Skipped: 1, Unknown: 1}) {
		t.Errorf("counts %+v", c)
	}
	if rep.Refused || rep.Verdict != "a SPA942 5.1 applies this profile: 2 values applied, 1 access change, 1 value skipped, 1 unknown name ignored" {
		t.Errorf("verdict %q (refused %v)", rep.Verdict, rep.Refused)
	}
	// Not a profile at all: refused, worded as $ERR, the detail in a note.
	rep = CheckProfile(m, "p.txt", []byte(`Station_Name "x" ;`), ReadOptions{})
	if !rep.Refused || rep.Error != "corrupt file" || len(rep.Lines) != 0 {
		t.Errorf("SPC source: %+v", rep)
	}
}
