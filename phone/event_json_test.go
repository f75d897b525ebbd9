package phone

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/spa900/spa900/provisioning/config"
)

// marshalEvent is the encoding appendEventJSON must give: json.Marshal of the Data fields with
// seq, time and kind.
func marshalEvent(e Event) ([]byte, error) {
	m := make(map[string]any, len(e.Data)+3)
	for k, v := range e.Data {
		m[k] = v
	}
	m["seq"] = e.Seq
	m["time"] = e.Time.UTC().Format(time.RFC3339Nano)
	m["kind"] = e.Kind
	return json.Marshal(m)
}

// tricky are strings every escape of encoding/json meets: quotes, backslashes, control
// characters with and without short escapes, HTML characters, invalid UTF-8, U+2028/9,
// multi-byte runes.
var tricky = []string{"", "plain", `"quoted" \back\`, "\b\f\n\r\t\x00\x01\x1f\x7f", "<a href='x'>&amp;</a>",
	"bad \xff utf8 \xc3", "sep \u2028 \u2029 end", "héllo wörld ☎ 𝄞", "</script>", "\xed\xa0\x80"}

func TestEventJSONIsMarshal(t *testing.T) {
	at := time.Date(2026, 12, 2, 3, 4, 5, 600700800, time.FixedZone("X", 3600))
	events := []Event{
		{Seq: 1, Time: at, Kind: EventBoot, Data: map[string]any{"boot_count": 3, "software": "5.1.10", "model": "SPA942", "mac": "000e08aabbcc"}},
		{Seq: math.MaxUint64, Time: time.Time{}, Kind: "k<&>", Data: map[string]any{}},
		{Seq: 7, Time: at, Kind: EventResyncResult, Data: map[string]any{"result": "success", "url": "http://h/spa$MA.xml?a=1&b=<2>",
			"err": "", "changed": []string{}, "prvst": -1, "warnings": []string(nil), "next_in_seconds": int64(60), "next": "periodic",
			"skipped": []config.Skipped{{Name: "X", Value: "<v>", Reason: "bad", Line: 3}}, "skipped_count": 1}},
		{Seq: 9, Time: at, Kind: EventCall, Data: map[string]any{"ratio": 0.1, "big": 1e21, "small": 1e-7, "u32": uint32(7), "i32": int32(-7),
			"u64": uint64(1 << 63), "nested": map[string]any{"b": 1, "a": []any{"x", nil, true}}, "nil": nil, "f": false, "t": true,
			"ptr": &at, "dur": 1500 * time.Millisecond}},
		// Fields named like the envelope's: the envelope wins, as the map copy made it.
		{Seq: 11, Time: at, Kind: EventDone, Data: map[string]any{"seq": "mine", "time": 5, "kind": "other", "op": "resync"}},
	}
	for _, s := range tricky {
		events = append(events, Event{Seq: 2, Time: at, Kind: s, Data: map[string]any{s: s, "list": []string{s, s + s}, "k" + s: 1}})
	}
	for _, e := range events {
		want, err := marshalEvent(e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.encode()
		if err != nil {
			t.Fatalf("%+v: %v", e, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("encoding differs from json.Marshal:\n got %s\nwant %s", got, want)
		}
	}
	if _, err := (Event{Data: map[string]any{"c": make(chan int)}}).encode(); err == nil {
		t.Error("an unencodable value: no error")
	}
	if _, err := (Event{Data: map[string]any{"nan": math.NaN()}}).encode(); err == nil {
		t.Error("NaN: no error")
	}
}

func FuzzEventJSON(f *testing.F) {
	for _, s := range tricky {
		f.Add(s, s, int64(len(s)))
	}
	f.Fuzz(func(t *testing.T, key, value string, n int64) {
		e := Event{Seq: uint64(n), Time: time.Unix(0, n), Kind: value, Data: map[string]any{key: value, "n": n, "list": []string{key, value}}}
		want, err := marshalEvent(e)
		if err != nil {
			t.Skip()
		}
		got, err := e.encode()
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("got %s, %v; want %s", got, err, want)
		}
	})
}
