package pubsub

import (
	"strings"
	"testing"
)

// A URL that fails to parse never brings its password into the error, and
// a port no connection could use fails the check (and so `caddy validate`).
func TestCheckRedisURLRedactsAndChecksPorts(t *testing.T) {
	for _, c := range []struct{ url, want, secret string }{
		{"redis://:p%zz@h:6379", "invalid URL escape", "p%zz"},
		{"redis://u:hunter22@h:99999", "port must be 1-65535", "hunter22"},
		{"redis://localhost:99999", "port must be 1-65535", ""},
		{"redis://:pw@h1:1,:pw2@h2:0", "port must be 1-65535", "pw2"},
		{"redis+sentinel://:spw@s:70000/m", "port must be 1-65535", "spw"},
	} {
		_, err := CheckRedisURL(c.url)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.url, err, c.want)
			continue
		}
		if c.secret != "" && strings.Contains(err.Error(), c.secret) {
			t.Errorf("%s: password in the error: %v", c.url, err)
		}
	}
	for _, ok := range []string{"redis://localhost:6379/0", "unix:///tmp/r.sock", "redis://h1:7000,h2:7001", "redis+sentinel://s1,s2:26380/m"} {
		if _, err := CheckRedisURL(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}
