package protocol

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Errors returned by JWTVerifier.Verify. Verify wraps them with a short,
// fixed reason (never token content), so test them with errors.Is. AnyCable
// answers 401 for ErrTokenExpired and ErrTokenInvalid and 400 for
// ErrTokenNoIdentifiers.
var (
	// ErrTokenExpired: "exp" is in the past, or "nbf" in the future, by more
	// than the leeway. AnyCable reports it as the token_expired reason.
	ErrTokenExpired = errors.New("jwt: token expired")
	// ErrTokenInvalid: the token is malformed, too long, uses an algorithm
	// other than HS256/HS384/HS512, carries a bad "exp"/"nbf" value, or its
	// signature matches none of the keys.
	ErrTokenInvalid = errors.New("jwt: invalid token")
	// ErrTokenNoIdentifiers: the token is authentic and current but its
	// "ext" claim is missing or not a JSON string.
	ErrTokenNoIdentifiers = errors.New("jwt: token has no identifiers")
)

// MaxTokenLen is the longest token Verify looks at; longer ones are refused
// before any decoding or hashing.
const MaxTokenLen = 8192

// jwtError is a sentinel with a fixed reason, for logs.
type jwtError struct {
	kind   error
	reason string
}

func (e *jwtError) Error() string { return e.kind.Error() + ": " + e.reason }
func (e *jwtError) Unwrap() error { return e.kind }

var (
	errJWTNoKey         = &jwtError{ErrTokenInvalid, "no key configured"}
	errJWTTooLong       = &jwtError{ErrTokenInvalid, "token too long"}
	errJWTSegments      = &jwtError{ErrTokenInvalid, "not three dot-separated segments"}
	errJWTEncoding      = &jwtError{ErrTokenInvalid, "segment is not unpadded base64url"}
	errJWTHeader        = &jwtError{ErrTokenInvalid, "header is not a JSON object"}
	errJWTAlg           = &jwtError{ErrTokenInvalid, "alg is not HS256, HS384 or HS512"}
	errJWTCrit          = &jwtError{ErrTokenInvalid, "unsupported crit header"}
	errJWTSignature     = &jwtError{ErrTokenInvalid, "bad signature"}
	errJWTClaims        = &jwtError{ErrTokenInvalid, "claims are not a JSON object"}
	errJWTNumericDate   = &jwtError{ErrTokenInvalid, "exp or nbf is not a number"}
	errJWTExpired       = &jwtError{ErrTokenExpired, "exp has passed"}
	errJWTNotYetValid   = &jwtError{ErrTokenExpired, "nbf is in the future"}
	errJWTNoExt         = &jwtError{ErrTokenNoIdentifiers, "no ext claim"}
	errJWTExtNotString  = &jwtError{ErrTokenNoIdentifiers, "ext claim is not a string"}
	errJWTInvalidUTF8ID = &jwtError{ErrTokenInvalid, "identifiers are not valid UTF-8"}
)

// jwtEncoding is base64url without padding, as RFC 7515 requires. Strict
// refuses non-zero trailing bits, so a signature has exactly one spelling.
var jwtEncoding = base64.RawURLEncoding.Strict()

// jwtHS256Header is base64url(`{"alg":"HS256"}`), the header ruby-jwt writes
// for anycable-rails-jwt (no "typ").
const jwtHS256Header = "eyJhbGciOiJIUzI1NiJ9"

// maxNumericDate bounds "exp" and "nbf" (about 34,800 years either side of
// 1970) so that converting them to time.Time cannot overflow; the clamped
// value keeps its meaning (never expires / long expired).
const maxNumericDate = 1 << 40

// JWTVerifier checks AnyCable identification tokens: HMAC-signed JWTs whose
// "ext" claim carries the connection identifiers, as anycable-rails-jwt and
// AnyCable::JWT produce them:
//
//	JWT.encode({ext: identifiers.to_json, exp: expires_at.to_i}, key, "HS256")
//
// Keys are always HMAC secrets: the token's "alg" only selects the hash
// (HS256, HS384 or HS512); "none" and asymmetric algorithms are refused.
// It is safe for concurrent use.
type JWTVerifier struct {
	keys   [][]byte
	leeway time.Duration
}

// NewJWTVerifier returns a verifier for the given keys, tolerating clock skew
// of leeway (negative counts as zero) on "exp" and "nbf". Empty keys are
// ignored; with none, Enabled is false and every token is refused. Several
// keys allow rotation: a token signed with any of them verifies, and Sign
// uses the first.
func NewJWTVerifier(keys [][]byte, leeway time.Duration) *JWTVerifier {
	v := &JWTVerifier{leeway: max(leeway, 0)}
	for _, k := range keys {
		if len(k) > 0 {
			v.keys = append(v.keys, append([]byte(nil), k...))
		}
	}
	return v
}

// Enabled reports whether the verifier has at least one key.
func (v *JWTVerifier) Enabled() bool { return v != nil && len(v.keys) > 0 }

// Verify checks the token and returns the identifiers string (the "ext"
// claim) verbatim, without checking that it is JSON.
//
// The token must be exactly three unpadded, canonical base64url segments (no
// padding, whitespace or line breaks). The header must be a JSON object whose
// "alg" is exactly "HS256", "HS384" or "HS512" and which has no "crit". The
// signature is compared in constant time against every key before the claims
// are decoded. The claims must be a JSON object; member names match exactly
// (no case folding).
//
// "exp" and "nbf" are optional: AnyCable documents expiration as optional and
// anycable-go accepts a token without "exp" (the Rails helpers always write
// one). When present they must be JSON numbers, taken as whole seconds
// (fractions truncated, as ruby-jwt and golang-jwt do). The token is expired
// from exp+leeway on, and not yet valid before nbf-leeway; both give
// ErrTokenExpired. "iat" is informational (RFC 7519) and ignored, as are
// "iss", "aud" and any other claim.
func (v *JWTVerifier) Verify(token string, now time.Time) (string, error) {
	if len(token) > MaxTokenLen {
		return "", errJWTTooLong
	}
	if !v.Enabled() {
		return "", errJWTNoKey
	}
	if !jwtAlphabetOnly(token) {
		return "", errJWTEncoding
	}
	head, rest, ok1 := strings.Cut(token, ".")
	body, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.IndexByte(sig, '.') >= 0 {
		return "", errJWTSegments
	}

	headJSON, err := jwtEncoding.DecodeString(head)
	if err != nil {
		return "", errJWTEncoding
	}
	newHash, err := jwtHeaderHash(headJSON)
	if err != nil {
		return "", err
	}
	mac, err := jwtEncoding.DecodeString(sig)
	if err != nil {
		return "", errJWTEncoding
	}
	signingInput := token[:len(head)+1+len(body)]
	match := 0
	for _, k := range v.keys { // no early exit: every key costs the same
		m := hmac.New(newHash, k)
		m.Write([]byte(signingInput))
		match |= subtle.ConstantTimeCompare(m.Sum(nil), mac)
	}
	if match != 1 {
		return "", errJWTSignature
	}

	claimsJSON, err := jwtEncoding.DecodeString(body)
	if err != nil {
		return "", errJWTEncoding
	}
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(claimsJSON, &claims); err != nil || claims == nil {
		return "", errJWTClaims
	}
	if raw, ok := claims["exp"]; ok {
		exp, ok := jwtNumericDate(raw)
		if !ok {
			return "", errJWTNumericDate
		}
		if !now.Before(time.Unix(exp, 0).Add(v.leeway)) {
			return "", errJWTExpired
		}
	}
	if raw, ok := claims["nbf"]; ok {
		nbf, ok := jwtNumericDate(raw)
		if !ok {
			return "", errJWTNumericDate
		}
		if now.Add(v.leeway).Before(time.Unix(nbf, 0)) {
			return "", errJWTNotYetValid
		}
	}
	raw, ok := claims["ext"]
	if !ok {
		return "", errJWTNoExt
	}
	var ext any
	if err := json.Unmarshal(raw, &ext); err != nil {
		return "", errJWTClaims // unreachable: raw came from a valid object
	}
	ids, ok := ext.(string)
	if !ok {
		return "", errJWTExtNotString
	}
	return ids, nil
}

// jwtAlphabetOnly reports whether s holds only base64url characters and
// dots. Go's base64 decoders skip CR and LF, which would give one signature
// several spellings; nothing but the alphabet is allowed in a token.
func jwtAlphabetOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// jwtHeaderHash validates a decoded JOSE header and returns the HMAC hash
// its "alg" names.
func jwtHeaderHash(headJSON []byte) (func() hash.Hash, error) {
	var header map[string]json.RawMessage
	if err := json.Unmarshal(headJSON, &header); err != nil || header == nil {
		return nil, errJWTHeader
	}
	// RFC 7515 §4.1.11: extensions listed in "crit" must be understood; we
	// understand none (this also refuses unencoded payloads, RFC 7797).
	if _, ok := header["crit"]; ok {
		return nil, errJWTCrit
	}
	var alg any
	if err := json.Unmarshal(header["alg"], &alg); err != nil {
		return nil, errJWTAlg // missing: Unmarshal of nil fails
	}
	switch alg {
	case "HS256":
		return sha256.New, nil
	case "HS384":
		return sha512.New384, nil
	case "HS512":
		return sha512.New, nil
	}
	return nil, errJWTAlg
}

// jwtNumericDate reads a NumericDate claim: a JSON number of seconds since
// the epoch, truncated toward zero and clamped to ±maxNumericDate. Strings,
// null, booleans and other non-numbers are refused.
func jwtNumericDate(raw json.RawMessage) (int64, bool) {
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) { // ErrRange: ±Inf, clamped below
		return 0, false
	}
	if math.IsNaN(f) {
		return 0, false
	}
	f = math.Max(-maxNumericDate, math.Min(maxNumericDate, f))
	return int64(f), true
}

// Sign returns an HS256 token signed with the first key, with the claims
// anycable-rails-jwt writes: {"ext":identifiers,"exp":exp.Unix()} under the
// header {"alg":"HS256"}. It is meant for tests and tools. It fails without
// a key, and for identifiers that are not valid UTF-8 (JSON could not carry
// them unchanged).
func (v *JWTVerifier) Sign(identifiers string, exp time.Time) (string, error) {
	if !v.Enabled() {
		return "", errJWTNoKey
	}
	if !utf8.ValidString(identifiers) {
		return "", errJWTInvalidUTF8ID
	}
	ext, err := json.Marshal(identifiers)
	if err != nil {
		return "", err // unreachable: a valid UTF-8 string always marshals
	}
	claims := make([]byte, 0, len(ext)+32)
	claims = append(claims, `{"ext":`...)
	claims = append(claims, ext...)
	claims = append(claims, `,"exp":`...)
	claims = strconv.AppendInt(claims, exp.Unix(), 10)
	claims = append(claims, '}')

	input := jwtHS256Header + "." + jwtEncoding.EncodeToString(claims)
	m := hmac.New(sha256.New, v.keys[0])
	m.Write([]byte(input))
	return input + "." + jwtEncoding.EncodeToString(m.Sum(nil)), nil
}
