package config

import "testing"

func TestInBasicView(t *testing.T) {
	tests := []struct {
		tab, section string
		want         bool
	}{
		{TabInfo, "", true},
		{"System", "", true},
		{"System", "VLAN_Settings", true},
		{"Ext_3", "", true},
		{"Ext_3", "Proxy_and_Registration", true},
		{"Ext_3", "NAT_Settings", false},
		{"User", "Speed_Dial", true},
		{"User", "Web_Information_Service_Settings", false},
		{"SIP", "", false},
		{TabProvisioning, "", false},
	}
	for _, tt := range tests {
		if got := InBasicView(tt.tab, tt.section); got != tt.want {
			t.Errorf("InBasicView(%q, %q) = %v, want %v", tt.tab, tt.section, got, tt.want)
		}
	}
}
