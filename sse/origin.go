package sse

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Origins is a parsed allowed_origins list. An Origin header is parsed as a
// browser serializes it (scheme://host[:port], nothing else) and then
// compared part by part, so that a path or a query can never pose as a host
// suffix (https://evil.com/.example.com is not a subdomain of example.com).
type Origins struct {
	any  bool
	pats []originPattern
}

// originPattern is one allowed_origins entry.
type originPattern struct {
	// scheme is empty for a host pattern (example.com): any scheme matches.
	scheme string
	// host is lowercase; with wildcard it is the suffix that follows "*"
	// (".example.com"), which matches subdomains only.
	host     string
	wildcard bool
	// port is empty for the scheme's default port; a host pattern without
	// a port matches origins on their scheme's default port.
	port string
}

// origin is a parsed Origin header.
type origin struct {
	scheme, host, port string
}

func (o origin) String() string {
	if o.port == "" {
		return o.scheme + "://" + o.host
	}
	return o.scheme + "://" + o.host + ":" + o.port
}

// ParseOrigins parses allowed_origins entries: full origins as browsers send
// them (https://example.com, http://localhost:3000, https://*.example.com)
// and host patterns (example.com, *.example.com, localhost:3000), or "*" for
// every origin. It refuses entries that can never match an Origin header,
// naming the entry. An empty list is nil: every origin is allowed.
func ParseOrigins(entries []string) (*Origins, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	o := &Origins{}
	for _, e := range entries {
		if strings.TrimSpace(e) == "*" {
			o.any = true
			continue
		}
		p, err := parseOriginPattern(e)
		if err != nil {
			return nil, fmt.Errorf("allowed_origins %q: %w", e, err)
		}
		o.pats = append(o.pats, p)
	}
	return o, nil
}

// CheckOriginPattern reports why an allowed_origins entry can never match,
// or nil; for the Caddyfile parser.
func CheckOriginPattern(entry string) error {
	_, err := ParseOrigins([]string{entry})
	return err
}

// Match parses an Origin header and reports whether an entry allows it,
// with the origin to echo in Access-Control-Allow-Origin (its canonical,
// lowercase serialization).
func (o *Origins) Match(header string) (string, bool) {
	org, ok := parseOrigin(header)
	if !ok {
		return "", false
	}
	if o.any {
		return org.String(), true
	}
	for _, p := range o.pats {
		if p.matches(org) {
			return org.String(), true
		}
	}
	return "", false
}

func (p originPattern) matches(o origin) bool {
	if p.scheme != "" && p.scheme != o.scheme {
		return false
	}
	if p.port != o.port {
		return false
	}
	if p.wildcard {
		// Labels are never empty, so the suffix starts at a label boundary
		// and the host has at least one label before it.
		return len(o.host) > len(p.host) && strings.HasSuffix(o.host, p.host)
	}
	return o.host == p.host
}

func parseOriginPattern(entry string) (originPattern, error) {
	s := strings.ToLower(strings.TrimSpace(entry))
	var p originPattern
	if scheme, rest, ok := strings.Cut(s, "://"); ok {
		if !validScheme(scheme) {
			return p, errors.New("invalid scheme")
		}
		p.scheme, s = scheme, rest
	}
	if err := noExtras(s); err != nil {
		return p, err
	}
	if strings.HasPrefix(s, "*.") {
		p.wildcard = true
		s = s[1:] // keep the dot: the suffix starts at a label boundary
	}
	if strings.Contains(s, "*") {
		return p, errors.New("a wildcard is only allowed as the whole first label (*.example.com)")
	}
	host, port, err := splitHostPort(s, p.scheme)
	if err != nil {
		return p, err
	}
	if p.wildcard {
		if !validHost(host[1:]) {
			return p, errors.New("invalid host")
		}
	} else if !validHost(host) {
		return p, errors.New("invalid host")
	}
	p.host, p.port = host, port
	return p, nil
}

// noExtras refuses what a browser never puts in an Origin header.
func noExtras(s string) error {
	switch {
	case strings.ContainsAny(s, "@"):
		return errors.New("an origin has no userinfo")
	case strings.ContainsAny(s, "/\\"):
		return errors.New("an origin has no path (not even a trailing /): write scheme://host[:port]")
	case strings.ContainsAny(s, "?"):
		return errors.New("an origin has no query")
	case strings.ContainsAny(s, "#"):
		return errors.New("an origin has no fragment")
	}
	return nil
}

// parseOrigin parses an Origin header strictly: scheme://host[:port] with a
// non-empty host of DNS or IP characters, a canonical port, nothing else.
// "null" and anything with a path, query, fragment or userinfo are refused.
func parseOrigin(h string) (origin, bool) {
	if len(h) > 1024 {
		return origin{}, false
	}
	s := strings.ToLower(h)
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || !validScheme(scheme) || noExtras(rest) != nil {
		return origin{}, false
	}
	host, port, err := splitHostPort(rest, scheme)
	if err != nil || !validHost(host) {
		return origin{}, false
	}
	return origin{scheme: scheme, host: host, port: port}, true
}

// splitHostPort splits host[:port] ([v6]:port too) and drops the scheme's
// default port, so that https://a:443 and https://a are one origin.
func splitHostPort(s, scheme string) (host, port string, err error) {
	host = s
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", errors.New("unclosed [ in an IPv6 host")
		}
		host, s = s[:end+1], s[end+1:]
		if s != "" {
			if s[0] != ':' {
				return "", "", errors.New("invalid host")
			}
			port = s[1:]
			if port == "" {
				return "", "", errors.New("empty port")
			}
		}
	} else if h, pt, ok := strings.Cut(s, ":"); ok {
		host, port = h, pt
		if port == "" {
			return "", "", errors.New("empty port")
		}
	}
	if port != "" {
		n, perr := strconv.Atoi(port)
		if perr != nil || n < 1 || n > 65535 || port[0] == '0' || strconv.Itoa(n) != port {
			return "", "", fmt.Errorf("invalid port %q", port)
		}
		if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
			port = ""
		}
	}
	return host, port, nil
}

func validScheme(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// validHost accepts lowercase DNS names (labels non-empty, so no leading,
// trailing or doubled dot) and bracketed IPv6 literals.
func validHost(h string) bool {
	if strings.HasPrefix(h, "[") {
		if len(h) < 3 || h[len(h)-1] != ']' {
			return false
		}
		for i := 1; i < len(h)-1; i++ {
			c := h[i]
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c == ':' || c == '.') {
				return false
			}
		}
		return true
	}
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
