package protocol

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

const (
	chat42Signed = "ImNoYXQvNDIi--ed3f0927d13c0c59af99f3ef776af196ea44ff640ab15cf8cf347532daed0c5f"
	board1Turbo  = "ImJvYXJkOjEi--7eadb36517dd962e290a5c55daad0a9a3ae0aa9a26ae0e72b7f78ae7eb0d5a3d"
)

// signRaw signs an arbitrary base64 payload, to build names whose signature
// is valid but whose content is not.
func signRaw(key, data string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(data))
	return data + "--" + hex.EncodeToString(m.Sum(nil))
}

func TestSignStreamVectors(t *testing.T) {
	// Spec §7.3: computed by three implementations and accepted by the binary.
	if got := SignStream([]byte("s3cr3t"), "chat/42"); got != chat42Signed {
		t.Errorf("SignStream(chat/42) = %s, want %s", got, chat42Signed)
	}
	// §7.3: "x~~" signs to a base64 text containing '+' (must be %2B in a URL).
	got := SignStream([]byte("s3cr3t"), "x~~")
	if !strings.HasPrefix(got, "Inh+fiI=--79dd") || !strings.HasSuffix(got, "342a") {
		t.Errorf("SignStream(x~~) = %s, want Inh+fiI=--79dd…342a", got)
	}
	// §7.3: Go's JSON escapes <>&, as AnyCable's signer does.
	data, _, _ := strings.Cut(SignStream([]byte("k"), "room?x=1>"), "--")
	if js, _ := base64.StdEncoding.DecodeString(data); string(js) != `"room?x=1\u003e"` {
		t.Errorf("signed JSON = %s, want %s", js, `"room?x=1\u003e"`)
	}
}

func TestTurboKeyFromSecretKeyBase(t *testing.T) {
	// Spec §7.4: secret_key_base testsecret123, stream board:1.
	key := TurboKeyFromSecretKeyBase("testsecret123")
	if len(key) != 64 {
		t.Fatalf("key length %d, want 64", len(key))
	}
	v := NewVerifier(key)
	if got := v.Sign("board:1"); got != board1Turbo {
		t.Errorf("Sign(board:1) = %s, want %s", got, board1Turbo)
	}
	if s, err := v.Verify(board1Turbo); err != nil || s != "board:1" {
		t.Errorf("Verify = %q, %v", s, err)
	}
	if TurboKeyFromSecretKeyBase("") != nil {
		t.Error("an empty secret_key_base must not derive a key")
	}
}

func TestVerify(t *testing.T) {
	v := NewVerifier([]byte("s3cr3t"))
	okJSON := base64.StdEncoding.EncodeToString([]byte(`"ab"`)) // ImFiIg==
	tests := []struct {
		name   string
		signed string
		want   string
		err    error
	}{
		{"spec vector", chat42Signed, "chat/42", nil},
		{"ruby JSON (no <> escaping) verifies", signRaw("s3cr3t", base64.StdEncoding.EncodeToString([]byte(`"a>b"`))), "a>b", nil},
		{"escaped JSON", signRaw("s3cr3t", base64.StdEncoding.EncodeToString([]byte(`"\u00e9\n"`))), "é\n", nil},
		{"uppercase digest", strings.ToUpper(chat42Signed[:14]) + strings.ToUpper(chat42Signed[14:]), "", ErrBadSignature},
		{"wrong key", SignStream([]byte("other"), "chat/42"), "", ErrBadSignature},
		{"empty-key forgery", SignStream(nil, "chat/42"), "", ErrBadSignature},
		{"tampered payload", "ImNoYXQvNDMi" + chat42Signed[12:], "", ErrBadSignature},
		{"plus decoded to space in a query", strings.Replace(SignStream([]byte("s3cr3t"), "x~~"), "+", " ", 1), "", ErrBadSignature},
		{"empty", "", "", ErrMalformedSignedName},
		{"no separator", "ImNoYXQvNDIi", "", ErrMalformedSignedName},
		{"three parts", chat42Signed + "--00", "", ErrMalformedSignedName},
		{"empty data", "--" + chat42Signed[14:], "", ErrMalformedSignedName},
		{"empty digest", "ImNoYXQvNDIi--", "", ErrMalformedSignedName},
		{"signed non-string JSON", signRaw("s3cr3t", base64.StdEncoding.EncodeToString([]byte(`{"a":1}`))), "", ErrMalformedSignedName},
		{"signed null", signRaw("s3cr3t", base64.StdEncoding.EncodeToString([]byte(`null`))), "", ErrMalformedSignedName},
		{"signed number", signRaw("s3cr3t", base64.StdEncoding.EncodeToString([]byte(`42`))), "", ErrMalformedSignedName},
		{"signed bad base64", signRaw("s3cr3t", "!!!!"), "", ErrMalformedSignedName},
		{"signed unpadded base64", signRaw("s3cr3t", strings.TrimRight(okJSON, "=")), "", ErrMalformedSignedName},
		{"signed trailing JSON", signRaw("s3cr3t", base64.StdEncoding.EncodeToString([]byte(`"a" "b"`))), "", ErrMalformedSignedName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Verify(tt.signed)
			if !errors.Is(err, tt.err) || got != tt.want {
				t.Errorf("Verify(%q) = %q, %v; want %q, %v", tt.signed, got, err, tt.want, tt.err)
			}
		})
	}
}

func TestVerifierNoSecret(t *testing.T) {
	// AnyCable verifies with an empty key when no secret is set (§7.3, §14.3).
	for _, v := range []*Verifier{NewVerifier(), NewVerifier(nil, []byte{}), nil} {
		if v.Enabled() {
			t.Error("Enabled() = true without keys")
		}
		if _, err := v.Verify(SignStream(nil, "chat/42")); !errors.Is(err, ErrNoSecret) {
			t.Errorf("Verify(empty-key signature) error = %v, want ErrNoSecret", err)
		}
		if _, err := v.Verify(chat42Signed); !errors.Is(err, ErrNoSecret) {
			t.Errorf("Verify error = %v, want ErrNoSecret", err)
		}
		if s := v.Sign("x"); s != "" {
			t.Errorf("Sign without key = %q, want empty", s)
		}
	}
}

func TestVerifierRotation(t *testing.T) {
	oldKey, newKey := []byte("old"), []byte("new")
	v := NewVerifier(nil, newKey, oldKey)
	if !v.Enabled() {
		t.Fatal("not enabled")
	}
	if got, want := v.Sign("s"), SignStream(newKey, "s"); got != want {
		t.Errorf("Sign uses %q, want the first non-empty key", got)
	}
	for _, k := range [][]byte{oldKey, newKey} {
		if s, err := v.Verify(SignStream(k, "s")); err != nil || s != "s" {
			t.Errorf("Verify(signed with %s) = %q, %v", k, s, err)
		}
	}
	if _, err := v.Verify(SignStream([]byte("third"), "s")); !errors.Is(err, ErrBadSignature) {
		t.Errorf("unknown key: %v", err)
	}
	// The verifier keeps its own copy of the keys.
	newKey[0] = 'X'
	if s, err := v.Verify(SignStream([]byte("new"), "s")); err != nil || s != "s" {
		t.Errorf("key changed under the verifier: %q, %v", s, err)
	}
}

func FuzzVerify(f *testing.F) {
	f.Add([]byte("s3cr3t"), "chat/42", chat42Signed)
	f.Add([]byte("s3cr3t"), "x~~", "Inh+fiI=--79dd")
	f.Add([]byte("k"), "room?x=1>&<", "a--b--c")
	f.Add([]byte{}, "", "--")
	f.Add([]byte("k"), "\xff\n", signRaw("k", "bnVsbA=="))
	f.Fuzz(func(t *testing.T, key []byte, stream, signed string) {
		if _, err := NewVerifier().Verify(signed); !errors.Is(err, ErrNoSecret) {
			t.Fatalf("no keys: %v", err)
		}
		v := NewVerifier(key)
		if _, err := v.Verify(signed); err == nil && strings.Count(signed, "--") != 1 {
			t.Fatalf("accepted %q without exactly one separator", signed)
		}
		if len(key) == 0 {
			return
		}
		got, err := v.Verify(v.Sign(stream))
		if err != nil {
			t.Fatalf("Verify(Sign(%q)): %v", stream, err)
		}
		if want := replaceInvalidUTF8(stream); got != want {
			t.Fatalf("Verify(Sign(%q)) = %q, want %q", stream, got, want)
		}
		// Any other key must refuse it.
		if _, err := NewVerifier(append([]byte("x"), key...)).Verify(v.Sign(stream)); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("other key accepted the signature: %v", err)
		}
	})
}

// replaceInvalidUTF8 replaces each invalid byte by U+FFFD, as encoding/json
// does when it marshals a string.
func replaceInvalidUTF8(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}
