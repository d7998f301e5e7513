// PlexSync in Stash's web UI: a "PlexSync" tab on every scene page and the PlexSync page at
// /plugin/plexsync. Plain JavaScript on Stash's own React, Bootstrap and Font Awesome
// (window.PluginApi): no build step, nothing fetched from the network.
//
// Every answer comes from PlexSync's Python through runPluginOperation (Stash v0.25+):
// ui_scene / ui_overview read PlexSync's local files; ui_sync_now, ui_retry, ui_delete and
// ui_health_check act. Nothing here may break Stash's page: every render is guarded, every
// call caught, and a failure is one readable line in PlexSync's own box.
(function () {
  "use strict";
  var api = window.PluginApi;
  if (!api || !api.React || !api.patch || !api.register) {
    return; // a Stash without the plugin API: nothing to add to
  }
  var React = api.React;
  var h = React.createElement;
  var B = api.libraries.Bootstrap;
  var FA = api.libraries.FontAwesomeSolid || {};
  var Router = api.libraries.ReactRouterDOM;

  var PLUGIN_ID = "PlexSync";
  var PAGE_PATH = "/plugin/plexsync";
  // Stash's server answers every /plugin/... request itself (plugin files), so a reload or a
  // bookmark of PAGE_PATH gets its "Not Found"; the same page also lives where it survives that.
  var BOOKMARK_PATH = "/plugins/plexsync";
  var SETTINGS_PATH = "/settings?tab=plugins";
  var TAB_KEY = "plexsync-panel";
  var POLL_MS = 3000; // the panel and the page refresh every 3 s while shown, never faster
  var OPERATION =
    "mutation PlexSyncOperation($args: Map) { runPluginOperation(plugin_id: \"" +
    PLUGIN_ID + "\", args: $args) }";
  var MIN_STASH = "v0.25";

  // ---- talking to PlexSync's Python ---------------------------------------------------
  function graphqlURL() {
    var base = (document.querySelector("base") || {}).getAttribute
      ? document.querySelector("base").getAttribute("href") || "/"
      : "/";
    return base.replace(/\/?$/, "/") + "graphql";
  }

  // One readable line for an answer that is not PlexSync's JSON: Stash's HTTP status and
  // body as they came. Exposed (PlexSyncUI.describeFailure) for the tests.
  function describeFailure(status, body) {
    var errors = (body && body.errors) || [];
    var text = errors.map(function (e) { return (e && e.message) || String(e); }).join("; ");
    if (/Cannot query field ["']runPluginOperation["'] on type ["']Mutation["']/.test(text)) {
      return "PlexSync's panel needs Stash " + MIN_STASH + " or newer (this Stash cannot run " +
        "plugin operations). Syncing and PlexSync's tasks work as before: Settings → Tasks.";
    }
    if (status === 401 || status === 403) {
      return "Stash asked for a login (its password / API key protection is on) and this " +
        "page's session has ended: reload the page and log in again.";
    }
    if (text) {
      return "PlexSync did not answer: " + text.replace(/^plugin returned error:\s*/i, "") +
        (/python|exec|executable|no such file/i.test(text)
          ? " (check Settings → System → Python path, then reload the page)" : "");
    }
    if (status && status !== 200) {
      return "Stash answered HTTP " + status + " to PlexSync's request; reload the page.";
    }
    return "PlexSync gave no answer; reload the page.";
  }

  function call(args) {
    var options = {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ query: OPERATION, variables: { args: args } })
    };
    return fetch(graphqlURL(), options).then(function (response) {
      return response.text().then(function (raw) {
        var body = null;
        try { body = raw ? JSON.parse(raw) : null; } catch (e) { body = null; }
        var value = body && body.data ? body.data.runPluginOperation : null;
        if (response.ok && !(body && body.errors) && value && typeof value === "object") {
          return { data: value };
        }
        return { line: describeFailure(response.status, body) };
      });
    }).catch(function (error) {
      return { line: "Stash could not be reached (" + ((error && error.message) || error) +
        "); the panel tries again in a moment." };
    });
  }

  // For the Connect card (hooks/ui/plexsync_connect.js) and the tests.
  window.PlexSyncUI = { call: call, describeFailure: describeFailure, operation: OPERATION };

  // ---- small helpers ----------------------------------------------------------------------
  function icon(name, className) {
    var def = FA[name];
    var Icon = api.components && api.components.Icon;
    if (!def || !Icon) return null;
    return h(Icon, { icon: def, className: className });
  }

  function when(epoch) {
    if (!epoch) return "never";
    var date = new Date(epoch * 1000);
    var seconds = (Date.now() - date.getTime()) / 1000;
    var span = Math.abs(seconds);
    var rel = span < 90 ? Math.round(span) + " s" : span < 5400 ? Math.round(span / 60) + " min"
      : span < 172800 ? Math.round(span / 3600) + " h" : Math.round(span / 86400) + " days";
    return date.toLocaleString() + (seconds >= 0 ? " (" + rel + " ago)" : " (in " + rel + ")");
  }

  function stashLink(to, children, props) {
    return h(Router.Link, Object.assign({ to: to }, props || {}), children);
  }

  function errorLine(text, testid) {
    return h("div", { className: "plexsync-error text-warning", "data-testid": testid },
      icon("faExclamationTriangle", "mr-2"), text);
  }

  // A guarded component: an exception while rendering becomes one line, never Stash's crash.
  function guarded(name, render) {
    var component = function (props) {
      try {
        return render(props);
      } catch (error) {
        return errorLine("PlexSync could not show this part (" + name + ": " +
          ((error && error.message) || error) + "); reload the page.");
      }
    };
    component.displayName = "PlexSync" + name;
    return component;
  }

  class Boundary extends React.Component {
    constructor(props) { super(props); this.state = { failed: null }; }
    static getDerivedStateFromError(error) { return { failed: error || "error" }; }
    componentDidCatch() { /* shown in place; Stash's page stays usable */ }
    render() {
      if (this.state.failed) {
        return errorLine("PlexSync could not show this part; reload the page.");
      }
      return this.props.children;
    }
  }

  function boxed(child) { return h(Boundary, null, child); }

  // Poll `load(first)` now and every POLL_MS while the browser tab is visible; `reload()`
  // polls at once. `first` is true for the first call after mounting.
  function usePolling(load, deps) {
    var state = React.useState({ loading: true });
    var result = state[0], setResult = state[1];
    var tick = React.useState(0);
    React.useEffect(function () {
      var live = true, timer = null, first = true;
      function run() {
        if (document.hidden) { timer = null; return; } // visibilitychange starts it again
        var isFirst = first;
        first = false;
        Promise.resolve(isFirst).then(load).then(function (answer) {
          if (live) setResult(answer || { line: "PlexSync gave no answer; reload the page." });
        }, function (error) {
          if (live) setResult({ line: "PlexSync: " + ((error && error.message) || error) });
        }).then(function () { if (live) timer = setTimeout(run, POLL_MS); });
        timer = -1; // a call in flight: visibilitychange must not start a second loop
      }
      function onVisible() {
        if (!document.hidden && live && timer === null) run();
      }
      document.addEventListener("visibilitychange", onVisible);
      run();
      return function () {
        live = false;
        clearTimeout(timer);
        document.removeEventListener("visibilitychange", onVisible);
      };
    }, deps.concat([tick[0]]));
    return [result, function () { tick[1](function (n) { return n + 1; }); }];
  }

  // ---- the scene panel --------------------------------------------------------------------
  var STATES = {
    synced: ["faCheckCircle", "text-success", "In Plex"],
    waiting: ["faClock", "text-info", "Waiting to sync"],
    retrying: ["faRedo", "text-warning", "Retrying"],
    failed: ["faTimesCircle", "text-danger", "Sync failed"],
    not_in_plex: ["faSearch", "text-warning", "Not in Plex"],
    off: ["faPowerOff", "text-muted", "PlexSync is turned off"],
    not_set_up: ["faCog", "text-warning", "PlexSync is not set up"],
    not_synced: ["faMinusCircle", "text-muted", "Not synced yet"],
    error: ["faExclamationTriangle", "text-warning", "PlexSync"]
  };

  function row(label, value, testid) {
    if (value === null || value === undefined || value === "") return null;
    return [h("dt", { key: label + "-t" }, label),
      h("dd", { key: label + "-d", "data-testid": testid }, value)];
  }

  function sceneRows(s) {
    var rows = [];
    if (s.item) {
      rows.push(row("Plex item", s.item.title || "(untitled)", "plexsync-plex-title"));
      rows.push(row("Library", s.item.library));
    }
    if (s.last_sync) {
      rows.push(row("Last sync", when(s.last_sync.at), "plexsync-last-sync"));
      rows.push(row("Changed", s.last_sync.changed || "nothing (Plex already matched Stash)",
        "plexsync-changed"));
      rows.push(row("Fields PlexSync keeps", (s.last_sync.fields || []).join(", ")));
    }
    if (s.state === "waiting") {
      rows.push(row("Queued", s.next_try ? "first try " + when(s.next_try)
        : "the background sync picks it up in a moment"));
    }
    if (s.state === "retrying" || (s.state === "not_in_plex" && s.next_try)) {
      rows.push(row("Next try", when(s.next_try), "plexsync-next-try"));
      rows.push(row("Attempts", String(s.attempts || 0)));
    }
    if (s.looked_for) rows.push(row("Looked for", h("code", null, s.looked_for), "plexsync-looked-for"));
    if (s.reason) rows.push(row(s.state === "failed" ? "Reason" : "Last reason", s.reason, "plexsync-reason"));
    if (s.fix) rows.push(row("What to do", s.fix, "plexsync-fix"));
    if (s.state === "failed") rows.push(row("Failed", when(s.failed_at)));
    if (s.state === "failed" && s.attempts > 1) rows.push(row("Attempts", String(s.attempts)));
    if (s.plays) {
      rows.push(row("Plays from Plex", s.plays.count + " imported, last " + when(s.plays.last_at),
        "plexsync-plays"));
    }
    return rows;
  }

  function headline(s) {
    var look = STATES[s.state] || STATES.error;
    var text = look[2];
    if (s.state === "not_synced") {
      text = s.no_data ? "Not synced yet — PlexSync has no data in this Stash yet" : text;
    }
    return h("h5", { className: "plexsync-headline " + look[1], "data-testid": "plexsync-state" },
      icon(look[0], "mr-2"), text);
  }

  var ScenePanel = guarded("ScenePanel", function (props) {
    var sceneId = props.scene && props.scene.id;
    var action = React.useState(null);
    var polled = usePolling(function (first) {
      return call({ mode: "ui_scene", scene_id: String(sceneId), check_setup: first });
    }, [sceneId]);
    var answer = polled[0], reload = polled[1];
    var s = answer.data;
    var busy = action[0] && action[0].busy;

    function run(mode) {
      action[1]({ busy: mode });
      call({ mode: mode, scene_id: String(sceneId) }).then(function (r) {
        action[1]({ line: r.line || (r.data && !r.data.ok ? r.data.text : null) });
        reload();
      });
    }
    function syncNow() { run("ui_sync_now"); }
    function retry() { run("ui_retry"); }

    var body;
    if (answer.loading) {
      body = h("div", { className: "text-muted" }, "Asking PlexSync…");
    } else if (!s) {
      body = errorLine(answer.line, "plexsync-error");
    } else {
      var settingsLink = s.settings_url ? h("p", null, stashLink(s.settings_url,
        "Open Settings → Plugins → PlexSync")) : null;
      body = h(React.Fragment, null,
        headline(s),
        s.line ? h("p", { className: "plexsync-line", "data-testid": "plexsync-line" }, s.line) : null,
        settingsLink,
        h("dl", { className: "details-list plexsync-details" }, sceneRows(s)),
        h("div", { className: "plexsync-actions" },
          s.item && s.item.open_in_plex ? h(B.Button, {
            variant: "secondary", href: s.item.open_in_plex, target: "_blank",
            rel: "noopener noreferrer", "data-testid": "plexsync-open-in-plex"
          }, icon("faExternalLinkAlt", "mr-2"), "Open in Plex") : null,
          s.state === "failed" ? h(B.Button, {
            variant: "primary", disabled: !!busy, onClick: retry, "data-testid": "plexsync-retry"
          }, icon("faRedo", busy === "ui_retry" ? "mr-2 fa-spin" : "mr-2"),
          busy === "ui_retry" ? "Retrying…" : "Retry") : null,
          s.state !== "off" && s.state !== "not_set_up" && (s.state !== "error" || s.can_sync) ? h(B.Button, {
            variant: s.state === "failed" ? "secondary" : "primary", disabled: !!busy, onClick: syncNow,
            "data-testid": "plexsync-sync-now"
          }, icon("faSyncAlt", busy === "ui_sync_now" ? "mr-2 fa-spin" : "mr-2"),
          busy === "ui_sync_now" ? "Queuing…" : "Sync now") : null,
          stashLink(PAGE_PATH, "PlexSync page", { className: "btn btn-link" })),
        action[0] && action[0].line ? errorLine(action[0].line) : null);
    }
    return h("div", {
      className: "plexsync-panel", "data-testid": "plexsync-scene-panel",
      "data-state": s ? s.state : answer.loading ? "loading" : "error"
    }, body);
  });

  // patch.after hands over the render's arguments (props and React's second argument),
  // then the rendered result last. A failure in ours keeps Stash's own result.
  function after(component, fn) {
    api.patch.after(component, function () {
      var props = arguments[0];
      var result = arguments[arguments.length - 1];
      try {
        return fn(props || {}, result);
      } catch (error) {
        return result;
      }
    });
  }

  function patchScenePage() {
    after("ScenePage.Tabs", function (props, result) {
      return h(React.Fragment, null, result, h(B.Nav.Item, { key: "plexsync" },
        h(B.Nav.Link, { eventKey: TAB_KEY, "data-testid": "plexsync-tab" }, "PlexSync")));
    });
    after("ScenePage.TabContent", function (props, result) {
      return h(React.Fragment, null, result,
        h(B.Tab.Pane, { key: "plexsync", eventKey: TAB_KEY, mountOnEnter: true, unmountOnExit: true },
          boxed(h(ScenePanel, { scene: props.scene }))));
    });
  }

  // ---- the PlexSync page ------------------------------------------------------------------
  function card(title, testid, children, extra) {
    return h(B.Card, { className: "plexsync-card", "data-testid": testid },
      h(B.Card.Header, { className: "plexsync-card-header" }, h("span", null, title), extra || null),
      h(B.Card.Body, null, children));
  }

  function plexLine(o) {
    var p = o.plex || {};
    if (p.state === "token_rejected") return [false, "Plex rejected the token: " + (p.line || "")];
    if (p.state === "unavailable") return [false, "unavailable since " + when(p.since) + "; syncing is paused"];
    if (p.state === "failing") return [false, "the last " + p.failures + " contact(s) failed"];
    if (p.state === "answered") return [true, "answered at the last contact"];
    return [null, "not contacted yet (Health Check tests the connection)"];
  }

  // A drain's summary line names every error; the failed list below shows them in full.
  function runHead(line) {
    var parts = String(line || "").split("; errors: ");
    if (parts.length < 2) return parts[0];
    var count = parts[1].split(" | ").length + (/\(\+(\d+) more\)$/.test(parts[1])
      ? Number(/\(\+(\d+) more\)$/.exec(parts[1])[1]) : 0);
    return parts[0] + "; " + count + " error" + (count === 1 ? "" : "s") + " (see Failed syncs)";
  }

  function QueueCard(props) {
    var o = props.o, q = o.queue || {};
    var running = o.drainer && o.drainer.running;
    var plex = plexLine(o);
    var tile = function (label, value, testid) {
      return h("div", { className: "plexsync-count", "data-testid": testid },
        h("div", { className: "plexsync-count-value" }, String(value || 0)),
        h("div", { className: "plexsync-count-label" }, label));
    };
    return card("Queue", "plexsync-queue", h(React.Fragment, null,
      h("div", { className: "plexsync-counts" },
        tile("waiting", q.ready, "plexsync-count-ready"),
        tile("in flight", q.in_flight),
        tile("retrying", q.scheduled, "plexsync-count-retrying"),
        tile("failed", o.failed_total, "plexsync-count-failed"),
        tile("not in Plex", q.skipped)),
      h("dl", { className: "details-list" },
        row("Plex", h("span", { className: plex[0] === false ? "text-danger" : plex[0] ? "text-success" : "" },
          plex[1]), "plexsync-plex-state"),
        row("Background sync", running ? "running" + (o.drainer.total ? " (" + o.drainer.processed +
          " of " + o.drainer.total + " jobs)" : "") : "not running"),
        row("Last successful sync", when(o.last_sync_at) + " · " + (o.synced_scenes || 0) +
          (o.synced_scenes === 1 ? " scene" : " scenes") + " synced"),
        row("Last background run", o.last_run ? when(o.last_run.at) + ": " + runHead(o.last_run.line)
          : "none yet", "plexsync-last-run"))));
  }

  function ConnectionCard(props) {
    var o = props.o;
    var Connect = api.components && api.components.PlexSyncConnect;
    if (Connect) {
      return card("Plex connection", "plexsync-connection",
        boxed(h(Connect, { overview: o, refresh: props.refresh, call: call })));
    }
    var setup = o.setup || {};
    var url = o.plex_server && o.plex_server.url;
    var text = setup.state === "not_set_up" ? setup.line
      : setup.state === "off" ? setup.line
        : url ? "Plex at " + url : "Set the Plex URL and token in Settings → Plugins → PlexSync.";
    return card("Plex connection", "plexsync-connection", h(React.Fragment, null,
      h("p", { "data-testid": "plexsync-setup-line" }, text),
      url ? h("p", { className: "text-muted plexsync-fix" }, "The server PlexSync last talked to " +
        "(a sync or Health Check). Plex URL and token are set in Settings → Plugins.") : null,
      h("div", { className: "plexsync-actions" },
        stashLink(SETTINGS_PATH, "Settings → Plugins → PlexSync", { className: "btn btn-secondary" }),
        url ? h(B.Button, { variant: "secondary", href: url + "/web/index.html", target: "_blank",
          rel: "noopener noreferrer" }, icon("faExternalLinkAlt", "mr-2"), "Open Plex Web") : null)));
  }

  function FailedCard(props) {
    var o = props.o, act = props.act, busy = props.busy;
    var rows = (o.failed || []).map(function (f) {
      return h("tr", { key: f.scene_id + "-" + f.failed_at, "data-testid": "plexsync-failed-row",
        "data-scene-id": f.scene_id },
        h("td", { className: "plexsync-scene-cell" },
          stashLink("/scenes/" + f.scene_id, f.title || "scene " + f.scene_id)),
        h("td", null, h("div", { className: "plexsync-reason" }, f.reason),
          h("div", { className: "plexsync-fix text-muted" }, f.fix)),
        h("td", { className: "text-nowrap" }, when(f.failed_at),
          f.attempts > 1 ? h("div", { className: "text-muted" }, f.attempts + " attempts") : null),
        h("td", { className: "text-nowrap plexsync-row-actions" },
          h(B.Button, { size: "sm", variant: "primary", disabled: busy, "data-testid": "plexsync-retry",
            onClick: function () { act({ mode: "ui_retry", scene_id: f.scene_id }, "Retry"); } },
          icon("faRedo", "mr-1"), "Retry"),
          h(B.Button, { size: "sm", variant: "danger", className: "ml-2", disabled: busy,
            "data-testid": "plexsync-delete",
            onClick: function () { act({ mode: "ui_delete", scene_id: f.scene_id }, "Delete"); } },
          icon("faTrashAlt", "mr-1"), "Delete")));
    });
    var retryAll = o.failed_total ? h(B.Button, { size: "sm", variant: "secondary", disabled: busy,
      "data-testid": "plexsync-retry-all",
      onClick: function () { act({ mode: "ui_retry" }, "Retry all"); } },
    icon("faRedo", "mr-1"), "Retry all") : null;
    var more = o.failed_total > rows.length ? h("p", { className: "text-muted" }, "Showing " +
      rows.length + " of " + o.failed_total + "; the Failed Syncs task lists them all.") : null;
    return card("Failed syncs (" + (o.failed_total || 0) + ")", "plexsync-failed",
      rows.length ? h(React.Fragment, null, h(B.Table, { striped: true, size: "sm", className: "plexsync-table" },
        h("thead", null, h("tr", null, h("th", null, "Scene"), h("th", null, "Reason · what to do"),
          h("th", null, "Last failure"), h("th", null, ""))),
        h("tbody", null, rows)), more)
        : h("p", { className: "text-muted" }, "None: every scene PlexSync tried reached Plex."),
      retryAll);
  }

  function HealthCard(props) {
    var health = props.health, busy = props.busy;
    var lines = null;
    if (health && health.line) lines = errorLine(health.line);
    else if (health && health.data) {
      lines = h("ul", { className: "plexsync-health", "data-testid": "plexsync-health-lines" },
        (health.data.checks || []).map(function (c, i) {
          return h("li", { key: i, className: c.ok ? "text-success" : "text-danger" },
            icon(c.ok ? "faCheck" : "faTimes", "mr-2"), h("span", { className: "plexsync-check" }, c.line),
            c.fix ? h("div", { className: "text-muted plexsync-fix" }, "Fix: " + c.fix) : null);
        }));
    }
    return card("Health Check", "plexsync-health", h(React.Fragment, null,
      h("p", { className: "text-muted" }, "Checks Plex, the token, the libraries, the path map and " +
        "Stash; each problem says its fix."), lines),
    h(B.Button, { size: "sm", variant: "secondary", disabled: busy, "data-testid": "plexsync-health-check",
      onClick: props.run }, icon("faStethoscope", "mr-1"), busy ? "Checking…" : "Run Health Check"));
  }

  var PlexSyncPage = guarded("Page", function () {
    var polled = usePolling(function (first) {
      return call({ mode: "ui_overview", check_setup: first });
    }, []);
    var answer = polled[0], reload = polled[1];
    var busyState = React.useState(false);
    var message = React.useState(null);
    var health = React.useState(null);
    var busy = busyState[0];

    function act(args, label) {
      busyState[1](true);
      call(args).then(function (r) {
        message[1](r.line ? { line: r.line } : { text: label + ": " + ((r.data && r.data.text) || "done") });
        busyState[1](false);
        reload();
      });
    }
    function runHealth() {
      busyState[1](true);
      call({ mode: "ui_health_check" }).then(function (r) {
        health[1](r);
        busyState[1](false);
        reload();
      });
    }

    var o = answer.data;
    var content;
    if (answer.loading) content = h("div", { className: "text-muted" }, "Asking PlexSync…");
    else if (!o) content = errorLine(answer.line, "plexsync-error");
    else if (o.state === "error") content = errorLine(o.line, "plexsync-error");
    else {
      content = h(React.Fragment, null,
        o.no_data ? h(B.Alert, { variant: "info" }, "PlexSync has no data in this Stash yet: it " +
          "starts with the first saved scene, Sync now on a scene, or a task.") : null,
        message[0] ? (message[0].line ? errorLine(message[0].line)
          : h("pre", { className: "plexsync-message", "data-testid": "plexsync-message" }, message[0].text)) : null,
        h("div", { className: "plexsync-grid" },
          h(QueueCard, { o: o }),
          h(ConnectionCard, { o: o, refresh: reload })),
        h(FailedCard, { o: o, act: act, busy: busy }),
        h(HealthCard, { health: health[0], busy: busy, run: runHealth }));
    }
    return h("div", { className: "container plexsync-page", "data-testid": "plexsync-page" },
      h("h2", { className: "plexsync-title" }, icon("faExchangeAlt", "mr-2"), "PlexSync"),
      content);
  });

  function PageRoute() { return boxed(h(PlexSyncPage)); }

  // ---- Settings → Plugins: the way to the page from PlexSync's own entry --------------------
  function patchPluginSettings() {
    after("PluginSettings", function (props, result) {
      if (props.pluginID !== PLUGIN_ID) return result;
      return h(React.Fragment, null, boxed(h("div", { className: "setting plexsync-settings-link" },
        h("div", null, h("h3", null, "PlexSync page"),
          h("div", { className: "sub-heading" }, "Queue, failed syncs with Retry, Health Check and the Plex connection.")),
        h("div", null, stashLink(PAGE_PATH, "Open", { className: "btn btn-secondary", "data-testid": "plexsync-page-link" })))),
      result);
    });
  }

  try {
    patchScenePage();
    patchPluginSettings();
    api.register.route(PAGE_PATH, PageRoute);
    api.register.route(BOOKMARK_PATH, PageRoute);
  } catch (error) {
    // An older Stash without these patch points: PlexSync syncs as before, without its UI.
  }
})();
