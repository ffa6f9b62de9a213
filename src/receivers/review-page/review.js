// Verdict's review page: plain browser JavaScript, no build step. It talks
// only to the review API of the Verdict that serves it (/v1/review/), with
// the reviewer's token kept in this browser's localStorage. Every action
// has a key; nothing needs a mouse.
'use strict';

const TOKEN_KEY = 'verdict.review.token';
const DRAFT_KEY = 'verdict.review.draft.';
const RETRY_MS = 2000;

const S = {
  token: localStorage.getItem(TOKEN_KEY),
  reviewer: null,
  queues: [],
  queue: null,
  view: null, // { item, form, trajectory } of the run on screen
  adhoc: null, // trace ID of an ad-hoc review (/review/trace/{id})
  adhocQueue: null,
  draft: null,
  mode: 'signin', // signin | queues | item | empty | expired | done
  sessionDone: 0,
  sending: false,
  leaseTimer: null,
};

const $ = (id) => document.getElementById(id);

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'open') el.open = true;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

class ApiError extends Error {
  constructor(message, status, lost) {
    super(message);
    this.status = status;
    this.lost = lost;
  }
}

async function api(method, path, body) {
  let res;
  try {
    res = await fetch(`/v1/review/${path}`, {
      method,
      headers: { authorization: `Bearer ${S.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError('connection lost', 0, true);
  }
  const json = await res.json().catch(() => ({}));
  // A proxy's or Verdict's "unavailable" is as good as no connection: try again later.
  if (res.status >= 502) throw new ApiError(json.message || res.statusText, res.status, true);
  if (!res.ok) throw new ApiError(json.message || res.statusText, res.status, false);
  return json;
}

function setState(text, kind = 'warn') {
  const el = $('state');
  el.hidden = text === null;
  el.className = kind;
  el.textContent = text ?? '';
  el.dataset.kind = text === null ? '' : kind;
}

function show(section) {
  for (const id of ['signin', 'queues', 'item']) $(id).hidden = id !== section;
}

function keysHelp(text) {
  $('keys').textContent = text;
}

// ---------------------------------------------------------------- sign-in and queues

function showSignin(message) {
  S.mode = 'signin';
  show('signin');
  setState(message ?? null, 'error');
  keysHelp('Enter: sign in');
  $('token').value = '';
  $('token').focus();
}

function failed(err) {
  if (err.status === 401) {
    localStorage.removeItem(TOKEN_KEY);
    S.token = null;
    return showSignin(`Sign-in refused: ${err.message}`);
  }
  if (err.lost) return setState('Connection lost: Verdict cannot be reached. Press r to try again.', 'error');
  setState(err.message, 'error');
}

async function loadQueues() {
  const r = await api('GET', 'queues');
  S.reviewer = r.reviewer;
  S.queues = r.queues;
  $('who').textContent = `signed in as ${r.reviewer}`;
  return r.queues;
}

async function showQueues() {
  S.mode = 'queues';
  S.view = null;
  stopLeaseTimer();
  try {
    await loadQueues();
  } catch (err) {
    return failed(err);
  }
  show('queues');
  setState(S.queues.length === 0 ? 'No review queues are configured (review.queues in the config file).' : null, 'info');
  const list = $('queue-list');
  list.replaceChildren(
    ...S.queues.map((q, i) =>
      h('li', { 'data-queue': q.name },
        h('kbd', {}, String(i + 1)), ' ', h('strong', {}, q.name), q.description ? ` — ${q.description}` : '',
        ` · ${q.pending} waiting${q.claimed ? `, ${q.claimed} being reviewed` : ''} · today ${q.today.done} done, ${q.today.skipped} skipped of ${q.today.queued} queued${q.daily_cap ? ` (cap ${q.daily_cap})` : ''}`,
        Object.keys(q.reasons).length ? h('div', { class: 'reasons' }, 'why: ', Object.entries(q.reasons).sort(([a], [b]) => a.localeCompare(b)).map(([r, n]) => `${r.replaceAll('_', ' ')} ${n}`).join(', ')) : null,
      ),
    ),
  );
  $('progress').textContent = '';
  keysHelp('1–9: open a queue · r: refresh · o: sign out');
}

// ---------------------------------------------------------------- items

async function openQueue(name) {
  S.queue = name;
  S.sessionDone = 0;
  await claimNext();
}

async function claimNext() {
  stopLeaseTimer();
  try {
    const r = await api('POST', `queues/${encodeURIComponent(S.queue)}/claim`);
    await loadQueues().catch(() => {});
    if (!r.item) return showEmpty();
    showItem(r);
  } catch (err) {
    failed(err);
  }
}

function showEmpty() {
  S.mode = 'empty';
  S.view = null;
  show('item');
  $('item').classList.add('empty');
  $('item-head').replaceChildren(h('h2', {}, `Queue ${S.queue}`));
  $('trajectory').replaceChildren();
  $('verdicts').replaceChildren();
  $('form').replaceChildren();
  setState(`Queue ${S.queue} is empty: no runs are waiting for review. Press r to check again, q for the queue list.`, 'info');
  updateProgress();
  keysHelp('r: check again · q: queue list');
}

function updateProgress() {
  const q = S.queues.find((x) => x.name === S.queue);
  $('progress').textContent = q && !S.adhoc
    ? `${S.sessionDone} reviewed this session · ${q.pending} waiting · today ${q.today.done} done of ${q.today.queued} queued`
    : '';
}

function loadDraft(key) {
  try {
    const d = JSON.parse(localStorage.getItem(DRAFT_KEY + key) ?? 'null');
    if (d && typeof d === 'object') return d;
  } catch {}
  return { labels: {}, scores: {}, explanation: '', correction: '' };
}

function saveDraft() {
  if (S.draft) localStorage.setItem(DRAFT_KEY + draftKey(), JSON.stringify(S.draft));
}

const draftKey = () => (S.view?.item ? S.view.item.id : `trace-${S.adhoc}`);

function showItem(view) {
  S.mode = 'item';
  S.view = view;
  S.draft = loadDraft(draftKey());
  show('item');
  $('item').classList.remove('empty');
  setState(null);
  renderHead();
  renderTrajectory(view.trajectory);
  renderVerdicts(view.trajectory?.verdicts ?? []);
  renderForm(view.form);
  updateProgress();
  startLeaseTimer();
  keysHelp(`${labelKeys()}: choose a label · e: explanation · ${view.form.correction ? 'c: correction · ' : ''}Enter: submit · ${view.item ? 's: skip · q: back to queues (gives the run back) · ' : ''}x: fold or unfold the tree · Esc: leave a text box`);
  document.activeElement?.blur?.();
}

function renderHead() {
  const { item, trajectory } = S.view;
  const run = trajectory?.run;
  $('item-head').replaceChildren(
    h('h2', {}, run ? `${run.root_name}` : `Run ${item.trace_id}`),
    h('div', {},
      item ? h('span', { class: 'reason', 'data-reason': item.reason }, `queued: ${item.reason.replaceAll('_', ' ')}`) : h('span', { class: 'reason' }, 'ad-hoc review'),
      item?.detail ? ` — ${item.detail}` : '',
    ),
    run ? h('div', { class: 'run-facts' },
      `trace ${run.trace_id} · ${run.service_name ?? 'no service'}${run.model ? ` · ${run.model}` : ''} · ${Math.round(run.duration_ms)} ms · ${run.span_count} spans`,
      run.error_count ? ' ' : '',
      run.error_count ? h('span', { class: 'error-badge' }, `${run.error_count} error${run.error_count > 1 ? 's' : ''}`) : '',
    ) : h('div', {}, 'The run\'s spans are no longer stored.'),
    item ? h('div', { id: 'lease' }) : null,
  );
}

// ---------------------------------------------------------------- the trajectory

function partText(p) {
  if (p === null || typeof p !== 'object') return String(p);
  switch (p.type) {
    case 'text':
    case 'reasoning':
      return String(p.content ?? '');
    case 'tool_call':
      return `→ tool call ${p.name ?? ''}(${json(p.arguments)})`;
    case 'tool_call_response':
      return `← tool result${p.id ? ` ${p.id}` : ''}: ${typeof p.response === 'string' ? p.response : json(p.response)}`;
    default:
      return json(p);
  }
}

const json = (v) => (v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v));

function messages(list, kind) {
  if (!Array.isArray(list)) return [];
  return list.map((m) => {
    const role = m?.role ?? kind;
    const parts = Array.isArray(m?.parts) ? m.parts : [m];
    return h('div', { class: `msg ${role}`, 'data-role': role }, h('span', { class: 'role' }, role), parts.map(partText).join('\n'));
  });
}

function renderTrajectory(t) {
  const box = $('trajectory');
  if (!t) return box.replaceChildren(h('p', {}, 'No spans stored for this run.'));
  const ids = new Set(t.spans.map((s) => s.span_id));
  const children = new Map();
  for (const s of t.spans) {
    const parent = s.parent_span_id && ids.has(s.parent_span_id) ? s.parent_span_id : null;
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(s);
  }
  const logsBySpan = new Map();
  for (const l of t.logs) {
    // Message events are shown as the span's conversation already.
    if (/^gen_ai\.(system|user|assistant|tool)\.message$|^gen_ai\.choice$|^gen_ai\.client\.inference\.operation\.details$|^gen_ai\.evaluation\.result$/.test(l.event_name ?? '')) continue;
    const k = l.span_id ?? null;
    if (!logsBySpan.has(k)) logsBySpan.set(k, []);
    logsBySpan.get(k).push(l);
  }
  const node = (s) => {
    const error = s.status_code === 'error';
    const what = [s.operation, s.tool ?? s.response_model ?? s.request_model].filter(Boolean).join(' · ');
    const body = h('div', { class: 'body' });
    if (Array.isArray(s.system_instructions)) body.append(h('div', { class: 'msg system', 'data-role': 'system' }, h('span', { class: 'role' }, 'system'), s.system_instructions.map(partText).join('\n')));
    body.append(...messages(s.input_messages, 'user'), ...messages(s.output_messages, 'assistant'));
    if (s.tool || s.tool_arguments !== null || s.tool_result !== null) {
      if (s.tool_arguments !== null) body.append(h('div', { class: 'tool-call', 'data-tool': s.tool ?? '' }, `→ ${s.tool ?? 'tool'}(${json(s.tool_arguments)})`));
      if (s.tool_result !== null) body.append(h('div', { class: 'tool-call result' }, `← ${json(s.tool_result)}`));
    }
    if (error && s.status_message) body.append(h('div', { class: 'event' }, `error: ${s.status_message}`));
    for (const e of s.events ?? []) {
      if (e.name === 'exception') body.append(h('div', { class: 'event' }, `exception ${e.attributes?.['exception.type'] ?? ''}: ${e.attributes?.['exception.message'] ?? ''}`));
    }
    for (const l of logsBySpan.get(s.span_id) ?? []) body.append(h('div', { class: 'log' }, `${l.severity_text ?? ''} ${l.event_name ?? ''} ${json(l.body)}`.trim()));
    for (const c of children.get(s.span_id) ?? []) body.append(node(c));
    return h('details', { open: true, 'data-span': s.span_id },
      h('summary', {}, h('strong', {}, s.name), what ? h('span', { class: 'op' }, ` ${what}`) : '', h('span', { class: 'ms' }, ` ${fmtMs(s.duration_ms)}`),
        error ? ' ' : '', error ? h('span', { class: 'error-badge' }, 'error') : ''),
      body);
  };
  const top = (children.get(null) ?? []).map(node);
  const orphanLogs = (logsBySpan.get(null) ?? []).map((l) => h('div', { class: 'log' }, `${l.event_name ?? ''} ${json(l.body)}`.trim()));
  box.replaceChildren(h('h3', {}, 'Trajectory'), ...top, ...orphanLogs, t.truncated?.spans ? h('p', {}, 'Only the first spans are shown.') : '');
}

const fmtMs = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`);

function renderVerdicts(list) {
  const box = $('verdicts');
  box.replaceChildren(
    h('h3', {}, `Verdicts on this run (${list.length})`),
    list.length === 0 ? h('p', {}, 'None yet.') : h('div', { class: 'verdict-grid' }, list.map((v) =>
      h('div', { class: `verdict ${v.polarity ?? ''}`, 'data-source': v.source ?? 'unknown' },
        h('div', { class: 'source' }, `${(v.source ?? 'unknown').replace('llm_judge', 'LLM judge')}${v.attributes?.['verdict.reviewer'] ? ` · ${v.attributes['verdict.reviewer']}` : ''}`),
        h('div', {}, h('strong', {}, v.name), ': ', [v.score_label, v.score_value !== null ? `score ${v.score_value}` : null].filter(Boolean).join(' · ')),
        v.span_name && v.span_id ? h('div', { class: 'op' }, `on ${v.span_name}`) : null,
        v.explanation ? h('div', { class: 'explanation' }, v.explanation) : null,
        v.correction ? h('div', { class: 'correction' }, `correction: ${v.correction}`) : null,
      ))),
  );
}

// ---------------------------------------------------------------- the form

function formLabels() {
  const out = [];
  for (const ev of S.view.form.evaluations) for (const l of ev.labels) out.push({ ev: ev.name, label: l.label, polarity: l.polarity });
  return out;
}

const labelKeys = () => {
  const n = formLabels().length;
  return n > 1 ? `1–${n}` : '1';
};

function renderForm(form) {
  const box = $('form');
  let n = 0;
  box.replaceChildren(
    h('h3', {}, 'Your verdict'),
    ...form.evaluations.map((ev) =>
      h('fieldset', { 'data-evaluation': ev.name },
        h('legend', {}, ev.name),
        ...ev.labels.map((l) => {
          n++;
          const chosen = S.draft.labels[ev.name] === l.label;
          return h('span', { class: `label-choice${chosen ? ' chosen' : ''}`, 'data-label': l.label, 'aria-pressed': chosen ? 'true' : 'false' }, h('kbd', {}, String(n)), ` ${l.label}`);
        }),
        ev.score ? h('label', {}, `score (${ev.score.min}–${ev.score.max}) `, h('input', { type: 'number', step: 'any', min: ev.score.min, max: ev.score.max, 'data-score': ev.name, value: S.draft.scores[ev.name] ?? '' })) : null,
      )),
    h('label', {}, h('kbd', {}, 'e'), ' explanation', h('textarea', { id: 'explanation' }, S.draft.explanation ?? '')),
    form.correction ? h('label', {}, h('kbd', {}, 'c'), ' correction: what the answer should have been', h('textarea', { id: 'correction' }, S.draft.correction ?? '')) : null,
  );
  box.querySelectorAll('textarea, input').forEach((el) => el.addEventListener('input', readFormText));
}

function readFormText() {
  S.draft.explanation = $('explanation')?.value ?? '';
  S.draft.correction = $('correction')?.value ?? '';
  for (const el of $('form').querySelectorAll('input[data-score]')) {
    if (el.value === '') delete S.draft.scores[el.dataset.score];
    else S.draft.scores[el.dataset.score] = Number(el.value);
  }
  saveDraft();
}

function chooseLabel(n) {
  const l = formLabels()[n - 1];
  if (!l) return;
  S.draft.labels[l.ev] = S.draft.labels[l.ev] === l.label ? undefined : l.label;
  saveDraft();
  for (const el of $('form').querySelectorAll(`fieldset[data-evaluation="${CSS.escape(l.ev)}"] .label-choice`)) {
    const on = el.dataset.label === S.draft.labels[l.ev];
    el.classList.toggle('chosen', on);
    el.setAttribute('aria-pressed', on ? 'true' : 'false');
  }
}

function submission() {
  const verdicts = [];
  for (const ev of S.view.form.evaluations) {
    const label = S.draft.labels[ev.name];
    const score = S.draft.scores[ev.name];
    if (!label && score === undefined) continue;
    verdicts.push({ name: ev.name, ...(label ? { label } : {}), ...(score !== undefined ? { score } : {}), ...(S.draft.explanation.trim() ? { explanation: S.draft.explanation } : {}) });
  }
  return { verdicts, ...(S.draft.correction.trim() ? { correction: S.draft.correction } : {}) };
}

async function submit() {
  if (S.sending || S.mode !== 'item') return;
  readFormText();
  const body = submission();
  if (body.verdicts.length === 0) return setState(`Choose a label first (keys ${labelKeys()}).`, 'error');
  S.sending = true;
  const key = draftKey();
  const path = S.view.item
    ? `items/${encodeURIComponent(S.view.item.id)}/submit`
    : `traces/${S.adhoc}/submit${S.adhocQueue ? `?queue=${encodeURIComponent(S.adhocQueue)}` : ''}`;
  // The draft stays in localStorage until Verdict has the verdict: a lost connection re-sends it.
  for (;;) {
    try {
      await api('POST', path, body);
      break;
    } catch (err) {
      if (!err.lost) {
        S.sending = false;
        if (err.status === 409) return showExpired(err.message);
        return failed(err);
      }
      setState('Connection lost: your draft is kept and will be re-sent when Verdict can be reached again.', 'error');
      await new Promise((r) => setTimeout(r, RETRY_MS));
    }
  }
  S.sending = false;
  localStorage.removeItem(DRAFT_KEY + key);
  if (!S.view.item) return openTrace(S.adhoc, 'Verdict saved.');
  S.sessionDone++;
  await claimNext();
}

async function skip() {
  if (!S.view?.item || S.mode !== 'item') return;
  try {
    await api('POST', `items/${encodeURIComponent(S.view.item.id)}/skip`);
    localStorage.removeItem(DRAFT_KEY + draftKey());
    await claimNext();
  } catch (err) {
    if (err.status === 409) return showExpired(err.message);
    failed(err);
  }
}

async function backToQueues() {
  if (S.mode === 'item' && S.view?.item) await api('POST', `items/${encodeURIComponent(S.view.item.id)}/release`).catch(() => {});
  await showQueues();
}

function showExpired(message) {
  S.mode = 'expired';
  stopLeaseTimer();
  // The run is someone else's now: this draft can no longer be sent.
  if (S.view?.item) localStorage.removeItem(DRAFT_KEY + S.view.item.id);
  setState(`Your lease on this run expired: it went back to the queue for someone else. ${message ? `(${message}) ` : ''}Press n for the next run, q for the queue list.`, 'error');
  keysHelp('n: next run · q: queue list');
}

function startLeaseTimer() {
  stopLeaseTimer();
  const until = S.view?.item?.lease_until ? Date.parse(S.view.item.lease_until) : null;
  if (!until) return;
  const tick = () => {
    const left = Math.round((until - Date.now()) / 1000);
    const el = $('lease');
    if (el) el.textContent = left > 0 ? `lease: ${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')} left` : 'lease expired';
    if (left <= 0 && S.mode === 'item' && !S.sending) showExpired(null);
  };
  tick();
  S.leaseTimer = setInterval(tick, 1000);
}

function stopLeaseTimer() {
  if (S.leaseTimer) clearInterval(S.leaseTimer);
  S.leaseTimer = null;
}

// ---------------------------------------------------------------- ad-hoc review of any run

async function openTrace(traceId, notice) {
  S.adhoc = traceId;
  try {
    const r = await api('GET', `traces/${traceId}`);
    const chosen = r.forms.find((f) => f.queue === S.adhocQueue) ?? r.forms[0];
    if (!chosen) return setState('No review queue is configured, so there is no verdict form (review.queues in the config file).', 'error');
    S.adhocQueue = chosen.queue;
    showItem({ item: null, form: chosen.form, trajectory: r.trajectory });
    if (notice) setState(notice, 'info');
    if (r.items.length) $('item-head').append(h('div', {}, `in queues: ${r.items.map((i) => `${i.queue} (${i.state}, ${i.reason.replaceAll('_', ' ')})`).join(', ')}`));
  } catch (err) {
    failed(err);
  }
}

// ---------------------------------------------------------------- keys

const typing = (el) => el && (el.tagName === 'TEXTAREA' || (el.tagName === 'INPUT' && el.type !== 'checkbox'));

document.addEventListener('keydown', (e) => {
  if (e.altKey) return;
  const el = document.activeElement;
  if (S.mode === 'signin') {
    if (e.key === 'Enter' && $('token').value.trim()) {
      e.preventDefault();
      S.token = $('token').value.trim();
      localStorage.setItem(TOKEN_KEY, S.token);
      start();
    }
    return;
  }
  if (typing(el)) {
    if (e.key === 'Escape') {
      e.preventDefault();
      el.blur();
    } else if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      el.blur();
      submit();
    }
    return;
  }
  if (e.ctrlKey || e.metaKey) return;
  const digit = /^[1-9]$/.test(e.key) ? Number(e.key) : null;
  const key = e.key;
  let handled = true;
  if (S.mode === 'queues') {
    if (digit && S.queues[digit - 1]) openQueue(S.queues[digit - 1].name);
    else if (key === 'r') showQueues();
    else if (key === 'o') {
      localStorage.removeItem(TOKEN_KEY);
      S.token = null;
      showSignin('Signed out.');
    } else handled = false;
  } else if (S.mode === 'item') {
    if (digit) chooseLabel(digit);
    else if (key === 'Enter') submit();
    else if (key === 's') skip();
    else if (key === 'e') $('explanation')?.focus();
    else if (key === 'c') $('correction')?.focus();
    else if (key === 'v') $('form').querySelector('input[data-score]')?.focus();
    else if (key === 'x') {
      const all = [...$('trajectory').querySelectorAll('details')];
      const open = !all.every((d) => d.open);
      for (const d of all) d.open = open;
    } else if ((key === 'q' || key === 'Escape') && !S.adhoc) backToQueues();
    else handled = false;
  } else if (S.mode === 'empty') {
    if (key === 'r' || key === 'n') claimNext();
    else if (key === 'q' || key === 'Escape') showQueues();
    else handled = false;
  } else if (S.mode === 'expired') {
    if (key === 'n') claimNext();
    else if (key === 'q' || key === 'Escape') showQueues();
    else handled = false;
  } else handled = false;
  if (handled) e.preventDefault();
});

function start() {
  if (!S.token) return showSignin();
  const m = /^\/review\/trace\/([0-9a-fA-F]{32})\/?$/.exec(location.pathname);
  if (m) {
    S.adhocQueue = new URLSearchParams(location.search).get('queue');
    loadQueues().then(() => openTrace(m[1].toLowerCase()), failed);
  } else showQueues();
}

start();
