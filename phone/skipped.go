package phone

import (
	"go.uber.org/zap"

	"github.com/spa900/spa900/provisioning/config"
)

// skippedValues are the profile values a resync or a profile apply skipped because their
// parameters cannot take them (DECISIONS 8): the first maxNamesShown of them and how many
// there were in all, bounded as unknown names are, so that a hostile profile cannot blow up
// memory, the logs or the event stream.
type skippedValues struct {
	first []config.Skipped
	count int
}

// add records more skipped values.
func (s *skippedValues) add(more []config.Skipped) {
	s.count += len(more)
	if room := maxNamesShown - len(s.first); room > 0 {
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
// config.Skipped leaves it out), for the first maxNamesShown of them, and one line with the
// count of the rest (DECISIONS 8).
func logSkipped(log *zap.Logger, source, url string, skipped []config.Skipped) {
	for i, s := range skipped {
		if i == maxNamesShown {
			log.Warn("profile values skipped", zap.String("source", source), zap.String("url", url),
				zap.Int("count", len(skipped)), zap.Int("not_logged", len(skipped)-maxNamesShown))
			return
		}
		log.Warn("profile value skipped", zap.String("source", source), zap.String("url", url),
			zap.String("param", s.Name), zap.String("value", s.Value), zap.String("reason", s.Reason), zap.Int("line", s.Line))
	}
}
