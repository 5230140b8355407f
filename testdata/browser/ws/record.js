// Loaded before a client bundle: wraps the browser's WebSocket so that the
// test (browser_ws_test.go) can read every frame the page sent and received
// from window.rec, and close the page's socket as a lost network would
// (rec.drop()). Pages add what their client library reported.
(function () {
  'use strict';
  var rec = (window.rec = { opened: [], received: [], sent: [], closes: [], sockets: [] });
  var Native = window.WebSocket;
  function Recorded(url, protocols) {
    var ws = protocols === undefined ? new Native(url) : new Native(url, protocols);
    rec.sockets.push(ws);
    ws.addEventListener('open', function () { rec.opened.push({ url: url, protocol: ws.protocol }); });
    ws.addEventListener('message', function (e) { rec.received.push(String(e.data)); });
    ws.addEventListener('close', function (e) { rec.closes.push({ code: e.code, reason: e.reason, clean: e.wasClean }); });
    var send = ws.send;
    ws.send = function (data) { rec.sent.push(String(data)); return send.call(ws, data); };
    return ws;
  }
  Recorded.prototype = Native.prototype;
  ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'].forEach(function (k) { Recorded[k] = Native[k]; });
  window.WebSocket = Recorded;
  // The newest socket, closed from the page: the server sees the
  // connection end without having sent a disconnect.
  rec.drop = function () { rec.sockets[rec.sockets.length - 1].close(); };
  // The received frames that are JSON objects of this type.
  rec.ofType = function (type) {
    return rec.received.map(function (f) { try { return JSON.parse(f); } catch (e) { return null; } })
      .filter(function (m) { return m && m.type === type; });
  };
  window.addEventListener('error', function (e) { (rec.errors = rec.errors || []).push(String(e.message)); });
})();
