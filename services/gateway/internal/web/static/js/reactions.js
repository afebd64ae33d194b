// Reaction chips under chat messages, and the emoji picker.
//
// Counts come from three places: a message's own object (history, with
// "me" for this user), the answer to this user's toggle (with "me"), and
// chat.message.reaction frames (counts only: one frame serves the whole
// room). What this user reacted with is therefore kept here per message
// and updated from the first two; a frame only changes counts, and an
// emoji gone from a frame is gone from "mine" too. Frames carry "rev", the
// message's reaction revision: one older than what was applied (frames of
// two quick toggles may cross) is dropped.
import { h, clear, toast } from './dom.js';
import { api, ApiError } from './api.js';
import { ct } from './convtext.js';

/** The picker's emoji: a small fixed set (the server accepts any single emoji). */
export const pickerEmoji = ['👍', '❤️', '😂', '🎉', '😮', '😢', '🙏', '🔥'];

export class Reactions {
  constructor() {
    this.mine = new Map(); // message id → Set of emoji
    this.counts = new Map(); // message id → [{emoji, count}]
    this.rev = new Map(); // message id → highest rev applied
    this.rows = new Map(); // message id → {row, chips, picker}
    this.onDocClick = (e) => { if (!e.target.closest('.react-add, .react-picker')) this.closePickers(); };
    document.addEventListener('click', this.onDocClick);
  }

  destroy() { document.removeEventListener('click', this.onDocClick); }

  /**
   * bar returns the reaction row of message m: its chips and a "+" that
   * opens the picker. A message without reactions shows no row at all; the
   * bubble menu's item (menuItem) opens the picker there.
   */
  bar(m) {
    const id = m.id;
    const chips = h('div', { class: 'react-chips' });
    const picker = h('div', { class: 'react-picker', hidden: true, attrs: { role: 'menu' } },
      pickerEmoji.map((e) => h('button', {
        type: 'button', class: 'react-pick', attrs: { role: 'menuitem', 'aria-label': ct('reactwith', { emoji: e }) },
        onclick: () => { this.closePickers(); this.toggle(id, e); },
      }, e)));
    const add = h('button', {
      type: 'button', class: 'react-add', attrs: { 'aria-label': ct('react'), 'aria-haspopup': 'menu' },
      onclick: () => { const open = picker.hidden; this.closePickers(); picker.hidden = !open; },
    }, '+');
    const row = h('div', { class: 'reactions', dataset: { id } }, chips, h('div', { class: 'react-more' }, add, picker));
    this.rows.set(id, { row, chips, picker });
    if (Array.isArray(m.reactions)) {
      const mine = new Set(m.reactions.filter((r) => r.me === true).map((r) => r.emoji));
      // A frame (no "me") never forgets what history or a toggle said.
      if (m.reactions.some((r) => 'me' in r) || !this.mine.has(id)) this.mine.set(id, mine);
      this.counts.set(id, m.reactions.map((r) => ({ emoji: r.emoji, count: r.count })));
    }
    this.render(id);
    return row;
  }

  /** menuItem is the bubble menu's "add reaction", opening the picker under the message. */
  menuItem(m, closeMenus) {
    if (m.id === undefined) return null;
    return h('button', {
      type: 'button', class: 'menu-item msg-react', attrs: { role: 'menuitem' },
      onclick: (e) => { e.stopPropagation(); closeMenus(); this.openPicker(m.id); },
    }, ct('react'));
  }

  openPicker(id) {
    const r = this.rows.get(id);
    if (!r) return;
    this.closePickers();
    r.row.hidden = false;
    r.picker.hidden = false;
    r.picker.querySelector('.react-pick')?.focus();
  }

  closePickers() {
    for (const [id, r] of this.rows) {
      if (r.picker.hidden) continue;
      r.picker.hidden = true;
      this.render(id);
    }
  }

  render(id) {
    const row = this.rows.get(id);
    if (!row) return;
    const { chips } = row;
    const mine = this.mine.get(id) || new Set();
    clear(chips);
    for (const r of this.counts.get(id) || []) {
      chips.append(h('button', {
        type: 'button', class: `react-chip${mine.has(r.emoji) ? ' me' : ''}`,
        dataset: { emoji: r.emoji }, attrs: { 'aria-pressed': String(mine.has(r.emoji)), 'aria-label': ct('reactwith', { emoji: r.emoji }) },
        onclick: () => this.toggle(id, r.emoji),
      }, h('span', { class: 'react-emoji' }, r.emoji), h('span', { class: 'react-count' }, String(r.count))));
    }
    row.row.hidden = !chips.firstChild && row.picker.hidden;
  }

  /** applyFrame applies a chat.message.reaction frame (counts for the room). */
  applyFrame(f) {
    const id = f.id;
    if ((this.rev.get(id) || 0) > (f.rev || 0)) return;
    this.rev.set(id, f.rev || 0);
    const list = (f.reactions || []).map((r) => ({ emoji: r.emoji, count: r.count }));
    this.counts.set(id, list);
    const mine = this.mine.get(id);
    if (mine) for (const e of [...mine]) if (!list.some((r) => r.emoji === e)) mine.delete(e);
    this.render(id);
  }

  /** toggle adds or removes this user's reaction through the REST route. */
  async toggle(id, emoji) {
    try {
      const res = await api(`/api/chat/message/${encodeURIComponent(id)}/reactions/`, { method: 'POST', body: { emoji } });
      if ((this.rev.get(id) || 0) > (res.rev || 0)) return; // a newer frame came first
      this.rev.set(id, res.rev || 0);
      this.mine.set(id, new Set((res.reactions || []).filter((r) => r.me).map((r) => r.emoji)));
      this.counts.set(id, (res.reactions || []).map((r) => ({ emoji: r.emoji, count: r.count })));
      this.render(id);
    } catch (err) {
      toast(err instanceof ApiError && err.status === 409 ? ct('toomany') : ct('reactfailed'), 'error');
    }
  }
}
