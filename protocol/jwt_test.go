package protocol

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

const (
	jwtTestKey = "s3cr3t"
	// jwtRailsUser1 is JWT.encode({ext: {user_id: 1}.to_json, exp: 4102444800},
	// "s3cr3t", "HS256") as ruby-jwt writes it, computed with openssl:
	// header {"alg":"HS256"}, claims {"ext":"{\"user_id\":1}","exp":4102444800}.
	jwtRailsUser1 = "eyJhbGciOiJIUzI1NiJ9." +
		"eyJleHQiOiJ7XCJ1c2VyX2lkXCI6MX0iLCJleHAiOjQxMDI0NDQ4MDB9." +
		"WB7PYCzNaavYIg5HYemaa9-TosgwGGjA-olVeRtkO5Q"
	// jwtPyHS512GID: header {"alg":"HS512","typ":"JWT"} (PyJWT, jose), ext
	// with a GlobalID as anycable-rails serializes current_user, same exp;
	// computed with openssl.
	jwtPyHS512GID = "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9." +
		"eyJleHQiOiJ7XCJjdXJyZW50X3VzZXJcIjpcIloybGtPaTh2WVhCd0wxVnpaWEl2TVFcIn0iLCJleHAiOjQxMDI0NDQ4MDB9." +
		"rShI_Ex4NooZAvBGU9pI7bbSyQHwBDV0oJU9AxYLvaXRwHCjCHztOXv5H3TUYL-yg57_oXEDPqi8_zOYkx3PgA"
)

var jwtNow = time.Unix(1_700_000_000, 500_000_000) // mid-second on purpose

// jwtSeg is base64url without padding, written out so that the test does not
// share the encoder under test.
func jwtSeg(s string) string {
	return strings.TrimRight(base64.URLEncoding.EncodeToString([]byte(s)), "=")
}

// jwtHand builds a token from raw header and claims JSON, signed with an HMAC
// of the given hash, independently of Sign.
func jwtHand(h func() hash.Hash, key, header, claims string) string {
	input := jwtSeg(header) + "." + jwtSeg(claims)
	m := hmac.New(h, []byte(key))
	m.Write([]byte(input))
	return input + "." + strings.TrimRight(base64.URLEncoding.EncodeToString(m.Sum(nil)), "=")
}

// jwtRails builds an HS256 token the way anycable-rails-jwt does.
func jwtRails(key string, ids string, exp int64) string {
	ext, _ := json.Marshal(ids)
	return jwtHand(sha256.New, key, `{"alg":"HS256"}`,
		`{"ext":`+string(ext)+`,"exp":`+itoa(exp)+`}`)
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func jwtTestVerifier(leeway time.Duration) *JWTVerifier {
	return NewJWTVerifier([][]byte{[]byte(jwtTestKey)}, leeway)
}

func TestJWTVectors(t *testing.T) {
	v := jwtTestVerifier(0)
	if got := jwtRails(jwtTestKey, `{"user_id":1}`, 4102444800); got != jwtRailsUser1 {
		t.Fatalf("hand-built token = %s, want %s", got, jwtRailsUser1)
	}
	if ids, err := v.Verify(jwtRailsUser1, jwtNow); err != nil || ids != `{"user_id":1}` {
		t.Errorf("Verify(rails vector) = %q, %v", ids, err)
	}
	if ids, err := v.Verify(jwtPyHS512GID, jwtNow); err != nil || ids != `{"current_user":"Z2lkOi8vYXBwL1VzZXIvMQ"}` {
		t.Errorf("Verify(HS512 vector) = %q, %v", ids, err)
	}
	// Sign writes the same bytes as ruby-jwt for anycable-rails-jwt.
	tok, err := v.Sign(`{"user_id":1}`, time.Unix(4102444800, 0))
	if err != nil || tok != jwtRailsUser1 {
		t.Errorf("Sign = %s, %v; want %s", tok, err, jwtRailsUser1)
	}
}

func TestJWTVerifyAlgorithms(t *testing.T) {
	v := jwtTestVerifier(0)
	exp := jwtNow.Unix() + 60
	claims := `{"ext":"{\"user_id\":1}","exp":` + itoa(exp) + `}`
	for _, tc := range []struct {
		name string
		h    func() hash.Hash
		alg  string
	}{
		{"HS256", sha256.New, "HS256"},
		{"HS384", sha512.New384, "HS384"},
		{"HS512", sha512.New, "HS512"},
	} {
		for _, header := range []string{
			`{"alg":"` + tc.alg + `"}`,
			`{"alg":"` + tc.alg + `","typ":"JWT"}`,
			`{"typ":"JWT","kid":"k1", "alg" : "` + tc.alg + `"}`,
		} {
			tok := jwtHand(tc.h, jwtTestKey, header, claims)
			if ids, err := v.Verify(tok, jwtNow); err != nil || ids != `{"user_id":1}` {
				t.Errorf("%s %s: Verify = %q, %v", tc.name, header, ids, err)
			}
		}
	}
	// The alg header selects the hash: an HS512 MAC under an HS256 header fails.
	tok := jwtHand(sha512.New, jwtTestKey, `{"alg":"HS256"}`, claims)
	if _, err := v.Verify(tok, jwtNow); err != errJWTSignature {
		t.Errorf("HS512 MAC labelled HS256: err = %v, want %v", err, errJWTSignature)
	}
}

func TestJWTVerifyRefusedAlgorithms(t *testing.T) {
	v := jwtTestVerifier(0)
	claims := `{"ext":"{\"user_id\":1}","exp":` + itoa(jwtNow.Unix()+60) + `}`
	for _, header := range []string{
		`{"alg":"none"}`,
		`{"alg":"None"}`,
		`{"alg":"RS256"}`, // the classic confusion: secret used as "public key"
		`{"alg":"ES256"}`,
		`{"alg":"PS256"}`,
		`{"alg":"EdDSA"}`,
		`{"alg":"HS256 "}`,
		`{"alg":" HS256"}`,
		`{"alg":"hs256"}`,
		`{"alg":"HS256\u0000"}`,
		`{"alg":"HS1"}`,
		`{"alg":""}`,
		`{"alg":null}`,
		`{"alg":256}`,
		`{"alg":["HS256"]}`,
		`{"ALG":"HS256"}`, // member names are case-sensitive
		`{"Alg":"HS256"}`,
		`{"typ":"JWT"}`, // missing alg
		`{}`,
	} {
		// Signed with HMAC-SHA256 and the right secret: only alg is wrong.
		tok := jwtHand(sha256.New, jwtTestKey, header, claims)
		if ids, err := v.Verify(tok, jwtNow); err != errJWTAlg {
			t.Errorf("header %s: Verify = %q, %v; want %v", header, ids, err, errJWTAlg)
		}
	}
	// alg none with an empty signature, the usual shape of the attack.
	none := jwtSeg(`{"alg":"none"}`) + "." + jwtSeg(claims) + "."
	if _, err := v.Verify(none, jwtNow); !errors.Is(err, ErrTokenInvalid) {
		t.Errorf("alg none, empty signature: err = %v", err)
	}
	// RFC 7515 crit: extensions we do not understand (b64:false here).
	crit := jwtHand(sha256.New, jwtTestKey, `{"alg":"HS256","crit":["b64"],"b64":false}`, claims)
	if _, err := v.Verify(crit, jwtNow); err != errJWTCrit {
		t.Errorf("crit header: err = %v, want %v", err, errJWTCrit)
	}
}

func TestJWTVerifyExpiry(t *testing.T) {
	now := jwtNow.Unix() // jwtNow is now+0.5s
	ids := `{"user_id":1}`
	for _, tc := range []struct {
		name   string
		exp    int64
		leeway time.Duration
		want   error
	}{
		{"future", now + 3600, 0, nil},
		{"next second", now + 1, 0, nil},
		{"this second (already past)", now, 0, errJWTExpired},
		{"past", now - 30, 0, errJWTExpired},
		{"past within leeway", now - 30, time.Minute, nil},
		{"past beyond leeway", now - 90, time.Minute, errJWTExpired},
		{"edge of leeway", now - 60, time.Minute, errJWTExpired}, // now+0.5s >= exp+60s
		{"inside leeway edge", now - 59, time.Minute, nil},
		{"negative leeway is zero", now + 1, -time.Hour, nil},
		{"epoch", 0, 0, errJWTExpired},
		{"negative", -5, 0, errJWTExpired},
	} {
		v := jwtTestVerifier(tc.leeway)
		got, err := v.Verify(jwtRails(jwtTestKey, ids, tc.exp), jwtNow)
		if err != tc.want || (err == nil && got != ids) {
			t.Errorf("%s: Verify = %q, %v; want %v", tc.name, got, err, tc.want)
		}
		if tc.want != nil && !errors.Is(err, ErrTokenExpired) {
			t.Errorf("%s: %v is not ErrTokenExpired", tc.name, err)
		}
	}
}

func TestJWTVerifyNumericDates(t *testing.T) {
	now := jwtNow.Unix()
	hs := func(claims string) string { return jwtHand(sha256.New, jwtTestKey, `{"alg":"HS256"}`, claims) }
	ext := `"ext":"{\"user_id\":1}"`
	for _, tc := range []struct {
		name, claims string
		leeway       time.Duration
		want         error
	}{
		// Expiration is optional in AnyCable's docs and in anycable-go.
		{"no exp", `{` + ext + `}`, 0, nil},
		{"exp float future", `{` + ext + `,"exp":` + itoa(now+10) + `.75}`, 0, nil},
		{"exp float truncated", `{` + ext + `,"exp":` + itoa(now) + `.99}`, 0, errJWTExpired},
		{"exp exponent", `{` + ext + `,"exp":4.1e9}`, 0, nil},
		{"exp with spaces", `{` + ext + `, "exp" : ` + itoa(now+10) + ` }`, 0, nil},
		{"exp huge", `{` + ext + `,"exp":1e400}`, 0, nil},
		{"exp beyond int64", `{` + ext + `,"exp":99999999999999999999999}`, 0, nil},
		{"exp very negative", `{` + ext + `,"exp":-1e400}`, 0, errJWTExpired},
		{"exp string", `{` + ext + `,"exp":"` + itoa(now+10) + `"}`, 0, errJWTNumericDate},
		{"exp null", `{` + ext + `,"exp":null}`, 0, errJWTNumericDate},
		{"exp bool", `{` + ext + `,"exp":true}`, 0, errJWTNumericDate},
		{"exp object", `{` + ext + `,"exp":{}}`, 0, errJWTNumericDate},
		{"Exp is not exp", `{` + ext + `,"Exp":1}`, 0, nil},
		{"duplicate exp: last wins", `{` + ext + `,"exp":1,"exp":` + itoa(now+10) + `}`, 0, nil},
		{"nbf past", `{` + ext + `,"nbf":` + itoa(now-10) + `}`, 0, nil},
		{"nbf now", `{` + ext + `,"nbf":` + itoa(now) + `}`, 0, nil},
		{"nbf future", `{` + ext + `,"nbf":` + itoa(now+10) + `}`, 0, errJWTNotYetValid},
		{"nbf future within leeway", `{` + ext + `,"nbf":` + itoa(now+10) + `}`, 30 * time.Second, nil},
		{"nbf future beyond leeway", `{` + ext + `,"nbf":` + itoa(now+40) + `}`, 30 * time.Second, errJWTNotYetValid},
		{"nbf string", `{` + ext + `,"nbf":"0"}`, 0, errJWTNumericDate},
		{"iat in the future is ignored", `{` + ext + `,"iat":` + itoa(now+3600) + `}`, 0, nil},
		{"other claims ignored", `{"iss":"x","aud":["y"],"sub":1,` + ext + `,"exp":` + itoa(now+10) + `}`, 0, nil},
		// Expiry is checked before identifiers, as anycable-go does.
		{"expired without ext", `{"exp":1}`, 0, errJWTExpired},
	} {
		v := jwtTestVerifier(tc.leeway)
		got, err := v.Verify(hs(tc.claims), jwtNow)
		if err != tc.want || (err == nil && got != `{"user_id":1}`) {
			t.Errorf("%s: Verify = %q, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	if !errors.Is(errJWTNotYetValid, ErrTokenExpired) || !errors.Is(errJWTNumericDate, ErrTokenInvalid) {
		t.Error("nbf must map to ErrTokenExpired, a bad date to ErrTokenInvalid")
	}
}

func TestJWTVerifyIdentifiers(t *testing.T) {
	v := jwtTestVerifier(0)
	exp := `,"exp":` + itoa(jwtNow.Unix()+60)
	hs := func(claims string) string { return jwtHand(sha256.New, jwtTestKey, `{"alg":"HS256"}`, claims) }
	for _, tc := range []struct {
		name, claims, ids string
		want              error
	}{
		{"object json", `{"ext":"{\"user_id\":1,\"org\":\"a\"}"` + exp + `}`, `{"user_id":1,"org":"a"}`, nil},
		{"escapes decoded", `{"ext":"{\"n\":\"\u00e9\u003c\"}"` + exp + `}`, `{"n":"é<"}`, nil},
		{"escaped backslash kept", `{"ext":"a\\u003c"` + exp + `}`, `a\u003c`, nil},
		{"not json inside: passed verbatim", `{"ext":"plain"` + exp + `}`, "plain", nil},
		{"empty string accepted", `{"ext":""` + exp + `}`, "", nil},
		{"missing", `{"sub":"1"` + exp + `}`, "", errJWTNoExt},
		{"wrong case", `{"Ext":"{}"` + exp + `}`, "", errJWTNoExt},
		{"number", `{"ext":42` + exp + `}`, "", errJWTExtNotString},
		{"object", `{"ext":{"user_id":1}` + exp + `}`, "", errJWTExtNotString},
		{"array", `{"ext":["a"]` + exp + `}`, "", errJWTExtNotString},
		{"null", `{"ext":null` + exp + `}`, "", errJWTExtNotString},
		{"bool", `{"ext":true` + exp + `}`, "", errJWTExtNotString},
		{"claims array", `[1,2]`, "", errJWTClaims},
		{"claims null", `null`, "", errJWTClaims},
		{"claims string", `"x"`, "", errJWTClaims},
		{"claims not json", `{"ext":`, "", errJWTClaims},
		{"claims trailing garbage", `{"ext":"a"} x`, "", errJWTClaims},
	} {
		got, err := v.Verify(hs(tc.claims), jwtNow)
		if err != tc.want || got != tc.ids {
			t.Errorf("%s: Verify = %q, %v; want %q, %v", tc.name, got, err, tc.ids, tc.want)
		}
	}
	if !errors.Is(errJWTNoExt, ErrTokenNoIdentifiers) || !errors.Is(errJWTExtNotString, ErrTokenNoIdentifiers) {
		t.Error("ext errors must map to ErrTokenNoIdentifiers")
	}
}

func TestJWTVerifyKeys(t *testing.T) {
	tok := jwtRails("old-key", `{"user_id":7}`, jwtNow.Unix()+60)

	if _, err := jwtTestVerifier(0).Verify(tok, jwtNow); err != errJWTSignature {
		t.Errorf("wrong key: err = %v, want %v", err, errJWTSignature)
	}
	// Rotation: the second key still verifies; Sign uses the first.
	v := NewJWTVerifier([][]byte{[]byte("new-key"), nil, []byte("old-key")}, 0)
	if ids, err := v.Verify(tok, jwtNow); err != nil || ids != `{"user_id":7}` {
		t.Errorf("rotated key: Verify = %q, %v", ids, err)
	}
	signed, err := v.Sign(`{"user_id":8}`, jwtNow.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewJWTVerifier([][]byte{[]byte("new-key")}, 0).Verify(signed, jwtNow); err != nil {
		t.Errorf("Sign must use the first key: %v", err)
	}
	if _, err := NewJWTVerifier([][]byte{[]byte("old-key")}, 0).Verify(signed, jwtNow); err != errJWTSignature {
		t.Errorf("token signed with the first key verified with the second: %v", err)
	}
	// The verifier keeps its own copy of the keys.
	key := []byte("mutable")
	kv := NewJWTVerifier([][]byte{key}, 0)
	key[0] = 'X'
	if _, err := kv.Verify(jwtRails("mutable", "{}", jwtNow.Unix()+60), jwtNow); err != nil {
		t.Errorf("caller's key mutation affected the verifier: %v", err)
	}
}

func TestJWTDisabled(t *testing.T) {
	tok := jwtRails("", "{}", jwtNow.Unix()+60) // signed with an empty key
	for name, v := range map[string]*JWTVerifier{
		"nil":        nil,
		"no keys":    NewJWTVerifier(nil, 0),
		"empty keys": NewJWTVerifier([][]byte{{}, nil}, time.Hour),
	} {
		if v.Enabled() {
			t.Errorf("%s: Enabled", name)
		}
		if _, err := v.Verify(tok, jwtNow); err != errJWTNoKey || !errors.Is(err, ErrTokenInvalid) {
			t.Errorf("%s: Verify err = %v, want %v", name, err, errJWTNoKey)
		}
		if s, err := v.Sign("{}", jwtNow); err == nil || s != "" {
			t.Errorf("%s: Sign = %q, %v; want an error", name, s, err)
		}
	}
	if !jwtTestVerifier(0).Enabled() {
		t.Error("a verifier with a key must be enabled")
	}
}

func TestJWTVerifyMalformed(t *testing.T) {
	v := jwtTestVerifier(0)
	good := jwtRails(jwtTestKey, `{"user_id":1}`, jwtNow.Unix()+60)
	parts := strings.Split(good, ".")
	h, p, s := parts[0], parts[1], parts[2]
	if _, err := v.Verify(good, jwtNow); err != nil {
		t.Fatalf("good token: %v", err)
	}

	// Tampered payload: same header and signature, another user.
	evil := jwtSeg(`{"ext":"{\"user_id\":2}","exp":` + itoa(jwtNow.Unix()+60) + `}`)
	// Non-canonical base64: the last character of a 32-byte MAC carries two
	// unused bits; setting one decodes to the same bytes in lax decoders.
	alphabet := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, s[len(s)-1])
	noncanon := s[:len(s)-1] + string(alphabet[last|1])
	if last|1 == last {
		noncanon = s[:len(s)-1] + string(alphabet[last&^1])
	}

	for _, tc := range []struct {
		name, tok string
		want      error
	}{
		{"empty", "", errJWTSegments},
		{"one segment", h, errJWTSegments},
		{"two segments", h + "." + p, errJWTSegments},
		{"four segments", good + ".", errJWTSegments},
		{"five segments (JWE shape)", good + "." + s + "." + s, errJWTSegments},
		{"dots only", "..", errJWTHeader},
		{"tampered payload", h + "." + evil + "." + s, errJWTSignature},
		{"tampered header", jwtSeg(`{"alg":"HS256","typ":"JWT"}`) + "." + p + "." + s, errJWTSignature},
		{"empty signature", h + "." + p + ".", errJWTSignature},
		{"truncated signature", h + "." + p + "." + s[:40], errJWTSignature},
		{"truncated signature, non-canonical end", h + "." + p + "." + s[:39], errJWTEncoding},
		{"signature of another token", h + "." + p + "." + jwtSeg(strings.Repeat("x", 32)), errJWTSignature},
		{"non-canonical signature", h + "." + p + "." + noncanon, errJWTEncoding},
		{"padded signature", good + "=", errJWTEncoding},
		{"std base64 in signature", h + "." + p + "." + strings.NewReplacer("-", "+", "_", "/").Replace(s) + "+", errJWTEncoding},
		{"space", " " + good, errJWTEncoding},
		{"trailing newline", good + "\n", errJWTEncoding},
		{"CRLF inside signature", h + "." + p + "." + s[:20] + "\r\n" + s[20:], errJWTEncoding},
		{"tab", good + "\t", errJWTEncoding},
		{"percent-encoded", strings.Replace(good, ".", "%2E", 1), errJWTEncoding},
		{"header not base64", "!!!." + p + "." + s, errJWTEncoding},
		{"header not json", jwtSeg("alg=HS256") + "." + p + "." + s, errJWTHeader},
		{"header array", jwtSeg(`["HS256"]`) + "." + p + "." + s, errJWTHeader},
		{"header null", jwtSeg(`null`) + "." + p + "." + s, errJWTHeader},
		{"bearer prefix", "Bearer " + good, errJWTEncoding},
	} {
		got, err := v.Verify(tc.tok, jwtNow)
		if err != tc.want || got != "" {
			t.Errorf("%s: Verify = %q, %v; want %v", tc.name, got, err, tc.want)
		}
		if !errors.Is(err, ErrTokenInvalid) {
			t.Errorf("%s: %v is not ErrTokenInvalid", tc.name, err)
		}
	}

	// Payload segment that is not base64, under a valid MAC.
	input := h + ".@@@"
	m := hmac.New(sha256.New, []byte(jwtTestKey))
	m.Write([]byte(input))
	tok := input + "." + jwtSeg(string(m.Sum(nil)))
	if _, err := v.Verify(tok, jwtNow); err != errJWTEncoding {
		t.Errorf("payload not base64 (valid MAC): err = %v, want %v", err, errJWTEncoding)
	}
}

func TestJWTVerifyLength(t *testing.T) {
	v := jwtTestVerifier(0)
	exp := jwtNow.Unix() + 60
	// The longest valid token that fits is accepted; the next one is not,
	// although its signature is valid.
	var fits, tooLong string
	for n := 5000; n < MaxTokenLen; n++ {
		tok := jwtRails(jwtTestKey, strings.Repeat("a", n), exp)
		if len(tok) > MaxTokenLen {
			tooLong = tok
			break
		}
		fits = tok
	}
	if len(fits) < MaxTokenLen-3 || tooLong == "" {
		t.Fatalf("bad fixture lengths %d, %d", len(fits), len(tooLong))
	}
	if _, err := v.Verify(fits, jwtNow); err != nil {
		t.Errorf("token of %d bytes: %v", len(fits), err)
	}
	if _, err := v.Verify(tooLong, jwtNow); err != errJWTTooLong {
		t.Errorf("token of %d bytes: err = %v, want %v", len(tooLong), err, errJWTTooLong)
	}
	// Huge junk is refused by length alone, even with no key configured.
	huge := strings.Repeat("eyJh.", 1<<20)
	if _, err := v.Verify(huge, jwtNow); err != errJWTTooLong {
		t.Errorf("1 MiB token: err = %v", err)
	}
	if _, err := NewJWTVerifier(nil, 0).Verify(huge, jwtNow); err != errJWTTooLong {
		t.Errorf("1 MiB token, no key: err = %v", err)
	}
}

func TestJWTSign(t *testing.T) {
	v := jwtTestVerifier(0)
	exp := jwtNow.Add(time.Hour)
	for _, ids := range []string{`{"user_id":1}`, "", `<script>&"'`, "日本語\u2028", strings.Repeat("x", 1000)} {
		tok, err := v.Sign(ids, exp)
		if err != nil {
			t.Fatalf("Sign(%q): %v", ids, err)
		}
		if !strings.HasPrefix(tok, "eyJhbGciOiJIUzI1NiJ9.") {
			t.Errorf("Sign(%q) header = %s", ids, tok)
		}
		if got, err := v.Verify(tok, jwtNow); err != nil || got != ids {
			t.Errorf("Verify(Sign(%q)) = %q, %v", ids, got, err)
		}
		want := jwtRails(jwtTestKey, ids, exp.Unix())
		if tok != want {
			t.Errorf("Sign(%q) = %s, want %s", ids, tok, want)
		}
	}
	if _, err := v.Verify(mustSign(t, v, "{}", jwtNow.Add(-time.Second)), jwtNow); err != errJWTExpired {
		t.Errorf("Sign with a past exp: err = %v, want %v", err, errJWTExpired)
	}
	if _, err := v.Sign("bad \xff utf-8", exp); err == nil {
		t.Error("Sign must refuse invalid UTF-8 identifiers")
	}
}

func mustSign(t *testing.T, v *JWTVerifier, ids string, exp time.Time) string {
	t.Helper()
	tok, err := v.Sign(ids, exp)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestJWTErrorsAreDistinct(t *testing.T) {
	kinds := []error{ErrTokenExpired, ErrTokenInvalid, ErrTokenNoIdentifiers}
	for i, a := range kinds {
		for j, b := range kinds {
			if (i == j) != errors.Is(a, b) {
				t.Errorf("errors.Is(%v, %v) = %v", a, b, errors.Is(a, b))
			}
		}
	}
	if got := errJWTSignature.Error(); got != "jwt: invalid token: bad signature" {
		t.Errorf("error text = %q", got)
	}
}

func FuzzJWTVerify(f *testing.F) {
	f.Add(jwtRailsUser1, `{"user_id":1}`)
	f.Add(jwtPyHS512GID, "")
	f.Add(jwtSeg(`{"alg":"none"}`)+"."+jwtSeg(`{"ext":"x"}`)+".", "x")
	f.Add("..", "\xff")
	f.Add(jwtHand(sha256.New, jwtTestKey, `{"alg":"HS256"}`, `{"ext":"a","exp":1e400,"nbf":-1e400}`), `<&>`)
	f.Add(jwtHand(sha256.New, jwtTestKey, `{"alg":"HS256"}`, `{"ext":{"a":1}}`), "\u2028")
	f.Add(`{"ext":"{\"user_id\":1}","exp":4102444800,"nbf":1.5}`, "{}")
	v := NewJWTVerifier([][]byte{[]byte("other"), []byte(jwtTestKey)}, time.Second)
	signer := jwtTestVerifier(0)
	check := func(t *testing.T, token string) {
		got, err := v.Verify(token, jwtNow)
		if err != nil {
			if got != "" {
				t.Fatalf("Verify returned %q with error %v", got, err)
			}
			if !errors.Is(err, ErrTokenInvalid) && !errors.Is(err, ErrTokenExpired) && !errors.Is(err, ErrTokenNoIdentifiers) {
				t.Fatalf("unexpected error %v", err)
			}
		}
	}
	f.Fuzz(func(t *testing.T, token, ids string) {
		check(t, token)
		// The same bytes as claims under a valid MAC, to reach claim parsing.
		check(t, jwtHand(sha256.New, jwtTestKey, `{"alg":"HS256"}`, token))

		tok, err := signer.Sign(ids, jwtNow.Add(time.Minute))
		if !utf8.ValidString(ids) {
			if err == nil {
				t.Fatalf("Sign(%q) accepted invalid UTF-8", ids)
			}
			return
		}
		if err != nil {
			t.Fatalf("Sign(%q): %v", ids, err)
		}
		if len(tok) > MaxTokenLen {
			return
		}
		if back, err := v.Verify(tok, jwtNow); err != nil || back != ids {
			t.Fatalf("Verify(Sign(%q)) = %q, %v", ids, back, err)
		}
	})
}

func BenchmarkJWTVerify(b *testing.B) {
	v := NewJWTVerifier([][]byte{[]byte("k2"), []byte(jwtTestKey)}, 0)
	for b.Loop() {
		if _, err := v.Verify(jwtRailsUser1, jwtNow); err != nil {
			b.Fatal(err)
		}
	}
}
