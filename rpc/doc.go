// Package rpc is the client of the application's AnyCable HTTP RPC (spec §6):
// /connect authenticates a connection, /command runs a channel command and
// /disconnect tells the app a connection closed. It owns the HTTP transport,
// the per-call timeout, the concurrency limit, retries of idempotent failures
// and the circuit breaker that fails fast while the app is down.
//
// It imports only the standard library and internal/redact: the wire
// vocabulary of Action Cable lives in protocol, and the session (package
// cable) decides what a reply means for a connection; the Caddy module
// builds the client and the transports pass the request's env along.
package rpc
