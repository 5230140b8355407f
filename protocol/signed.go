package protocol

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
)

// Errors returned by Verifier.Verify. The reasons are short enough to log or
// to put in a response header.
var (
	// ErrNoSecret: no key is configured, so no signed name can be trusted.
	// AnyCable verifies with an empty key in that case, which lets anyone
	// forge names; we refuse instead.
	ErrNoSecret = errors.New("signed streams: no secret configured")
	// ErrBadSignature: the digest does not match any configured key.
	ErrBadSignature = errors.New("signed stream: bad signature")
	// ErrMalformedSignedName: the value is not "<base64>--<hex digest>", or
	// its signed payload is not a JSON string.
	ErrMalformedSignedName = errors.New("signed stream: malformed name")
)

const signedSeparator = "--"

// SignStream signs a stream name as Rails' ActiveSupport::MessageVerifier
// (SHA256 digest, JSON serializer) and AnyCable do:
// base64(JSON(stream)) + "--" + hex(HMAC-SHA256(key, base64 text)).
// The JSON is Go's (<, > and & escaped, invalid UTF-8 replaced by U+FFFD),
// the same bytes AnyCable's own signer produces.
func SignStream(key []byte, stream string) string {
	js, _ := json.Marshal(stream) // a string always marshals
	data := base64.StdEncoding.EncodeToString(js)
	return data + signedSeparator + signedDigest(key, data)
}

func signedDigest(key []byte, data string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return hex.EncodeToString(m.Sum(nil))
}

// Verifier checks signed stream names against one or more keys.
// It is safe for concurrent use.
type Verifier struct {
	keys [][]byte
}

// NewVerifier returns a verifier for the given keys. Empty keys are ignored.
// Several keys allow rotation: a name signed with any of them verifies, and
// Sign uses the first.
func NewVerifier(keys ...[]byte) *Verifier {
	v := &Verifier{}
	for _, k := range keys {
		if len(k) > 0 {
			v.keys = append(v.keys, append([]byte(nil), k...))
		}
	}
	return v
}

// Enabled reports whether the verifier has at least one key.
func (v *Verifier) Enabled() bool { return v != nil && len(v.keys) > 0 }

// Sign signs stream with the first key. Without a key it returns "", never
// an empty-key signature.
func (v *Verifier) Sign(stream string) string {
	if !v.Enabled() {
		return ""
	}
	return SignStream(v.keys[0], stream)
}

// Verify checks a signed name and returns the stream name it carries.
// The name must be exactly two non-empty parts separated by "--"; the digest
// is compared in constant time against every key; the payload must be
// padded standard base64 of a JSON string. The returned name is not
// validated as a stream name: callers apply ValidStreamName.
func (v *Verifier) Verify(signed string) (string, error) {
	if !v.Enabled() {
		return "", ErrNoSecret
	}
	data, digest, ok := strings.Cut(signed, signedSeparator)
	if !ok || data == "" || digest == "" || strings.Contains(digest, signedSeparator) {
		return "", ErrMalformedSignedName
	}
	match := 0
	for _, k := range v.keys { // no early exit: every key costs the same
		match |= subtle.ConstantTimeCompare([]byte(signedDigest(k, data)), []byte(digest))
	}
	if match != 1 {
		return "", ErrBadSignature
	}
	js, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return "", ErrMalformedSignedName
	}
	var val any
	if err := json.Unmarshal(js, &val); err != nil {
		return "", ErrMalformedSignedName
	}
	stream, ok := val.(string)
	if !ok {
		return "", ErrMalformedSignedName
	}
	return stream, nil
}

const (
	turboSalt       = "turbo/signed_stream_verifier_key"
	turboIterations = 1000
	turboKeyLen     = 64
)

// TurboKeyFromSecretKeyBase derives the key turbo-rails signs stream names
// with when config.turbo.signed_stream_verifier_key is not set:
// Rails.application.key_generator.generate_key("turbo/signed_stream_verifier_key"),
// i.e. PBKDF2-HMAC-SHA256(secret_key_base, salt, 1000 iterations, 64 bytes).
// That holds for Rails 7.0 and later; older applications whose key generator
// still uses SHA1 need their key configured explicitly.
//
// It returns nil if the derivation fails (only possible in a restricted FIPS
// 140 mode); NewVerifier ignores a nil key, so verification then fails closed.
func TurboKeyFromSecretKeyBase(secretKeyBase string) []byte {
	if secretKeyBase == "" {
		return nil
	}
	key, err := pbkdf2.Key(sha256.New, secretKeyBase, []byte(turboSalt), turboIterations, turboKeyLen)
	if err != nil {
		return nil
	}
	return key
}
