package provisioning

import (
	"github.com/spa900/spa900/provisioning/config"
)

// ReadProfile reads a downloaded profile exactly as the phone does: the encoding is found from
// the content ([Decode]: Salted__, then gzip, then XML), then the flat-profile rules of
// [config.DecodeProfile] apply, with the elements renamed by aliases (--alias) when given; with
// aliases the document may be any XML, since the map says where its values are.
// The resync and `spa900 profile check` both read profiles here, so they cannot disagree.
// The ReadInfo is filled in as far as the reading got, also on error.
// Errors wrap [ErrCorruptFile] (and [ErrNoKey], [ErrWrongKey] or [ErrSHA256Key]) or
// [config.ErrMalformedProfile] (a [*config.SyntaxError]).
func ReadProfile(cat *config.Catalog, data []byte, opts ReadOptions) (*config.Profile, ReadInfo, error) {
	plain, info, err := Decode(data, opts)
	if err != nil {
		return nil, info, err
	}
	dopts := config.DecodeOptions{Base: opts.Base, Changes: opts.Changes}
	if len(opts.Aliases) > 0 {
		aliases := opts.Aliases
		dopts.Rename = func(path []string) (string, bool) { return MatchAlias(aliases, path) }
	}
	prof, err := config.DecodeProfile(cat, plain, dopts)
	return prof, info, err
}
