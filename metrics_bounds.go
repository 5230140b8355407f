package anycablesse

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cableway/caddy-anycable-sse/pubsub"
)

// boundsCollector reports, when scraped, what the bounds against slow and
// hostile clients turned away or gave up, summed over the process's
// engines and ingesters.
type boundsCollector struct {
	hubFull, watchFailures, deadEntries *prometheus.Desc
	// takenOver, detached, detachedWrites: the writer pool (package conn).
	takenOver, detached, detachedWrites *prometheus.Desc
}

func newBoundsCollector(ns, sub string) boundsCollector {
	return boundsCollector{
		hubFull:        prometheus.NewDesc(ns+"_"+sub+"_hub_limit_refusals_total", "Subscriptions refused by max_live_streams or max_subscriptions.", nil, nil),
		watchFailures:  prometheus.NewDesc(ns+"_"+sub+"_close_watch_failures_total", "Epoll sets watching taken-over connections that failed and were recreated.", nil, nil),
		deadEntries:    prometheus.NewDesc(ns+"_"+sub+"_redisx_dead_entries_total", "redisx entries given up after repeated Redis error replies.", nil, nil),
		takenOver:      prometheus.NewDesc(ns+"_"+sub+"_taken_over_connections", "Connections taken over from net/http and written by the writer pool.", nil, nil),
		detached:       prometheus.NewDesc(ns+"_"+sub+"_detached_tls_writers", "Writers blocked now in a TLS write of their own, outside the writer pool.", nil, nil),
		detachedWrites: prometheus.NewDesc(ns+"_"+sub+"_detached_tls_writes_total", "TLS writes that did not fit the socket at once and went to a writer of their own.", nil, nil),
	}
}

func (c boundsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.hubFull
	ch <- c.watchFailures
	ch <- c.deadEntries
	ch <- c.takenOver
	ch <- c.detached
	ch <- c.detachedWrites
}

func (c boundsCollector) Collect(ch chan<- prometheus.Metric) {
	var full, watch, dead, over, detached, detachedWrites float64
	engines.Range(func(_, v any) bool {
		if e, ok := v.(*engine); ok && e.started.Load() {
			full += float64(e.hub.Refused())
			watch += float64(e.writers.WatchFailures())
			over += float64(e.writers.TakenOver())
			detached += float64(e.writers.DetachedWriters())
			detachedWrites += float64(e.writers.DetachedWrites())
		}
		return true
	})
	ingesters.Range(func(_, v any) bool {
		if p, ok := v.(pooledIngester); ok {
			if s, ok := p.ingester.(*pubsub.StreamIngester); ok {
				dead += float64(s.DeadEntries())
			}
		}
		return true
	})
	ch <- prometheus.MustNewConstMetric(c.hubFull, prometheus.CounterValue, full)
	ch <- prometheus.MustNewConstMetric(c.watchFailures, prometheus.CounterValue, watch)
	ch <- prometheus.MustNewConstMetric(c.deadEntries, prometheus.CounterValue, dead)
	ch <- prometheus.MustNewConstMetric(c.takenOver, prometheus.GaugeValue, over)
	ch <- prometheus.MustNewConstMetric(c.detached, prometheus.GaugeValue, detached)
	ch <- prometheus.MustNewConstMetric(c.detachedWrites, prometheus.CounterValue, detachedWrites)
}
