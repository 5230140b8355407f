package anycablesse

import (
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cableway/caddy-anycable-sse/rpc"
)

// Collectors are created once per process and registered into every
// config's registry, so counters and gauges keep their values across
// reloads while streams stay open (Caddy builds a new registry per config).
var (
	metricsOnce sync.Once
	metrics     *promMetrics
)

type promMetrics struct {
	connections   *prometheus.GaugeVec
	connTotal     *prometheus.CounterVec
	refused       *prometheus.CounterVec
	subscriptions prometheus.Gauge
	broadcasts    prometheus.Counter
	delivered     prometheus.Counter
	slowDrops     prometheus.Counter
	history       *prometheus.CounterVec
	rpcDuration   *prometheus.HistogramVec
	rpcErrors     *prometheus.CounterVec
	brokerErrors  *prometheus.CounterVec
	deferred      *prometheus.CounterVec
	rpcWaiting    prometheus.Collector
	redisStats    prometheus.Collector
	bounds        prometheus.Collector
}

// rpcClients are the RPC clients of the live configs; rpc_calls_waiting
// sums their callers waiting for a concurrency slot.
var rpcClients sync.Map // *rpc.Client -> struct{}

func rpcWaiting() float64 {
	var n float64
	rpcClients.Range(func(k, _ any) bool {
		n += float64(k.(*rpc.Client).Pending())
		return true
	})
	return n
}

func initMetrics() *promMetrics {
	metricsOnce.Do(func() {
		const ns, sub = "caddy", "anycable_sse"
		metrics = &promMetrics{
			connections: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
				Name: "connections_open", Help: "Open connections, by transport (sse, ws)."}, []string{"transport"}),
			connTotal: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
				Name: "connections_closed_total", Help: "Connections that ended, by transport and reason."}, []string{"transport", "reason"}),
			refused: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
				Name: "requests_refused_total", Help: "Requests (SSE) and upgrades (WebSocket) refused before streaming, by transport and status."}, []string{"transport", "status"}),
			subscriptions: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
				Name: "subscriptions", Help: "Stream subscriptions of open connections."}),
			broadcasts: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
				Name: "broadcasts_received_total", Help: "Publications accepted for publishing."}),
			delivered: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
				Name: "messages_delivered_total", Help: "Messages queued to clients (one per subscriber)."}),
			slowDrops: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
				Name: "slow_client_drops_total", Help: "Clients disconnected because their queue overflowed."}),
			history: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
				Name: "history_requests_total", Help: "History requests by outcome."}, []string{"outcome"}),
			rpcDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
				Name: "rpc_duration_seconds", Help: "AnyCable RPC call latency.", Buckets: prometheus.DefBuckets}, []string{"method"}),
			rpcErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
				Name: "rpc_errors_total", Help: "AnyCable RPC calls that failed, by method and kind."}, []string{"method", "kind"}),
			brokerErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
				Name: "broker_errors_total", Help: "Broker operations that failed."}, []string{"op"}),
			deferred: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
				Name: "connections_deferred_total", Help: "SSE connections answered with disconnect reconnect:true because the broker or the app was unavailable, by cause."}, []string{"cause"}),
			rpcWaiting: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
				Name: "rpc_calls_waiting", Help: "AnyCable RPC calls waiting for a free slot (rpc_concurrency)."}, rpcWaiting),
			redisStats: redisCollector{
				failing: prometheus.NewDesc(ns+"_"+sub+"_redis_failing_readers", "Bus partitions whose reader cannot read Redis now (non-zero: this node misses broadcasts).", nil, nil),
				errors:  prometheus.NewDesc(ns+"_"+sub+"_redis_bus_errors_total", "Failed bus reads and checks.", nil, nil),
				resyncs: prometheus.NewDesc(ns+"_"+sub+"_redis_resyncs_total", "Bus partitions resynchronised from history.", nil, nil),
				regress: prometheus.NewDesc(ns+"_"+sub+"_redis_regressions_total", "Epochs replaced because Redis lost writes.", nil, nil),
			},
			bounds: newBoundsCollector(ns, sub),
		}
		// Both transports' gauges are shown from the start, at 0.
		for _, tr := range []string{transportSSE, transportWS} {
			metrics.connections.WithLabelValues(tr)
		}
	})
	return metrics
}

func (m *promMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.connections, m.connTotal, m.refused, m.subscriptions, m.broadcasts,
		m.delivered, m.slowDrops, m.history, m.rpcDuration, m.rpcErrors, m.brokerErrors, m.deferred, m.rpcWaiting, m.redisStats, m.bounds}
}

// register adds the collectors to a config's registry; a second handler in
// the same config finds them registered already.
func (m *promMetrics) register(reg *prometheus.Registry) error {
	if reg == nil {
		return nil
	}
	for _, c := range m.collectors() {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return err
			}
		}
	}
	return nil
}

// The transport label of the connection metrics.
const (
	transportSSE = "sse"
	transportWS  = "ws"
)

func (m *promMetrics) opened(transport string) { m.connections.WithLabelValues(transport).Inc() }
func (m *promMetrics) closed(transport, reason string) {
	m.connections.WithLabelValues(transport).Dec()
	m.connTotal.WithLabelValues(transport, reason).Inc()
}
func (m *promMetrics) refusedBy(transport string, status int) {
	m.refused.WithLabelValues(transport, strconv.Itoa(status)).Inc()
}

// sse.Metrics (the SSE endpoint's connections; the rest is shared)
func (m *promMetrics) ConnectionOpened()              { m.opened(transportSSE) }
func (m *promMetrics) ConnectionClosed(reason string) { m.closed(transportSSE, reason) }
func (m *promMetrics) Refused(status int)             { m.refusedBy(transportSSE, status) }
func (m *promMetrics) SubscriptionsAdded(n int)       { m.subscriptions.Add(float64(n)) }
func (m *promMetrics) SubscriptionsRemoved(n int)     { m.subscriptions.Sub(float64(n)) }
func (m *promMetrics) Delivered(n int)                { m.delivered.Add(float64(n)) }
func (m *promMetrics) SlowClientDropped()             { m.slowDrops.Inc() }
func (m *promMetrics) History(outcome string)         { m.history.WithLabelValues(outcome).Inc() }
func (m *promMetrics) Deferred(cause string)          { m.deferred.WithLabelValues(cause).Inc() }
func (m *promMetrics) RPC(method string, d time.Duration, err error) {
	m.rpcDuration.WithLabelValues(method).Observe(d.Seconds())
	if err != nil {
		kind := "other"
		var re *rpc.Error
		if errors.As(err, &re) {
			kind = re.Kind
		}
		m.rpcErrors.WithLabelValues(method, kind).Inc()
	}
}

// redisCollector reports the Redis brokers' own counters, summed over the
// engines of the process, when scraped.
type redisCollector struct {
	failing, errors, resyncs, regress *prometheus.Desc
}

func (c redisCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.failing
	ch <- c.errors
	ch <- c.resyncs
	ch <- c.regress
}

func (c redisCollector) Collect(ch chan<- prometheus.Metric) {
	var failing, errs, resyncs, regress float64
	engines.Range(func(_, v any) bool {
		if e, ok := v.(*engine); ok && e.redis != nil {
			st := e.redis.Stats()
			failing += float64(st.FailingReaders)
			errs += float64(st.BusErrors)
			resyncs += float64(st.Resyncs)
			regress += float64(st.Regressions)
		}
		return true
	})
	ch <- prometheus.MustNewConstMetric(c.failing, prometheus.GaugeValue, failing)
	ch <- prometheus.MustNewConstMetric(c.errors, prometheus.CounterValue, errs)
	ch <- prometheus.MustNewConstMetric(c.resyncs, prometheus.CounterValue, resyncs)
	ch <- prometheus.MustNewConstMetric(c.regress, prometheus.CounterValue, regress)
}
