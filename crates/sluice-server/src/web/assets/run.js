// Live updates of a running run, without a full reload: polls /api/runs/ID?limit=0 (the run and
// how many steps and HTTP calls it has recorded, none listed) every second and, when the run
// changed (status, steps or HTTP calls recorded), fetches this page again and swaps
// <main>'s content (open <details> stay open, focus is kept when it can be). Stops when it ends.
(function () {
  'use strict';
  var main = document.getElementById('main');
  if (!main || !main.dataset.run || !window.fetch || !window.DOMParser) return;
  var id = main.dataset.run;
  var url = '/api/runs/' + encodeURIComponent(id) + '?limit=0';
  var ended = function (status) { return status !== 'queued' && status !== 'running'; };

  function refresh() {
    return fetch(window.location.pathname, { credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (text) {
        if (!text) return;
        var fresh = new DOMParser().parseFromString(text, 'text/html').getElementById('main');
        if (!fresh) return;
        var open = Array.prototype.map.call(main.querySelectorAll('details[open]'), function (d) { return d.id; });
        var focused = document.activeElement && document.activeElement.id;
        fresh.querySelectorAll('script').forEach(function (s) { s.remove(); });
        main.innerHTML = fresh.innerHTML;
        main.dataset.fp = fresh.dataset.fp;
        main.dataset.status = fresh.dataset.status;
        open.forEach(function (did) { var d = did && document.getElementById(did); if (d) d.open = true; });
        if (focused) { var f = document.getElementById(focused); if (f) f.focus(); }
      });
  }

  function tick() {
    fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (r) {
        if (r.status === 401) { window.location.assign('/login?next=' + encodeURIComponent(window.location.pathname)); return null; }
        return r.ok ? r.json() : null;
      })
      .then(function (run) {
        if (!run) return null;
        var left = run.omitted || { steps: 0, http_calls: 0 };
        var fp = run.status + '|' + (run.steps.length + left.steps) + '|' + (run.http_calls.length + left.http_calls);
        var changed = fp !== main.dataset.fp;
        return (changed ? refresh() : Promise.resolve()).then(function () { return run; });
      })
      .catch(function () { return null; })
      .then(function (run) {
        if (run && ended(run.status) && ended(main.dataset.status)) return;
        window.setTimeout(tick, 1000);
      });
  }
  window.setTimeout(tick, 1000);
})();
