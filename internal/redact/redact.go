// Package redact hides the passwords of URLs in everything the module logs
// or returns: Redis URLs (single, comma lists, Sentinel) and the RPC URL.
// It works on the text, so a URL that does not parse is redacted too.
package redact

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
)

// Mask replaces a password.
const Mask = "xxxxx"

// passwordParams are query parameters that carry a password.
var passwordParams = []string{"password", "sentinel_password"}

// URL hides every password of s, a URL or a comma list of URLs (items may
// omit the scheme): the password of user:password@ and the values of
// password query parameters.
func URL(s string) string {
	items := strings.Split(s, ",")
	for i, it := range items {
		items[i] = item(it)
	}
	return strings.Join(items, ",")
}

func item(it string) string {
	start := 0
	if i := strings.Index(it, "://"); i >= 0 {
		start = i + 3
	}
	// The authority ends at the first '/' or '?' after the scheme; the
	// userinfo ends at its last '@'.
	end := len(it)
	if j := strings.IndexAny(it[start:], "/?"); j >= 0 {
		end = start + j
	}
	if at := strings.LastIndex(it[start:end], "@"); at >= 0 {
		ui := it[start : start+at]
		if user, _, ok := strings.Cut(ui, ":"); ok {
			it = it[:start] + user + ":" + Mask + it[start+at:]
		}
	}
	if q := strings.IndexByte(it, '?'); q >= 0 {
		params := strings.Split(it[q+1:], "&")
		for k, p := range params {
			name, _, ok := strings.Cut(p, "=")
			if ok && isPasswordParam(name) {
				params[k] = name + "=" + Mask
			}
		}
		it = it[:q+1] + strings.Join(params, "&")
	}
	return it
}

func isPasswordParam(name string) bool {
	for _, p := range passwordParams {
		if strings.EqualFold(name, p) {
			return true
		}
	}
	return false
}

// secrets lists the passwords of s as written and unescaped.
func secrets(s string) []string {
	var out []string
	add := func(v string) {
		if v == "" || v == Mask {
			return
		}
		out = append(out, v)
		if u, err := url.PathUnescape(v); err == nil && u != v {
			out = append(out, u)
		}
		if u, err := url.QueryUnescape(v); err == nil && u != v {
			out = append(out, u)
		}
	}
	for _, it := range strings.Split(s, ",") {
		start := 0
		if i := strings.Index(it, "://"); i >= 0 {
			start = i + 3
		}
		end := len(it)
		if j := strings.IndexAny(it[start:], "/?"); j >= 0 {
			end = start + j
		}
		if at := strings.LastIndex(it[start:end], "@"); at >= 0 {
			if _, pw, ok := strings.Cut(it[start:start+at], ":"); ok {
				add(pw)
			}
		}
		if q := strings.IndexByte(it, '?'); q >= 0 {
			for _, p := range strings.Split(it[q+1:], "&") {
				if name, v, ok := strings.Cut(p, "="); ok && isPasswordParam(name) {
					add(v)
				}
			}
		}
	}
	return out
}

// Error returns err with the passwords of urls hidden in its text. A
// *url.Error, which quotes the whole URL, is replaced by its operation and
// cause. The result still wraps nothing secret: callers that need
// errors.Is on the original must check before redacting.
func Error(err error, urls ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	var ue *url.Error
	if errors.As(err, &ue) {
		// net/url quotes the input, password included, and an escape
		// error quotes a piece of it: keep only what is safe.
		cause := ue.Err.Error()
		var ee url.EscapeError
		if errors.As(ue.Err, &ee) {
			cause = "invalid URL escape"
		}
		msg = strings.Replace(msg, ue.Error(), ue.Op+" "+strconv.Quote(URL(ue.URL))+": "+cause, 1)
	}
	for _, u := range urls {
		for _, pw := range secrets(u) {
			msg = strings.ReplaceAll(msg, pw, Mask)
		}
		if r := URL(u); r != u {
			msg = strings.ReplaceAll(msg, u, r)
		}
	}
	return errors.New(msg)
}
