package anycablesse

import (
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/cableway/caddy-anycable-sse/protocol"
)

// noKey is the value that says "no key" explicitly: it turns a secret off
// without falling back to the one derived from secret.
const noKey = "none"

// keys are the secrets of one config once placeholders are resolved.
type keys struct {
	secret        string
	broadcastKey  string // "" when none: loopback-only (or open, in public mode)
	rpcSecret     string
	streams       []string
	turbo         []string
	turboSKB      string
	cableReady    []string
	jwt           []string
	streamsOff    bool // streams_secrets none: no fallback to secret
	jwtOff        bool // jwt_secrets none
	rpcSecretOff  bool // rpc_secret none
	broadcastOff  bool // broadcast_key none
	turboExplicit bool // turbo_streams_secrets or turbo_secret_key_base configured
}

// secretResolver resolves secrets at provision time. A secret that is
// configured but resolves to nothing (an unset {env.X}) is an error: it
// would otherwise silently turn a protection off.
type secretResolver struct{ repl *caddy.Replacer }

// one resolves a single secret. It returns "" and off=true for "none".
func (r secretResolver) one(name, v string) (val string, off bool, err error) {
	if v == "" {
		return "", false, nil
	}
	if v == noKey {
		return "", true, nil
	}
	val = r.repl.ReplaceKnown(v, "")
	if val == "" {
		return "", false, fmt.Errorf("%s: %q resolved to an empty value (is the environment variable set?); write %q for no key", name, v, noKey)
	}
	if val == noKey {
		return "", true, nil
	}
	return val, false, nil
}

// list resolves a list of secrets (the first signs, any verifies).
func (r secretResolver) list(name string, vs []string) (vals []string, off bool, err error) {
	if len(vs) == 1 && vs[0] == noKey {
		return nil, true, nil
	}
	for _, v := range vs {
		val, none, err := r.one(name, v)
		if err != nil {
			return nil, false, err
		}
		if none {
			return nil, false, fmt.Errorf("%s: %q can only stand alone", name, noKey)
		}
		vals = append(vals, val)
	}
	return vals, false, nil
}

// resolveKeys resolves every secret of the config and derives what secret
// derives, as AnyCable does; an explicit per-purpose value wins.
func (h *Handler) resolveKeys() (keys, error) {
	r := secretResolver{repl: caddy.NewReplacer()}
	var k keys
	var err error
	if k.secret, _, err = r.one("secret", h.Secret); err != nil {
		return k, err
	}
	if k.broadcastKey, k.broadcastOff, err = r.one("broadcast_key", h.BroadcastKey); err != nil {
		return k, err
	}
	if k.broadcastKey == "" && !k.broadcastOff && k.secret != "" && !h.Public {
		k.broadcastKey = protocol.DeriveKey(k.secret, protocol.PurposeBroadcast)
	}
	if k.rpcSecret, k.rpcSecretOff, err = r.one("rpc_secret", h.RPCSecret); err != nil {
		return k, err
	}
	if k.rpcSecret == "" && !k.rpcSecretOff && k.secret != "" {
		k.rpcSecret = protocol.DeriveKey(k.secret, protocol.PurposeRPC)
	}
	if k.jwt, k.jwtOff, err = r.list("jwt_secrets", h.JWTSecrets); err != nil {
		return k, err
	}
	if len(k.jwt) == 0 && !k.jwtOff && k.secret != "" {
		k.jwt = []string{k.secret}
	}
	if k.streams, k.streamsOff, err = r.list("streams_secrets", h.StreamsSecrets); err != nil {
		return k, err
	}
	if len(k.streams) == 0 && !k.streamsOff && k.secret != "" {
		k.streams = []string{k.secret}
	}
	var turboOff bool
	if k.turbo, turboOff, err = r.list("turbo_streams_secrets", h.TurboStreamsSecrets); err != nil {
		return k, err
	}
	var skbOff bool
	if k.turboSKB, skbOff, err = r.one("turbo_secret_key_base", h.TurboSecretKeyBase); err != nil {
		return k, err
	}
	k.turboExplicit = len(k.turbo) > 0 || k.turboSKB != "" || turboOff || skbOff
	if k.cableReady, _, err = r.list("cable_ready_secrets", h.CableReadySecrets); err != nil {
		return k, err
	}
	return k, nil
}

// verifiers builds the local verifiers from the resolved keys.
func (k keys) verifiers(leeway caddy.Duration, withRPC bool) (jwt *protocol.JWTVerifier, streams, turbo, cableReady *protocol.Verifier) {
	jwt = protocol.NewJWTVerifier(toKeys(k.jwt), time.Duration(leeway))
	streams = protocol.NewVerifier(toKeys(k.streams)...)
	turboKeys := toKeys(k.turbo)
	if k.turboSKB != "" {
		turboKeys = append(turboKeys, protocol.TurboKeyFromSecretKeyBase(k.turboSKB))
	}
	if len(turboKeys) == 0 && !k.turboExplicit && !withRPC {
		// Without an app, Turbo names are verified with the streams keys.
		turboKeys = toKeys(k.streams)
	}
	if len(turboKeys) > 0 {
		turbo = protocol.NewVerifier(turboKeys...)
	}
	if len(k.cableReady) > 0 {
		cableReady = protocol.NewVerifier(toKeys(k.cableReady)...)
	}
	return jwt, streams, turbo, cableReady
}

func toKeys(vs []string) [][]byte {
	out := make([][]byte, len(vs))
	for i, v := range vs {
		out[i] = []byte(v)
	}
	return out
}
