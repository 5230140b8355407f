// Package ws holds the WebSocket pieces of the Action Cable transport that
// do not depend on the session: the upgrade check and the 101 response,
// server frames, and a reader for client frames.
//
// It is built for connections that have no goroutine of their own while
// idle: the handler hijacks the connection and writes the 101 itself
// (AppendAcceptResponse), the shared writer pool (package conn) writes
// frames, and a pool goroutine reads when the connection is readable
// (Reader.ReadMessage). So:
//   - a server frame is plain bytes (AppendTextFrame): an unmasked frame is
//     a header and the payload, so the frame of one broadcast is built once
//     and written as is to every subscriber's socket;
//   - a Reader holds no buffer while idle; it borrows one from a pool for
//     the duration of a read and keeps only bytes read past the message;
//   - the reader does not write: the pong for a client ping is handed to the
//     caller, which queues it with the connection's other frames (or, with
//     no callback, written to the connection directly).
//
// Frame headers are parsed and checked with github.com/gobwas/ws, whose
// low-level API works on a plain net.Conn without a connection object. The
// handshake is checked here, because its refusals must be anycable-go's
// (status, body and headers; spec §2.2) and because the caller hijacks.
//
// The transport itself (a Codec and a cable.Transport over these pieces, as
// package sse has) is not written yet: nothing in the module serves
// WebSocket connections so far.
package ws
