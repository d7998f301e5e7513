// PlexSync's "Connect to Plex" card (PluginApi.components.PlexSyncConnect), shown by the
// PlexSync page (hooks/ui/plexsync.js) in its "Plex connection" card. Plain JavaScript on
// Stash's own React and Bootstrap; nothing is fetched from the network.
//
// The steps run in PlexSync's Python (worker/tasks/connect/operations.py) through
// runPluginOperation: ui_connect_start gives the code for plex.tv/link, ui_connect_check is
// polled with the pin's id and answers only waiting / linked / failed and the seconds left
// (Python stores the token itself; it never comes here), ui_connect_choose tests the chosen
// server's addresses, stores the best and answers with Health Check's lines.
// Nothing here may break Stash's page: every render is guarded and every call caught.
(function () {
  "use strict";
  var api = window.PluginApi;
  if (!api || !api.React || !api.register || !api.register.component) {
    return; // a Stash without the plugin API: the page shows the manual way only
  }
  var React = api.React;
  var h = React.createElement;
  var B = api.libraries.Bootstrap;
  var Router = api.libraries.ReactRouterDOM;
  var PLUGIN_ID = "PlexSync";
  var SETTINGS_PATH = "/settings?tab=plugins";
  var CHECK_EVERY_MS = 3000; // plex.tv is asked no faster than this (a Python process each)
  var OPERATION = "mutation PlexSyncConnect($args: Map) { runPluginOperation(plugin_id: \"" +
    PLUGIN_ID + "\", args: $args) }";

  // The page hands its own `call`; alone (tests, another page) the card asks Stash itself.
  function graphqlURL() { // Stash's base path (<base href>), as Stash's own client uses it
    var base = document.querySelector("base");
    return ((base && base.getAttribute("href")) || "/").replace(/\/?$/, "/") + "graphql";
  }

  function ownCall(args) {
    return fetch(graphqlURL(), {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ query: OPERATION, variables: { args: args } })
    }).then(function (response) {
      return response.json().then(function (body) {
        var value = body && body.data ? body.data.runPluginOperation : null;
        if (value && typeof value === "object") return { data: value };
        var errors = (body && body.errors) || [];
        return { line: "PlexSync did not answer: " + (errors.map(function (e) {
          return e.message;
        }).join("; ") || "HTTP " + response.status) };
      });
    }).catch(function (error) {
      return { line: "Stash could not be reached (" + ((error && error.message) || error) + ")" };
    });
  }

  function clock(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    return Math.floor(seconds / 60) + ":" + ("0" + (seconds % 60)).slice(-2);
  }

  function problem(text) {
    return h("div", { className: "plexsync-error text-warning", "data-testid": "plexsync-connect-error" }, text);
  }

  function manualWay() {
    return h("p", { className: "text-muted plexsync-connect-manual" }, "Or type the Plex URL and token by hand: ",
      h(Router.Link, { to: SETTINGS_PATH }, "Settings → Plugins → PlexSync"), ".");
  }

  // step: idle | confirm | waiting | linked | choosing | connected | failed
  function ConnectCard(props) {
    var call = props.call || ownCall;
    var st = React.useState({ step: "idle" });
    var s = st[0], set = st[1];
    var current = React.useState(null);
    var now = React.useState(Date.now());
    var alive = React.useRef(true);
    var pin = React.useRef(null); // {id, deadline}; null = not waiting (cancelled or done)

    function answer(r, next) {
      if (!alive.current) return;
      if (r.line) return set({ step: "failed", message: r.line });
      if (r.data.state === "failed") return set({ step: "failed", message: r.data.message, kind: r.data.kind });
      next(r.data);
    }

    function status() {
      call({ mode: "ui_connect_status" }).then(function (r) {
        if (alive.current && r.data && r.data.state === "idle") current[1](r.data);
      });
    }

    React.useEffect(function () {
      status();
      var ticker = setInterval(function () { if (alive.current) now[1](Date.now()); }, 1000);
      return function () { alive.current = false; pin.current = null; clearInterval(ticker); };
    }, []);

    function linked(d) {
      pin.current = null;
      set({ step: "linked", account: d.account, servers: d.servers || [] });
    }

    function poll(id) {
      if (!pin.current || pin.current.id !== id) return; // cancelled, or a newer code
      call({ mode: "ui_connect_check", pin_id: String(id) }).then(function (r) {
        if (!pin.current || pin.current.id !== id) return;
        answer(r, function (d) {
          if (d.state === "linked") return linked(d);
          pin.current.deadline = Date.now() + d.seconds_left * 1000;
          setTimeout(function () { poll(id); }, CHECK_EVERY_MS);
        });
        if (r.line || (r.data && r.data.state === "failed")) pin.current = null;
      });
    }

    function start(replace) {
      set({ step: "starting" });
      call({ mode: "ui_connect_start", replace: replace ? "true" : "false" }).then(function (r) {
        answer(r, function (d) {
          if (d.state === "confirm") return set({ step: "confirm", message: d.message, plex_url: d.plex_url });
          pin.current = { id: d.pin_id, deadline: Date.now() + d.seconds_left * 1000 };
          set({ step: "waiting", code: d.code, link: d.link });
          setTimeout(function () { poll(d.pin_id); }, CHECK_EVERY_MS);
        });
      });
    }

    function cancel() {
      pin.current = null;
      set({ step: "idle", note: "Cancelled: nothing was changed (the code expires by itself)." });
    }

    function choose(server) {
      set({ step: "choosing", server: server.name });
      call({ mode: "ui_connect_choose", server: server.id }).then(function (r) {
        answer(r, function (d) {
          set({ step: "connected", result: d });
          status();
          if (props.refresh) props.refresh();
        });
      });
    }

    var body;
    var c = current[0];
    if (s.step === "idle" || s.step === "starting") {
      body = h(React.Fragment, null,
        s.note ? h("p", { "data-testid": "plexsync-connect-note" }, s.note) : null,
        h("p", { "data-testid": "plexsync-connect-current" }, !c ? "Asking PlexSync…"
          : c.plex_url ? "Plex at " + c.plex_url + (c.has_token ? "" : " (no token yet)")
            : c.has_token ? "A Plex token is set, no Plex URL yet." : "Not connected to Plex yet."),
        h(B.Button, { variant: "primary", disabled: s.step === "starting", "data-testid": "plexsync-connect",
          onClick: function () { start(false); } }, s.step === "starting" ? "Asking plex.tv…" : "Connect to Plex"),
        manualWay());
    } else if (s.step === "confirm") {
      body = h(B.Alert, { variant: "warning", "data-testid": "plexsync-connect-confirm-box" },
        h("p", null, s.message + (s.plex_url ? " (now: " + s.plex_url + ")" : "")),
        h(B.Button, { variant: "danger", size: "sm", "data-testid": "plexsync-connect-confirm",
          onClick: function () { start(true); } }, "Replace them"),
        h(B.Button, { variant: "secondary", size: "sm", className: "ml-2", "data-testid": "plexsync-connect-keep",
          onClick: function () { set({ step: "idle", note: "Kept your settings." }); } }, "Keep my settings"));
    } else if (s.step === "waiting") {
      var left = pin.current ? (pin.current.deadline - now[0]) / 1000 : 0;
      body = h(React.Fragment, null,
        h("p", null, "Open ", h("a", { href: s.link, target: "_blank", rel: "noopener noreferrer",
          "data-testid": "plexsync-connect-link" }, s.link), ", sign in, and enter this code:"),
        h("div", { className: "plexsync-connect-code", "data-testid": "plexsync-connect-code" }, s.code),
        h("p", { className: "text-muted", "data-testid": "plexsync-connect-countdown" },
          "Waiting for the code: " + clock(left) + " left"),
        h(B.Button, { variant: "secondary", size: "sm", "data-testid": "plexsync-connect-cancel", onClick: cancel }, "Cancel"));
    } else if (s.step === "linked") {
      body = h(React.Fragment, null,
        h("p", null, "Signed in to plex.tv" + (s.account ? " as " + s.account : "") + ". Pick the server PlexSync writes to:"),
        h("ul", { className: "plexsync-connect-servers", "data-testid": "plexsync-connect-servers" },
          s.servers.map(function (v) {
            return h("li", { key: v.id, "data-testid": "plexsync-connect-server", "data-server": v.name },
              h("span", null, h("strong", null, v.name),
                " — Plex " + v.version + ", " + v.places + (v.online ? "" : ", offline")),
              v.owned ? h(B.Button, { size: "sm", variant: "primary", "data-testid": "plexsync-connect-choose",
                onClick: function () { choose(v); } }, "Use this server")
                : h("span", { className: "text-muted" }, "shared by " + (v.owner || "its owner") +
                  ": PlexSync cannot edit it with this sign-in"));
          })));
    } else if (s.step === "choosing") {
      body = h("p", null, "Trying every address of " + s.server + " from Stash's machine…");
    } else if (s.step === "connected") {
      var d = s.result, health = d.health || {};
      body = h(React.Fragment, null,
        h("p", { "data-testid": "plexsync-connect-done" }, "Connected to " + d.server + " at " + d.plex_url + "."),
        h("p", { className: "text-muted plexsync-connect-tried", "data-testid": "plexsync-connect-tried" },
          "Addresses tried from Stash's machine: " + (d.tried || []).map(function (t) {
            return t.url + (t.ok ? " answered" : " (" + t.error + ")");
          }).join("; ")),
        h("ul", { className: "plexsync-health", "data-testid": "plexsync-connect-health" },
          (health.checks || []).map(function (k, i) {
            return h("li", { key: i, className: k.ok ? "text-success" : "text-danger" },
              (k.ok ? "✓ " : "✗ ") + k.line + (k.fix ? " — fix: " + k.fix : ""));
          })),
        h(B.Button, { size: "sm", variant: "secondary", onClick: function () { set({ step: "idle" }); } }, "Done"));
    } else {
      body = h(React.Fragment, null, problem(s.message),
        h(B.Button, { size: "sm", variant: "secondary", "data-testid": "plexsync-connect-again",
          onClick: function () { set({ step: "idle" }); status(); } }, "Start again"), manualWay());
    }
    return h("div", { className: "plexsync-connect", "data-testid": "plexsync-connect-card" }, body);
  }

  class Guard extends React.Component {
    constructor(props) { super(props); this.state = { failed: false }; }
    static getDerivedStateFromError() { return { failed: true }; }
    componentDidCatch() { /* shown in place; Stash's page stays usable */ }
    render() {
      return this.state.failed ? problem("Connect to Plex could not be shown; reload the page, " +
        "or set the Plex URL and token in Settings → Plugins → PlexSync.") : h(ConnectCard, this.props);
    }
  }

  function PlexSyncConnect(props) { return h(Guard, props); }

  try {
    if (!(api.components && api.components.PlexSyncConnect)) {
      api.register.component("PlexSyncConnect", PlexSyncConnect);
    }
  } catch (error) {
    // registered already, or an older Stash: the page shows the manual way
  }
})();
