package cable

import (
	"net/http"
	"strings"
)

// EnvHeaders is the header map the app is told about in env.headers:
// the configured request headers (lowercased names, empty values left
// out), REMOTE_ADDR, and with JWT identification the token header
// (X-<param>) so that an app reading it itself still can.
func (cfg *Config) EnvHeaders(h http.Header, names []string, remoteAddr, jwtParam string) map[string]string {
	out := make(map[string]string, len(names)+1)
	for _, name := range names {
		if v := h.Get(name); v != "" {
			out[name] = v
		}
	}
	if remoteAddr != "" {
		out["REMOTE_ADDR"] = remoteAddr
	}
	if cfg.JWT.Enabled() && jwtParam != "" {
		name := "x-" + strings.ToLower(jwtParam)
		if v := h.Get(name); v != "" {
			out[name] = v
		}
	}
	return out
}
