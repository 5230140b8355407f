package protocol

import "testing"

func TestDeriveKey(t *testing.T) {
	// Spec §5.2 and §6.2: keys the AnyCable binary accepted / sent.
	tests := []struct{ secret, purpose, want string }{
		{"s3cr3t", PurposeBroadcast, "83149057b2f956b5f862c0ef5ad6a24d3677dc076d77e8999c24f77ca17d7a20"},
		{"s3cr3t", PurposeRPC, "4b7da2749fe2a4534cec0d2acbd16277a800cf2acd31158ac4edae4a62a8f18d"},
	}
	for _, tt := range tests {
		if got := DeriveKey(tt.secret, tt.purpose); got != tt.want {
			t.Errorf("DeriveKey(%q, %q) = %s, want %s", tt.secret, tt.purpose, got, tt.want)
		}
	}
}

func TestCheckBearer(t *testing.T) {
	const key = "83149057b2f956b5f862c0ef5ad6a24d3677dc076d77e8999c24f77ca17d7a20"
	tests := []struct {
		header, key string
		want        bool
	}{
		{"Bearer " + key, key, true},
		{"bearer " + key, key, false}, // case-sensitive, as AnyCable (401)
		{"BEARER " + key, key, false},
		{"Bearer  " + key, key, false},
		{"Bearer " + key + " ", key, false},
		{" Bearer " + key, key, false},
		{"Bearer " + key[:63], key, false},
		{"Bearer " + key + "0", key, false},
		{"Basic " + key, key, false},
		{key, key, false},
		{"", key, false},
		{"Bearer ", "", false}, // an empty key never authenticates
		{"", "", false},
		{"Bearer x", "x", true},
	}
	for _, tt := range tests {
		if got := CheckBearer(tt.header, tt.key); got != tt.want {
			t.Errorf("CheckBearer(%q, %q) = %v, want %v", tt.header, tt.key, got, tt.want)
		}
	}
}
