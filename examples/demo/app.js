// The EventSource demo: subscribe to the public stream "demo", show what
// arrives, and publish through /_broadcast. No framework, no build step.
//
// Everything the page knows is also kept in window.demo, so you can poke at
// it from the browser console (the repository's browser test reads it too).
(function () {
  'use strict';

  var STREAM = 'demo';
  var MAX_LOG = 40;

  var demo = (window.demo = {
    state: 'connecting', // connecting, connected, reconnecting, resumed, history lost, disconnected, closed
    sid: null, // from the welcome event: the connection's identifiers are {"sid":"<sid>"}
    lastEventId: null, // what EventSource sends back as Last-Event-ID
    opens: 0,
    errors: 0,
    pings: 0,
    messages: [], // {text, id, replayed, at}
    events: [], // {type, detail, at}: every named event and connection change
  });

  var $ = function (id) {
    return document.getElementById(id);
  };
  var ui = {
    state: $('state'),
    sid: $('sid'),
    lastId: $('last-id'),
    lastPing: $('last-ping'),
    messages: $('messages'),
    empty: $('empty'),
    log: $('log'),
    form: $('publish'),
    text: $('text'),
    error: $('publish-error'),
    kick: $('kick'),
    publishWhileAway: $('publish-while-away'),
  };

  // Messages that arrive after a reconnect and before confirm_history are
  // the server's replay of what the page missed.
  var replaying = false;

  function setState(name) {
    demo.state = name;
    ui.state.textContent = name;
    ui.state.setAttribute('data-state', name);
  }

  function log(type, detail) {
    var at = new Date();
    demo.events.push({ type: type, detail: detail || '', at: at.toISOString() });
    var li = document.createElement('li');
    var time = document.createElement('time');
    time.textContent = at.toLocaleTimeString();
    var kind = document.createElement('b');
    kind.textContent = type;
    li.append(time, ' ', kind, detail ? ' ' + detail : '');
    ui.log.prepend(li);
    while (ui.log.children.length > MAX_LOG) ui.log.lastChild.remove();
  }

  function parseJSON(text) {
    try {
      return JSON.parse(text);
    } catch (e) {
      return undefined;
    }
  }

  // A data event's payload is the broadcast's data: {"text": ...} from this
  // page, or anything else another publisher sent.
  function messageText(data) {
    var v = parseJSON(data);
    if (v && typeof v === 'object' && typeof v.text === 'string') return v.text;
    if (typeof v === 'string') return v;
    return data;
  }

  function addMessage(text, id, replayed) {
    demo.messages.push({ text: text, id: id, replayed: replayed, at: new Date().toISOString() });
    var li = document.createElement('li');
    if (replayed) li.className = 'replayed';
    var body = document.createElement('span');
    body.className = 'text';
    body.textContent = text;
    li.append(body);
    if (replayed) {
      var badge = document.createElement('span');
      badge.className = 'badge';
      badge.textContent = 'replayed';
      badge.title = 'Missed while the page was away; replayed after the reconnect';
      li.append(' ', badge);
    }
    var code = document.createElement('code');
    code.className = 'id';
    code.textContent = id || '(no id)';
    li.append(code);
    ui.messages.append(li);
    ui.empty.hidden = true;
    ui.messages.scrollTop = ui.messages.scrollHeight;
  }

  var source = new EventSource('/events?stream=' + encodeURIComponent(STREAM));

  source.addEventListener('open', function () {
    demo.opens++;
    var again = demo.opens > 1;
    // EventSource sends Last-Event-ID on its own reconnects once it has seen
    // an id: the server answers with history, then confirm_history.
    replaying = again && demo.lastEventId !== null;
    log('open', again ? (demo.lastEventId ? 'reconnected with Last-Event-ID ' + demo.lastEventId : 'reconnected') : '');
    setState('connected');
  });

  source.addEventListener('error', function () {
    demo.errors++;
    replaying = false;
    if (source.readyState === EventSource.CLOSED) {
      // A refusal (HTTP 4xx/5xx) is fatal for EventSource: it does not retry.
      setState('closed');
      log('error', 'the server refused the connection; EventSource gives up (reload the page to retry)');
    } else {
      setState('reconnecting');
      log('error', 'connection lost; EventSource reconnects by itself');
    }
  });

  source.addEventListener('message', function (e) {
    if (e.lastEventId) demo.lastEventId = e.lastEventId;
    ui.lastId.textContent = demo.lastEventId || '–';
    addMessage(messageText(e.data), e.lastEventId, replaying);
  });

  source.addEventListener('welcome', function (e) {
    var msg = parseJSON(e.data) || {};
    demo.sid = msg.sid || null;
    ui.sid.textContent = demo.sid || '–';
    log('welcome', 'sid ' + demo.sid);
  });

  source.addEventListener('confirm_subscription', function () {
    log('confirm_subscription', 'stream ' + STREAM);
  });

  source.addEventListener('reject_subscription', function () {
    log('reject_subscription', 'stream ' + STREAM);
  });

  source.addEventListener('confirm_history', function () {
    replaying = false;
    log('confirm_history', 'everything missed was replayed');
    setState('resumed');
  });

  source.addEventListener('reject_history', function () {
    replaying = false;
    log('reject_history', 'the server no longer has what was missed');
    setState('history lost');
  });

  source.addEventListener('ping', function (e) {
    demo.pings++;
    var msg = parseJSON(e.data) || {};
    ui.lastPing.textContent = msg.message ? new Date(msg.message * 1000).toLocaleTimeString() : 'now';
  });

  source.addEventListener('disconnect', function (e) {
    var msg = parseJSON(e.data) || {};
    log('disconnect', 'reason ' + msg.reason + ', reconnect ' + msg.reconnect);
    if (msg.reconnect === false) {
      // The server asks us not to come back (it also sends a one-year retry).
      source.close();
      setState('closed');
    } else {
      setState('disconnected');
    }
  });

  function broadcast(body) {
    ui.error.hidden = true;
    return fetch('/_broadcast', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    }).then(
      function (resp) {
        if (resp.status === 201) return true;
        var why = resp.headers.get('X-AnyCable-Error') || resp.statusText;
        var hint = resp.status === 403 ? ' Open the demo on localhost, or set a broadcast_key and publish from your app.' : '';
        showError('Publishing failed: HTTP ' + resp.status + ' (' + why + ').' + hint);
        return false;
      },
      function (err) {
        showError('Publishing failed: ' + err.message);
        return false;
      }
    );
  }

  function showError(text) {
    ui.error.textContent = text;
    ui.error.hidden = false;
  }

  function publish(text) {
    return broadcast({ stream: STREAM, data: JSON.stringify({ text: text }) });
  }

  ui.form.addEventListener('submit', function (e) {
    e.preventDefault();
    var text = ui.text.value.trim();
    if (!text) return;
    publish(text).then(function (ok) {
      if (ok) ui.text.value = '';
    });
  });

  function waitFor(cond, ms) {
    return new Promise(function (resolve) {
      var until = Date.now() + ms;
      (function check() {
        if (cond()) resolve(true);
        else if (Date.now() > until) resolve(false);
        else setTimeout(check, 25);
      })();
    });
  }

  ui.kick.addEventListener('click', function () {
    if (!demo.sid) return;
    ui.kick.disabled = true;
    // Without rpc_url the connection identifiers are {"sid":"<sid>"}. With an
    // app behind rpc_url they are whatever its connect call returned, and the
    // app sends this command itself (remote_connections...disconnect).
    broadcast({
      command: 'disconnect',
      payload: { identifier: JSON.stringify({ sid: demo.sid }), reconnect: true },
    })
      .then(function (ok) {
        if (!ok || !ui.publishWhileAway.checked) return;
        return waitFor(function () {
          return demo.state === 'reconnecting';
        }, 3000).then(function (away) {
          if (!away) return;
          var stamp = new Date().toLocaleTimeString();
          return [1, 2, 3].reduce(function (p, n) {
            return p.then(function () {
              return publish('published while away #' + n + ' · ' + stamp);
            });
          }, Promise.resolve());
        });
      })
      .then(function () {
        ui.kick.disabled = false;
      });
  });
})();
