package config

// Parameter names the lab's profiles and the fleet portal read beside those of names.go
// (SPA-BEHAVIOUR §3, System tab).
const (
	// StationName is the phone's name, shown on its display and in the fleet portal.
	StationName = "Station_Name"
)
