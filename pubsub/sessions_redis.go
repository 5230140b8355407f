package pubsub

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisSessions is the Redis broker's session cache, shared by every node:
// one string key per session, "<prefix>:sess:<sid>", expired by Redis (PX).
// Every operation is one command on one key, so it works on Cluster (the
// keys spread over the slots) and needs no script. Take is GETDEL (Redis
// 6.2 or later): atomic, so a session is restored once in the whole fleet.
type redisSessions struct{ b *RedisBroker }

var _ SessionBroker = (*RedisBroker)(nil)

// Sessions implements SessionBroker.
func (b *RedisBroker) Sessions() SessionCache { return redisSessions{b} }

// key cannot meet the broker's other keys, whose second part is a
// hash tag "{p}".
func (s redisSessions) key(sid string) string { return s.b.prefix + ":sess:" + sid }

func (s redisSessions) client(ctx context.Context) (redis.UniversalClient, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cmd, _, err := s.b.clients()
	return cmd, err
}

// Put implements SessionCache with SET PX (safe to repeat).
func (s redisSessions) Put(ctx context.Context, sid string, state []byte, ttl time.Duration) error {
	if err := checkSessionPut(sid, state, ttl); err != nil {
		return err
	}
	cmd, err := s.client(ctx)
	if err != nil {
		return err
	}
	if err := cmd.Do(ctx, "set", s.key(sid), state, "px", ttlMillis(ttl)).Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

// Refresh implements SessionCache with SET XX PX: only an existing key is
// written, in one command, so a restore's GETDEL on another node cannot
// fall between a check and the write.
func (s redisSessions) Refresh(ctx context.Context, sid string, state []byte, ttl time.Duration) (bool, error) {
	if err := checkSessionPut(sid, state, ttl); err != nil {
		return false, err
	}
	cmd, err := s.client(ctx)
	if err != nil {
		return false, err
	}
	err = cmd.Do(ctx, "set", s.key(sid), state, "xx", "px", ttlMillis(ttl)).Err()
	switch {
	case errors.Is(err, redis.Nil):
		return false, nil
	case err != nil:
		return false, unavailable(err)
	}
	return true, nil
}

// Touch implements SessionCache with PEXPIRE, which does nothing to a key
// that does not exist (taken or expired).
func (s redisSessions) Touch(ctx context.Context, sid string, ttl time.Duration) (bool, error) {
	if err := checkSessionTTL(ttl); err != nil {
		return false, err
	}
	cmd, err := s.client(ctx)
	if err != nil {
		return false, err
	}
	if !validSID(sid) {
		return false, nil
	}
	n, err := cmd.Do(ctx, "pexpire", s.key(sid), ttlMillis(ttl)).Int()
	if err != nil {
		return false, unavailable(err)
	}
	return n == 1, nil
}

// Take implements SessionCache with GETDEL, sent at most once (like the
// broker's scripts): after a lost reply the entry may be gone already, and
// a retry would answer "not found" where the truth is an error.
func (s redisSessions) Take(ctx context.Context, sid string) ([]byte, bool, error) {
	cmd, err := s.client(ctx)
	if err != nil {
		return nil, false, err
	}
	if !validSID(sid) {
		return nil, false, nil
	}
	c := redis.NewCmd(ctx, "getdel", s.key(sid))
	_ = cmd.Process(ctx, noRetryCmd{c})
	v, err := c.Text()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, false, nil
	case err != nil:
		return nil, false, unavailable(err)
	}
	return []byte(v), true, nil
}
