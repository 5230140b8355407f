//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"time"
)

// Result is one run's measurements. Times are in milliseconds unless the
// name says otherwise; sizes in KiB.
type Result struct {
	Name     string  `json:"name"`
	Target   string  `json:"target"`
	RunID    string  `json:"run_id"`
	Conns    int     `json:"conns"`
	Streams  int     `json:"streams"`
	Rate     float64 `json:"rate"`
	Messages int     `json:"messages"`
	Payload  int     `json:"payload_bytes"`
	Batch    int     `json:"batch"`
	// H2C: the connections were HTTP/2 streams (h2c, prior knowledge)
	// multiplexed over H2Conns TCP connections.
	H2C     bool `json:"h2c,omitempty"`
	H2Conns int  `json:"h2c_tcp_conns,omitempty"`
	// TLS: "tls" (HTTP/1.1 over TLS), "h2" (HTTP/2 over TLS) or "h3"
	// (HTTP/3); multiplexed modes share H2Conns connections.
	TLS string `json:"tls,omitempty"`
	// WebSocket: the subprotocol of a -ws run (Action Cable over
	// WebSocket, one TCP connection each).
	WebSocket string `json:"websocket,omitempty"`

	Connected     int            `json:"connected"`
	ConnectFailed int            `json:"connect_failed"`
	ConnectErrors map[string]int `json:"connect_errors,omitempty"`
	ConnectPhase  time.Duration  `json:"connect_phase_ns"`
	ConnectP50    float64        `json:"connect_p50_ms"`
	ConnectP99    float64        `json:"connect_p99_ms"`
	ConnectMax    float64        `json:"connect_max_ms"`

	Published       uint64         `json:"published"`
	PublishFailed   uint64         `json:"publish_failed"`
	PublishErrors   map[string]int `json:"publish_errors,omitempty"`
	Requests        uint64         `json:"broadcast_requests"`
	PublishedPerSec float64        `json:"published_per_sec"`
	PublisherMaxLag float64        `json:"publisher_max_lag_ms"`
	PostP50         float64        `json:"post_p50_ms"`
	PostP99         float64        `json:"post_p99_ms"`
	PostMax         float64        `json:"post_max_ms"`

	Expected      uint64 `json:"expected"`
	Delivered     uint64 `json:"delivered"`
	Received      uint64 `json:"received_data_events"`
	Lost          uint64 `json:"lost"`
	ConnsWithLoss uint64 `json:"conns_with_loss"`
	Duplicated    uint64 `json:"duplicated"`
	OutOfOrder    uint64 `json:"out_of_order"`
	Misrouted     uint64 `json:"misrouted"`
	BadPayload    uint64 `json:"bad_payload"`
	OtherEvents   uint64 `json:"other_events"`
	Pings         uint64 `json:"pings"`

	ServerDisconnects uint64         `json:"server_disconnects"`
	DisconnectReasons map[string]int `json:"disconnect_reasons,omitempty"`
	EndedEarly        map[string]int `json:"ended_early,omitempty"`

	LatencyN uint64  `json:"latency_samples"`
	LatMean  float64 `json:"latency_mean_ms"`
	LatP50   float64 `json:"latency_p50_ms"`
	LatP90   float64 `json:"latency_p90_ms"`
	LatP99   float64 `json:"latency_p99_ms"`
	LatP999  float64 `json:"latency_p999_ms"`
	LatMax   float64 `json:"latency_max_ms"`

	PublishPhase    time.Duration `json:"publish_phase_ns"`
	DeliverySpanS   float64       `json:"delivery_span_s"`
	DeliveredPerSec float64       `json:"delivered_per_sec"`

	ServerPid           int     `json:"server_pid,omitempty"`
	ServerRSSBeforeKiB  int64   `json:"server_rss_before_kib,omitempty"`
	ServerRSSAfterKiB   int64   `json:"server_rss_after_kib,omitempty"`
	ServerRSSPerConnKiB float64 `json:"server_rss_per_conn_kib,omitempty"`
	ServerRSSPublishKiB int64   `json:"server_rss_after_publish_kib,omitempty"`
	ServerCPUConnectS   float64 `json:"server_cpu_connect_s,omitempty"`
	ServerCPUPublishS   float64 `json:"server_cpu_publish_s,omitempty"`
	ServerCPUPct        float64 `json:"server_cpu_pct,omitempty"`
	ServerCPUPerMsgUs   float64 `json:"server_cpu_per_msg_us,omitempty"`

	HoldS          float64 `json:"hold_s,omitempty"`
	ServerCPUHoldS float64 `json:"server_cpu_hold_s,omitempty"`
	GenCPUHoldS    float64 `json:"gen_cpu_hold_s,omitempty"`

	GenCPUPublishS     float64 `json:"gen_cpu_publish_s"`
	MachineCPUPublishS float64 `json:"machine_cpu_publish_s"`
	GenCPUPct          float64 `json:"gen_cpu_pct"`
	GenCPUPerMsgUs     float64 `json:"gen_cpu_per_msg_us"`
	GenMaxRSSKiB       int64   `json:"gen_max_rss_kib"`

	Notes []string `json:"notes,omitempty"`

	publishStart time.Time
}

func newResult(cfg Config) *Result {
	return &Result{
		Name:      cfg.Name,
		Target:    cfg.Base.String(),
		Conns:     cfg.Conns,
		Streams:   cfg.Streams,
		Rate:      cfg.Rate,
		Messages:  cfg.Messages,
		Payload:   cfg.Payload,
		Batch:     cfg.Batch,
		H2C:       cfg.H2C,
		TLS:       cfg.TLS,
		WebSocket: wsResultProtocol(cfg),
		ServerPid: cfg.Pid,
	}
}

type row struct {
	label string
	value func(r *Result) string
}

func f1(v float64) string { return fmt.Sprintf("%.1f", v) }
func f2(v float64) string { return fmt.Sprintf("%.2f", v) }

func latMs(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v < 10:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.1f", v)
	}
}

func count(n uint64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func measured(r *Result) bool { return r.ServerPid > 0 }

func mib(kib int64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }

var rows = []row{
	{"Target", func(r *Result) string { return r.Target }},
	{"Protocol", func(r *Result) string {
		if r.H2C {
			return fmt.Sprintf("HTTP/2 h2c, %s streams over %s TCP conns", count(uint64(r.Conns)), count(uint64(r.H2Conns)))
		}
		switch r.TLS {
		case tlsH1:
			return "HTTP/1.1 over TLS, one TCP conn per connection"
		case tlsH2:
			return fmt.Sprintf("HTTP/2 over TLS, %s streams over %s TCP conns", count(uint64(r.Conns)), count(uint64(r.H2Conns)))
		case tlsH3:
			return fmt.Sprintf("HTTP/3, %s streams over %s QUIC conns", count(uint64(r.Conns)), count(uint64(r.H2Conns)))
		}
		if r.WebSocket != "" {
			return "WebSocket " + r.WebSocket + ", one TCP conn per connection"
		}
		return "HTTP/1.1, one TCP conn per connection"
	}},
	{"Connections open / failed", func(r *Result) string {
		return fmt.Sprintf("%s / %s", count(uint64(r.Connected)), count(uint64(r.ConnectFailed)))
	}},
	{"Time to open all", func(r *Result) string { return fmt.Sprintf("%.2f s", r.ConnectPhase.Seconds()) }},
	{"Connect latency p50 / p99 / max (ms)", func(r *Result) string {
		return fmt.Sprintf("%s / %s / %s", latMs(r.ConnectP50), latMs(r.ConnectP99), latMs(r.ConnectMax))
	}},
	{"Delivery latency p50 (ms)", func(r *Result) string { return latMs(r.LatP50) }},
	{"Delivery latency p90 (ms)", func(r *Result) string { return latMs(r.LatP90) }},
	{"Delivery latency p99 (ms)", func(r *Result) string { return latMs(r.LatP99) }},
	{"Delivery latency p99.9 (ms)", func(r *Result) string { return latMs(r.LatP999) }},
	{"Delivery latency max (ms)", func(r *Result) string { return latMs(r.LatMax) }},
	{"Messages published ok / failed", func(r *Result) string {
		return fmt.Sprintf("%s / %s", count(r.Published), count(r.PublishFailed))
	}},
	{"Publish rate achieved (msgs/s)", func(r *Result) string {
		if r.Published < 2 {
			return "n/a"
		}
		return f1(r.PublishedPerSec)
	}},
	{"Broadcast POST p50 / p99 / max (ms)", func(r *Result) string {
		return fmt.Sprintf("%s / %s / %s", latMs(r.PostP50), latMs(r.PostP99), latMs(r.PostMax))
	}},
	{"Deliveries expected", func(r *Result) string { return count(r.Expected) }},
	{"Delivered", func(r *Result) string { return count(r.Delivered) }},
	{"Lost (connections with loss)", func(r *Result) string {
		return fmt.Sprintf("%s (%s)", count(r.Lost), count(r.ConnsWithLoss))
	}},
	{"Duplicated", func(r *Result) string { return count(r.Duplicated) }},
	{"Out of order", func(r *Result) string { return count(r.OutOfOrder) }},
	{"Delivered msgs/s", func(r *Result) string { return count(uint64(r.DeliveredPerSec + 0.5)) }},
	{"Pings received", func(r *Result) string { return count(r.Pings) }},
	{"Server disconnects / streams ended early", func(r *Result) string {
		return fmt.Sprintf("%s / %s", count(r.ServerDisconnects), count(uint64(sum(r.EndedEarly))))
	}},
	{"Server RSS idle → all connections open", func(r *Result) string {
		if !measured(r) {
			return "n/a (no -pid)"
		}
		return fmt.Sprintf("%s → %s", mib(r.ServerRSSBeforeKiB), mib(r.ServerRSSAfterKiB))
	}},
	{"Server RSS per connection (stream with -h2c, -h2, -h3)", func(r *Result) string {
		if !measured(r) {
			return "n/a"
		}
		return fmt.Sprintf("%.1f KiB", r.ServerRSSPerConnKiB)
	}},
	{"Server RSS after publishing", func(r *Result) string {
		if !measured(r) || r.ServerRSSPublishKiB == 0 {
			return "n/a"
		}
		return mib(r.ServerRSSPublishKiB)
	}},
	{"Server CPU per connection opened", func(r *Result) string {
		if !measured(r) || r.Connected == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.0f µs", r.ServerCPUConnectS*1e6/float64(r.Connected))
	}},
	{"Server CPU, publish phase", func(r *Result) string {
		if !measured(r) {
			return "n/a"
		}
		return fmt.Sprintf("%.2f s (%.0f%% of a core)", r.ServerCPUPublishS, r.ServerCPUPct)
	}},
	{"Server CPU per delivered msg", func(r *Result) string {
		if !measured(r) {
			return "n/a"
		}
		return fmt.Sprintf("%.2f µs", r.ServerCPUPerMsgUs)
	}},
	{"Server CPU idle-open (pings only)", func(r *Result) string {
		if !measured(r) || r.HoldS == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.0f ms/s (%.1f%% of a core) over %.0f s", 1000*r.ServerCPUHoldS/r.HoldS, 100*r.ServerCPUHoldS/r.HoldS, r.HoldS)
	}},
	{"Generator CPU, publish phase", func(r *Result) string {
		return fmt.Sprintf("%.2f s (%.0f%% of a core)", r.GenCPUPublishS, r.GenCPUPct)
	}},
	{"Generator CPU per delivered msg", func(r *Result) string { return fmt.Sprintf("%.2f µs", r.GenCPUPerMsgUs) }},
	{"Machine CPU busy, publish phase (all cores)", func(r *Result) string {
		if r.PublishPhase <= 0 {
			return "n/a"
		}
		wall := r.PublishPhase.Seconds()
		s := fmt.Sprintf("%.0f%% of %d cores", 100*r.MachineCPUPublishS/wall/float64(runtime.NumCPU()), runtime.NumCPU())
		if measured(r) {
			other := r.MachineCPUPublishS - r.ServerCPUPublishS - r.GenCPUPublishS
			s += fmt.Sprintf("; other processes + softirq %.0f%% of a core", 100*max(other, 0)/wall)
		}
		return s
	}},
}

func scenario(r *Result) string {
	conns := "SSE connections"
	if r.WebSocket != "" {
		conns = "Action Cable WebSocket connections (" + r.WebSocket + "),"
	}
	if r.H2C {
		conns = fmt.Sprintf("SSE connections as HTTP/2 h2c streams on %s TCP connections,", count(uint64(r.H2Conns)))
	}
	switch r.TLS {
	case tlsH1:
		conns = "SSE connections as HTTP/1.1 over TLS,"
	case tlsH2:
		conns = fmt.Sprintf("SSE connections as HTTP/2 streams over TLS on %s TCP connections,", count(uint64(r.H2Conns)))
	case tlsH3:
		conns = fmt.Sprintf("SSE connections as HTTP/3 streams on %s QUIC connections,", count(uint64(r.H2Conns)))
	}
	return fmt.Sprintf("%s %s over %d streams; %s messages of %d B at %s msgs/s, %d per broadcast request",
		count(uint64(r.Conns)), conns, r.Streams, count(uint64(r.Messages)), r.Payload, rateString(r.Rate), r.Batch)
}

func table(results []*Result) [][]string {
	out := [][]string{append([]string{"Metric"}, names(results)...)}
	for _, rw := range rows {
		line := []string{rw.label}
		for _, r := range results {
			line = append(line, rw.value(r))
		}
		out = append(out, line)
	}
	return out
}

func names(results []*Result) []string {
	var n []string
	for _, r := range results {
		n = append(n, r.Name)
	}
	return n
}

// WriteText writes an aligned table and the notes.
func WriteText(w io.Writer, results []*Result) {
	if len(results) == 0 {
		return
	}
	fmt.Fprintf(w, "Scenario: %s\n\n", scenario(results[0]))
	t := table(results)
	width := make([]int, len(t[0]))
	for _, line := range t {
		for i, c := range line {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	for li, line := range t {
		for i, c := range line {
			pad := width[i] - len([]rune(c))
			if i == 0 {
				fmt.Fprint(w, c, strings.Repeat(" ", pad))
			} else {
				fmt.Fprint(w, "  ", strings.Repeat(" ", pad), c)
			}
		}
		fmt.Fprintln(w)
		if li == 0 {
			total := 0
			for _, x := range width {
				total += x + 2
			}
			fmt.Fprintln(w, strings.Repeat("-", total-2))
		}
	}
	writeNotes(w, results, "")
}

// WriteMarkdown writes a README-ready table and the notes as a list.
func WriteMarkdown(w io.Writer, results []*Result) {
	if len(results) == 0 {
		return
	}
	fmt.Fprintf(w, "Scenario: %s.\n\n", scenario(results[0]))
	t := table(results)
	esc := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	for li, line := range t {
		cells := make([]string, len(line))
		for i, c := range line {
			cells[i] = esc(c)
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
		if li == 0 {
			seps := []string{"---"}
			for range results {
				seps = append(seps, "---:")
			}
			fmt.Fprintf(w, "|%s|\n", strings.Join(seps, "|"))
		}
	}
	writeNotes(w, results, "- ")
}

func writeNotes(w io.Writer, results []*Result, bullet string) {
	var notes []string
	for _, r := range results {
		for _, n := range r.Notes {
			notes = append(notes, r.Name+": "+n)
		}
		for _, m := range []struct {
			what string
			errs map[string]int
		}{{"connect error", r.ConnectErrors}, {"publish error", r.PublishErrors}} {
			keys := make([]string, 0, len(m.errs))
			for k := range m.errs {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				notes = append(notes, fmt.Sprintf("%s: %d × %s: %s", r.Name, m.errs[k], m.what, k))
			}
		}
		if r.Misrouted+r.BadPayload+r.OtherEvents > 0 {
			notes = append(notes, fmt.Sprintf("%s: %d misrouted, %d unparsable data events, %d events of other types",
				r.Name, r.Misrouted, r.BadPayload, r.OtherEvents))
		}
	}
	if len(notes) == 0 {
		return
	}
	fmt.Fprintln(w)
	for _, n := range notes {
		fmt.Fprintln(w, bullet+n)
	}
}

// WriteJSON writes the results as one JSON document.
func WriteJSON(w io.Writer, results []*Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(map[string]any{"results": results})
}
