// /reports: the reported chat messages, newest first, for staff
// (GET /api/chat/reports/; 403 for anyone else). Each report links to the
// sender's and the reporter's profiles and opens the room it came from.
import { h, fmtDate, toast } from '../dom.js';
import { t } from '../i18n.js';
import { api, list, ApiError } from '../api.js';
import { errorText } from '../errors.js';
import * as session from '../session.js';
import { loginHref } from './common.js';
import { roomHref } from '../dm.js';

/** reportsPage renders /reports. */
export async function reportsPage({ main, navigate, isCurrent }) {
  const me = session.current();
  if (!me) { navigate(loginHref(), { replace: true }); return; }
  document.title = `${t('reports.title')} · Cobra Space`;
  const ul = h('ul', { class: 'reports', id: 'reports' });
  const more = h('button', { type: 'button', class: 'btn btn-ghost', id: 'reports-more', hidden: true }, t('board.more'));
  const section = h('section', { class: 'reports-page narrow' }, h('h1', {}, t('reports.title')), ul, more);
  let next = `/api/chat/reports/?limit=20`;

  const userLink = (id, label) => h('a', { href: `/users/${id}`, attrs: { 'data-link': '' } }, label);
  // The report names the room by id; its page is the post's (or the DM's),
  // found when asked for rather than once per report.
  const openRoom = async (roomID) => {
    try {
      const room = await api(`/api/chat/room/${roomID}/`);
      const href = roomHref(room);
      if (href) navigate(href); else toast(t('err.notfound'), 'error');
    } catch (err) { toast(errorText(err), 'error'); }
  };
  const item = (r) => h('li', { class: 'report card', dataset: { id: r.id, message: r.message } },
    h('blockquote', { class: 'report-quote' }, r.message_text),
    h('p', { class: 'report-reason' }, h('strong', {}, t('mod.reason')), ' ', r.reason),
    h('p', { class: 'muted small report-meta' },
      userLink(r.sender, t('reports.sender', { id: r.sender })), ' · ',
      userLink(r.reporter, t('reports.reporter', { id: r.reporter })), ' · ',
      h('time', { dateTime: r.created_at }, fmtDate(r.created_at)), ' · ',
      h('button', { type: 'button', class: 'link-btn report-room', onclick: () => openRoom(r.room) }, t('reports.room', { id: r.room }))));

  const load = async () => {
    more.disabled = true;
    const page = await list(next);
    if (!isCurrent()) return;
    more.disabled = false;
    next = page.next;
    more.hidden = !next;
    for (const r of page.items) ul.append(item(r));
    if (!ul.children.length) ul.append(h('li', { class: 'muted empty-line', id: 'reports-empty' }, t('reports.empty')));
  };
  more.addEventListener('click', () => load().catch((err) => toast(errorText(err), 'error')));
  try {
    await load();
  } catch (err) {
    if (!isCurrent()) return;
    if (!(err instanceof ApiError) || err.status !== 403) throw err;
    main.append(h('div', { class: 'narrow' }, h('div', { class: 'empty-state card', id: 'reports-forbidden' }, h('p', {}, t('reports.staffonly')))));
    return;
  }
  if (isCurrent()) main.append(section);
}
