package phone

import (
	"go.uber.org/zap"

	"github.com/spa900/spa900/provisioning/config"
)

// maxReported is how many skipped values a log line, an event or the status lists one by
// one; beyond it they are only counted, so that a hostile profile cannot blow up memory, the
// logs or the event stream. Unknown names are bounded the same way.
const maxReported = 20

// skippedValues are the profile values a resync or a profile apply skipped because their
// parameters cannot take them (DECISIONS 8): the first maxReported of them and how many there
// were in all.
type skippedValues struct {
	first []config.Skipped
	count int
}

// add records more skipped values.
func (s *skippedValues) add(more []config.Skipped) {
	s.count += len(more)
	if room := maxReported - len(s.first); room > 0 {
		s.first = append(s.first, more[:min(room, len(more))]...)
	}
}

// addTo puts the skipped values into an event's data: "skipped" (the first ones) and
// "skipped_count" (all of them).
func (s skippedValues) addTo(data map[string]any) {
	first := s.first
	if first == nil {
		first = []config.Skipped{}
	}
	data["skipped"] = first
	data["skipped_count"] = s.count
}

// logSkipped writes one line per skipped value, naming parameter and value (never a secret's,
// config.Skipped leaves it out), for the first maxReported of them, and one line with the
// count of the rest (DECISIONS 8).
func logSkipped(log *zap.Logger, source, url string, skipped []config.Skipped) {
	for i, s := range skipped {
		if i == maxReported {
			log.Warn("profile values skipped", zap.String("source", source), zap.String("url", url),
				zap.Int("count", len(skipped)), zap.Int("not_logged", len(skipped)-maxReported))
			return
		}
		log.Warn("profile value skipped", zap.String("source", source), zap.String("url", url),
			zap.String("param", s.Name), zap.String("value", s.Value), zap.String("reason", s.Reason), zap.Int("line", s.Line))
	}
}
