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
// - own messages go out one at a time (the outbox): a refusal (error frame)
//   then names the message in flight without guessing. Refused messages and
//   the ones queued behind them stay at the bottom, in the order typed, with
//   retry and discard; delivered messages are always placed above them;
// - holes in seq are deleted messages (docs/api.md): history shows them as
//   tombstones, as the live delete does;
// - close 4000 (room deleted) ends the chat; 4001/1008 or a failed handshake
//   first tries a token refresh, then reconnects.
import { h, clear, avatar, fmtTime, fmtDay, sameDay, toast, icon, confirmDialog } from './dom.js';
import { t } from './i18n.js';
import { api, refresh } from './api.js';
import { shownText } from './blocks.js';
import { formatMessage } from './format.js';
import { Reactions } from './reactions.js';
import { Thread } from './thread.js';

const maxBackoff = 15000;
const baseBackoff = 500;
const pageSize = 50;
// A leave is announced only if the user has not come back within this time:
// a reload closes the socket and opens a new one a moment later.
const leaveGrace = 3000;

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
    this.pending = new Map(); // client_msg_id → {text, li, state: queued|inflight|failed}, in the order typed
    this.inflight = null; // the client_msg_id sent and not yet answered
    this.typingWanted = false; // a typing frame held back while a message was in flight
    this.online = new Map(); // email → {username, picture}
    this.typers = new Map(); // email → {name, timer}
    this.leaving = new Map(); // email → timer: a leave not announced yet
    this.lastTypingSent = 0;
    this.hasOlder = true;
    this.loadingOlder = false;
    this.timer = null;
    this.reactions = new Reactions();
    this.thread = new Thread(this);
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
      h('div', { class: 'chat-body' }, this.log, this.newBtn, this.thread.el),
      this.banner, this.typing, this.thread.chip, this.form);

    this.form.addEventListener('submit', (e) => { e.preventDefault(); this.submit(); });
    this.input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); this.submit(); }
    });
    this.input.addEventListener('input', () => this.sendTyping());
    this.log.addEventListener('scroll', () => {
      if (this.atBottom()) this.newBtn.hidden = true;
      if (this.log.scrollTop < 80) this.loadOlder();
    });
    // The network is back: reconnect now rather than after the backoff. Only
    // an open socket stays: one still connecting was started while the
    // network was down and can hang until the browser gives up on it, and
    // one whose close is still being handled may be waiting on a token
    // refresh (onClose); a fresh socket replaces either.
    this.onOnline = () => {
      if (this.stopped || this.ws?.readyState === WebSocket.OPEN) return;
      if (this.ws) { const stale = this.ws; this.ws = null; stale.close(); }
      this.attempt = 0;
      this.connect();
    };
    window.addEventListener('online', this.onOnline);
    // Leaving the page closes the socket at once, so others see "left" now
    // rather than when the server notices a dead connection.
    this.onPageHide = () => this.destroy();
    window.addEventListener('pagehide', this.onPageHide);
    this.onDocClick = (e) => { if (!e.target.closest('.msg-more, .msg-menu')) this.closeMenus(); };
    document.addEventListener('click', this.onDocClick);
  }

  start() { this.connect(); }

  /** destroy closes the socket for good (navigation, logout). */
  destroy() {
    this.stopped = true;
    clearTimeout(this.timer);
    window.removeEventListener('online', this.onOnline);
    window.removeEventListener('pagehide', this.onPageHide);
    document.removeEventListener('click', this.onDocClick);
    this.reactions.destroy();
    for (const x of this.typers.values()) clearTimeout(x.timer);
    for (const timer of this.leaving.values()) clearTimeout(timer);
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
      this.pump(true);
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
      // Stopped, or reconnected meanwhile (an "online" event): that socket
      // is the one to keep.
      if (this.stopped || this.ws) return;
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
        this.fillHoles();
        if (!this.bySeq.size) this.showEmpty();
        this.scrollToBottom();
        this.onHistory?.(); // roomconv.js
        break;
      case 'chat.message': this.addMessage(f); this.thread.onMessage(f); break;
      case 'chat.message.reaction': this.reactions.applyFrame(f); break;
      case 'chat.message.replies': this.thread.applyReplies(f); break;
      case 'chat.resume': if (f.recovered === false) this.catchUp(); break;
      case 'chat.presence':
        for (const timer of this.leaving.values()) clearTimeout(timer);
        this.leaving.clear();
        this.online.clear();
        for (const u of f.users || []) this.online.set(u.email, { username: u.username, picture: u.profile_picture_url });
        this.renderOnline();
        break;
      case 'chat.user.join':
        if (this.leaving.has(f.email)) {
          // Back within the grace period (a reload, a network blip): the
          // leave and this join are not news.
          clearTimeout(this.leaving.get(f.email));
          this.leaving.delete(f.email);
        } else if (!this.online.has(f.email) && f.email !== this.me.email) this.systemLine(t('chat.join', { name: f.username || f.email }), 'join');
        this.online.set(f.email, { username: f.username, picture: f.profile_picture_url });
        this.renderOnline();
        break;
      case 'chat.user.leave':
        this.typingDone(f.email);
        if (f.email === this.me.email) { this.online.delete(f.email); this.renderOnline(); break; }
        clearTimeout(this.leaving.get(f.email));
        this.leaving.set(f.email, setTimeout(() => {
          this.leaving.delete(f.email);
          this.systemLine(t('chat.leave', { name: f.username || f.email }), 'leave');
          this.online.delete(f.email);
          this.renderOnline();
        }, leaveGrace));
        break;
      case 'chat.typing': this.onTyping(f); break;
      case 'chat.message.edit': this.applyEdit(f); break;
      case 'chat.message.delete': this.applyDelete(f); break;
      case 'chat.room.deleted': this.roomDeleted(); break;
      default: break;
    }
  }

  onError(f) {
    // A page may name an error its own way (errorTexts: error_type → i18n key; dm.js does).
    const key = this.errorTexts?.[f.error_type] || `chat.err.${f.error_type}`;
    // Only texts of our own are shown; the server's text is for logs and tools.
    toast(t(key) === key ? t('common.error') : t(key), 'error');
    // not_found only answers edits and deletes; forbidden too, except for a
    // send into a DM closed by a block (the UI edits and deletes over the
    // socket only one's own messages, which is never forbidden elsewhere).
    if (this.inflight && ['message_too_long', 'invalid_request', 'rate_limited', 'internal', 'muted', 'forbidden'].includes(f.error_type)) {
      // Messages go out one at a time, so the refusal is the one in flight's;
      // what was queued behind it waits too, in order, for the user's choice.
      this.inflight = null;
      for (const p of this.pending.values()) if (p.state !== 'failed') this.markFailed(p);
    }
  }

  markFailed(p) {
    p.state = 'failed';
    p.li.classList.remove('pending');
    p.li.classList.add('failed');
    p.li.querySelector('.meta time').textContent = t('chat.err.failed');
    if (p.li.querySelector('.msg-retry')) return;
    p.li.querySelector('.bubble-wrap').append(h('div', { class: 'msg-fail-actions' },
      h('button', { type: 'button', class: 'btn btn-ghost btn-sm msg-retry', onclick: () => this.retry(p.id) }, t('chat.retry')),
      h('button', { type: 'button', class: 'btn btn-ghost btn-sm msg-discard', onclick: () => this.discard(p.id) }, t('chat.discard'))));
  }

  retry(id) {
    const p = this.pending.get(id);
    if (!p || p.state !== 'failed') return;
    // Back into the queue at its end, and to the bottom of the list: retried
    // messages go out in the order the user retries them.
    this.pending.delete(id);
    this.pending.set(id, p);
    p.state = 'queued';
    p.li.classList.remove('failed');
    p.li.classList.add('pending');
    p.li.querySelector('.msg-fail-actions')?.remove();
    p.li.querySelector('.meta time').textContent = '';
    this.list.append(p.li);
    this.pump();
  }

  discard(id) {
    const p = this.pending.get(id);
    if (!p || p.state !== 'failed') return;
    this.pending.delete(id);
    p.li.remove();
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
    if (this.hasOlder && Number.isFinite(this.minSeq)) { this.hasOlder = false; this.fillHoles(); }
    this.hasOlder = false;
    if (!this.list.querySelector('.chat-start')) this.list.prepend(h('li', { class: 'sys chat-start' }, t('chat.start')));
  }

  addMessage(m, { history = false, older = false } = {}) {
    const seq = Number(m.seq);
    const acked = m.client_msg_id && this.pending.get(m.client_msg_id);
    if (acked) {
      this.pending.delete(m.client_msg_id);
      acked.li.remove();
      if (this.inflight === m.client_msg_id) this.inflight = null;
    }
    if (!seq || this.bySeq.has(seq)) { if (acked) this.pump(); return; } // dedupe by seq
    const stick = !older && (history || this.atBottom());
    const mine = m.sender === this.me.email || m.sender === this.me.user || !!acked;
    const li = this.messageEl(m, mine);
    this.list.querySelector('.chat-empty')?.remove();
    // Keep DOM order = seq order, and every delivered message above the
    // outbox (messages still pending or refused stay at the bottom).
    let before = null;
    if (seq < this.maxSeq || older) {
      for (const el of this.list.querySelectorAll('.msg[data-seq]:not(.pending):not(.failed)')) {
        if (Number(el.dataset.seq) > seq) { before = el; break; }
      }
    }
    before = before || this.outboxStart();
    if (before) before.before(li); else this.list.append(li);
    const prevSeq = this.maxSeq;
    this.bySeq.set(seq, li);
    if (m.id !== undefined) this.byID.set(m.id, seq);
    this.maxSeq = Math.max(this.maxSeq, seq);
    this.minSeq = Math.min(this.minSeq, seq);
    this.group(li);
    if (li.nextElementSibling) this.group(li.nextElementSibling);
    if (m.edited_at && !m.deleted) li.querySelector('.edited').hidden = false;
    this.onMessage?.(li, m, { history, older, mine }); // roomconv.js
    if (acked) this.pump();
    if (older || history) return;
    // Live messages arrive in seq order with gaps filled by the server, so a
    // hole before this one is a message deleted meanwhile.
    if (prevSeq && seq > prevSeq + 1) this.fillHoles();
    this.typingDone(m.sender); // their message is here: they are no longer typing it
    if (stick || mine) this.scrollToBottom();
    else this.newBtn.hidden = false;
  }

  /** outboxStart is the first own message not yet delivered (pending or failed), or null. */
  outboxStart() { return this.list.querySelector(':scope > .msg.pending, :scope > .msg.failed'); }

  /**
   * group marks li as a continuation (no name, avatar or time repeated) when
   * the message before it is from the same sender, on the same day, within
   * five minutes; and starts a new day with a date line. Live, history and
   * older pages all pass here, so they look the same.
   */
  group(li) {
    const real = '.msg[data-seq]:not(.tombstone):not(.pending):not(.failed)';
    if (!li.matches(real)) return;
    const at = Date.parse(li.dataset.at);
    let prev = li.previousElementSibling;
    while (prev && !prev.matches(real)) prev = prev.previousElementSibling;
    const prevAt = prev ? Date.parse(prev.dataset.at) : NaN;
    const newDay = !Number.isNaN(at) && (Number.isNaN(prevAt) || !sameDay(prevAt, at));
    const dayLine = li.previousElementSibling?.matches('.day') ? li.previousElementSibling : null;
    if (newDay && !dayLine) li.before(h('li', { class: 'sys day' }, h('time', { dateTime: li.dataset.at }, fmtDay(li.dataset.at))));
    else if (newDay) dayLine.firstChild.replaceWith(h('time', { dateTime: li.dataset.at }, fmtDay(li.dataset.at))); // an older message took the top of the day
    else if (dayLine) dayLine.remove();
    // Only directly adjacent messages group: a system line or a tombstone between them breaks the run.
    const adjacent = !!prev && li.previousElementSibling === prev;
    li.classList.toggle('cont', adjacent && !newDay && prev.dataset.sender === li.dataset.sender && at - prevAt < 300000);
  }

  /** fillHoles shows a tombstone for every seq missing between the messages shown (deleted messages). */
  fillHoles() {
    const seqs = [...this.bySeq.keys()].sort((a, b) => a - b);
    const from = this.hasOlder ? seqs[0] : 1;
    for (let i = 0, s = from; i < seqs.length; i++) {
      for (; s < seqs[i]; s++) this.tombstone(s);
      s = seqs[i] + 1;
    }
  }

  tombstone(seq) {
    if (this.bySeq.has(seq)) return;
    const li = h('li', { class: 'msg deleted tombstone', dataset: { seq } }, h('div', { class: 'bubble' }, h('p', { class: 'text' }, t('chat.deletedmsg'))));
    let before = null;
    for (const el of this.list.querySelectorAll('.msg[data-seq]:not(.pending):not(.failed)')) {
      if (Number(el.dataset.seq) > seq) { before = el; break; }
    }
    before = before || this.outboxStart();
    if (before) (before.previousElementSibling?.matches('.day') ? before.previousElementSibling : before).before(li); else this.list.append(li);
    this.bySeq.set(seq, li);
    if (li.nextElementSibling) this.group(li.nextElementSibling);
    this.minSeq = Math.min(this.minSeq, seq);
  }

  messageEl(m, mine) {
    const name = m.nickname || m.sender || '';
    // Shown formatted (links, code); the raw text is kept for editing. A
    // blocked sender's message shows a fixed line instead (blocks.js).
    const text = m.hidden
      ? h('p', { class: 'text hidden-msg' }, shownText(m))
      : h('div', { class: 'text', dataset: { raw: m.message } }, formatMessage(m.message));
    const meta = h('div', { class: 'meta' }, mine ? null : h('span', { class: 'nick' }, name),
      h('time', { dateTime: m.created_at || '', title: m.created_at ? fmtDay(m.created_at) : '' }, m.created_at ? fmtTime(m.created_at) : ''),
      h('span', { class: 'edited', hidden: true }, t('chat.edited')));
    const bubble = h('div', { class: 'bubble' }, text);
    const li = h('li', { class: `msg ${mine ? 'mine' : 'theirs'}`, dataset: { seq: m.seq ?? '', id: m.id ?? '', sender: m.sender || '', at: m.created_at || '' } },
      mine ? null : avatar(m.profile_picture_url, name, 'sm'),
      h('div', { class: 'bubble-wrap' }, meta, h('div', { class: 'bubble-row' }, bubble)));
    if (m.id !== undefined) {
      this.thread.decorate(li, m);
      li.querySelector('.bubble-wrap').append(this.reactions.bar(m));
    }
    // Others' messages also get what moderation.js offers (report; delete and mute for moderators).
    const extra = !mine && m.id !== undefined ? (this.menuItemsFor?.(m) || []) : [];
    if (m.id !== undefined) {
      // A visible "more" button on the bubble opens its actions: nothing
      // depends on hover, and nothing destructive sits where a tap may land.
      const menu = h('div', { class: 'msg-menu', hidden: true, attrs: { role: 'menu' } },
        this.thread.menuItem(m, () => this.closeMenus()), this.reactions.menuItem(m, () => this.closeMenus()),
        mine ? h('button', { type: 'button', class: 'menu-item msg-edit', attrs: { role: 'menuitem' }, onclick: () => { this.closeMenus(); this.startEdit(li, m.id); } }, t('chat.edit')) : null,
        mine ? h('button', { type: 'button', class: 'menu-item msg-delete', attrs: { role: 'menuitem' }, onclick: () => { this.closeMenus(); this.confirmDelete(m.id); } }, t('chat.delete')) : null,
        extra);
      const more = h('button', {
        type: 'button', class: 'msg-more', attrs: { 'aria-label': t('chat.actions'), 'aria-haspopup': 'menu', 'aria-expanded': 'false' },
        onclick: () => {
          const open = menu.hidden;
          this.closeMenus();
          menu.hidden = !open;
          more.setAttribute('aria-expanded', String(open));
          if (open) menu.querySelector('.menu-item').focus();
        },
      }, icon('more'));
      menu.addEventListener('keydown', (e) => { if (e.key === 'Escape') { this.closeMenus(); more.focus(); } });
      const actions = h('div', { class: 'msg-actions' }, more, menu);
      if (mine) li.querySelector('.bubble-row').prepend(actions); else li.querySelector('.bubble-row').append(actions);
    }
    return li;
  }

  closeMenus() {
    for (const m of this.list.querySelectorAll('.msg-menu:not([hidden])')) {
      m.hidden = true;
      m.previousElementSibling?.setAttribute('aria-expanded', 'false');
    }
  }

  async confirmDelete(id) {
    if (await confirmDialog(t('chat.confirmdelete'), t('chat.delete'), t('common.cancel'))) this.sendFrame({ type: 'chat.message.delete', id });
  }

  startEdit(li, id) {
    if (li.querySelector('.msg-edit-form')) return;
    const text = li.querySelector('.text');
    const raw = text.dataset.raw ?? text.textContent;
    const input = h('input', { class: 'input msg-edit-input', value: raw, maxLength: 2000, attrs: { 'aria-label': t('chat.edit') } });
    const form = h('form', { class: 'msg-edit-form' }, input,
      h('button', { type: 'submit', class: 'btn btn-primary btn-sm' }, t('chat.save')),
      h('button', { type: 'button', class: 'btn btn-ghost btn-sm', onclick: () => done() }, t('chat.cancel')));
    const done = () => { form.remove(); text.hidden = false; };
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const v = input.value.trim();
      if (v && v !== raw) this.sendFrame({ type: 'chat.message.edit', id, message: v });
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
    const text = li.querySelector('.text');
    if (f.hidden) {
      text.textContent = shownText(f);
    } else {
      text.replaceChildren(formatMessage(f.message));
      text.dataset.raw = f.message;
    }
    li.querySelector('.edited').hidden = false;
  }

  applyDelete(f) {
    const li = this.bySeq.get(Number(f.seq)) || this.bySeq.get(this.byID.get(f.id));
    if (!li) return;
    const text = li.querySelector('.text');
    text.textContent = t('chat.deletedmsg');
    li.classList.add('deleted');
    li.querySelector('.msg-actions')?.remove();
    li.querySelector('.reactions')?.remove();
    li.querySelector('.edited').hidden = true;
  }

  systemLine(text, kind) {
    const stick = this.atBottom();
    const li = h('li', { class: `sys sys-${kind}` }, text);
    const before = this.outboxStart();
    if (before) before.before(li); else this.list.append(li);
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
      if (!msgs || msgs.length < pageSize || this.minSeq <= 1) this.markStart();
      this.fillHoles();
      this.log.scrollTop += this.log.scrollHeight - prev; // keep the reader where they were
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
    this.fillHoles();
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
    // A typing frame counts against the send rate too; never let one be the
    // frame refused while a message is in flight.
    if (this.state !== 'open' || now - this.lastTypingSent < 2000 || !this.input.value) return;
    if (this.inflight) { this.typingWanted = true; return; } // sent once the outbox is idle (pump)
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
    this.pending.set(id, { id, text, li, state: 'queued', parent: this.thread.takeTarget() });
    this.input.value = '';
    this.input.focus(); // keep typing (on a phone the keyboard stays up)
    this.lastTypingSent = 0;
    this.scrollToBottom();
    this.pump();
  }

  /**
   * pump sends the next queued message when none is in flight. After a
   * reconnect (resend) the one in flight goes again with the same
   * client_msg_id: the server stores it once, so nothing is doubled.
   */
  pump(resend = false) {
    if (this.inflight && !resend) return;
    let p = this.inflight && this.pending.get(this.inflight);
    if (!p) {
      this.inflight = null;
      p = [...this.pending.values()].find((x) => x.state === 'queued');
    }
    if (!p) {
      if (this.typingWanted) { this.typingWanted = false; this.sendTyping(); }
      return;
    }
    if (this.sendFrame({ type: 'chat.message', message: p.text, client_msg_id: p.id, ...(p.parent ? { parent_chat: p.parent } : {}) })) {
      p.state = 'inflight';
      this.inflight = p.id;
    }
  }
}
