package sip

import (
	"strings"
	"testing"
)

// TestDialogInfoShapes: the seize document has the trace's shape (SPA-BEHAVIOUR §13.8): a
// partial dialog-info, version 0, one dialog trying as initiator whose local identity and
// target are the primary AOR with x-line-id; it reads back to what was written, and a
// document a server writes without the namespace reads too.
func TestDialogInfoShapes(t *testing.T) {
	seize := SharedState{Entity: "sip:5031@192.168.0.1", Dialogs: []SharedDialog{{ID: "d1", LineID: 0, State: "trying",
		Initiator: true, Local: "sip:5031@192.168.0.1"}}}
	b, err := MarshalDialogInfo(seize)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`xmlns="urn:ietf:params:xml:ns:dialog-info"`, `version="0"`, `state="partial"`,
		`entity="sip:5031@192.168.0.1"`, `<dialog id="d1" direction="initiator">`, `<state>trying</state>`,
		`<identity>sip:5031@192.168.0.1</identity>`, `<target uri="sip:5031@192.168.0.1">`,
		`<param pname="x-line-id" pvalue="0"></param>`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("seize document lacks %s:\n%s", want, b)
		}
	}
	got, err := ParseDialogInfo(b)
	if err != nil || got.Full || len(got.Dialogs) != 1 || got.Dialogs[0] != seize.Dialogs[0] {
		t.Errorf("read back %+v, %v; want %+v", got, err, seize)
	}
	held := `<?xml version="1.0"?><dialog-info version="3" state="full" entity="sip:5041@pbx">
<dialog id="x" call-id="c1" local-tag="lt" remote-tag="rt" direction="recipient"><state>confirmed</state>
<local><identity display="User-B">sip:5032@pbx</identity><target uri="sip:5032@pbx"><param pname="x-line-id" pvalue="1"/>
<param pname="+sip.rendering" pvalue="no"/></target></local>
<remote><identity>sip:100@pbx</identity><target uri="sip:100@10.0.0.9:5060"/></remote></dialog></dialog-info>`
	s, err := ParseDialogInfo([]byte(held))
	want := SharedDialog{ID: "x", LineID: 1, State: "confirmed", Held: true, CallID: "c1", LocalTag: "lt", RemoteTag: "rt",
		Local: "sip:5032@pbx", LocalDisplay: "User-B", Remote: "sip:100@pbx", RemoteTarget: "sip:100@10.0.0.9:5060"}
	if err != nil || !s.Full || s.Version != 3 || len(s.Dialogs) != 1 || s.Dialogs[0] != want {
		t.Errorf("held document read %+v, %v; want %+v", s, err, want)
	}
	for _, bad := range []string{"<dialog-info", `<dialog-info state="weird"/>`,
		`<dialog-info state="full"><dialog id="a"><state>ringing</state></dialog></dialog-info>`} {
		if _, err := ParseDialogInfo([]byte(bad)); err == nil {
			t.Errorf("ParseDialogInfo(%q) took it", bad)
		}
	}
}
