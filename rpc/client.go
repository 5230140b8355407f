package rpc

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/cableway/caddy-anycable-sse/internal/redact"
)

// AnyCable HTTP RPC (spec §6): the app authenticates connections (/connect),
// runs channel commands (/command) and hears about closed connections
// (/disconnect). Bodies are JSON with the protobuf field names; statuses are
// JSON numbers.

// Status values of RPC responses (the protobuf enum, sent as a number).
const (
	StatusError   = 0 // also what an absent status decodes to
	StatusSuccess = 1
	StatusFailure = 2
)

// Env is the request environment sent with every call.
type Env struct {
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	CState  map[string]string `json:"cstate,omitempty"`
	IState  map[string]string `json:"istate,omitempty"`
}

// EnvResponse is the state the app hands back. In cstate a key with an empty
// value means "delete" (the caller merges).
type EnvResponse struct {
	CState map[string]string `json:"cstate"`
	IState map[string]string `json:"istate"`
}

// ConnectRequest is the body of POST <url>/connect.
type ConnectRequest struct {
	Env Env `json:"env"`
}

// ConnectResponse is the body the app answers /connect with.
type ConnectResponse struct {
	Status        int          `json:"status"`
	Identifiers   string       `json:"identifiers"`
	Transmissions []string     `json:"transmissions"`
	ErrorMsg      string       `json:"error_msg"`
	Env           *EnvResponse `json:"env"`
}

// CommandRequest is the body of POST <url>/command. Command is "subscribe",
// "unsubscribe" or "message".
type CommandRequest struct {
	Command               string `json:"command"`
	Identifier            string `json:"identifier"`
	ConnectionIdentifiers string `json:"connection_identifiers,omitempty"`
	Data                  string `json:"data,omitempty"`
	Env                   Env    `json:"env"`
}

// CommandResponse is the body the app answers /command with. Fields the
// server does not use (presence) are ignored.
type CommandResponse struct {
	Status         int          `json:"status"`
	Disconnect     bool         `json:"disconnect"`
	StopStreams    bool         `json:"stop_streams"`
	Streams        []string     `json:"streams"`
	StoppedStreams []string     `json:"stopped_streams"`
	Transmissions  []string     `json:"transmissions"`
	ErrorMsg       string       `json:"error_msg"`
	Env            *EnvResponse `json:"env"`
}

// DisconnectRequest is the body of POST <url>/disconnect. Env.IState maps each
// channel identifier to the JSON encoding of that channel's state map.
type DisconnectRequest struct {
	Identifiers   string   `json:"identifiers"`
	Subscriptions []string `json:"subscriptions"`
	Env           Env      `json:"env"`
}

// DisconnectResponse is the body the app answers /disconnect with.
type DisconnectResponse struct {
	Status   int    `json:"status"`
	ErrorMsg string `json:"error_msg"`
}

// Error kinds.
const (
	// KindUnavailable: the app could not be reached (connection refused,
	// reset, DNS, TLS) after the retries the timeout allowed, or the
	// connection broke while the response body was read.
	KindUnavailable = "unavailable"
	// KindTimeout: no complete response within Config.Timeout (or before
	// the caller's own deadline).
	KindTimeout = "timeout"
	// KindHTTPStatus: the app answered with a status other than 200
	// (Error.Status holds it).
	KindHTTPStatus = "http_status"
	// KindDecode: a 200 whose body is not the expected JSON (not JSON, a
	// string status, too large, ...).
	KindDecode = "decode"
	// KindBreakerOpen: the circuit breaker refused the call.
	KindBreakerOpen = "breaker_open"
	// KindQueueTimeout: no concurrency slot freed up within
	// Config.QueueTimeout (the app is slow or down and callers pile up).
	KindQueueTimeout = "queue_timeout"
	// KindCanceled: the caller's context was cancelled (the client left).
	KindCanceled = "canceled"
	// KindInvalidRequest: the call could not be sent as given (a nil
	// request, a sid that is not a valid header value). A programming error.
	KindInvalidRequest = "invalid_request"
)

// Error is the error every Client call returns. Kind is one of the
// Kind constants and is meant for metrics labels; Msg is for logs and
// names the endpoint.
type Error struct {
	Kind   string
	Status int // HTTP status for KindHTTPStatus, else 0
	Msg    string
	err    error // the underlying error, if any, for errors.Is/As
}

func (e *Error) Error() string {
	return "anycable rpc " + e.Kind + ": " + e.Msg
}

// Unwrap exposes the underlying error (e.g. context.Canceled).
func (e *Error) Unwrap() error { return e.err }

// Unavailable reports whether err says the app is unavailable for now
// (unreachable, too slow, overloaded, a 5xx), as opposed to an answer the
// app meant (a refusal, a malformed response) or the caller leaving. A
// client turned away for this should come back later.
func Unavailable(err error) bool {
	var re *Error
	if !errors.As(err, &re) {
		return false
	}
	switch re.Kind {
	case KindUnavailable, KindTimeout, KindBreakerOpen, KindQueueTimeout:
		return true
	case KindHTTPStatus:
		return re.Status >= 500
	}
	return false
}

// Config configures an Client.
type Config struct {
	// URL is the RPC mount, e.g. http://127.0.0.1:3000/_anycable. The
	// endpoints are its path joined with connect, command and disconnect; a
	// query string is kept.
	URL string
	// Secret, when set, is sent as "Authorization: Bearer <Secret>".
	Secret string
	// Timeout bounds one call, retries included, from the moment it holds a
	// concurrency slot. Default 3s.
	Timeout time.Duration
	// Concurrency is the most calls in flight at once; further calls wait in
	// FIFO order, at most QueueTimeout. Default 28.
	Concurrency int
	// QueueTimeout bounds the wait for a concurrency slot; a call that
	// gets none fails with KindQueueTimeout. Default: Timeout.
	QueueTimeout time.Duration
	// Transport, if set, replaces the client's own pooled transport.
	Transport http.RoundTripper
}

const (
	rpcDefaultTimeout     = 3 * time.Second
	rpcDefaultConcurrency = 28
	rpcRetryBase          = 100 * time.Millisecond
	rpcMaxResponseBytes   = 16 << 20 // a 200 body larger than this is a decode error
	rpcErrorBodyBytes     = 512      // of a non-200 body, this much goes into the error
	rpcDrainBytes         = 64 << 10 // read at most this much more to reuse the connection
)

var errRPCTimeout = errors.New("rpc call timed out")

// Client calls the app's AnyCable HTTP RPC. It is safe for concurrent use.
type Client struct {
	client  *http.Client
	secret  string
	timeout time.Duration
	// queueTimeout bounds the wait for a slot in sem.
	queueTimeout time.Duration
	sem          chan struct{}
	pending      atomic.Int64
	breaker      *rpcBreaker

	connectURL, commandURL, disconnectURL string
}

// CheckURL checks an RPC URL without I/O: http or https with a host.
// Errors never carry the URL's password.
func CheckURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("anycable rpc: invalid url %q: %w", redact.URL(s), redact.Error(err, s))
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("anycable rpc: url %q must be http:// or https:// with a host", redact.URL(s))
	}
	return nil
}

// NewClient validates cfg and builds a client. The URL must be http or
// https with a host.
func NewClient(cfg Config) (*Client, error) {
	if err := CheckURL(cfg.URL); err != nil {
		return nil, err
	}
	u, _ := url.Parse(cfg.URL)
	if !rpcValidHeaderValue(cfg.Secret) {
		return nil, errors.New("anycable rpc: secret contains characters not allowed in a header")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = rpcDefaultTimeout
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = rpcDefaultConcurrency
	}
	if cfg.QueueTimeout <= 0 {
		cfg.QueueTimeout = cfg.Timeout
	}
	rt := cfg.Transport
	if rt == nil {
		rt = &http.Transport{
			// No proxy: the app is a private upstream (AnyCable does the same).
			DialContext: (&net.Dialer{
				Timeout:   30 * time.Second,
				KeepAlive: 30 * time.Second,
			}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          cfg.Concurrency,
			MaxIdleConnsPerHost:   cfg.Concurrency,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		}
	}
	u.Fragment, u.RawFragment = "", ""
	c := &Client{
		client: &http.Client{
			Transport: rt,
			// A redirect is reported, not followed: following a 301/302 would
			// turn the POST into a GET, and the app's RPC never redirects.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		secret:        cfg.Secret,
		timeout:       cfg.Timeout,
		queueTimeout:  cfg.QueueTimeout,
		sem:           make(chan struct{}, cfg.Concurrency),
		breaker:       newRPCBreaker(time.Now),
		connectURL:    u.JoinPath("connect").String(),
		commandURL:    u.JoinPath("command").String(),
		disconnectURL: u.JoinPath("disconnect").String(),
	}
	return c, nil
}

// Pending is the number of calls waiting for a concurrency slot.
func (c *Client) Pending() int { return int(c.pending.Load()) }

// CloseIdleConnections closes pooled keep-alive connections (for shutdown).
func (c *Client) CloseIdleConnections() { c.client.CloseIdleConnections() }

// Connect asks the app to authenticate a connection. sid is the session id
// sent as X-Anycable-Meta-Sid. ctx should be the client's request context:
// when the client leaves, the call is abandoned and the app's request
// cancelled.
func (c *Client) Connect(ctx context.Context, sid string, req *ConnectRequest) (*ConnectResponse, error) {
	if req == nil {
		return nil, rpcInvalid("connect", "nil request")
	}
	var res ConnectResponse
	if err := c.call(ctx, "connect", c.connectURL, sid, req, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// Command runs a channel command (subscribe, unsubscribe, message).
func (c *Client) Command(ctx context.Context, sid string, req *CommandRequest) (*CommandResponse, error) {
	if req == nil {
		return nil, rpcInvalid("command", "nil request")
	}
	var res CommandResponse
	if err := c.call(ctx, "command", c.commandURL, sid, req, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// Disconnect tells the app a connection closed. As it usually runs after the
// client left, pass a context that outlives the request (for example
// context.WithoutCancel(r.Context())); a cancelled ctx fails at once.
func (c *Client) Disconnect(ctx context.Context, sid string, req *DisconnectRequest) (*DisconnectResponse, error) {
	if req == nil {
		return nil, rpcInvalid("disconnect", "nil request")
	}
	if req.Subscriptions == nil {
		// Send [] rather than null: proto3 JSON accepts both, but [] does not
		// depend on the parser treating null as the default.
		cp := *req
		cp.Subscriptions = []string{}
		req = &cp
	}
	var res DisconnectResponse
	if err := c.call(ctx, "disconnect", c.disconnectURL, sid, req, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// rpcMarshal encodes a request without HTML escaping, so that a URL's '&'
// stays '&' as in AnyCable's captured requests (either form is valid JSON).
func rpcMarshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func rpcInvalid(method, msg string) *Error {
	return &Error{Kind: KindInvalidRequest, Msg: method + ": " + msg}
}

// call runs one RPC: breaker check, concurrency slot, then attempts with
// retries on connection errors, all bounded by c.timeout and ctx.
func (c *Client) call(ctx context.Context, method, endpoint, sid string, req, out any) error {
	if !rpcValidHeaderValue(sid) {
		return rpcInvalid(method, fmt.Sprintf("sid %q is not a valid header value", sid))
	}
	if err := ctx.Err(); err != nil {
		return rpcCtxError(method, ctx, err)
	}
	// Fail fast while the breaker is open instead of queueing for a slot.
	if !c.breaker.ready() {
		return rpcBreakerError(method)
	}
	payload, err := rpcMarshal(req)
	if err != nil { // cannot happen with these types
		return &Error{Kind: KindInvalidRequest, Msg: method + ": " + err.Error(), err: err}
	}

	select {
	case c.sem <- struct{}{}:
	default:
		c.pending.Add(1)
		wait := time.NewTimer(c.queueTimeout)
		select {
		case c.sem <- struct{}{}:
			c.pending.Add(-1)
			wait.Stop()
		case <-ctx.Done():
			c.pending.Add(-1)
			wait.Stop()
			return rpcCtxError(method, ctx, ctx.Err())
		case <-wait.C:
			c.pending.Add(-1)
			return &Error{Kind: KindQueueTimeout, Msg: fmt.Sprintf("%s: no free slot within %v (all %d in use)", method, c.queueTimeout, cap(c.sem))}
		}
	}
	defer func() { <-c.sem }()

	cctx, cancel := context.WithTimeoutCause(ctx, c.timeout, errRPCTimeout)
	defer cancel()

	var lastErr *Error
	for attempt := 0; ; attempt++ {
		done, ok := c.breaker.allow()
		if !ok {
			if lastErr != nil {
				lastErr.Msg += "; circuit breaker opened"
				return lastErr
			}
			return rpcBreakerError(method)
		}
		body, rerr, outcome, retry := c.attempt(ctx, cctx, method, endpoint, sid, payload)
		done(outcome)
		if rerr == nil {
			if err := json.Unmarshal(body, out); err != nil {
				return &Error{
					Kind: KindDecode,
					Msg:  fmt.Sprintf("%s: invalid response: %v; body: %s", method, err, rpcSnippet(body)),
					err:  err,
				}
			}
			return nil
		}
		if !retry {
			return rerr
		}
		lastErr = rerr
		lastErr.Msg = fmt.Sprintf("%s (attempt %d)", rerr.Msg, attempt+1)

		t := time.NewTimer(rpcRetryBase << attempt)
		select {
		case <-t.C:
		case <-cctx.Done():
			t.Stop()
			if err := ctx.Err(); err != nil {
				return rpcCtxError(method, ctx, err)
			}
			// Out of time while backing off: the app is still unreachable.
			return lastErr
		}
	}
}

// attempt makes one HTTP request. It returns the 200 body, or an error with
// the breaker outcome and whether a retry may help.
func (c *Client) attempt(parent, ctx context.Context, method, endpoint, sid string, payload []byte) ([]byte, *Error, rpcOutcome, bool) {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(payload))
	if err != nil {
		return nil, &Error{Kind: KindInvalidRequest, Msg: method + ": " + err.Error(), err: err}, rpcOutcomeNeutral, false
	}
	hreq.Header.Set("Content-Type", "application/json")
	if c.secret != "" {
		hreq.Header.Set("Authorization", "Bearer "+c.secret)
	}
	if sid != "" {
		hreq.Header.Set("X-Anycable-Meta-Sid", sid)
	}
	hreq.Header.Set("X-Anycable-Meta-Protov", "v1")

	res, err := c.client.Do(hreq)
	if err != nil {
		if ctx.Err() != nil {
			rerr, outcome := rpcDoneError(method, parent, ctx)
			return nil, rerr, outcome, false
		}
		// A certificate problem will not fix itself within a retry.
		retry := !rpcIsTLSConfigError(err)
		return nil, &Error{Kind: KindUnavailable, Msg: method + ": " + redact.Error(err, endpoint).Error(), err: err}, rpcOutcomeFailure, retry
	}
	defer res.Body.Close()

	// From here on the app answered: the breaker counts a success whatever
	// the status, and nothing is retried.
	if res.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(res.Body, rpcErrorBodyBytes))
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, rpcDrainBytes))
		class := "unknown"
		switch res.StatusCode {
		case http.StatusUnauthorized:
			class = "unauthenticated"
		case http.StatusBadRequest, http.StatusUnprocessableEntity:
			class = "invalid argument"
		}
		msg := fmt.Sprintf("%s: HTTP %d (%s)", method, res.StatusCode, class)
		if loc := res.Header.Get("Location"); loc != "" {
			msg += "; redirect to " + strconv.Quote(loc)
		}
		msg += "; body: " + rpcSnippet(body)
		return nil, &Error{Kind: KindHTTPStatus, Status: res.StatusCode, Msg: msg}, rpcOutcomeSuccess, false
	}

	body, err := io.ReadAll(io.LimitReader(res.Body, rpcMaxResponseBytes+1))
	if err != nil {
		if ctx.Err() != nil {
			rerr, _ := rpcDoneError(method, parent, ctx)
			return nil, rerr, rpcOutcomeSuccess, false
		}
		return nil, &Error{Kind: KindUnavailable, Msg: method + ": reading response: " + err.Error(), err: err}, rpcOutcomeSuccess, false
	}
	if len(body) > rpcMaxResponseBytes {
		return nil, &Error{Kind: KindDecode, Msg: fmt.Sprintf("%s: response larger than %d bytes", method, rpcMaxResponseBytes)}, rpcOutcomeSuccess, false
	}
	return body, nil, rpcOutcomeSuccess, false
}

// rpcDoneError classifies an attempt ended by ctx (parent plus our timeout):
// our own timeout is a breaker failure, the caller's cancellation or deadline
// is neutral.
func rpcDoneError(method string, parent, ctx context.Context) (*Error, rpcOutcome) {
	if err := parent.Err(); err != nil {
		return rpcCtxError(method, parent, err), rpcOutcomeNeutral
	}
	return &Error{
		Kind: KindTimeout,
		Msg:  method + ": " + context.Cause(ctx).Error(),
		err:  context.DeadlineExceeded,
	}, rpcOutcomeFailure
}

// rpcCtxError describes the caller's context ending the call.
func rpcCtxError(method string, ctx context.Context, err error) *Error {
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{Kind: KindTimeout, Msg: method + ": caller deadline exceeded", err: err}
	}
	msg := method + ": " + err.Error()
	if cause := context.Cause(ctx); cause != nil && cause != err {
		msg += " (" + cause.Error() + ")"
	}
	return &Error{Kind: KindCanceled, Msg: msg, err: err}
}

func rpcBreakerError(method string) *Error {
	return &Error{Kind: KindBreakerOpen, Msg: method + ": http rpc is temporarily unavailable (circuit breaker open)"}
}

func rpcIsTLSConfigError(err error) bool {
	var (
		verr *tls.CertificateVerificationError
		herr x509.HostnameError
		uerr x509.UnknownAuthorityError
		cerr x509.CertificateInvalidError
		rerr tls.RecordHeaderError
	)
	return errors.As(err, &verr) || errors.As(err, &herr) || errors.As(err, &uerr) ||
		errors.As(err, &cerr) || errors.As(err, &rerr)
}

// rpcValidHeaderValue rejects control characters (other than tab), which
// net/http would refuse to send.
func rpcValidHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; (b < 0x20 && b != '\t') || b == 0x7f {
			return false
		}
	}
	return true
}

// rpcSnippet quotes at most rpcErrorBodyBytes of a body for a log line.
func rpcSnippet(b []byte) string {
	if len(b) > rpcErrorBodyBytes {
		return strconv.Quote(string(b[:rpcErrorBodyBytes])) + "…"
	}
	return strconv.Quote(string(b))
}
