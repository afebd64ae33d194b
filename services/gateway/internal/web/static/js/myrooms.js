// "My rooms" (/rooms): every room I take part in, newest activity first,
// with its unread count and last message (GET /api/chat/rooms/mine/), kept
// live by the user stream (chat.unread, chat.read). The same store gives
// the header its total of unread messages.
import { h, clear, fmtDate } from './dom.js';
import { t } from './i18n.js';
import { api, list } from './api.js';
import * as stream from './userstream.js';

const rooms = new Map(); // room id → {id, name, post, kind, unread_count, last_read_seq, last_message}
const changed = new Set(); // fn() called when a count changes
let loaded = null;

/** onChange registers fn, called after any room's count or last message changed. */
export function onChange(fn) { changed.add(fn); return () => changed.delete(fn); }
const notify = () => { for (const fn of changed) fn(); };

/** totalUnread is the sum of the unread counts of my rooms. */
export function totalUnread() {
  let n = 0;
  for (const r of rooms.values()) n += r.unread_count || 0;
  return n;
}

/** room returns what is known of one of my rooms (or undefined). */
export const room = (id) => rooms.get(Number(id));

/** load reads the first page of my rooms (once per login unless force). */
export function load(force = false) {
  if (!loaded || force) {
    loaded = list('/api/chat/rooms/mine/?limit=100').then(({ items }) => {
      rooms.clear();
      for (const r of items) rooms.set(r.id, r);
      notify();
    }).catch((e) => { loaded = null; throw e; });
  }
  return loaded;
}

/** reset forgets everything (logout). */
export function reset() { rooms.clear(); loaded = null; notify(); }

stream.on('chat.unread', (f) => {
  const r = rooms.get(f.room);
  if (!r) { load(true).catch(() => {}); return; } // a room new to us: read the list again
  r.unread_count = f.unread_count;
  if (f.last_message) r.last_message = f.last_message;
  // Newest activity first: the room moves to the top.
  rooms.delete(f.room);
  rooms.set(f.room, r);
  notify();
});
stream.on('chat.read', (f) => {
  const r = rooms.get(f.room);
  if (!r) return;
  r.last_read_seq = Math.max(r.last_read_seq || 0, f.last_read_seq);
  if (typeof f.unread_count === 'number') r.unread_count = f.unread_count;
  notify();
});
stream.on('open', () => { if (loaded) load(true).catch(() => {}); }); // after a reconnect, counts may have moved

/** markRead moves my marker in a room to seq (POST read), at most once per second per room. */
const pendingRead = new Map();
export function markRead(roomID, seq) {
  const id = Number(roomID);
  const r = rooms.get(id);
  if (r && (r.last_read_seq || 0) >= seq && !r.unread_count) return;
  const p = pendingRead.get(id) || { seq: 0, timer: null };
  p.seq = Math.max(p.seq, seq);
  pendingRead.set(id, p);
  if (p.timer) return;
  p.timer = setTimeout(async () => {
    pendingRead.delete(id);
    try {
      const res = await api(`/api/chat/room/${id}/read/`, { method: 'POST', body: { seq: p.seq } });
      const cur = rooms.get(id);
      if (cur && res) {
        cur.last_read_seq = Math.max(cur.last_read_seq || 0, res.last_read_seq);
        cur.unread_count = res.unread_count;
        notify();
      }
    } catch { /* not a member yet, or offline: the next view tries again */ }
  }, 300);
}

/** roomHref is where a room is read: /dm/<id> for a direct message, else its post's page (null without one). */
export function roomHref(r) {
  if (r?.kind === 'dm') return `/dm/${r.id}`;
  return r && r.post ? `/posts/${r.post}` : null;
}

/** myRoomsPage renders /rooms. */
export async function myRoomsPage({ main, isCurrent }) {
  document.title = `${t('rooms.title')} · Cobra Space`;
  const ul = h('ul', { class: 'myrooms', id: 'myrooms' });
  const empty = h('p', { class: 'empty-state muted', hidden: true }, t('rooms.empty'));
  main.append(h('section', { class: 'myrooms-page' }, h('h1', {}, t('rooms.title')), ul, empty));
  const render = () => {
    clear(ul);
    const all = [...rooms.values()];
    empty.hidden = all.length > 0;
    for (const r of all) {
      const m = r.last_message;
      const href = roomHref(r);
      const badge = r.unread_count > 0
        ? h('span', { class: 'badge unread-badge', attrs: { 'aria-label': t('rooms.unread', { n: r.unread_count }) } }, r.unread_count > 99 ? '99+' : String(r.unread_count))
        : null;
      const body = [
        h('div', { class: 'myroom-head' }, h('strong', { class: 'myroom-name' }, r.kind === 'dm' ? t('dm.badge') : r.name), badge),
        m ? h('p', { class: 'myroom-last muted small' }, `${m.nickname || m.sender}: ${m.message}`) : h('p', { class: 'myroom-last muted small' }, t('rooms.nomessages')),
        m ? h('time', { class: 'muted small', dateTime: m.created_at }, fmtDate(m.created_at)) : null,
      ];
      ul.append(h('li', { class: `myroom${r.unread_count > 0 ? ' has-unread' : ''}`, dataset: { room: r.id } },
        href ? h('a', { href, class: 'myroom-link', attrs: { 'data-link': '' } }, ...body) : h('div', { class: 'myroom-link' }, ...body)));
    }
  };
  await load(true);
  if (!isCurrent()) return undefined;
  render();
  return onChange(render);
}
