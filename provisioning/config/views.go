package config

import (
	"slices"
	"strings"
)

// Tabs the device's pages treat specially (SPA-BEHAVIOUR §5.2).
const (
	// TabInfo is the read-only status tab, first in every view.
	TabInfo = "Info"
	// TabProvisioning is shown only in the admin's advanced view.
	TabProvisioning = "Provisioning"
)

// basicSections lists, per tab, the sections of the basic views: the settings that bring a
// phone into service. The sources name the basic and advanced views without listing them, so
// the project settles it. A tab that is not listed is not in the basic views; a nil list
// means every section; the Ext tabs are listed under "Ext_".
var basicSections = map[string][]string{
	"System": nil,
	"Ext_":   {"General", "Proxy_and_Registration", "Subscriber_Information", "Dial_Plan"},
	"User":   {"Call_Forward", "Speed_Dial", "Supplementary_Services", "Audio_Volume"},
}

// InBasicView reports whether the basic views show a section of a tab, and, for section "",
// whether they show the tab at all. The Info tab is in every view.
func InBasicView(tab, section string) bool {
	if tab == TabInfo {
		return true
	}
	key := tab
	if strings.HasPrefix(tab, "Ext_") {
		key = "Ext_"
	}
	secs, ok := basicSections[key]
	if !ok {
		return false
	}
	return section == "" || secs == nil || slices.Contains(secs, section)
}
