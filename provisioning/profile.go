package provisioning

import (
	"github.com/spa900/spa900/provisioning/config"
)

// ReadProfile reads a downloaded profile exactly as the phone does: the encoding is found from
// the content ([DecodeProfile]: Salted__, then gzip, then XML), then the flat-profile rules of
// [config.DecodeProfile] apply, with the elements renamed by aliases (--alias) when given; with
// aliases the document may be any XML, since the map says where its values are.
// The resync and `spa900 profile check` both read profiles here, so they cannot disagree.
// Errors wrap [ErrCorruptFile] (and [ErrNoKey] or [ErrWrongKey]) or
// [config.ErrMalformedProfile]; both read "corrupt file" as $ERR.
func ReadProfile(cat *config.Catalog, data []byte, key string, hasKey bool, aliases []Alias) (*config.Profile, error) {
	accept := IsFlatProfile
	var opts config.DecodeOptions
	if len(aliases) > 0 {
		// The elements an alias names may sit in any document, not only a <flat-profile>.
		accept = func(p []byte) bool { return IsFlatProfile(p) || isXMLDocument(p) }
		opts.Rename = func(path []string) (string, bool) { return MatchAlias(aliases, path) }
	}
	plain, err := decodeContent(data, key, hasKey, accept)
	if err != nil {
		return nil, err
	}
	return config.DecodeProfile(cat, plain, opts)
}
