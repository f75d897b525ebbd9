package dialplan

import "testing"

// BenchmarkParseFactory parses the factory Dial_Plan_n_ (once per configuration change).
func BenchmarkParseFactory(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(factoryPlan); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMatchFactory12 dials a 12-digit international number against the factory plan on a
// factory line (IP dialling on, the 42 default codes): Start, 12 keys, the short timer's
// expiry. It runs per key press across a fleet; ns/key is the cost of one press.
func BenchmarkMatchFactory12(b *testing.B) {
	benchMatch(b, factoryOptions())
}

// BenchmarkMatchFactory12Plain is the same without codes and IP dialling: the plan alone.
func BenchmarkMatchFactory12Plain(b *testing.B) {
	benchMatch(b, plainOptions())
}

func benchMatch(b *testing.B, o Options) {
	const number = "011442079460"
	m := NewMatcher(mustParse(b, factoryPlan), o)
	b.ReportAllocs()
	for b.Loop() {
		m.Start()
		for i := 0; i < len(number); i++ {
			m.Key(number[i])
		}
		if r := m.Timeout(); r.Action != ActionDial || r.Number != number {
			b.Fatalf("dialled %v", r)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(number)+2), "ns/event")
}
