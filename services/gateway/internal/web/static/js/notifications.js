// The header bell: my unread notification count and the latest
// notifications (GET /api/notifications/), kept live by the user stream
// (notification.new); opening one marks it read and goes to its room (or
// the friend's profile), "mark all read" clears the count
// (POST /api/notifications/read/). It also owns the tab title's count
// (unread notifications + unread messages of my rooms) and shows a browser
// notification for a new one while the tab is hidden, when permitted.
import { h, clear, avatar, fmtDate } from './dom.js';
import { t } from './i18n.js';
import { api, list } from './api.js';
import * as stream from './userstream.js';
import * as myrooms from './myrooms.js';

const pageSize = 20;
let items = []; // newest first
let unread = 0;
let me = null;
let navigateTo = null;
let els = null; // {wrap, btn, badge, panel, list, perm}
let open = false;
const roomPosts = new Map(); // room id → post id (or null)

/** start begins the live notifications of a logged-in user (idempotent per user). */
export async function start(profile, navigate) {
  navigateTo = navigate;
  if (me && me.email === profile.email) return;
  me = profile;
  await reload();
  if (me !== profile) return; // logged out (or in as someone else) meanwhile
  myrooms.load().catch(() => {});
  stream.start(items.reduce((m, n) => Math.max(m, n.id), 0));
}

/** stop ends them (logout). */
export function stop() {
  me = null;
  items = [];
  unread = 0;
  stream.stop();
  myrooms.reset();
  updateTitle();
}

async function reload() {
  try {
    const [{ items: latest }, { items: unreadOnes }] = await Promise.all([
      list(`/api/notifications/?limit=${pageSize}`),
      list('/api/notifications/?unread=1&limit=100'),
    ]);
    items = latest;
    unread = unreadOnes.length;
  } catch { items = []; unread = 0; }
  render();
}

stream.on('notification.new', (n) => {
  if (!me) return;
  items = [n, ...items.filter((x) => x.id !== n.id)].slice(0, pageSize);
  if (!n.read) unread += 1;
  render();
  showBrowserNotification(n);
});
stream.on('resync', () => { if (me) reload(); });
myrooms.onChange(() => updateTitle());

// ---- tab title ----
// Pages set document.title themselves; the count is put in front of
// whatever they set, and put back when they change it.
const countRe = /^\(\d+\+?\) /;
function updateTitle() {
  const n = me ? unread + myrooms.totalUnread() : 0;
  const base = document.title.replace(countRe, '');
  const want = n > 0 ? `(${n > 999 ? '999+' : n}) ${base}` : base;
  if (document.title !== want) document.title = want;
}
new MutationObserver(() => updateTitle()).observe(document.querySelector('title'), { childList: true, characterData: true, subtree: true });

// ---- browser notifications ----
function showBrowserNotification(n) {
  if (!('Notification' in window) || Notification.permission !== 'granted' || !document.hidden) return;
  try {
    const note = new Notification(title(n), { body: n.excerpt || '', tag: `cobra-${n.id}`, icon: n.actor?.profile_picture_url || undefined });
    note.onclick = () => { window.focus(); openNotification(n); note.close(); };
  } catch { /* some browsers only allow notifications from a service worker */ }
}

function title(n) {
  const name = n.actor?.nickname || '?';
  return t(`notif.${n.kind}`, { name }) === `notif.${n.kind}` ? t('notif.other', { name }) : t(`notif.${n.kind}`, { name });
}

// ---- the bell ----
/** bell returns the header's bell control (rendered again on every header render). */
export function bell() {
  const badge = h('span', { class: 'bell-badge', id: 'bell-badge', hidden: true });
  const btn = h('button', {
    type: 'button', class: 'icon-btn bell-btn', id: 'bell-btn',
    attrs: { 'aria-haspopup': 'true', 'aria-expanded': 'false', 'aria-controls': 'bell-panel', 'aria-label': t('notif.title') },
    onclick: () => toggle(),
  }, bellIcon(), badge);
  const listEl = h('ul', { class: 'bell-list', id: 'bell-list' });
  const perm = h('button', { type: 'button', class: 'link-btn small', id: 'bell-permission', hidden: true, onclick: askPermission }, t('notif.enable'));
  const panel = h('div', { class: 'menu bell-panel', id: 'bell-panel', hidden: true },
    h('div', { class: 'bell-head' }, h('strong', {}, t('notif.title')),
      h('button', { type: 'button', class: 'link-btn small', id: 'bell-readall', onclick: markAllRead }, t('notif.readall'))),
    listEl, perm);
  const wrap = h('div', { class: 'bell' }, btn, panel);
  els = { wrap, btn, badge, panel, list: listEl, perm };
  open = false;
  render();
  return wrap;
}

function bellIcon() {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('class', 'icon icon-bell');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  for (const d of ['M6 16V11a6 6 0 0 1 12 0v5l2 2H4z', 'M10 20a2 2 0 0 0 4 0']) {
    const p = document.createElementNS(ns, 'path');
    p.setAttribute('d', d);
    svg.append(p);
  }
  return svg;
}

function toggle(force) {
  if (!els) return;
  open = force ?? !open;
  els.panel.hidden = !open;
  els.btn.setAttribute('aria-expanded', String(open));
  if (open) render();
}

document.addEventListener('click', (e) => { if (open && !e.target.closest('.bell')) toggle(false); });
document.addEventListener('keydown', (e) => { if (open && e.key === 'Escape') { toggle(false); els?.btn.focus(); } });

function render() {
  updateTitle();
  if (!els) return;
  els.badge.hidden = unread <= 0;
  els.badge.textContent = unread > 99 ? '99+' : String(unread);
  els.btn.setAttribute('aria-label', unread > 0 ? t('notif.titlecount', { n: unread }) : t('notif.title'));
  els.perm.hidden = !('Notification' in window) || Notification.permission !== 'default';
  if (!open) return;
  clear(els.list);
  if (!items.length) els.list.append(h('li', { class: 'muted small bell-empty' }, t('notif.empty')));
  for (const n of items) {
    els.list.append(h('li', { class: `bell-item${n.read ? '' : ' unread'}`, dataset: { id: n.id, kind: n.kind } },
      h('button', { type: 'button', class: 'bell-open', onclick: () => openNotification(n) },
        avatar(n.actor?.profile_picture_url, n.actor?.nickname, 'sm'),
        h('span', { class: 'bell-text' }, h('strong', {}, title(n)),
          n.excerpt ? h('span', { class: 'muted small bell-excerpt' }, n.excerpt) : null,
          h('time', { class: 'muted small', dateTime: n.created_at }, fmtDate(n.created_at))))));
  }
}

async function markRead(body) {
  try {
    const res = await api('/api/notifications/read/', { method: 'POST', body });
    if (res && typeof res.unread === 'number') unread = res.unread;
  } catch { /* offline: the count stays as it was */ }
  render();
}

function markAllRead() {
  for (const n of items) n.read = true;
  unread = 0;
  render();
  markRead({ all: true });
}

async function openNotification(n) {
  toggle(false);
  if (!n.read) {
    n.read = true;
    unread = Math.max(0, unread - 1);
    render();
    markRead({ ids: [n.id] });
  }
  if (n.kind === 'friend') { navigateTo?.(`/users/${n.actor.id}`); return; }
  if (n.kind === 'dm') { navigateTo?.(`/dm/${n.room}`); return; }
  let post = roomPosts.get(n.room);
  if (post === undefined) {
    try { post = (await api(`/api/chat/room/${n.room}/`)).post ?? null; } catch { post = null; }
    roomPosts.set(n.room, post);
  }
  if (post) navigateTo?.(`/posts/${post}`);
}

async function askPermission() {
  try { await Notification.requestPermission(); } catch { /* ignored */ }
  render();
}
