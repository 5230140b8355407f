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
}

func newBoundsCollector(ns, sub string) boundsCollector {
	return boundsCollector{
		hubFull:       prometheus.NewDesc(ns+"_"+sub+"_hub_limit_refusals_total", "Subscriptions refused by max_live_streams or max_subscriptions.", nil, nil),
		watchFailures: prometheus.NewDesc(ns+"_"+sub+"_close_watch_failures_total", "Epoll sets watching taken-over connections that failed and were recreated.", nil, nil),
		deadEntries:   prometheus.NewDesc(ns+"_"+sub+"_redisx_dead_entries_total", "redisx entries given up after repeated Redis error replies.", nil, nil),
	}
}

func (c boundsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.hubFull
	ch <- c.watchFailures
	ch <- c.deadEntries
}

func (c boundsCollector) Collect(ch chan<- prometheus.Metric) {
	var full, watch, dead float64
	engines.Range(func(_, v any) bool {
		if e, ok := v.(*engine); ok && e.started.Load() {
			full += float64(e.hub.Refused())
			watch += float64(e.writers.WatchFailures())
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
}
