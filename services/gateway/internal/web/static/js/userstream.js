// The caller's own live stream, /ws/user/ (docs/api.md, "Conversations"):
// notification.new, chat.unread and chat.read for every open page of the
// app. One socket per tab, opened at login and closed at logout; after a
// drop it reconnects with backoff and resumes with ?after=<highest
// notification id seen>, so a notification is neither lost nor shown twice
// (the server replays by id; ids seen are skipped here too). When the
// server cannot replay (notification.resume recovered:false) listeners get
// a "resync" event and reload over REST.
import { refresh } from './api.js';

const maxBackoff = 15000;
const listeners = new Map(); // type → Set(fn)
let ws = null;
let stopped = true;
let attempt = 0;
let timer = null;
let afterID = -1; // -1: live only (no replay) until a baseline is known

/** on registers fn for frames of type ("notification.new", "chat.unread", "chat.read", "resync", "open"); returns an unsubscribe. */
export function on(type, fn) {
  if (!listeners.has(type)) listeners.set(type, new Set());
  listeners.get(type).add(fn);
  return () => listeners.get(type).delete(fn);
}

function emit(type, frame) {
  for (const fn of listeners.get(type) || []) {
    try { fn(frame); } catch (e) { console.error(e); }
  }
}

/** start opens the stream; after is the highest notification id the page already shows (0: none). */
export function start(after) {
  afterID = Math.max(afterID, after);
  if (!stopped) return;
  stopped = false;
  attempt = 0;
  connect();
}

/** stop closes the stream for good (logout). */
export function stop() {
  stopped = true;
  afterID = -1;
  clearTimeout(timer);
  if (ws) { const s = ws; ws = null; s.close(1000, 'bye'); }
}

/** connected tells whether the stream is open. */
export const connected = () => !!ws && ws.readyState === WebSocket.OPEN;

function connect() {
  clearTimeout(timer);
  if (stopped) return;
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const q = afterID >= 0 ? `?after=${afterID}` : '';
  const sock = new WebSocket(`${scheme}://${location.host}/ws/user/${q}`);
  ws = sock;
  let opened = false;
  sock.addEventListener('open', () => {
    if (ws !== sock) return;
    opened = true;
    attempt = 0;
    document.documentElement.dataset.userStream = 'open';
    emit('open', {});
  });
  sock.addEventListener('message', (e) => {
    if (ws !== sock) return;
    let f;
    try { f = JSON.parse(e.data); } catch { return; }
    if (f.type === 'notification.new') {
      if (f.id <= afterID) return; // already shown
      afterID = f.id;
    }
    if (f.type === 'notification.resume') {
      if (f.recovered === false) emit('resync', f);
      return;
    }
    if (f.type) emit(f.type, f);
  });
  sock.addEventListener('close', async (e) => {
    if (ws !== sock) return;
    ws = null;
    document.documentElement.dataset.userStream = 'closed';
    if (stopped) return;
    if (e.code === 4001 || e.code === 1008 || !opened) {
      // An expired or revoked token: refresh once; a failed refresh ends
      // the stream (the session is gone).
      if (!(await refresh()) && (e.code !== 1006 || attempt >= 2)) { stopped = true; return; }
    }
    const ceiling = Math.min(maxBackoff, 500 * 2 ** attempt);
    attempt += 1;
    timer = setTimeout(connect, ceiling / 2 + Math.random() * (ceiling / 2));
  });
}
