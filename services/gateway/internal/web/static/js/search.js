// Search in a room's messages (GET /api/chat/room/<id>/messages/?search=),
// attached to a ChatPanel: a search button in the chat's header opens a
// search bar; results come newest first, a page at a time ("더 보기", the
// Link header's next page), each with the matched text marked. Choosing a
// result loads older history until the message is there, scrolls the log
// to it and highlights it. The server matches literally (% and _ are plain
// text), ignoring case, in any script.
import { h, clear, avatar, fmtDate, icon, toast } from './dom.js';
import { t } from './i18n.js';
import { list, qs, ApiError } from './api.js';
import { errorText } from './errors.js';
import { shownText } from './blocks.js';

const pageSize = 20;
const maxLen = 200; // the API's limit for the search text
// Loading older history to reach a result stops after this many pages
// (of the chat's 50 messages): a result further back says so instead.
const maxOlderPages = 40;

/** attachSearch adds message search to panel; returns the detach function. */
export function attachSearch(panel) {
  let next = null;
  let query = '';
  let seqToken = 0;
  const input = h('input', {
    type: 'search', class: 'input chat-search-input', id: 'chat-search-input', maxLength: maxLen, enterKeyHint: 'search',
    placeholder: t('search.chat.placeholder'), attrs: { 'aria-label': t('search.chat') },
  });
  const results = h('ol', { class: 'chat-search-results', id: 'chat-search-results', attrs: { 'aria-label': t('search.chat.results') } });
  const more = h('button', { type: 'button', class: 'btn btn-ghost btn-sm chat-search-more', id: 'chat-search-more', hidden: true }, t('board.more'));
  const box = h('div', { class: 'chat-search-box', id: 'chat-search-box', hidden: true }, results, more);
  const close = h('button', { type: 'button', class: 'btn btn-ghost btn-sm', id: 'chat-search-close' }, t('common.close'));
  const form = h('form', { class: 'chat-search', id: 'chat-search', hidden: true, attrs: { role: 'search' } },
    input, h('button', { type: 'submit', class: 'btn btn-primary btn-sm', id: 'chat-search-go' }, t('search.label')), close);
  const toggle = h('button', {
    type: 'button', class: 'chat-search-toggle', id: 'chat-search-toggle',
    attrs: { 'aria-label': t('search.chat'), 'aria-expanded': 'false', 'aria-controls': 'chat-search' },
  }, icon('search'));

  const head = panel.el.querySelector('.chat-head');
  head.append(toggle);
  head.after(form);
  panel.log.after(box);

  const open = (on) => {
    form.hidden = !on;
    toggle.setAttribute('aria-expanded', String(on));
    if (on) input.focus();
    else { box.hidden = true; seqToken++; }
  };
  toggle.addEventListener('click', () => open(form.hidden));
  close.addEventListener('click', () => { open(false); toggle.focus(); });
  input.addEventListener('keydown', (e) => { if (e.key === 'Escape') { open(false); toggle.focus(); } });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const q = input.value.trim();
    if (!q) return;
    query = q;
    clear(results);
    await showPage(`/api/chat/room/${panel.roomID}/messages/${qs({ search: q, limit: pageSize })}`);
  });
  more.addEventListener('click', () => { if (next) showPage(next); });

  async function showPage(url) {
    const token = ++seqToken;
    more.disabled = true;
    let page;
    try {
      page = await list(url);
    } catch (err) {
      if (token !== seqToken) return;
      more.disabled = false;
      // A 400 names the search text (too long, or too slow to answer).
      toast(err instanceof ApiError && err.status === 400 ? t('search.chat.invalid') : errorText(err), 'error');
      return;
    }
    if (token !== seqToken) return; // a newer search replaced this one
    more.disabled = false;
    next = page.next;
    more.hidden = !next;
    box.hidden = false;
    if (!page.items.length && !results.children.length) {
      results.append(h('li', { class: 'muted chat-search-empty' }, t('board.emptysearch')));
      return;
    }
    for (const m of page.items) results.append(resultEl(m, query));
  }

  function resultEl(m, q) {
    const name = m.nickname || m.sender || '';
    return h('li', { class: 'chat-search-hit', dataset: { seq: m.seq } },
      h('button', { type: 'button', class: 'chat-search-jump', onclick: () => jumpTo(Number(m.seq)) },
        avatar(m.profile_picture_url, name, 'xs'),
        h('span', { class: 'chat-search-meta' }, h('strong', {}, name), ' ', h('time', { class: 'muted small', dateTime: m.created_at }, fmtDate(m.created_at))),
        // A blocked user's message comes hidden, without text: the chat's fixed line.
        h('span', { class: 'chat-search-text' }, m.hidden ? shownText(m) : marked(m.message || '', q))));
  }

  // jumpTo loads older pages until the message with seq is in the log,
  // then scrolls to it and highlights it.
  async function jumpTo(seq) {
    box.hidden = true;
    for (let i = 0; !panel.bySeq.has(seq) && panel.hasOlder && i < maxOlderPages; i++) {
      if (panel.loadingOlder) await new Promise((r) => { setTimeout(r, 50); });
      else await panel.loadOlder();
    }
    const li = panel.bySeq.get(seq);
    if (!li) { toast(t('search.chat.toofar'), 'error'); return; }
    const log = panel.log;
    log.scrollTop += li.getBoundingClientRect().top - log.getBoundingClientRect().top - log.clientHeight / 3;
    for (const x of panel.list.querySelectorAll('.msg-found')) x.classList.remove('msg-found');
    li.classList.add('msg-found');
    setTimeout(() => li.classList.remove('msg-found'), 4000);
  }

  return () => { seqToken++; toggle.remove(); form.remove(); box.remove(); };
}

/** marked splits text into text nodes with each case-insensitive occurrence of q in <mark> (never HTML). */
function marked(text, q) {
  const out = [];
  const lower = text.toLowerCase();
  const needle = q.toLowerCase();
  // Indexes of the lower-cased text only fit the text when lower-casing
  // kept its length (it does not for a few letters, e.g. "İ"): else no marks.
  if (lower.length !== text.length) return [text];
  let at = 0;
  for (let i = needle ? lower.indexOf(needle) : -1; i >= 0 && out.length < 40; i = lower.indexOf(needle, at)) {
    if (i > at) out.push(text.slice(at, i));
    out.push(h('mark', {}, text.slice(i, i + needle.length)));
    at = i + needle.length;
  }
  out.push(text.slice(at));
  return out;
}
