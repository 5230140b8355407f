package sse

import (
	"strings"
	"testing"
)

func TestOriginsMatch(t *testing.T) {
	o, err := ParseOrigins([]string{"www.example.com", "*.good.test", "https://app.example.org", "http://localhost:3000", "https://*.wild.test:8443", "[::1]:8080"})
	if err != nil {
		t.Fatal(err)
	}
	for header, want := range map[string]string{
		// host patterns: any scheme, default port
		"https://WWW.Example.com":     "https://www.example.com",
		"http://www.example.com":      "http://www.example.com",
		"https://www.example.com:443": "https://www.example.com",
		"http://www.example.com:3000": "",
		"https://a.good.test":         "https://a.good.test",
		"https://a.b.good.test":       "https://a.b.good.test",
		"https://good.test":           "",
		"https://badgood.test":        "",
		// a path, a query, a fragment or userinfo never poses as a host
		"https://evil.com/.good.test":        "",
		"https://evil.com?.good.test":        "",
		"https://evil.com#.good.test":        "",
		"https://evil.com\\.good.test":       "",
		"https://a.good.test@evil.com":       "",
		"https://evil.com:443/.good.test":    "",
		"https://evil.com%2f.good.test":      "",
		"https://a.good.test/":               "",
		"https://evil.com/x.www.example.com": "",
		"null":                               "",
		"a.good.test":                        "",
		"https://.good.test":                 "",
		"https://a..good.test":               "",
		"https://a.good.test:":               "",
		"https://a.good.test:0443":           "",
		"https://a.good.test:99999":          "",
		// full origins: the scheme and port count
		"https://app.example.org":     "https://app.example.org",
		"http://app.example.org":      "",
		"https://app.example.org:444": "",
		"http://localhost:3000":       "http://localhost:3000",
		"https://localhost:3000":      "",
		"http://localhost":            "",
		"https://x.wild.test:8443":    "https://x.wild.test:8443",
		"https://x.wild.test":         "",
		"http://[::1]:8080":           "http://[::1]:8080",
	} {
		got, ok := o.Match(header)
		if got != want || ok != (want != "") {
			t.Errorf("Match(%q) = %q %v, want %q", header, got, ok, want)
		}
	}
}

func TestOriginsAny(t *testing.T) {
	o, err := ParseOrigins([]string{"*"})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := o.Match("https://x.test"); !ok || got != "https://x.test" {
		t.Fatalf("* : %q %v", got, ok)
	}
	if _, ok := o.Match("https://x.test/path"); ok {
		t.Fatal("* matched a malformed origin")
	}
	if o, err := ParseOrigins(nil); o != nil || err != nil {
		t.Fatalf("empty list: %v %v", o, err)
	}
}

// Entries that can never match an Origin header are refused.
func TestOriginPatternsRefused(t *testing.T) {
	for entry, reason := range map[string]string{
		"https://example.com/":     "no path",
		"https://example.com/app":  "no path",
		"https://example.com?x":    "no query",
		"https://user@example.com": "no userinfo",
		"https://example.com#f":    "no fragment",
		"*example.com":             "wildcard",
		"foo.*.example.com":        "wildcard",
		"https://example.com:0":    "invalid port",
		"example.com:http":         "invalid port",
		"://example.com":           "invalid scheme",
		"":                         "invalid host",
		"https://":                 "invalid host",
		"exa mple.com":             "invalid host",
		"*.":                       "invalid host",
	} {
		err := CheckOriginPattern(entry)
		if err == nil || !strings.Contains(err.Error(), reason) || !strings.Contains(err.Error(), "allowed_origins") {
			t.Errorf("%q: %v, want an error about %q", entry, err, reason)
		}
	}
}

// FuzzOriginMatch: whatever the header, a match is a well-formed origin
// (no path, query, fragment, userinfo or space) whose host is the allowed
// host or ends in the wildcard's suffix at a label boundary, and what is
// echoed is that origin.
func FuzzOriginMatch(f *testing.F) {
	for _, s := range []string{
		"https://a.good.test", "https://evil.com/.good.test", "https://evil.com?.good.test",
		"http://localhost:3000", "https://a.good.test@evil.com", "null", "https://[::1]:8080",
		"HTTPS://A.GOOD.TEST:443", "https://good.test", "https://x.good.test.", "https://%41.good.test",
	} {
		f.Add(s)
	}
	o, err := ParseOrigins([]string{"*.good.test", "exact.test", "http://localhost:3000"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, header string) {
		echo, ok := o.Match(header)
		if !ok {
			if echo != "" {
				t.Fatalf("no match but echo %q", echo)
			}
			return
		}
		if echo != strings.ToLower(header) && echo+":443" != strings.ToLower(header) && echo+":80" != strings.ToLower(header) {
			t.Fatalf("echo %q for header %q", echo, header)
		}
		_, rest, _ := strings.Cut(echo, "://")
		if strings.ContainsAny(rest, "/?#@\\ \t\r\n%") {
			t.Fatalf("matched a non-origin %q", header)
		}
		host, _, _ := strings.Cut(rest, ":")
		if !(strings.HasSuffix(host, ".good.test") && !strings.HasPrefix(host, ".") && !strings.Contains(host, "..")) &&
			host != "exact.test" && echo != "http://localhost:3000" {
			t.Fatalf("header %q matched with host %q", header, host)
		}
		// Parsing is stable: the echoed origin matches as itself.
		if again, ok := o.Match(echo); !ok || again != echo {
			t.Fatalf("echo %q does not match itself: %q %v", echo, again, ok)
		}
	})
}
