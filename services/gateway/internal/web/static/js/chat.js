// The live chat of one post's room (docs/api.md, "WebSocket /ws/chat/<room_id>/chat/").
//
// Guarantees the UI keeps:
// - messages are kept by seq: a seq already shown is never shown twice, and
//   messages are placed in seq order whatever order they arrive in;
// - after a drop the socket reconnects with exponential backoff plus jitter and
//   resumes with ?after_seq=<highest seq seen>; if the server cannot replay
//   (chat.resume recovered:false) the gap is filled over REST (?after=);
// - a message typed while reconnecting is not lost: it waits as "pending" and
//   is (re)sent with the same client_msg_id, which the server stores once;
// - close 4000 (room deleted) ends the chat; 4001/1008 or a failed handshake
//   first tries a token refresh, then reconnects.
import { h, clear, avatar, fmtTime, toast } from './dom.js';
import { t } from './i18n.js';
import { api, refresh } from './api.js';

const maxBackoff = 15000;
const baseBackoff = 500;
const pageSize = 50;

/** ChatPanel is the chat column: new ChatPanel({roomID, me}), then .start(), .destroy(). */
export class ChatPanel {
  constructor({ roomID, me, onAuthLost }) {
    this.roomID = roomID;
    this.me = me;
    this.onAuthLost = onAuthLost || (() => {});
    this.ws = null;
    this.stopped = false;
    this.attempt = 0;
    this.maxSeq = 0;
    this.minSeq = Infinity;
    this.bySeq = new Map(); // seq → <li>
    this.byID = new Map(); // message id → seq
    this.pending = new Map(); // client_msg_id → {text, li}
    this.online = new Map(); // email → {username, picture}
    this.typers = new Map(); // email → {name, timer}
    this.lastTypingSent = 0;
    this.hasOlder = true;
    this.loadingOlder = false;
    this.timer = null;
    this.build();
  }

  build() {
    this.status = h('span', { class: 'chat-status', id: 'chat-status', dataset: { state: 'connecting' }, attrs: { role: 'status' } }, t('chat.connecting'));
    this.count = h('span', { class: 'chat-count', id: 'chat-count' }, t('chat.people', { n: 0 }));
    this.onlineList = h('ul', { class: 'chat-online', id: 'chat-online', attrs: { 'aria-label': 'online' } });
    this.list = h('ol', { class: 'chat-messages', id: 'chat-messages' });
    this.older = h('div', { class: 'chat-older muted small', hidden: true }, t('chat.loadingolder'));
    this.log = h('div', { class: 'chat-log', id: 'chat-log', tabIndex: 0, attrs: { role: 'log', 'aria-live': 'polite', 'aria-label': t('chat.title') } }, this.older, this.list);
    this.newBtn = h('button', { type: 'button', class: 'chat-new', hidden: true, onclick: () => this.scrollToBottom() }, t('chat.new'));
    this.typing = h('div', { class: 'chat-typing', id: 'chat-typing', attrs: { 'aria-live': 'polite' } });
    this.banner = h('div', { class: 'chat-banner', id: 'chat-banner', hidden: true, attrs: { role: 'alert' } });
    this.input = h('textarea', {
      id: 'chat-input', class: 'chat-input', rows: 1, maxLength: 2000, disabled: true,
      placeholder: t('chat.placeholder.off'), attrs: { 'aria-label': t('chat.placeholder') },
    });
    this.send = h('button', { type: 'submit', class: 'btn btn-primary chat-send', id: 'chat-send', disabled: true }, t('chat.send'));
    this.form = h('form', { class: 'chat-form', id: 'chat-form' }, this.input, this.send);
    this.el = h('section', { class: 'chat card', id: 'chat' },
      h('header', { class: 'chat-head' }, h('h2', {}, t('chat.title')), this.status),
      h('div', { class: 'chat-presence' }, this.count, this.onlineList),
      h('div', { class: 'chat-body' }, this.log, this.newBtn),
      this.banner, this.typing, this.form);

    this.form.addEventListener('submit', (e) => { e.preventDefault(); this.submit(); });
    this.input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); this.submit(); }
    });
    this.input.addEventListener('input', () => this.sendTyping());
    this.log.addEventListener('scroll', () => {
      if (this.atBottom()) this.newBtn.hidden = true;
      if (this.log.scrollTop < 80) this.loadOlder();
    });
    this.onOnline = () => { if (!this.ws && !this.stopped) this.connect(); };
    window.addEventListener('online', this.onOnline);
    // Leaving the page closes the socket at once, so others see "left" now
    // rather than when the server notices a dead connection.
    this.onPageHide = () => this.destroy();
    window.addEventListener('pagehide', this.onPageHide);
  }

  start() { this.connect(); }

  /** destroy closes the socket for good (navigation, logout). */
  destroy() {
    this.stopped = true;
    clearTimeout(this.timer);
    window.removeEventListener('online', this.onOnline);
    window.removeEventListener('pagehide', this.onPageHide);
    for (const x of this.typers.values()) clearTimeout(x.timer);
    if (this.ws) { const ws = this.ws; this.ws = null; ws.close(1000, 'bye'); }
  }

  setState(state) {
    this.state = state;
    this.status.dataset.state = state;
    this.status.textContent = t({ connecting: 'chat.connecting', open: 'chat.online', reconnecting: 'chat.reconnecting', closed: 'chat.closed' }[state]);
    const on = state === 'open';
    this.input.disabled = !on;
    this.send.disabled = !on;
    this.input.placeholder = on ? t('chat.placeholder') : t('chat.placeholder.off');
    this.el.dataset.state = state;
  }

  connect() {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.setState(this.attempt === 0 && this.maxSeq === 0 ? 'connecting' : 'reconnecting');
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const resume = this.maxSeq > 0 ? `?after_seq=${this.maxSeq}` : '';
    const ws = new WebSocket(`${scheme}://${location.host}/ws/chat/${encodeURIComponent(this.roomID)}/chat/${resume}`);
    this.ws = ws;
    let opened = false;
    ws.addEventListener('open', () => {
      if (this.ws !== ws) return;
      opened = true;
      this.attempt = 0;
      this.setState('open');
      this.flushPending();
    });
    ws.addEventListener('message', (e) => {
      if (this.ws !== ws) return;
      let frame;
      try { frame = JSON.parse(e.data); } catch { return; }
      this.handle(frame);
    });
    ws.addEventListener('close', (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      this.onClose(e.code, opened);
    });
  }

  async onClose(code, opened) {
    if (code === 4000) { this.roomDeleted(); return; }
    if (code === 4001 || code === 1008 || !opened) {
      // Possibly an expired or revoked access token (a failed handshake shows
      // up as 1006 without open): refresh once, then retry with backoff.
      const ok = await refresh();
      if (this.stopped) return;
      if (!ok && (code === 4001 || code === 1008 || this.attempt >= 2)) {
        this.setState('closed');
        this.showBanner(t('chat.sessionexpired'));
        this.onAuthLost();
        return;
      }
    }
    this.scheduleReconnect();
  }

  scheduleReconnect() {
    this.setState('reconnecting');
    const ceiling = Math.min(maxBackoff, baseBackoff * 2 ** this.attempt);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2); // "equal jitter": spread, but never ~0 after failures
    this.attempt += 1;
    this.timer = setTimeout(() => this.connect(), delay);
  }

  roomDeleted() {
    this.stopped = true;
    this.setState('closed');
    this.showBanner(t('chat.roomdeleted'));
    if (this.ws) { const ws = this.ws; this.ws = null; ws.close(1000); }
  }

  showBanner(text) {
    this.banner.textContent = text;
    this.banner.hidden = false;
  }

  handle(f) {
    if (f.error_type) { this.onError(f); return; }
    switch (f.type) {
      case 'chat.history':
        for (const m of f.messages || []) this.addMessage(m, { history: true });
        if ((f.messages || []).length < pageSize) this.markStart();
        if (!this.bySeq.size) this.showEmpty();
        this.scrollToBottom();
        break;
      case 'chat.message': this.addMessage(f); break;
      case 'chat.resume': if (f.recovered === false) this.catchUp(); break;
      case 'chat.presence':
        this.online.clear();
        for (const u of f.users || []) this.online.set(u.email, { username: u.username, picture: u.profile_picture_url });
        this.renderOnline();
        break;
      case 'chat.user.join':
        if (!this.online.has(f.email) && f.email !== this.me.email) this.systemLine(t('chat.join', { name: f.username || f.email }), 'join');
        this.online.set(f.email, { username: f.username, picture: f.profile_picture_url });
        this.renderOnline();
        break;
      case 'chat.user.leave':
        if (f.email !== this.me.email) this.systemLine(t('chat.leave', { name: f.username || f.email }), 'leave');
        this.online.delete(f.email);
        this.typingDone(f.email);
        this.renderOnline();
        break;
      case 'chat.typing': this.onTyping(f); break;
      case 'chat.message.edit': this.applyEdit(f); break;
      case 'chat.message.delete': this.applyDelete(f); break;
      case 'chat.room.deleted': this.roomDeleted(); break;
      default: break;
    }
  }

  onError(f) {
    const key = `chat.err.${f.error_type}`;
    const msg = t(key) === key ? (f.message || t('common.error')) : t(key);
    toast(msg, 'error');
    if (['message_too_long', 'invalid_request', 'rate_limited', 'forbidden'].includes(f.error_type)) {
      // The oldest unacknowledged message is the one the server refused.
      const first = this.pending.entries().next().value;
      if (first) {
        const [id, p] = first;
        this.pending.delete(id);
        p.li.classList.add('failed');
        p.li.querySelector('.meta time').textContent = t('chat.err.failed');
      }
    }
  }

  // ---- messages ----
  atBottom() { return this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 48; }

  scrollToBottom() {
    this.log.scrollTop = this.log.scrollHeight;
    this.newBtn.hidden = true;
  }

  showEmpty() {
    if (!this.list.querySelector('.chat-empty')) this.list.append(h('li', { class: 'sys chat-empty' }, t('chat.empty')));
  }

  markStart() {
    this.hasOlder = false;
    if (!this.list.querySelector('.chat-start')) this.list.prepend(h('li', { class: 'sys chat-start' }, t('chat.start')));
  }

  addMessage(m, { history = false, older = false } = {}) {
    const seq = Number(m.seq);
    if (!seq || this.bySeq.has(seq)) return; // dedupe by seq
    const stick = !older && (history || this.atBottom());
    const mine = m.sender === this.me.email || m.sender === this.me.user || (m.client_msg_id && this.pending.has(m.client_msg_id));
    const li = this.messageEl(m, mine);
    this.list.querySelector('.chat-empty')?.remove();
    // Keep DOM order = seq order: usually an append, an insert for older pages.
    let before = null;
    if (seq < this.maxSeq || older) {
      for (const el of this.list.querySelectorAll('.msg[data-seq]')) {
        if (Number(el.dataset.seq) > seq) { before = el; break; }
      }
    }
    if (m.client_msg_id && this.pending.has(m.client_msg_id)) {
      const p = this.pending.get(m.client_msg_id);
      this.pending.delete(m.client_msg_id);
      p.li.remove();
    }
    if (before) before.before(li);
    else {
      // Consecutive messages of one sender within 5 minutes form a group.
      const prev = this.list.lastElementChild;
      if (prev && prev.matches('.msg[data-seq]') && prev.dataset.sender === li.dataset.sender && Date.parse(m.created_at) - Date.parse(prev.dataset.at) < 300000) li.classList.add('cont');
      this.list.append(li);
    }
    this.bySeq.set(seq, li);
    if (m.id !== undefined) this.byID.set(m.id, seq);
    this.maxSeq = Math.max(this.maxSeq, seq);
    this.minSeq = Math.min(this.minSeq, seq);
    if (m.edited_at && !m.deleted) li.querySelector('.edited').hidden = false;
    if (older) return;
    if (stick || mine) this.scrollToBottom();
    else this.newBtn.hidden = false;
  }

  messageEl(m, mine) {
    const name = m.nickname || m.sender || '';
    const text = h('p', { class: 'text' }, m.message);
    const meta = h('div', { class: 'meta' }, mine ? null : h('span', { class: 'nick' }, name),
      h('time', { dateTime: m.created_at || '' }, m.created_at ? fmtTime(m.created_at) : ''),
      h('span', { class: 'edited', hidden: true }, t('chat.edited')));
    const li = h('li', { class: `msg ${mine ? 'mine' : 'theirs'}`, dataset: { seq: m.seq ?? '', id: m.id ?? '', sender: m.sender || '', at: m.created_at || '' } },
      mine ? null : avatar(m.profile_picture_url, name, 'sm'),
      h('div', { class: 'bubble-wrap' }, meta, h('div', { class: 'bubble' }, text)));
    if (mine && m.id !== undefined) {
      li.querySelector('.bubble-wrap').append(h('div', { class: 'msg-actions' },
        h('button', { type: 'button', class: 'link-btn msg-edit', onclick: () => this.startEdit(li, m.id) }, t('chat.edit')),
        h('button', { type: 'button', class: 'link-btn msg-delete', onclick: () => this.sendFrame({ type: 'chat.message.delete', id: m.id }) }, t('chat.delete'))));
    }
    return li;
  }

  startEdit(li, id) {
    if (li.querySelector('.msg-edit-form')) return;
    const text = li.querySelector('.text');
    const input = h('input', { class: 'input msg-edit-input', value: text.textContent, maxLength: 2000, attrs: { 'aria-label': t('chat.edit') } });
    const form = h('form', { class: 'msg-edit-form' }, input,
      h('button', { type: 'submit', class: 'btn btn-primary btn-sm' }, t('chat.save')),
      h('button', { type: 'button', class: 'btn btn-ghost btn-sm', onclick: () => done() }, t('chat.cancel')));
    const done = () => { form.remove(); text.hidden = false; };
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const v = input.value.trim();
      if (v && v !== text.textContent) this.sendFrame({ type: 'chat.message.edit', id, message: v });
      done();
    });
    input.addEventListener('keydown', (e) => { if (e.key === 'Escape') done(); });
    text.hidden = true;
    text.after(form);
    input.focus();
  }

  applyEdit(f) {
    const li = this.bySeq.get(Number(f.seq)) || this.bySeq.get(this.byID.get(f.id));
    if (!li) return;
    li.querySelector('.text').textContent = f.message;
    li.querySelector('.edited').hidden = false;
  }

  applyDelete(f) {
    const li = this.bySeq.get(Number(f.seq)) || this.bySeq.get(this.byID.get(f.id));
    if (!li) return;
    const text = li.querySelector('.text');
    text.textContent = t('chat.deletedmsg');
    li.classList.add('deleted');
    li.querySelector('.msg-actions')?.remove();
    li.querySelector('.edited').hidden = true;
  }

  systemLine(text, kind) {
    const stick = this.atBottom();
    this.list.append(h('li', { class: `sys sys-${kind}` }, text));
    if (stick) this.scrollToBottom();
  }

  async loadOlder() {
    if (!this.hasOlder || this.loadingOlder || !Number.isFinite(this.minSeq) || this.minSeq <= 1) {
      if (this.minSeq === 1) this.markStart();
      return;
    }
    this.loadingOlder = true;
    this.older.hidden = false;
    try {
      const msgs = await api(`/api/chat/room/${this.roomID}/messages/?before=${this.minSeq}&limit=${pageSize}`);
      const prev = this.log.scrollHeight;
      for (const m of msgs || []) this.addMessage(m, { older: true });
      this.log.scrollTop += this.log.scrollHeight - prev; // keep the reader where they were
      if (!msgs || msgs.length < pageSize || this.minSeq <= 1) this.markStart();
    } catch { /* try again on the next scroll */ } finally {
      this.loadingOlder = false;
      this.older.hidden = true;
    }
  }

  // catchUp pages over REST after the server could not replay a long gap.
  async catchUp() {
    for (let i = 0; i < 50; i++) {
      const msgs = await api(`/api/chat/room/${this.roomID}/messages/?after=${this.maxSeq}&limit=200`).catch(() => []);
      for (const m of msgs) this.addMessage(m);
      if (msgs.length < 200) break;
    }
  }

  // ---- presence & typing ----
  renderOnline() {
    clear(this.onlineList);
    for (const [email, u] of this.online) {
      this.onlineList.append(h('li', { title: email }, avatar(u.picture, u.username || email, 'xs'), h('span', {}, u.username || email)));
    }
    this.count.textContent = t('chat.people', { n: this.online.size });
  }

  onTyping(f) {
    if (f.email === this.me.email || (!f.email && f.username === this.me.nickname)) return;
    const key = f.email || f.username;
    const prev = this.typers.get(key);
    if (prev) clearTimeout(prev.timer);
    this.typers.set(key, { name: f.username || f.email, timer: setTimeout(() => this.typingDone(key), 4000) });
    this.renderTyping();
  }

  typingDone(key) {
    const x = this.typers.get(key);
    if (!x) return;
    clearTimeout(x.timer);
    this.typers.delete(key);
    this.renderTyping();
  }

  renderTyping() {
    const names = [...this.typers.values()].map((x) => x.name);
    this.typing.textContent = names.length ? t('chat.typing', { names: names.join(', ') }) : '';
  }

  sendTyping() {
    const now = Date.now();
    if (this.state !== 'open' || now - this.lastTypingSent < 2000 || !this.input.value) return;
    this.lastTypingSent = now;
    this.sendFrame({ type: 'chat.typing' });
  }

  // ---- sending ----
  sendFrame(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) { this.ws.send(JSON.stringify(frame)); return true; }
    return false;
  }

  submit() {
    const text = this.input.value.trim();
    if (!text || this.state !== 'open') return;
    const id = (crypto.randomUUID && crypto.randomUUID()) || `${Date.now()}-${Math.random()}`;
    const li = this.messageEl({ message: text, created_at: '' }, true);
    li.classList.add('pending');
    li.dataset.clientMsgId = id;
    this.list.querySelector('.chat-empty')?.remove();
    this.list.append(li);
    this.pending.set(id, { text, li });
    this.input.value = '';
    this.lastTypingSent = 0;
    this.scrollToBottom();
    this.sendFrame({ type: 'chat.message', message: text, client_msg_id: id });
  }

  // After a reconnect, resend what was never acknowledged; the server stores
  // a client_msg_id once, so a message that did arrive is not doubled.
  flushPending() {
    for (const [id, p] of this.pending) this.sendFrame({ type: 'chat.message', message: p.text, client_msg_id: id });
  }
}
