package phone

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
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
		{Seq: 8, Time: at, Kind: EventResyncResult, Data: map[string]any{"result": "success", "skipped": []config.Skipped{}, "skipped_count": 0,
			"none": []config.Skipped(nil)}},
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

// TestEventJSONLenIsTheEncoding: the length counted for an event of countable values is the
// length of its encoding, for random events (every countable kind, the tricky strings, the
// envelope's names among the fields, times in zones, without fractions, far off), and the
// count declines what it does not count.
func TestEventJSONLenIsTheEncoding(t *testing.T) {
	rnd := rand.New(rand.NewPCG(12, 2026))
	str := func() string {
		s := ""
		for range rnd.IntN(3) {
			s += tricky[rnd.IntN(len(tricky))]
		}
		return s
	}
	times := []time.Time{{}, time.Date(2026, 12, 2, 3, 4, 5, 0, time.UTC), time.Date(2026, 12, 2, 3, 4, 5, 600700800, time.FixedZone("X", 3600)),
		time.Date(2026, 1, 2, 3, 4, 5, 1, time.Local), time.Date(12026, 1, 2, 3, 4, 5, 120000000, time.UTC), time.Unix(0, 0),
		time.Date(-5, 1, 2, 3, 4, 5, 7, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.FixedZone("Y", -7200)),
		time.Date(2026, 3, 4, 5, 6, 7, 100, time.UTC), time.Date(2026, 3, 4, 5, 6, 7, 100000, time.UTC)}
	value := func() any {
		switch rnd.IntN(13) {
		case 0:
			return nil
		case 1:
			return rnd.IntN(2) == 0
		case 2:
			return int(rnd.Int64()) >> rnd.IntN(64)
		case 3:
			return -rnd.Int64() >> rnd.IntN(64)
		case 4:
			return int32(rnd.Int32()) - math.MaxInt32/2
		case 5:
			return rnd.Uint64() >> rnd.IntN(64)
		case 6:
			return rnd.Uint32()
		case 7:
			return []string(nil)
		case 8:
			l := make([]string, rnd.IntN(4))
			for i := range l {
				l[i] = str()
			}
			return l
		case 9:
			return []config.Skipped(nil)
		case 10:
			return []config.Skipped{}
		}
		return str()
	}
	for i := range 5000 {
		e := Event{Seq: rnd.Uint64() >> rnd.IntN(64), Time: times[rnd.IntN(len(times))], Kind: str(), Data: map[string]any{}}
		for range rnd.IntN(8) {
			e.Data[str()] = value()
		}
		if rnd.IntN(10) == 0 {
			e.Data[[]string{"seq", "time", "kind"}[rnd.IntN(3)]] = value()
		}
		if i%500 == 0 {
			e.Data["min"], e.Data["max"] = int64(math.MinInt64), uint64(math.MaxUint64)
		}
		enc, err := appendEventJSON(nil, e)
		if err != nil {
			t.Fatal(err)
		}
		if n, ok := eventJSONLen(e); !ok || n != len(enc) {
			t.Fatalf("event %d %+v: counted %d (%v), its encoding %s has %d bytes", i, e, n, ok, enc, len(enc))
		}
	}
	for _, v := range []any{0.5, []config.Skipped{{Name: "X", Value: "v", Reason: "bad"}}, map[string]any{}, time.Second} {
		if _, ok := eventJSONLen(Event{Data: map[string]any{"v": v}}); ok {
			t.Errorf("%T counted, want it declined (encoded to weigh)", v)
		}
	}
}

// BenchmarkEventWeigh is what the bus does to weigh a phone's boot event and a resync's
// result: count their encoding's length, against encoding them.
//
//	go test -run '^$' -bench EventWeigh ./phone
func BenchmarkEventWeigh(b *testing.B) {
	at := time.Date(2026, 12, 2, 3, 4, 5, 600700800, time.UTC)
	for _, e := range []Event{
		{Seq: 1, Time: at, Kind: EventBoot, Data: map[string]any{"boot_count": 3, "software": "5.1.10", "model": "SPA942", "mac": "000e08aabbcc"}},
		{Seq: 7, Time: at, Kind: EventResyncResult, Data: map[string]any{"result": "success", "url": "http://127.0.0.1:8080/spa000e08aabbcc.xml",
			"err": "", "changed": []string{"Station_Name", "User_ID_1_", "Display_Name_1_"}, "prvst": 1, "next_in_seconds": int64(3600), "next": "periodic"}},
	} {
		var scratch [1024]byte
		b.Run(e.Kind+"/count", func(b *testing.B) {
			for b.Loop() {
				if _, ok := eventJSONLen(e); !ok {
					b.Fatal("not counted")
				}
			}
		})
		b.Run(e.Kind+"/encode", func(b *testing.B) {
			for b.Loop() {
				if _, err := appendEventJSON(scratch[:0], e); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
