package pubsub

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// Commands (AnyCable's remote disconnect) concern connections, which live
// on every node, while a broadcast reaches one node: the HTTP endpoint
// behind a load balancer, or one redisx consumer. The Redis broker carries
// them to every node over Redis pub/sub, on "<prefix>:commands". Pub/sub is
// at-most-once, which fits a command: a node that misses a disconnect while
// cut off from Redis has lost nothing a client needs.

func (b *RedisBroker) commandsChannel() string { return b.prefix + ":commands" }

// PublishCommand sends a command payload to every node, this one included.
func (b *RedisBroker) PublishCommand(ctx context.Context, payload []byte) error {
	cmd, _, err := b.clients()
	if err != nil {
		return err
	}
	if err := cmd.Publish(ctx, b.commandsChannel(), payload).Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

// OnCommand runs fn for every command published on any node, until Close.
// Call it once, after Start.
func (b *RedisBroker) OnCommand(fn func(payload []byte)) {
	b.lifeMu.Lock()
	defer b.lifeMu.Unlock()
	if b.closed.Load() || !b.started {
		return
	}
	_, rd, err := b.clients()
	if err != nil {
		return
	}
	ctx := b.ctx
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for ctx.Err() == nil {
			// go-redis resubscribes by itself after a reconnect; a new
			// subscription is only needed when the channel closes.
			ps := rd.Subscribe(ctx, b.commandsChannel())
			ch := ps.Channel()
		recv:
			for {
				select {
				case <-ctx.Done():
					break recv
				case m, ok := <-ch:
					if !ok {
						break recv
					}
					fn([]byte(m.Payload))
				}
			}
			_ = ps.Close()
			if ctx.Err() == nil {
				b.log.Warn("redis: command subscription ended; resubscribing", zap.String("channel", b.commandsChannel()))
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
		}
	}()
}
