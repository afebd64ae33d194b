// Replies in the chat: the quoted parent above a reply, the reply count
// under a message, the "reply" action, and the thread view, which lists a
// message's replies from GET /api/chat/message/<id>/replies/ and then
// follows new ones live. Threads are one level deep (the server refuses a
// reply to a reply), so the reply action exists only on messages that are
// not replies themselves.
import { h, clear, fmtTime, toast } from './dom.js';
import { api } from './api.js';
import { t } from './i18n.js';
import { ct } from './convtext.js';
import { formatMessage } from './format.js';

export class Thread {
  /** panel is the ChatPanel: its input receives the reply, its messages are looked up by id. */
  constructor(panel) {
    this.panel = panel;
    this.openID = null;
    this.target = null; // {id, name}: the message the next send replies to
    this.countEls = new Map(); // message id → its reply-count button
    this.shown = new Set(); // reply ids listed in the open thread
    this.list = h('ol', { class: 'thread-list', id: 'thread-list' });
    this.parentBox = h('div', { class: 'thread-parent', id: 'thread-parent' });
    this.el = h('aside', { class: 'chat-thread', id: 'chat-thread', hidden: true, attrs: { 'aria-label': ct('thread') } },
      h('header', { class: 'thread-head' }, h('strong', {}, ct('thread')),
        h('button', { type: 'button', class: 'btn btn-ghost btn-sm thread-reply', onclick: () => this.replyTo(this.openID) }, ct('reply')),
        h('button', { type: 'button', class: 'btn btn-ghost btn-sm thread-close', attrs: { 'aria-label': ct('closethread') }, onclick: () => this.close() }, '×')),
      this.parentBox, this.list);
    this.chipText = h('span', { class: 'replyto-text' });
    this.chip = h('div', { class: 'chat-replyto', id: 'chat-replyto', hidden: true },
      this.chipText,
      h('button', { type: 'button', class: 'btn btn-ghost btn-sm', attrs: { 'aria-label': ct('cancelreply') }, onclick: () => this.clearTarget() }, '×'));
  }

  /** decorate adds the quoted parent and the reply count to a message's element. */
  decorate(li, m) {
    const wrap = li.querySelector('.bubble-wrap');
    const row = li.querySelector('.bubble-row');
    if (m.parent) {
      const p = m.parent;
      row.before(h('button', {
        type: 'button', class: `msg-quote${p.deleted ? ' deleted' : ''}`, dataset: { parent: p.id },
        onclick: () => this.open(p.id),
      }, p.deleted ? h('span', { class: 'quote-text' }, ct('parentdeleted'))
        : [h('span', { class: 'quote-nick' }, p.nickname || p.sender), h('span', { class: 'quote-text' }, p.excerpt)]));
    }
    if (m.id !== undefined && !m.parent) {
      const btn = h('button', { type: 'button', class: 'msg-replies', hidden: !m.reply_count, onclick: () => this.open(m.id) });
      this.countEls.set(m.id, btn);
      this.setCount(m.id, m.reply_count || 0);
      wrap.append(btn);
    }
  }

  /** menuItem is the bubble menu's reply action (none on replies: threads are one level deep). */
  menuItem(m, closeMenus) {
    if (m.id === undefined || m.parent || m.parent_chat) return null;
    return h('button', {
      type: 'button', class: 'menu-item msg-reply', attrs: { role: 'menuitem' },
      onclick: () => { closeMenus(); this.replyTo(m.id, m.nickname || m.sender); },
    }, ct('reply'));
  }

  setCount(id, n) {
    const btn = this.countEls.get(id);
    if (!btn) return;
    btn.textContent = ct('replies', { n });
    btn.hidden = !n;
    btn.dataset.count = String(n);
  }

  /** applyReplies applies a chat.message.replies frame. */
  applyReplies(f) { this.setCount(f.id, f.reply_count); }

  replyTo(id, name) {
    if (!id) return;
    const li = this.messageEl(id);
    const who = name || li?.querySelector('.nick')?.textContent || this.panel.me.nickname || '';
    this.target = { id };
    this.chipText.textContent = ct('replying', { name: who });
    this.chip.hidden = false;
    this.panel.input.focus();
  }

  clearTarget() {
    this.target = null;
    this.chip.hidden = true;
  }

  /** takeTarget returns the id the next message replies to (0: none) and forgets it. */
  takeTarget() {
    const id = this.target ? this.target.id : 0;
    this.clearTarget();
    return id;
  }

  messageEl(id) {
    const seq = this.panel.byID.get(id);
    return seq === undefined ? null : this.panel.bySeq.get(seq);
  }

  /** open shows the thread of message id: the parent, then its replies in seq order. */
  async open(id) {
    this.openID = id;
    this.shown.clear();
    clear(this.list);
    clear(this.parentBox);
    const li = this.messageEl(id);
    const text = li?.querySelector('.text');
    if (text) {
      this.parentBox.append(h('span', { class: 'quote-nick' }, li.querySelector('.nick')?.textContent || this.panel.me.nickname || ''),
        h('div', { class: 'text' }, formatMessage(text.dataset.raw ?? text.textContent)));
    }
    this.el.hidden = false;
    try {
      const replies = await api(`/api/chat/message/${encodeURIComponent(id)}/replies/?limit=100`);
      if (this.openID !== id) return;
      for (const m of replies || []) this.add(m);
      if (!this.shown.size) this.list.append(h('li', { class: 'sys thread-empty' }, ct('noreplies')));
    } catch {
      toast(t('common.error'), 'error');
    }
  }

  close() {
    this.openID = null;
    this.el.hidden = true;
  }

  /** onMessage lists a live reply in the open thread. */
  onMessage(m) {
    if (this.openID && m.parent && m.parent.id === this.openID) this.add(m);
  }

  add(m) {
    if (this.shown.has(m.id)) return;
    this.shown.add(m.id);
    this.list.querySelector('.thread-empty')?.remove();
    this.list.append(h('li', { class: 'thread-msg', dataset: { id: m.id, seq: m.seq } },
      h('div', { class: 'meta' }, h('span', { class: 'nick' }, m.nickname || m.sender),
        h('time', { dateTime: m.created_at || '' }, m.created_at ? fmtTime(m.created_at) : '')),
      h('div', { class: 'text' }, formatMessage(m.message))));
  }
}
