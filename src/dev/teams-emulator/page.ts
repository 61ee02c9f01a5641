/**
 * The emulator page: plays the Teams client for one channel. The browser code is plain ES2017
 * kept as text here because the project's lint and type check cover TypeScript only; the page
 * stays small and dumb on purpose: the server builds every activity (see index.ts), the page
 * renders cards with the official Adaptive Cards renderer and posts clicks back.
 */

export interface PageOptions {
  readonly channelName: string;
}

export function pageHtml(opts: PageOptions): string {
  const title = `Linkgate · Teams emulator · channel ${escapeHtml(opts.channelName)}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/teams/adaptivecards.css">
<link rel="stylesheet" href="/teams/app.css">
</head>
<body>
<header class="top">
  <div class="brand"><span class="logo" aria-hidden="true">LG</span><h1 id="title">${title}</h1></div>
  <div class="me">
    <label for="me">You are:</label>
    <select id="me" data-testid="user-select"></select>
    <span id="me-role" class="chip" data-testid="user-role"></span>
    <span id="live" class="live" title="Live updates from the emulator">connecting…</span>
  </div>
</header>
<section class="hint">
  <div id="hint">Loading…</div>
  <button id="install" type="button" class="install" title="Sends the conversationUpdate and installationUpdate Teams sends when an app is added">Add Linkgate to this channel</button>
</section>
<main id="feed" aria-live="polite"></main>
<div id="toasts" aria-live="assertive"></div>
<script src="/teams/adaptivecards.js"></script>
<script src="/teams/app.js"></script>
</body>
</html>
`;
}

export const PAGE_CSS = String.raw`
:root { --brand: #5b5fc7; --brand-dark: #444791; --bg: #f5f5f5; --text: #242424; --subtle: #616161; --line: #e0e0e0; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text); font: 14px/1.4 'Segoe UI', system-ui, -apple-system, 'Helvetica Neue', sans-serif; }
.top { position: sticky; top: 0; z-index: 5; display: flex; align-items: center; justify-content: space-between; gap: 16px; padding: 8px 20px; background: var(--brand-dark); color: #fff; }
.brand { display: flex; align-items: center; gap: 10px; min-width: 0; }
.brand h1 { margin: 0; font-size: 15px; font-weight: 600; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.logo { display: inline-flex; align-items: center; justify-content: center; width: 28px; height: 28px; border-radius: 6px; background: #fff; color: var(--brand-dark); font-weight: 700; font-size: 12px; }
.me { display: flex; align-items: center; gap: 8px; white-space: nowrap; }
.me select { font: inherit; padding: 3px 6px; border-radius: 4px; border: 0; }
.chip { display: inline-block; padding: 1px 8px; border-radius: 10px; background: rgba(255,255,255,.18); font-size: 12px; }
.live { font-size: 12px; opacity: .8; }
.live.on::before { content: '● '; color: #92c353; }
.live.off::before { content: '● '; color: #f1707b; }
.hint { display: flex; align-items: center; justify-content: space-between; gap: 12px; max-width: 920px; margin: 16px auto 0; padding: 10px 14px; background: #fff; border: 1px solid var(--line); border-radius: 6px; color: var(--subtle); font-size: 13px; }
.hint code { display: block; margin-top: 4px; padding: 6px 8px; background: #f0f0f0; border-radius: 4px; color: var(--text); font: 12px/1.4 Consolas, 'Cascadia Mono', monospace; white-space: pre-wrap; word-break: break-all; }
.install { flex: none; font: inherit; font-size: 13px; padding: 5px 12px; border-radius: 4px; border: 1px solid var(--brand); background: #fff; color: var(--brand); cursor: pointer; }
.install:disabled { opacity: .6; cursor: default; }
#feed { max-width: 920px; margin: 0 auto; padding: 16px 0 80px; }
.empty { text-align: center; color: var(--subtle); padding: 40px 0; }
.post { display: flex; gap: 12px; margin: 0 0 16px; padding: 12px 16px; background: #fff; border: 1px solid var(--line); border-radius: 6px; box-shadow: 0 1px 2px rgba(0,0,0,.06); }
.avatar { flex: none; display: inline-flex; align-items: center; justify-content: center; width: 32px; height: 32px; border-radius: 50%; background: var(--brand); color: #fff; font-size: 12px; font-weight: 700; }
.reply .avatar { width: 24px; height: 24px; font-size: 10px; }
.body { flex: 1; min-width: 0; }
.meta { display: flex; flex-wrap: wrap; align-items: baseline; gap: 8px; margin-bottom: 6px; font-size: 12px; color: var(--subtle); }
.meta .name { font-weight: 600; color: var(--text); font-size: 13px; }
.meta .app { padding: 0 5px; border-radius: 3px; background: #e8ebfa; color: var(--brand-dark); font-size: 11px; }
.meta .view { padding: 0 6px; border-radius: 3px; background: #fff4ce; color: #835c00; font-size: 11px; }
.meta a { color: var(--brand); cursor: pointer; text-decoration: none; }
.meta a:hover { text-decoration: underline; }
.card { position: relative; max-width: 600px; border: 1px solid var(--line); border-radius: 4px; overflow: hidden; }
.card.busy { pointer-events: none; }
.card.busy::after { content: 'Working…'; position: absolute; inset: 0; display: flex; align-items: center; justify-content: center; background: rgba(255,255,255,.7); color: var(--brand-dark); font-weight: 600; }
.text { white-space: pre-wrap; }
.deleted { color: var(--subtle); font-style: italic; }
.replies { margin-top: 10px; border-top: 1px solid var(--line); }
.reply { display: flex; gap: 8px; padding: 8px 0 0; }
.json { max-width: 600px; max-height: 320px; overflow: auto; margin: 6px 0 0; padding: 8px; background: #f0f0f0; border-radius: 4px; font: 11px/1.4 Consolas, 'Cascadia Mono', monospace; }
.render-error { padding: 8px; color: #c4314b; }
#toasts { position: fixed; right: 16px; bottom: 16px; z-index: 10; display: flex; flex-direction: column; gap: 8px; max-width: 420px; }
.toast { padding: 10px 14px; border-radius: 6px; background: #242424; color: #fff; box-shadow: 0 4px 12px rgba(0,0,0,.2); }
.toast.error { background: #c4314b; }
.ac-adaptiveCard { font-family: 'Segoe UI', system-ui, -apple-system, 'Helvetica Neue', sans-serif; }
.ac-textBlock p { margin: 0; }
.ac-textBlock ul { margin: 2px 0; padding-left: 20px; }
.ac-textBlock a { color: var(--brand); }
.ac-pushButton { font: 600 14px/20px 'Segoe UI', system-ui, sans-serif; padding: 5px 16px; border-radius: 4px; border: 1px solid #d1d1d1; background: #fff; color: var(--text); cursor: pointer; }
.ac-pushButton:hover { background: #f5f5f5; }
.ac-pushButton.style-positive { background: var(--brand); border-color: var(--brand); color: #fff; }
.ac-pushButton.style-positive:hover { background: var(--brand-dark); }
.ac-pushButton.style-destructive { color: #c4314b; border-color: #c4314b; background: #fff; }
.ac-input.ac-textInput { font: inherit; padding: 6px 8px; border: 1px solid #d1d1d1; border-radius: 4px; }
`;

export const PAGE_SCRIPT = String.raw`(function () {
  'use strict';
  var AC = window.AdaptiveCards;
  var STORAGE_KEY = 'linkgate.teamsEmulator.user';
  var CARD_TYPE = 'application/vnd.microsoft.card.adaptive';
  var MESSAGE_TYPE = 'application/vnd.microsoft.activity.message';

  var feed = document.getElementById('feed');
  var meSelect = document.getElementById('me');
  var meRole = document.getElementById('me-role');
  var live = document.getElementById('live');
  var toasts = document.getElementById('toasts');
  var hint = document.getElementById('hint');
  var installButton = document.getElementById('install');

  var people = [];
  var me = null;
  var posts = {};          // message id -> rendered post { el, cardHost, metaHost, repliesHost, key, replies }
  var views = {};          // message id -> { card, version, user, seq }: this user's view from an invoke response
  var refreshedFor = {};   // message id -> 'user|version' of the last automatic refresh sent
  var busy = {};           // message id -> invokes in flight
  var showJson = {};       // message id -> JSON panel open
  var seq = 0;
  var loading = false;
  var loadAgain = false;
  var lastState = null;

  var textColors = {
    default: { default: '#242424', subtle: '#616161' },
    dark: { default: '#252424', subtle: '#616161' },
    light: { default: '#ffffff', subtle: '#e1dfdd' },
    accent: { default: '#5b5fc7', subtle: '#6264a7' },
    good: { default: '#237b4b', subtle: '#0e700e' },
    warning: { default: '#835c00', subtle: '#835c00' },
    attention: { default: '#c4314b', subtle: '#c4314b' }
  };
  function style(background) { return { backgroundColor: background, foregroundColors: textColors }; }
  // Close to the Teams light theme: Segoe UI, 14 px text, Teams purple accent.
  var hostConfig = new AC.HostConfig({
    fontFamily: "'Segoe UI', system-ui, -apple-system, 'Helvetica Neue', sans-serif",
    supportsInteractivity: true,
    spacing: { small: 4, default: 8, medium: 16, large: 20, extraLarge: 24, padding: 16 },
    separator: { lineThickness: 1, lineColor: '#e1dfdd' },
    fontSizes: { small: 12, default: 14, medium: 14, large: 18, extraLarge: 24 },
    fontWeights: { lighter: 200, default: 400, bolder: 600 },
    imageSizes: { small: 32, medium: 52, large: 100 },
    containerStyles: {
      default: style('#ffffff'),
      emphasis: style('#f5f5f5'),
      accent: style('#e8ebfa'),
      good: style('#e7f2da'),
      attention: style('#fcf4f6'),
      warning: style('#fbf6d9')
    },
    actions: {
      maxActions: 6, spacing: 'default', buttonSpacing: 8, actionsOrientation: 'horizontal', actionAlignment: 'left',
      showCard: { actionMode: 'inline', inlineTopMargin: 16, style: 'emphasis' }
    },
    adaptiveCard: { allowCustomStyle: true },
    factSet: {
      title: { color: 'default', size: 'default', isSubtle: false, weight: 'bolder', wrap: true, maxWidth: 160 },
      value: { color: 'default', size: 'default', isSubtle: false, weight: 'default', wrap: true },
      spacing: 8
    }
  });

  // Teams renders a Markdown subset in TextBlocks: bold, italic, links, bullet lists, line breaks.
  AC.AdaptiveCard.onProcessMarkdown = function (text, result) {
    result.outputHtml = markdown(text);
    result.didProcess = true;
  };

  function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }

  function inline(s) {
    return s
      .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>')
      .replace(/(^|[\s(])_([^_]+)_(?=$|[\s).,;:!?])/g, '$1<em>$2</em>')
      .replace(/\[([^\]]+)\]\((https?:[^)\s]+)\)/g, '<a href="$2" target="_blank" rel="noopener noreferrer">$1</a>');
  }

  function markdown(text) {
    var lines = escapeHtml(text).split(/\r?\n/);
    var html = '';
    var inList = false;
    for (var i = 0; i < lines.length; i++) {
      var item = /^\s*[-*]\s+(.*)$/.exec(lines[i]);
      if (item) {
        if (!inList) { html += '<ul>'; inList = true; }
        html += '<li>' + inline(item[1]) + '</li>';
        continue;
      }
      if (inList) { html += '</ul>'; inList = false; }
      html += (html && !/<\/ul>$/.test(html) ? '<br>' : '') + inline(lines[i]);
    }
    if (inList) html += '</ul>';
    return '<p>' + html + '</p>';
  }

  function toast(text, kind) {
    var el = document.createElement('div');
    el.className = 'toast' + (kind ? ' ' + kind : '');
    el.setAttribute('data-testid', 'toast');
    el.textContent = text;
    toasts.appendChild(el);
    setTimeout(function () { el.remove(); }, kind === 'error' ? 8000 : 5000);
  }

  function time(iso) {
    var d = new Date(iso);
    return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }

  function initials(name) {
    return String(name || '?').split(/\s+/).filter(Boolean).slice(0, 2).map(function (w) { return w[0].toUpperCase(); }).join('');
  }

  function cardOf(message) {
    for (var i = 0; i < message.attachments.length; i++) {
      if (message.attachments[i].contentType === CARD_TYPE) return message.attachments[i].content;
    }
    return undefined;
  }

  function version(message) { return message.history.length; }

  /**
   * Universal Actions: a user listed in refresh.userIds gets their own view through an automatic
   * refresh. Teams matches user MRIs (8:orgid:<object ID>, or the 29: ID the bot sees in from.id),
   * not bare object IDs, so neither does this page.
   */
  function wantsRefresh(card) {
    if (!me || !card || !card.refresh || !card.refresh.action) return false;
    var ids = card.refresh.userIds;
    if (!Array.isArray(ids)) return false;
    return ids.some(function (id) { return typeof id === 'string' && me.mris.indexOf(id.trim().toLowerCase()) >= 0; });
  }

  function currentView(message) {
    var view = views[message.id];
    if (view && me && view.user === me.objectId && view.version === version(message)) return view;
    return null;
  }

  // ---- users ----
  function setUser(objectId) {
    var found = people.filter(function (p) { return p.objectId === objectId; })[0] || people[0] || null;
    me = found;
    if (!me) return;
    meSelect.value = me.objectId;
    meRole.textContent = me.name + ' · ' + me.role;
    try { localStorage.setItem(STORAGE_KEY, me.objectId); } catch (e) { /* storage may be off */ }
    views = {};
    refreshedFor = {};
    if (lastState) render(lastState);
  }

  meSelect.addEventListener('change', function () { setUser(meSelect.value); });

  installButton.addEventListener('click', function () {
    installButton.disabled = true;
    fetch('/teams/install', { method: 'POST' }).then(function (res) {
      return res.json().then(function (body) {
        if (res.ok) toast('Linkgate was added to the channel.');
        else toast('Adding the app failed: ' + (body.error || res.status), 'error');
      });
    }).catch(function (e) { toast('Adding the app failed: ' + e.message, 'error'); })
      .then(function () { installButton.disabled = false; });
  });

  // ---- invokes ----
  function invoke(message, action, trigger) {
    if (!me) return;
    var user = me.objectId;
    var atVersion = version(message);
    busy[message.id] = (busy[message.id] || 0) + 1;
    markBusy(message.id);
    var payload = {
      activityId: message.id,
      objectId: user,
      verb: action.verb,
      data: action.data || {},
      title: action.title,
      actionId: action.id,
      trigger: trigger
    };
    fetch('/teams/invoke', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) })
      .then(function (res) { return res.json().then(function (body) { return { ok: res.ok, body: body }; }); })
      .then(function (answer) {
        if (!me || me.objectId !== user) return;
        if (!answer.ok) { toast('Could not reach Linkgate: ' + (answer.body.error || 'error'), 'error'); return; }
        handleInvokeResponse(message, atVersion, user, answer.body.status, answer.body.body);
      })
      .catch(function (e) { toast('Could not reach Linkgate: ' + e.message, 'error'); })
      .then(function () {
        busy[message.id] -= 1;
        markBusy(message.id);
      });
  }

  function handleInvokeResponse(message, atVersion, user, status, body) {
    if (status !== 200 || !body || typeof body !== 'object') {
      toast('Linkgate did not answer the card action (HTTP ' + status + ').', 'error');
      return;
    }
    if (body.statusCode === 200 && body.type === CARD_TYPE && body.value) {
      views[message.id] = { card: body.value, version: atVersion, user: user, seq: ++seq };
      if (lastState) render(lastState);
      return;
    }
    if (body.statusCode === 200 && body.type === MESSAGE_TYPE) {
      toast(String(body.value));
      return;
    }
    var detail = body.value && body.value.message ? body.value.message : JSON.stringify(body.value);
    toast('Linkgate answered ' + body.statusCode + ' (' + body.type + '): ' + detail, 'error');
  }

  function markBusy(id) {
    var post = findRendered(id);
    if (post) post.cardHost.classList.toggle('busy', (busy[id] || 0) > 0);
  }

  function findRendered(id) {
    if (posts[id]) return posts[id];
    for (var key in posts) if (posts[key].replies[id]) return posts[key].replies[id];
    return null;
  }

  function executeHandler(message) {
    return function (action) {
      var type = action.getJsonTypeName();
      if (type === 'Action.Execute') {
        invoke(message, { verb: action.verb, data: action.data, title: action.title, id: action.id }, 'manual');
      } else if (type === 'Action.OpenUrl') {
        window.open(action.url, '_blank', 'noopener');
      } else {
        toast(type + ' is not a Universal Action; this emulator sends Action.Execute only.', 'error');
      }
    };
  }

  // ---- rendering ----
  function renderCard(host, json, message) {
    host.textContent = '';
    var card = new AC.AdaptiveCard();
    card.hostConfig = hostConfig;
    card.onExecuteAction = executeHandler(message);
    try {
      card.parse(json);
      var el = card.render();
      if (!el) throw new Error('the renderer returned nothing (unsupported card version?)');
      host.appendChild(el);
    } catch (e) {
      var err = document.createElement('div');
      err.className = 'render-error';
      err.textContent = 'This card could not be rendered: ' + e.message;
      host.appendChild(err);
    }
  }

  function renderMessage(rendered, message, isReply) {
    var view = isReply ? null : currentView(message);
    var shared = cardOf(message);
    var card = view ? view.card : shared;
    var key = [me ? me.objectId : '', version(message), message.deleted, view ? view.seq : 0, !!showJson[message.id]].join('|');
    if (rendered.key === key) return;
    rendered.key = key;

    var meta = rendered.metaHost;
    meta.textContent = '';
    var name = document.createElement('span');
    name.className = 'name';
    name.textContent = message.from.name || 'Linkgate';
    meta.appendChild(name);
    if (message.from.role === 'bot' || !message.from.aadObjectId) {
      var app = document.createElement('span');
      app.className = 'app';
      app.textContent = 'App';
      meta.appendChild(app);
    }
    var when = document.createElement('span');
    when.textContent = time(message.timestamp) + (message.history.length > 1 ? ' · Edited' : '');
    when.title = message.timestamp + ' · message ' + message.id + (message.history.length > 1 ? ' · ' + message.history.length + ' versions' : '');
    meta.appendChild(when);
    if (view) {
      var badge = document.createElement('span');
      badge.className = 'view';
      badge.setAttribute('data-testid', 'user-specific');
      badge.textContent = 'Only you see this version';
      meta.appendChild(badge);
    }
    if (card) {
      var toggle = document.createElement('a');
      toggle.textContent = showJson[message.id] ? 'Hide JSON' : 'JSON';
      toggle.onclick = function () { showJson[message.id] = !showJson[message.id]; if (lastState) render(lastState); };
      meta.appendChild(toggle);
      if (!isReply && shared && shared.refresh && shared.refresh.action && !wantsRefresh(shared)) {
        // Users outside refresh.userIds refresh by hand in Teams (the message's "Refresh" menu item).
        var refresh = document.createElement('a');
        refresh.textContent = 'Refresh card';
        refresh.onclick = function () { invoke(message, shared.refresh.action, 'manual'); };
        meta.appendChild(refresh);
      }
    }

    var host = rendered.cardHost;
    host.className = card ? 'card' : 'text';
    if (message.deleted) {
      host.className = 'deleted';
      host.textContent = 'This message has been deleted.';
    } else if (card) {
      renderCard(host, card, message);
    } else {
      host.textContent = message.text || '';
    }
    markBusy(message.id);
    var old = rendered.el.querySelector(':scope > .body > .json');
    if (old) old.remove();
    if (card && showJson[message.id]) {
      var pre = document.createElement('pre');
      pre.className = 'json';
      pre.textContent = JSON.stringify(card, null, 2);
      rendered.cardHost.insertAdjacentElement('afterend', pre);
    }
  }

  function createPost(message, isReply) {
    var el = document.createElement('article');
    el.className = isReply ? 'reply' : 'post';
    el.setAttribute('data-message-id', message.id);
    var avatar = document.createElement('span');
    avatar.className = 'avatar';
    avatar.textContent = message.from.aadObjectId ? initials(message.from.name) : 'LG';
    var body = document.createElement('div');
    body.className = 'body';
    var metaHost = document.createElement('div');
    metaHost.className = 'meta';
    var cardHost = document.createElement('div');
    body.appendChild(metaHost);
    body.appendChild(cardHost);
    var repliesHost = null;
    if (!isReply) {
      repliesHost = document.createElement('div');
      repliesHost.className = 'replies';
      repliesHost.hidden = true;
      body.appendChild(repliesHost);
    }
    el.appendChild(avatar);
    el.appendChild(body);
    return { el: el, metaHost: metaHost, cardHost: cardHost, repliesHost: repliesHost, key: null, replies: {} };
  }

  function render(state) {
    var nearBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 80;
    var added = false;
    var empty = feed.querySelector('.empty');
    if (state.messages.length === 0 && !empty) {
      empty = document.createElement('div');
      empty.className = 'empty';
      empty.textContent = 'No posts in this channel yet.';
      feed.appendChild(empty);
    } else if (state.messages.length > 0 && empty) {
      empty.remove();
    }
    state.messages.forEach(function (message) {
      var post = posts[message.id];
      if (!post) {
        post = posts[message.id] = createPost(message, false);
        feed.appendChild(post.el); // new posts arrive in ID order, so appending keeps newest at the bottom
        added = true;
      }
      renderMessage(post, message, false);
      message.replies.forEach(function (reply) {
        var r = post.replies[reply.id];
        if (!r) {
          r = post.replies[reply.id] = createPost(reply, true);
          post.repliesHost.appendChild(r.el);
          post.repliesHost.hidden = false;
        }
        renderMessage(r, reply, true);
      });
      var shared = cardOf(message);
      var mark = (me ? me.objectId : '') + '|' + version(message);
      if (!message.deleted && wantsRefresh(shared) && refreshedFor[message.id] !== mark) {
        refreshedFor[message.id] = mark;
        invoke(message, shared.refresh.action, 'automatic');
      }
    });
    if (added && nearBottom) window.scrollTo(0, document.body.scrollHeight);
  }

  function load() {
    if (loading) { loadAgain = true; return; }
    loading = true;
    fetch('/teams/state').then(function (res) { return res.json(); }).then(function (state) {
      lastState = state;
      if (people.length === 0) initPeople(state);
      hint.innerHTML = '';
      var line = document.createElement('div');
      line.textContent = state.hint.text;
      hint.appendChild(line);
      var code = document.createElement('code');
      code.textContent = state.hint.command;
      hint.appendChild(code);
      installButton.textContent = state.installed ? 'Linkgate is in this channel (add again)' : 'Add Linkgate to this channel';
      render(state);
    }).catch(function (e) {
      toast('Could not load the channel: ' + e.message, 'error');
    }).then(function () {
      loading = false;
      if (loadAgain) { loadAgain = false; load(); }
    });
  }

  function initPeople(state) {
    people = state.people;
    meSelect.textContent = '';
    people.forEach(function (p) {
      var option = document.createElement('option');
      option.value = p.objectId;
      option.textContent = p.name + ' (' + p.role + ')';
      meSelect.appendChild(option);
    });
    var saved = null;
    try { saved = localStorage.getItem(STORAGE_KEY); } catch (e) { /* storage may be off */ }
    var first = people.filter(function (p) { return p.role === 'approver'; })[0] || people[0];
    me = null;
    setUser(saved || (first && first.objectId));
  }

  function connect() {
    var source = new EventSource('/teams/events');
    source.addEventListener('open', function () { live.textContent = 'live'; live.className = 'live on'; load(); });
    source.addEventListener('change', function () { load(); });
    source.addEventListener('error', function () { live.textContent = 'reconnecting…'; live.className = 'live off'; });
  }

  load();
  connect();
})();
`;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}
