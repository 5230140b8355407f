// The Turbo Streams demo: Turbo itself subscribes (<turbo-stream-source>)
// and renders; this file only shows the connection state and publishes
// <turbo-stream> elements through /_broadcast.
(function () {
  'use strict';

  var STREAM = 'demo_turbo';
  var source = document.querySelector('turbo-stream-source');
  var state = document.getElementById('state');
  var form = document.getElementById('publish');
  var input = document.getElementById('text');
  var error = document.getElementById('publish-error');

  var NAMES = ['connecting', 'connected', 'closed'];
  var shown = null;

  // Turbo owns the EventSource (source.streamSource); poll its readyState so
  // that no event is missed, whenever this script happens to run.
  function render() {
    var es = source && source.streamSource;
    var name = es ? NAMES[es.readyState] : 'connecting';
    if (name === 'connecting' && shown && shown !== 'connecting') name = 'reconnecting';
    if (name !== shown) {
      shown = name;
      state.textContent = name;
      state.setAttribute('data-state', name);
    }
  }
  render();
  setInterval(render, 250);

  function escapeHTML(s) {
    return s.replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }

  form.addEventListener('submit', function (e) {
    e.preventDefault(); // also keeps Turbo Drive away from this form
    var text = input.value.trim();
    if (!text) return;
    var html =
      '<turbo-stream action="append" target="messages"><template><p>' +
      escapeHTML(text) +
      '</p></template></turbo-stream>';
    error.hidden = true;
    fetch('/_broadcast', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      // data is a JSON string: the server sends the HTML itself as the event's data.
      body: JSON.stringify({ stream: STREAM, data: JSON.stringify(html) }),
    }).then(
      function (resp) {
        if (resp.status === 201) {
          input.value = '';
          return;
        }
        error.textContent =
          'Publishing failed: HTTP ' + resp.status + ' (' + (resp.headers.get('X-AnyCable-Error') || resp.statusText) + ').';
        error.hidden = false;
      },
      function (err) {
        error.textContent = 'Publishing failed: ' + err.message;
        error.hidden = false;
      }
    );
  });
})();
