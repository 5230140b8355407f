// Package protocol is the vocabulary on the wire between the module, its
// clients and the application: Action Cable messages and identifiers, the
// broadcast (publication) JSON, Last-Event-ID values, the POST JSONL body,
// signed stream names, JWT verification and the keys derived from the shared
// secret.
//
// It imports only the standard library and knows nothing about HTTP serving,
// the hub or Caddy; the client of the app's HTTP RPC is package rpc.
package protocol

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"
)

// Purposes of the keys AnyCable derives from its application secret.
const (
	// PurposeBroadcast derives the key publishers send as
	// "Authorization: Bearer <key>" to the broadcast endpoint.
	PurposeBroadcast = "broadcast-cable"
	// PurposeRPC derives the key sent to the application's HTTP RPC endpoint.
	PurposeRPC = "rpc-cable"
)

// DeriveKey returns the lowercase hex HMAC-SHA256 of purpose keyed with
// secret, as AnyCable derives its broadcast and RPC keys from --secret.
func DeriveKey(secret, purpose string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(purpose))
	return hex.EncodeToString(m.Sum(nil))
}

const bearerPrefix = "Bearer "

// CheckBearer reports whether an Authorization header value is exactly
// "Bearer <key>": the scheme is case-sensitive and no extra spaces are
// allowed, as in AnyCable. The token is compared in constant time (the
// comparison also hides the key's length). An empty key never matches: a
// caller with authentication disabled must not call CheckBearer at all.
func CheckBearer(header, key string) bool {
	if key == "" || !strings.HasPrefix(header, bearerPrefix) {
		return false
	}
	got := sha256.Sum256([]byte(header[len(bearerPrefix):]))
	want := sha256.Sum256([]byte(key))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}
