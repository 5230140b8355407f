package redact

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestURLHidesEveryPassword(t *testing.T) {
	for in, want := range map[string]string{
		"redis://:pw@h:6379/0":                        "redis://:xxxxx@h:6379/0",
		"redis://u:p%zz@h":                            "redis://u:xxxxx@h",
		"redis://u:a@b@h:1":                           "redis://u:xxxxx@h:1",
		"redis://:pw1@h1:1,:pw2@h2:2":                 "redis://:xxxxx@h1:1,:xxxxx@h2:2",
		"redis+sentinel://s:1/m?sentinel_password=sp": "redis+sentinel://s:1/m?sentinel_password=xxxxx",
		"http://app:secret@127.0.0.1:3000/_anycable":  "http://app:xxxxx@127.0.0.1:3000/_anycable",
		"redis://user@h:1":                            "redis://user@h:1",
		"redis://h:1/0?password=x&db=1":               "redis://h:1/0?password=xxxxx&db=1",
	} {
		if got := URL(in); got != want {
			t.Errorf("URL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestErrorDropsThePasswordOfAURLError(t *testing.T) {
	raw := "redis://:p%zz@h:6379"
	_, err := url.Parse(raw)
	if err == nil || !strings.Contains(err.Error(), "p%zz") {
		t.Fatalf("precondition: net/url quotes the password: %v", err)
	}
	got := Error(err, raw).Error()
	if strings.Contains(got, "p%zz") || strings.Contains(got, "%zz") {
		t.Fatalf("password in %q", got)
	}
	plain := Error(errors.New("dial redis://:hunter22@h: refused"), "redis://:hunter22@h").Error()
	if strings.Contains(plain, "hunter22") {
		t.Fatalf("password in %q", plain)
	}
}
