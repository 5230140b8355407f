package pubsub

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// noRetryCmd is a command that go-redis sends at most once. MaxRetries -1
// does not reach a ClusterClient's own loop: it re-sends a command that
// failed with a timeout or a broken connection up to MaxRedirects times
// unless the command reports NoRetry, so a publish whose reply was lost
// would run several times. Redirects (MOVED, ASK), which mean that the
// command did not run, are still followed.
type noRetryCmd struct{ *redis.Cmd }

func (noRetryCmd) NoRetry() bool { return true }

// luaScript is a script that runOnce can send as EVAL too.
type luaScript struct {
	*redis.Script
	src string
}

func newScript(src string) *luaScript { return &luaScript{redis.NewScript(src), src} }

// runOnce runs a script like Script.Run (EVALSHA, then EVAL if Redis does
// not have it), each command sent at most once.
func runOnce(ctx context.Context, c redis.UniversalClient, s *luaScript, keys []string, args ...any) *redis.Cmd {
	run := func(name, script string) *redis.Cmd {
		a := make([]any, 0, 3+len(keys)+len(args))
		a = append(a, name, script, len(keys))
		for _, k := range keys {
			a = append(a, k)
		}
		cmd := redis.NewCmd(ctx, append(a, args...)...)
		_ = c.Process(ctx, noRetryCmd{cmd})
		return cmd
	}
	cmd := run("evalsha", s.Hash())
	if redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
		cmd = run("eval", s.src)
	}
	return cmd
}

// The Lua scripts of the Redis broker. Every key a script touches carries
// the same hash tag ({p}), so each runs atomically in one slot on Cluster.
//
// Time: a script takes its clock from Redis TIME (one clock for every node)
// unless the caller passes milliseconds (tests with a fake clock). Epoch
// candidates come from Go's crypto/rand, never from Lua's math.random.
//
// Numbers: Lua 5.1 formats numbers with %.14g, so offsets are exact below
// 10^14 and millisecond times (13 digits) are built as strings.

// publishScript numbers one publication, appends it to the history and the
// bus, and refreshes the TTLs.
//
//	KEYS[1] meta  KEYS[2] history  KEYS[3] bus  KEYS[4] idempotency key (KEYS[1] when unused)
//	ARGV[1] stream  ARGV[2] data  ARGV[3] history limit  ARGV[4] history TTL s
//	ARGV[5] meta TTL s  ARGV[6] epoch candidate  ARGV[7] bus MAXLEN
//	ARGV[8] idempotency TTL s ('0': none)  ARGV[9] exclude_socket  ARGV[10] broadcast_type
//	ARGV[11] transient '1'/'0'  ARGV[12] now ms ('0': Redis TIME)
//
// Returns {offset, epoch, ms, duplicate}. A transient publication gets
// offset 0, the stream's epoch if it has one, and only a bus entry. A
// duplicate (idempotency key seen) returns the first publish's values and
// writes nothing.
var publishScript = newScript(`
local ms = ARGV[12]
if ms == '0' then
  local t = redis.call('TIME')
  ms = t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000))
end
local function extra(a)
  if ARGV[9] ~= '' then a[#a+1] = 'x'; a[#a+1] = ARGV[9] end
  if ARGV[10] ~= '' then a[#a+1] = 'b'; a[#a+1] = ARGV[10] end
  return a
end
local function bus(offset, epoch)
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[7], '*',
    unpack(extra({'s', ARGV[1], 'o', offset, 'e', epoch, 't', ms, 'd', ARGV[2]})))
end
if ARGV[11] == '1' then
  local e = redis.call('HGET', KEYS[1], 'e')
  if not e then e = '' end
  bus('0', e)
  return {0, e, ms, 0}
end
if ARGV[8] ~= '0' then
  local prev = redis.call('GET', KEYS[4])
  if prev then
    local o, e, t = string.match(prev, '^(%d+)/([^/]+)/(%d+)$')
    if o then return {tonumber(o), e, t, 1} end
  end
end
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then
  epoch = ARGV[6]
  redis.call('HSET', KEYS[1], 'e', epoch)
end
local offset = redis.call('HINCRBY', KEYS[1], 's', 1)
redis.call('EXPIRE', KEYS[1], ARGV[5])
-- A counter that restarts means the meta was lost: old entries must not
-- mix with the new epoch's offsets.
if offset == 1 then redis.call('DEL', KEYS[2]) end
local h = extra({'d', ARGV[2], 't', ms})
local r = redis.pcall('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], offset .. '-0', unpack(h))
if type(r) == 'table' and r.err then
  -- The history holds ids at or above the new offset (it outlived its
  -- meta): it belongs to another epoch, drop it.
  redis.call('DEL', KEYS[2])
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], offset .. '-0', unpack(h))
end
redis.call('EXPIRE', KEYS[2], ARGV[4])
bus(offset, epoch)
if ARGV[8] ~= '0' then
  redis.call('SET', KEYS[4], offset .. '/' .. epoch .. '/' .. ms, 'EX', ARGV[8])
end
return {offset, epoch, ms, 0}
`)

// readScript reads a stream's epoch and top and the history a request
// needs, in one step.
//
//	KEYS[1] meta  KEYS[2] history
//	ARGV[1] mode: 'n' none, 'f' from a position, 's' since a time
//	ARGV[2] the position's offset, or the since time in ms
//	ARGV[3] the position's epoch  ARGV[4] history limit  ARGV[5] meta TTL s
//	ARGV[6] unused  ARGV[7] now ms ('0': Redis TIME)  ARGV[8] history TTL ms
//
// Returns {epoch, top, created, bumped, now ms, entries}. A stream without
// an epoch is answered with an empty epoch, top 0, created 1, and no key is written: the first
// publish creates the epoch (the subscription adopts it silently), so names
// that a client chooses leave nothing in Redis. A position with no epoch and
// offset 0 (a stream seen before it had one) reads from the current epoch's
// start. A position in the current epoch but above the top is answered "ahead
// of the stream" and changes nothing: anyone can send such an id, so it must
// not be able to replace the epoch under every subscriber (lost writes are
// detected from the bus instead, where the node sees offsets go back).
// bumped stays 0; the field is kept for the reply's shape.
//
// For 'f' the entries are those from offset+1 up to the top when offset+1
// is inside the size window, else only the first stored one from offset+1
// (enough to tell "expired" from "trimmed"). For 's' they are the retained
// entries (size window, younger than the TTL) stored at or after the time.
var readScript = newScript(`
local ms = ARGV[7]
if ms == '0' then
  local t = redis.call('TIME')
  ms = t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000))
end
local m = redis.call('HMGET', KEYS[1], 'e', 's')
local epoch, top = m[1], tonumber(m[2] or '0')
local created, bumped = 0, 0
if not epoch then
  return {'', 0, 1, 0, ms, {}}
end
redis.call('EXPIRE', KEYS[1], ARGV[5])
local pepoch = ARGV[3]
if ARGV[1] == 'f' and pepoch == '' and ARGV[2] == '0' then pepoch = epoch end
local limit = tonumber(ARGV[4])
local low = top - limit + 1
if low < 1 then low = 1 end
local entries = {}
if ARGV[1] == 'f' and pepoch == epoch then
  local o = tonumber(ARGV[2])
  if o < top then
    local need = o + 1
    local n = 1
    if need >= low then n = top - o end
    entries = redis.call('XRANGE', KEYS[2], need .. '-0', top .. '-0', 'COUNT', n)
  end
elseif ARGV[1] == 's' and top > 0 then
  local since = tonumber(ARGV[2])
  local cutoff = tonumber(ms) - tonumber(ARGV[8])
  local all = redis.call('XRANGE', KEYS[2], low .. '-0', top .. '-0', 'COUNT', limit)
  for _, e in ipairs(all) do
    local f = e[2]
    for i = 1, #f, 2 do
      if f[i] == 't' then
        local t = tonumber(f[i + 1])
        if t >= since and t > cutoff then entries[#entries + 1] = e end
        break
      end
    end
  end
end
return {epoch, top, created, bumped, ms, entries}
`)

// rangeScript reads history entries from..to if the stream's epoch still is
// the expected one (a resync must not label another epoch's entries).
//
//	KEYS[1] meta  KEYS[2] history  ARGV[1] epoch  ARGV[2] from  ARGV[3] to  ARGV[4] count
//
// Returns the entries, or false when the epoch differs.
var rangeScript = newScript(`
if redis.call('HGET', KEYS[1], 'e') ~= ARGV[1] then return false end
return redis.call('XRANGE', KEYS[2], ARGV[2] .. '-0', ARGV[3] .. '-0', 'COUNT', ARGV[4])
`)

// bumpScript replaces a stream's epoch if it still is the given one.
//
//	KEYS[1] meta  ARGV[1] expected epoch  ARGV[2] new epoch
//
// Returns 1 if replaced.
var bumpScript = newScript(`
if redis.call('HGET', KEYS[1], 'e') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'e', ARGV[2])
  return 1
end
return 0
`)
