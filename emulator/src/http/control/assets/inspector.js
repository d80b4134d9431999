// The inspector page: plain DOM, no framework, nothing fetched but this emulator's own API.
//
// The auth secret is asked for once and kept in sessionStorage (this tab only); every request
// sends it as `Authorization: Bearer`, never in a URL. Views are picked by the URL fragment
// (#/overview, #/executions?filters, #/executions/<id>, #/requests), so the browser's back
// button and links work, and filters can be bookmarked without the secret.
'use strict';

const API = '/_emulator/api';
const SECRET_KEY = 'convex-storage-emulator.inspector.secret';
const POLL_MS = 1000;
const STATUSES = ['ready', 'running', 'failed', 'timed_out', 'waiting_for_children',
  'waiting_for_finalize', 'finalize_failed', 'completed', 'cancelled'];
const CLOSE_STATUSES = ['idle', 'ready', 'closing', 'closed'];
const OCFP_STATUSES = ['idle', 'processing', 'processed'];
const TIMELINE = ['createdAt', 'startAt', 'startedAt', 'expiresAt', 'waitingForChildrenStartedAt',
  'waitingForFinalizeStartedAt', 'finishedAt', 'ocfpExpiresAt', 'ocfpFinishedAt',
  'closeExpiresAt', 'closedAt', 'updatedAt'];
const TIME_FIELDS = new Set(TIMELINE.concat(['_creationTime']));

let stopPolling = () => {};

// ---- DOM helpers -------------------------------------------------------------------------

/** Builds an element: h('a', {href: '#'}, 'text', child...). Text is never parsed as HTML. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const $ = (id) => document.getElementById(id);

/** Replaces the view. Focus goes back to the control that had it (a filter that was just
 * changed with the keyboard stays focused), or else to the view's heading. */
function show(...nodes) {
  const view = $('view');
  const focused = view.contains(document.activeElement) ? document.activeElement.id : '';
  view.replaceChildren(...nodes);
  const again = focused && document.getElementById(focused);
  if (again) {
    again.focus({ preventScroll: true });
    return;
  }
  const heading = view.querySelector('h2');
  if (heading) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }
}

function listLink(filters, text) {
  const query = new URLSearchParams(filters).toString();
  return h('a', { href: '#/executions' + (query ? '?' + query : '') }, text);
}

function executionLink(id, text) {
  return h('a', { href: '#/executions/' + encodeURIComponent(id) }, text || id);
}

/** A timestamp: relative and absolute (local time) in the text, the raw number on hover. */
function time(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return h('span', {}, String(ms));
  const date = new Date(ms);
  return h('time', { datetime: date.toISOString(), title: `${ms} (${date.toISOString()})` },
    relative(ms), h('span', { class: 'abs' }, absolute(date)));
}

/** Local time: hours only for today, the date too otherwise. */
function absolute(date) {
  const pad = (n) => String(n).padStart(2, '0');
  const clock = `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  if (date.toDateString() === new Date().toDateString()) return clock;
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${clock}`;
}

function relative(ms) {
  const delta = ms - Date.now();
  const abs = Math.abs(delta);
  const units = [['d', 86400000], ['h', 3600000], ['min', 60000], ['s', 1000]];
  let text = 'now';
  for (const [unit, size] of units) {
    if (abs >= size) {
      text = `${Math.floor(abs / size)} ${unit}`;
      break;
    }
  }
  if (text === 'now') return abs < 1000 ? 'now' : text;
  return delta < 0 ? `${text} ago` : `in ${text}`;
}

function badge(status) {
  return h('span', { class: `badge badge-${status}` }, status);
}

function count(n) {
  return Number(n || 0).toLocaleString('en-US');
}

// ---- API -----------------------------------------------------------------------------------

class Unauthorized extends Error {}

async function api(path) {
  const secret = sessionStorage.getItem(SECRET_KEY);
  if (!secret) throw new Unauthorized('Enter the auth secret.');
  const response = await fetch(API + path, { headers: { Authorization: `Bearer ${secret}` } });
  const body = await response.json().catch(() => ({ message: response.statusText }));
  if (response.status === 401) throw new Unauthorized(body.message);
  if (!response.ok) throw new Error(body.message || `HTTP ${response.status}`);
  return body;
}

// ---- Sign in -------------------------------------------------------------------------------

function showLogin(message) {
  stopPolling();
  $('nav').hidden = true;
  $('view').replaceChildren();
  $('login').hidden = false;
  const error = $('login-error');
  error.hidden = !message;
  error.textContent = message || '';
  $('secret').focus();
}

async function signIn(event) {
  event.preventDefault();
  const input = $('secret');
  sessionStorage.setItem(SECRET_KEY, input.value);
  try {
    await api('/overview');
  } catch (e) {
    sessionStorage.removeItem(SECRET_KEY);
    showLogin(e instanceof Unauthorized ? 'The auth secret is wrong.' : e.message);
    return;
  }
  input.value = '';
  $('login').hidden = true;
  $('nav').hidden = false;
  route();
}

// ---- Overview ------------------------------------------------------------------------------

async function overview() {
  const o = await api('/overview');
  const now = o.nowMs;
  const cards = [
    ['Executions', o.total, {}],
    ['Ready, due now', o.readyDueNow, { status: 'ready', startAtBefore: now }],
    ['Ready, in the future', o.readyLater, { status: 'ready' }],
    ['Running past expiresAt', o.runningPastExpiresAt, { status: 'running', expiresAtBefore: now }],
    ['Waiting for children', o.waitingForChildren, { status: 'waiting_for_children' }],
    ['Parents with acc > 0', o.parentsWithActiveChildren, { activeChildren: 'true' }],
  ];
  const statuses = STATUSES.filter((s) => o.statuses[s] !== undefined)
    .concat(Object.keys(o.statuses).filter((s) => !STATUSES.includes(s)));
  const shardTable = h('table', { class: 'grid' },
    h('caption', {}, 'Executions by status and shard'),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'status'),
      o.byShard.map((s) => h('th', { scope: 'col', class: 'num' }, `shard ${s.shard}`)),
      h('th', { scope: 'col', class: 'num' }, 'all shards'))),
    h('tbody', {}, statuses.map((status) => h('tr', {},
      h('th', { scope: 'row' }, badge(status)),
      o.byShard.map((s) => h('td', { class: 'num' }, s.statuses[status]
        ? listLink({ status, shard: s.shard }, count(s.statuses[status])) : '·')),
      h('td', { class: 'num' }, listLink({ status }, count(o.statuses[status])))))),
    h('tfoot', {}, h('tr', {},
      h('th', { scope: 'row' }, 'total'),
      o.byShard.map((s) => h('td', { class: 'num' }, listLink({ shard: s.shard }, count(s.total)))),
      h('td', { class: 'num' }, listLink({}, count(o.total))))));
  const pipeline = (title, counts, names, filter) => h('section', { class: 'panel' },
    h('h3', {}, title),
    h('dl', { class: 'counts' }, names.concat(Object.keys(counts).filter((n) => !names.includes(n)))
      .map((name) => [h('dt', {}, name),
        h('dd', {}, counts[name] ? listLink({ [filter]: name }, count(counts[name])) : '0')])));
  const oldest = o.oldestReady;
  show(
    h('h2', {}, 'Overview'),
    h('p', { class: 'meta' }, 'As of ', h('time', { datetime: new Date(now).toISOString(), title: String(now) },
      new Date(now).toISOString().replace('T', ' ').slice(0, 19) + ' UTC'), ' on the emulator\'s clock. ',
      h('button', { type: 'button', onclick: () => route() }, 'Refresh')),
    h('ul', { class: 'cards' }, cards.map(([label, n, filters]) => h('li', {},
      listLink(filters, [h('span', { class: 'card-n' }, count(n)), h('span', {}, label)])))),
    shardTable,
    h('div', { class: 'panels' },
      pipeline('On-children-finished processing (ocfpStatus)', o.ocfpStatus, OCFP_STATUSES, 'ocfpStatus'),
      pipeline('Close pipeline (closeStatus)', o.closeStatus, CLOSE_STATUSES, 'closeStatus'),
      h('section', { class: 'panel' }, h('h3', {}, 'Oldest ready execution'),
        oldest ? h('p', {}, executionLink(oldest.executionId), ' (', oldest.taskId, ', shard ',
          oldest.shard, '), startAt ', time(oldest.startAt)) : h('p', {}, 'None.'))),
  );
}

// ---- Executions list -----------------------------------------------------------------------

const FILTERS = ['status', 'shard', 'taskId', 'isFinished', 'closeStatus', 'ocfpStatus',
  'startAtBefore', 'expiresAtBefore', 'activeChildren'];

function select(name, label, options, value) {
  return [h('label', { for: `f-${name}` }, label),
    h('select', { id: `f-${name}`, name },
      h('option', { value: '' }, 'any'),
      options.map((o) => h('option', { value: o, selected: o === value }, o)))];
}

function input(name, label, value, type) {
  return [h('label', { for: `f-${name}` }, label),
    h('input', { id: `f-${name}`, name, type: type || 'text', value: value || '',
      inputmode: type === 'number' ? 'numeric' : undefined })];
}

async function executions(params) {
  const filters = Object.fromEntries(FILTERS.filter((f) => params.get(f)).map((f) => [f, params.get(f)]));
  const q = params.get('q') || '';
  const apply = (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const next = new URLSearchParams();
    for (const [k, v] of data) if (v !== '') next.set(k, v);
    location.hash = '#/executions' + (next.size ? '?' + next : '');
  };
  const form = h('form', { class: 'filters', onsubmit: apply, 'aria-label': 'Filters' },
    select('status', 'Status', STATUSES, filters.status),
    input('shard', 'Shard', filters.shard, 'number'),
    input('taskId', 'Task id', filters.taskId),
    select('isFinished', 'Finished', ['true', 'false'], filters.isFinished),
    select('closeStatus', 'Close status', CLOSE_STATUSES, filters.closeStatus),
    select('ocfpStatus', 'OCFP status', OCFP_STATUSES, filters.ocfpStatus),
    ['startAtBefore', 'expiresAtBefore', 'activeChildren'].filter((f) => filters[f]).map((f) =>
      h('span', { class: 'chip' }, `${f} = ${f.endsWith('Before') ? new Date(Number(filters[f])).toISOString() : filters[f]}`,
        h('input', { type: 'hidden', name: f, value: filters[f] }))),
    h('button', { type: 'submit' }, 'Apply'),
    h('a', { href: '#/executions', class: 'clear' }, 'Clear'));
  for (const el of form.querySelectorAll('select')) el.addEventListener('change', apply);
  const find = h('form', { class: 'find', role: 'search', onsubmit: (event) => {
    event.preventDefault();
    const value = new FormData(event.target).get('q').trim();
    location.hash = '#/executions' + (value ? '?q=' + encodeURIComponent(value) : '');
  } },
  h('label', { for: 'find-q' }, 'Find by executionId, sleepingTaskUniqueId or _id'),
  h('input', { id: 'find-q', name: 'q', type: 'search', value: q }),
  h('button', { type: 'submit' }, 'Find'));

  const body = h('tbody', {});
  const table = h('table', { class: 'grid', id: 'executions' },
    h('caption', {}, q ? `Executions matching “${q}”` : 'Executions'),
    h('thead', {}, h('tr', {}, ['executionId', 'taskId', 'shard', 'status', 'closeStatus',
      'ocfpStatus', 'acc', 'startAt', 'updatedAt'].map((c) => h('th', { scope: 'col' }, c)))),
    body);
  const status = h('p', { class: 'meta', role: 'status' });
  const more = h('button', { type: 'button', hidden: true }, 'Load more');
  let cursor = null;
  let shown = 0;
  const load = async () => {
    const query = new URLSearchParams(q ? { q } : filters);
    if (cursor) query.set('cursor', cursor);
    const page = await api('/executions?' + query);
    for (const e of page.executions) {
      body.append(h('tr', {},
        h('td', {}, executionLink(e.executionId)),
        h('td', {}, e.taskId),
        h('td', { class: 'num' }, e.shard),
        h('td', {}, badge(e.status)),
        h('td', {}, e.closeStatus),
        h('td', {}, e.ocfpStatus),
        h('td', { class: 'num' }, e.acc),
        h('td', {}, time(e.startAt)),
        h('td', {}, time(e.updatedAt))));
    }
    shown += page.executions.length;
    cursor = page.nextCursor;
    more.hidden = !cursor;
    status.textContent = `${count(shown)} shown · this page read ${count(page.scanned)} index entries of ${page.index}` +
      (cursor ? ' · more available' : ' · end of list');
  };
  more.addEventListener('click', () => load().catch(fail));
  show(h('h2', {}, 'Executions'), find, form, table, status, more);
  await load();
}

// ---- Execution detail ----------------------------------------------------------------------

function value(name, v) {
  if (TIME_FIELDS.has(name) && typeof v === 'number') return [time(v), h('code', { class: 'raw' }, String(v))];
  if (v !== null && typeof v === 'object') return h('pre', {}, JSON.stringify(v, null, 2));
  return h('code', {}, JSON.stringify(v));
}

async function detail(id) {
  const d = await api('/executions/' + encodeURIComponent(id));
  const e = d.execution;
  const relativeNode = (label, rel) => rel && h('li', {}, `${label}: `,
    rel.execution ? [executionLink(rel.executionId), ' ', badge(rel.execution.status)]
      : [rel.executionId, ' (not stored)']);
  const tree = h('section', { class: 'panel', 'aria-labelledby': 'tree-h' },
    h('h3', { id: 'tree-h' }, 'Tree'),
    h('ul', { class: 'tree' },
      relativeNode('root', d.root),
      relativeNode('parent', d.parent),
      h('li', {}, 'this: ', h('strong', {}, e.executionId), ' ', badge(e.status),
        h('ul', { 'aria-label': 'children' }, d.children.shown.map((c) => h('li', {},
          executionLink(c.executionId), ' ', badge(c.status), ` ${c.taskId}`)))),
    ),
    h('p', { class: 'meta' }, `${count(d.children.total)} children` +
      (d.children.total > d.children.shown.length ? `, first ${d.children.shown.length} shown` : '')));
  const events = TIMELINE.filter((f) => typeof e[f] === 'number')
    .map((f) => [f, e[f]]).sort((a, b) => a[1] - b[1]);
  const timeline = h('section', { class: 'panel', 'aria-labelledby': 'timeline-h' },
    h('h3', { id: 'timeline-h' }, 'Timeline'),
    h('ol', { class: 'timeline' }, events.map(([f, ms]) => h('li', {},
      h('strong', {}, f), ' ', time(ms)))));
  const fields = h('table', { class: 'grid fields' },
    h('caption', {}, 'Every stored field'),
    h('tbody', {}, Object.keys(e).sort().map((name) => h('tr', {},
      h('th', { scope: 'row' }, name), h('td', {}, value(name, e[name]))))));
  show(
    h('h2', {}, 'Execution ', h('code', {}, e.executionId), ' ', badge(e.status)),
    h('p', { class: 'meta' }, `task ${e.taskId} · shard ${e.shard} · _id `, h('code', {}, e._id)),
    h('div', { class: 'panels' }, tree, timeline),
    fields,
    h('h3', {}, 'Calls that touched it (request log)'),
    callsTable(d.calls, false),
  );
}

// ---- Request log ---------------------------------------------------------------------------

function usageCells(u) {
  if (!u) return [h('td', { class: 'num' }, '—'), h('td', { class: 'num' }, '—')];
  return [h('td', { class: 'num', title: `${u.bytesRead} bytes` }, count(u.documentsRead)),
    h('td', { class: 'num', title: `${u.bytesWritten} bytes` }, count(u.documentsWritten))];
}

function changedCell(u) {
  if (!u || !u.changedExecutionIds.length) return h('td', {}, '');
  const ids = u.changedExecutionIds.slice(0, 5);
  const rest = u.changedExecutionIdsTotal - ids.length;
  return h('td', {}, ids.map((id, i) => [i ? ', ' : '', executionLink(id)]), rest > 0 ? ` +${rest}` : '');
}

function callRow(c, expand) {
  const row = h('tr', { 'data-seq': c.seq },
    h('td', { class: 'num' }, c.seq),
    h('td', {}, time(c.timeMs)),
    h('td', {}, h('code', {}, c.function.replace(/^.*:/, '')), h('span', { class: 'endpoint' }, ` ${c.endpoint}`)),
    h('td', { class: c.outcome === 'success' ? 'ok' : 'error' }, c.outcome === 'success' ? 'success' : c.error),
    h('td', { class: 'num' }, (c.latencyUs / 1000).toFixed(2)),
    usageCells(c.usage),
    changedCell(c.usage),
    h('td', {}, h('button', { type: 'button', 'aria-expanded': 'false', onclick: (event) => expand(event.target, c.seq, row) }, 'Details')));
  return row;
}

async function toggleDetails(button, seq, row) {
  const open = row.nextElementSibling && row.nextElementSibling.classList.contains('payload');
  if (open) {
    row.nextElementSibling.remove();
    button.setAttribute('aria-expanded', 'false');
    return;
  }
  const call = await api('/requests/' + seq);
  const payload = (label, p) => h('div', {}, h('h4', {}, label + (p && p.truncated ? ' (cut at 16 KiB)' : '')),
    h('pre', { tabindex: '0' }, p ? pretty(p) : '(none: the call failed)'));
  row.after(h('tr', { class: 'payload' }, h('td', { colspan: 10 },
    payload('Arguments (auth secret redacted)', call.args), payload('Result', call.result))));
  button.setAttribute('aria-expanded', 'true');
}

function pretty(payload) {
  if (payload.truncated) return payload.text + ' …';
  try {
    return JSON.stringify(JSON.parse(payload.text), null, 2);
  } catch {
    return payload.text;
  }
}

function callsTable(calls, live) {
  const body = h('tbody', {}, calls.map((c) => callRow(c, (b, s, r) => toggleDetails(b, s, r).catch(fail))));
  return h('table', { class: 'grid calls', id: live ? 'requests' : undefined },
    h('thead', {}, h('tr', {}, ['#', 'time', 'function', 'outcome', 'ms', 'read', 'written',
      'changed executionIds', ''].map((c) => h('th', { scope: 'col' }, c)))),
    body);
}

async function requests() {
  const first = await api('/requests?limit=200');
  let latest = first.latestSeq;
  let paused = false;
  const table = callsTable(first.entries, true);
  const body = table.tBodies[0];
  const status = h('p', { class: 'meta', role: 'status' });
  const describe = () => {
    status.textContent = `${paused ? 'Paused' : 'Live: checks for new calls every second'} · keeps the last ${count(first.capacity)} calls · latest #${latest}`;
  };
  const pause = h('button', { type: 'button', 'aria-pressed': 'false', onclick: () => {
    paused = !paused;
    pause.setAttribute('aria-pressed', String(paused));
    pause.textContent = paused ? 'Resume live updates' : 'Pause live updates';
    describe();
  } }, 'Pause live updates');
  describe();
  show(h('h2', {}, 'Request log'), h('p', {}, pause), status, table);
  let timer = null;
  const poll = async () => {
    if (!paused) {
      const next = await api(`/requests?after=${latest}&limit=200`);
      for (const c of next.entries.reverse()) {
        body.prepend(callRow(c, (b, s, r) => toggleDetails(b, s, r).catch(fail)));
      }
      latest = next.latestSeq;
      while (body.rows.length > first.capacity) body.lastElementChild.remove();
      describe();
    }
    timer = setTimeout(() => poll().catch(fail), POLL_MS);
  };
  timer = setTimeout(() => poll().catch(fail), POLL_MS);
  stopPolling = () => clearTimeout(timer);
}

// ---- Routing -------------------------------------------------------------------------------

function fail(e) {
  if (e instanceof Unauthorized) {
    sessionStorage.removeItem(SECRET_KEY);
    showLogin(e.message === 'Enter the auth secret.' ? '' : 'The auth secret is wrong.');
    return;
  }
  stopPolling();
  show(h('h2', {}, 'Something went wrong'), h('p', { class: 'error', role: 'alert' }, e.message));
}

function route() {
  stopPolling();
  stopPolling = () => {};
  if (!sessionStorage.getItem(SECRET_KEY)) return showLogin('');
  $('login').hidden = true;
  $('nav').hidden = false;
  const hash = location.hash.replace(/^#/, '') || '/overview';
  const [path, query] = hash.split('?');
  const params = new URLSearchParams(query || '');
  const view = path.split('/')[1] || 'overview';
  for (const a of document.querySelectorAll('nav a')) {
    if (a.dataset.view === view) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  let page;
  if (path.startsWith('/executions/')) page = detail(decodeURIComponent(path.slice('/executions/'.length)));
  else if (view === 'executions') page = executions(params);
  else if (view === 'requests') page = requests();
  else page = overview();
  document.title = `${view[0].toUpperCase()}${view.slice(1)} · Inspector`;
  page.catch(fail);
}

document.addEventListener('DOMContentLoaded', () => {
  $('login-form').addEventListener('submit', signIn);
  $('logout').addEventListener('click', () => {
    sessionStorage.removeItem(SECRET_KEY);
    showLogin('');
  });
  window.addEventListener('hashchange', route);
  route();
});
