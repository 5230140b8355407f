package anycablesse

import (
	"errors"
	"io"
	"net/http"
	"strconv"

	"go.uber.org/zap"

	"github.com/cableway/caddy-anycable-sse/protocol"
	"github.com/cableway/caddy-anycable-sse/pubsub"
	"github.com/cableway/caddy-anycable-sse/sse"
)

// serveBroadcast is AnyCable's HTTP broadcaster endpoint: a publication (or
// a batch, or a remote command) as JSON. 201 on success, 400 when the body
// cannot be read, 401 for a wrong or missing key, 403 for a non-loopback
// client when no key is configured, 405 (Allow: POST) for another method,
// 413 over the body limit, 422 for a malformed body (AnyCable answers 201
// and drops it silently), 500 when the broker fails otherwise, 503 when the
// broker cannot store it now.
func (h *Handler) serveBroadcast(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.refuseBroadcast(w, r, http.StatusMethodNotAllowed, "method must be POST")
		return
	}
	if h.broadcastKey != "" {
		if !protocol.CheckBearer(r.Header.Get("Authorization"), h.broadcastKey) {
			h.refuseBroadcast(w, r, http.StatusUnauthorized, "missing or wrong broadcast key")
			return
		}
	} else if !h.openBroadcast && (!isLoopbackPeer(r.RemoteAddr) || viaTrustedProxy(r)) {
		// The TCP peer decides, never a forwarded address; and a request
		// forwarded by a trusted proxy is not local whatever its peer (such
		// configs are refused at provision; this backs that up).
		h.refuseBroadcast(w, r, http.StatusForbidden, "no broadcast_key configured: loopback clients only")
		return
	}

	body, err := io.ReadAll(io.LimitReader(r.Body, h.MaxBroadcastBody+1))
	if err != nil {
		h.refuseBroadcast(w, r, http.StatusBadRequest, "reading body: "+err.Error())
		return
	}
	if int64(len(body)) > h.MaxBroadcastBody {
		h.refuseBroadcast(w, r, http.StatusRequestEntityTooLarge, "body over "+strconv.FormatInt(h.MaxBroadcastBody, 10)+" bytes")
		return
	}
	pubs, cmd, err := protocol.ParseBroadcast(body, protocol.BroadcastLimits{MaxBatch: h.MaxBroadcastBatch, MaxStreamLen: defaultMaxStreamName})
	if err != nil {
		h.refuseBroadcast(w, r, http.StatusUnprocessableEntity, err.Error())
		return
	}
	if cmd != nil {
		if err := h.engine.command(r.Context(), body, cmd); err != nil {
			h.refuseBroadcast(w, r, http.StatusServiceUnavailable, "broker: "+err.Error())
			return
		}
		w.WriteHeader(http.StatusCreated)
		return
	}
	for i, p := range pubs {
		_, err := h.engine.hub.Publish(r.Context(), toPublication(p))
		if err != nil {
			h.metrics.brokerErrors.WithLabelValues("publish").Inc()
			status := http.StatusServiceUnavailable
			if !errors.Is(err, pubsub.ErrUnavailable) {
				status = http.StatusInternalServerError
			}
			h.logger.Error("publishing failed", zap.Int("published", i), zap.Int("batch", len(pubs)), zap.Error(err))
			h.refuseBroadcast(w, r, status, "broker: "+err.Error())
			return
		}
		h.metrics.broadcasts.Inc()
	}
	w.WriteHeader(http.StatusCreated)
}

func toPublication(b protocol.Broadcast) pubsub.Publication {
	return pubsub.Publication{
		Stream:        b.Stream,
		Data:          b.Data,
		Transient:     b.Meta.Transient,
		ExcludeSocket: b.Meta.ExcludeSocket,
		BroadcastType: b.Meta.BroadcastType,
	}
}

func (h *Handler) refuseBroadcast(w http.ResponseWriter, r *http.Request, status int, reason string) {
	reason = sse.SetReason(w.Header(), reason)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(status)
	h.logger.Info("broadcast refused", zap.Int("status", status), zap.String("reason", reason), zap.String("remote", r.RemoteAddr))
}
