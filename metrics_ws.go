package anycablesse

// wsMetrics is what the WebSocket endpoint counts (ws.Metrics): the
// process's metrics, with its connections labelled transport="ws".
type wsMetrics struct {
	*promMetrics
}

func (m wsMetrics) ConnectionOpened()              { m.opened(transportWS) }
func (m wsMetrics) ConnectionClosed(reason string) { m.closed(transportWS, reason) }
func (m wsMetrics) Refused(status int)             { m.refusedBy(transportWS, status) }
