// What a room's chat adds for conversations (issue #12), attached to a
// ChatPanel through its onMessage/onHistory hooks:
// - the unread line where I left off (my read marker when the room
//   opened) and a button that jumps to it while it is out of view;
// - my read marker follows what I see: when the tab is visible and the
//   chat is scrolled to the bottom, POST read with the newest seq;
// - @mentions highlighted, mentions of me stand out;
// - @ autocomplete of the room's nicknames (who is online, and who wrote
//   in the messages loaded).
import { h, clear } from './dom.js';
import { t } from './i18n.js';
import * as myrooms from './myrooms.js';

// As the server reads mentions: a nickname after @ runs until white space
// or punctuation other than _, and an @ right after a letter or digit (an
// email) is no mention.
const mentionRe = /(?<![\p{L}\p{N}])@([\p{L}\p{N}_]+)/gu;
const maxSuggestions = 6;

/** attachConversation adds unread line, read markers, mentions and autocomplete to panel. */
export function attachConversation(panel) {
  const myNick = (panel.me?.nickname || '').toLowerCase();
  const names = new Map(); // lower-case nickname → as written
  let lastRead = null; // my marker when the room opened; null: unknown or not a member
  let line = null;

  const jump = h('button', { type: 'button', class: 'chat-jump-unread', id: 'chat-jump-unread', hidden: true, onclick: () => {
    if (line) panel.log.scrollTop = Math.max(0, line.offsetTop - 8);
    jump.hidden = true;
  } }, t('chat.jumpunread'));
  panel.newBtn.before(jump);

  myrooms.load().then(() => {
    const r = myrooms.room(panel.roomID);
    lastRead = r ? (r.last_read_seq || 0) : null;
    placeLine();
  }).catch(() => {});

  function placeLine() {
    if (line || lastRead === null) return;
    const first = [...panel.list.querySelectorAll('.msg.theirs[data-seq]')].find((li) => Number(li.dataset.seq) > lastRead);
    if (!first) return;
    line = h('li', { class: 'sys unread-line', id: 'unread-line', attrs: { role: 'separator' } }, h('span', {}, t('chat.unreadline')));
    (first.previousElementSibling?.matches('.day') ? first.previousElementSibling : first).before(line);
    updateJump();
  }

  function updateJump() {
    if (!line) return;
    const above = line.offsetTop < panel.log.scrollTop;
    const below = line.offsetTop > panel.log.scrollTop + panel.log.clientHeight;
    jump.hidden = !(above || below);
  }

  function maybeRead() {
    if (document.visibilityState !== 'visible' || !panel.maxSeq || !panel.atBottom()) return;
    myrooms.markRead(panel.roomID, panel.maxSeq);
  }

  panel.onHistory = () => { placeLine(); maybeRead(); };
  panel.onMessage = (li, m, { history, older }) => {
    if (m.nickname) names.set(m.nickname.toLowerCase(), m.nickname);
    highlight(li);
    // The line marks where I left off before opening the room: messages
    // arriving while I am here do not move or make it.
    if (!history && !older) maybeRead();
  };
  panel.log.addEventListener('scroll', () => { updateJump(); maybeRead(); });
  const onVisible = () => maybeRead();
  document.addEventListener('visibilitychange', onVisible);

  function highlight(li) {
    const p = li.querySelector('.text');
    if (!p || p.querySelector('.mention')) return;
    const text = p.textContent;
    mentionRe.lastIndex = 0;
    if (!mentionRe.test(text)) return;
    mentionRe.lastIndex = 0;
    const parts = [];
    let at = 0;
    for (const m of text.matchAll(mentionRe)) {
      parts.push(text.slice(at, m.index));
      const me = m[1].toLowerCase() === myNick;
      parts.push(h('span', { class: `mention${me ? ' mention-me' : ''}` }, m[0]));
      if (me) li.classList.add('mentions-me');
      at = m.index + m[0].length;
    }
    parts.push(text.slice(at));
    clear(p);
    p.append(...parts);
  }

  // ---- @ autocomplete ----
  const box = h('ul', { class: 'mention-suggest', id: 'mention-suggest', hidden: true, attrs: { role: 'listbox', 'aria-label': t('chat.mentionlist') } });
  panel.form.append(box);
  let choices = [];
  let active = 0;
  let range = null; // [start, end] of "@prefix" in the input

  function candidates(prefix) {
    const all = new Map(names);
    for (const u of panel.online.values()) if (u.username) all.set(u.username.toLowerCase(), u.username);
    all.delete(myNick);
    return [...all.entries()].filter(([k]) => k.startsWith(prefix)).sort(([a], [b]) => a.localeCompare(b)).slice(0, maxSuggestions).map(([, v]) => v);
  }

  function suggest() {
    const input = panel.input;
    const caret = input.selectionStart ?? input.value.length;
    const m = input.value.slice(0, caret).match(/(^|\s)@([\p{L}\p{N}_]*)$/u);
    if (!m) { close(); return; }
    choices = candidates(m[2].toLowerCase());
    if (!choices.length) { close(); return; }
    range = [caret - m[2].length - 1, caret];
    active = 0;
    renderBox();
  }

  function renderBox() {
    clear(box);
    choices.forEach((name, i) => {
      box.append(h('li', { class: `mention-option${i === active ? ' active' : ''}`, attrs: { role: 'option', 'aria-selected': String(i === active) },
        onmousedown: (e) => { e.preventDefault(); choose(i); } }, `@${name}`));
    });
    box.hidden = false;
  }

  function close() { box.hidden = true; choices = []; range = null; }

  function choose(i) {
    const input = panel.input;
    const name = choices[i];
    if (!name || !range) return;
    const insert = `@${name} `;
    input.value = input.value.slice(0, range[0]) + insert + input.value.slice(range[1]);
    const pos = range[0] + insert.length;
    input.setSelectionRange(pos, pos);
    close();
    input.focus();
  }

  panel.input.addEventListener('input', suggest);
  panel.input.addEventListener('blur', () => setTimeout(close, 100));
  // Capture: the chat's own Enter-to-send must not see a key the list takes.
  panel.input.addEventListener('keydown', (e) => {
    if (box.hidden || !choices.length) return;
    const keys = { ArrowDown: 1, ArrowUp: -1 };
    if (e.key in keys) { active = (active + keys[e.key] + choices.length) % choices.length; renderBox(); }
    else if ((e.key === 'Enter' && !e.isComposing) || e.key === 'Tab') choose(active);
    else if (e.key === 'Escape') close();
    else return;
    e.preventDefault();
    e.stopImmediatePropagation();
  }, true);

  return () => document.removeEventListener('visibilitychange', onVisible);
}
