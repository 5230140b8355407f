package cable

import "crypto/rand"

// NewSID is a random 21-character session id. AnyCable takes the client's
// X-Request-ID verbatim, but the sid names a connection in exclude_socket,
// in session recovery and, under noauth, in its identifiers {"sid":…} that
// remote disconnects aim at: a client that picks its sid could pick
// another client's.
func NewSID() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
	b := make([]byte, 21)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	for i := range b {
		b[i] = alphabet[b[i]&63]
	}
	return string(b)
}
