// The WebSocket demo: the public stream "demo" through websocket_path with
// AnyCable's own client on the extended protocol (actioncable-v1-ext-json),
// which restores its session after a lost connection and asks for what it
// missed. No build step: vendor/anycable/anycable-web.iife.js defines the
// global AnyCable.
//
// Everything the page knows is also kept in window.wsdemo, for the browser
// console (the repository's browser test reads it too).
(function () {
  'use strict';

  var STREAM = 'demo';
  var MAX_LOG = 40;

  var wsdemo = (window.wsdemo = {
    state: 'connecting', // connecting, connected, reconnecting, restored, closed
    sid: null, // from the welcome: the session id the client sends back as ?sid=
    connects: 0,
    restores: 0,
    messages: [], // {text, stream, epoch, offset, replayed, at}
    events: [], // {type, detail, at}
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

  function setState(name) {
    wsdemo.state = name;
    ui.state.textContent = name;
    ui.state.setAttribute('data-state', name);
  }

  function log(type, detail) {
    var at = new Date();
    wsdemo.events.push({ type: type, detail: detail || '', at: at.toISOString() });
    var li = document.createElement('li');
    var time = document.createElement('time');
    time.textContent = at.toLocaleTimeString();
    var kind = document.createElement('b');
    kind.textContent = type;
    li.append(time, ' ', kind, detail ? ' ' + detail : '');
    ui.log.prepend(li);
    while (ui.log.children.length > MAX_LOG) ui.log.lastChild.remove();
  }

  // The broadcast's data: {"text": ...} from the pages, anything else from
  // other publishers.
  function messageText(msg) {
    if (msg && typeof msg === 'object' && typeof msg.text === 'string') return msg.text;
    if (typeof msg === 'string') return msg;
    return JSON.stringify(msg);
  }

  function addMessage(msg, meta, replayed) {
    meta = meta || {};
    var m = { text: messageText(msg), stream: meta.stream, epoch: meta.epoch, offset: meta.offset, replayed: replayed };
    m.at = new Date().toISOString();
    wsdemo.messages.push(m);
    // The same position the EventSource page shows as its event id.
    var id = meta.offset !== undefined ? meta.offset + '/' + meta.epoch + '/' + meta.stream : '';
    ui.lastId.textContent = id || '–';
    var li = document.createElement('li');
    if (replayed) li.className = 'replayed';
    var body = document.createElement('span');
    body.className = 'text';
    body.textContent = m.text;
    li.append(body);
    if (replayed) {
      var badge = document.createElement('span');
      badge.className = 'badge';
      badge.textContent = 'replayed';
      badge.title = 'Missed while the page was away; replayed from history after the restore';
      li.append(' ', badge);
    }
    var code = document.createElement('code');
    code.className = 'id';
    code.textContent = id || '(no position)';
    li.append(code);
    ui.messages.append(li);
    ui.empty.hidden = true;
    ui.messages.scrollTop = ui.messages.scrollHeight;
  }

  // The browser's WebSocket, remembering the newest socket so that "Drop
  // the connection" can close it as a lost network would.
  var socket = null;
  var TrackedWebSocket = function (url, protocols) {
    socket = new WebSocket(url, protocols);
    return socket;
  };

  var cable = AnyCable.createCable(location.origin.replace(/^http/, 'ws') + '/cable', {
    protocol: 'actioncable-v1-ext-json',
    websocketImplementation: TrackedWebSocket,
    logLevel: 'warn',
  });

  // Messages between a restore and confirm_history are the server's replay
  // of what the page missed.
  var replaying = false;

  cable.on('connect', function (ev) {
    wsdemo.connects++;
    wsdemo.sid = cable.sessionId || null;
    ui.sid.textContent = wsdemo.sid || '–';
    if (ev.restored) {
      wsdemo.restores++;
      replaying = true;
      log('welcome', 'session ' + wsdemo.sid + ' restored: no new subscribe, asking for the history');
      setState('restored');
    } else {
      log('welcome', 'sid ' + wsdemo.sid + (ev.reconnect ? ' (a new session: subscribing again with the history)' : ''));
      setState('connected');
    }
  });

  cable.on('disconnect', function (ev) {
    replaying = false;
    log('disconnect', (ev && ev.reason) || 'connection lost');
    setState('reconnecting');
  });

  cable.on('close', function (ev) {
    log('close', (ev && ev.reason) || '');
    setState('closed');
  });

  cable.on('keepalive', function () {
    ui.lastPing.textContent = new Date().toLocaleTimeString();
  });

  var channel = cable.streamFrom(STREAM);

  // After a restore the subscription is back without a subscribe.
  channel.on('connect', function () {
    log('subscribed', 'stream ' + STREAM);
  });

  channel.on('info', function (ev) {
    if (ev.type === 'history_received') {
      log('confirm_history', replaying ? 'everything missed was replayed' : 'caught up with the history since the page loaded');
      replaying = false;
    } else if (ev.type === 'history_not_found') {
      replaying = false;
      log('reject_history', 'the server no longer has what was missed');
    }
  });

  channel.on('message', function (msg, meta) {
    addMessage(msg, meta, replaying);
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

  ui.kick.addEventListener('click', function () {
    if (!socket || wsdemo.state === 'reconnecting') return;
    ui.kick.disabled = true;
    var away = new Promise(function (resolve) {
      var off = cable.on('disconnect', function () {
        off();
        resolve();
      });
    });
    // Closed by the page: the server sends no disconnect (which would make
    // the client forget its session), as when the network goes away. The
    // client's monitor reconnects after a second or more.
    socket.close();
    away
      .then(function () {
        if (!ui.publishWhileAway.checked) return;
        var stamp = new Date().toLocaleTimeString();
        return [1, 2, 3].reduce(function (p, n) {
          return p.then(function () {
            return publish('published while away #' + n + ' · ' + stamp);
          });
        }, Promise.resolve());
      })
      .then(function () {
        ui.kick.disabled = false;
      });
  });
})();
