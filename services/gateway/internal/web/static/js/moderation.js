// Moderation in a room's chat (docs/api.md "Direct messages, blocks,
// moderation, search"), attached to a ChatPanel through its menuItemsFor
// hook: on other people's messages every reader gets "신고" (report with a
// reason), and the room's owner (a post's writer) and staff also get
// "삭제" (delete) and "음소거" (mute the sender for a while, or lift it).
// The server decides; the menu only leaves out what would be refused.
import { h, toast, confirmDialog, fmtDate } from './dom.js';
import { t } from './i18n.js';
import { api, list, request, qs } from './api.js';
import { errorText } from './errors.js';

const reasonMax = 500;
// The mute lengths offered, in minutes (the API takes 1 to 10080).
const muteChoices = [10, 60, 1440, 10080];

/** canModerate tells whether me may delete others' messages and mute in room (owner or staff; nobody in a DM). */
function canModerate(room, me) {
  if (!room || !me || room.kind === 'dm') return false;
  return !!me.is_staff || (!!room.owner && room.owner === me.user);
}

/**
 * attachModeration adds report, delete and mute to the menus of others'
 * messages in panel (attach before panel.start()). room: the room object
 * ({id, owner, kind}). Returns the detach function.
 */
export function attachModeration(panel, room) {
  const moderator = canModerate(room, panel.me);
  panel.menuItemsFor = (m) => {
    if (m.hidden) return []; // a blocked user's message: nothing shown to act on
    const item = (cls, label, fn) => h('button', {
      type: 'button', class: `menu-item ${cls}`, attrs: { role: 'menuitem' },
      onclick: () => { panel.closeMenus(); fn(); },
    }, label);
    const name = m.nickname || m.sender || '';
    return [
      item('msg-report', t('mod.report'), () => reportMessage(m)),
      moderator ? item('msg-mod-delete', t('chat.delete'), () => deleteMessage(m)) : null,
      moderator ? item('msg-mute', t('mod.mute'), () => muteSender(room.id, m.sender, name)) : null,
    ].filter(Boolean);
  };
  return () => { panel.menuItemsFor = null; };
}

async function deleteMessage(m) {
  if (!await confirmDialog(t('mod.confirmdelete', { name: m.nickname || m.sender }), t('chat.delete'), t('common.cancel'))) return;
  try {
    await api(`/api/chat/message/${m.id}/`, { method: 'DELETE' });
    toast(t('mod.deleted'), 'success'); // the room's delete frame removes it everywhere
  } catch (err) { toast(errorText(err), 'error'); }
}

/**
 * formDialog shows a modal <dialog> with a form of the given controls and
 * resolves with the button pressed ("" when cancelled). check(value) may
 * return an error text, which keeps the dialog open.
 */
function formDialog({ id, title, controls, buttons, check }) {
  return new Promise((resolve) => {
    const error = h('p', { class: 'field-error', hidden: true, attrs: { role: 'alert' } });
    const form = h('form', { method: 'dialog', class: 'dialog-form' }, ...controls, error,
      h('div', { class: 'dialog-actions' },
        h('button', { type: 'submit', class: 'btn btn-ghost', value: '' }, t('common.cancel')),
        ...buttons.map(([value, label, cls]) => h('button', { type: 'submit', class: `btn ${cls}`, value }, label))));
    const dlg = h('dialog', { class: 'dialog', id, attrs: { 'aria-label': title } }, h('h2', { class: 'dialog-title' }, title), form);
    form.addEventListener('submit', (e) => {
      const value = e.submitter?.value || '';
      const msg = value && check ? check(value) : '';
      if (msg) { e.preventDefault(); error.textContent = msg; error.hidden = false; }
    });
    dlg.addEventListener('close', () => { resolve(dlg.returnValue || ''); dlg.remove(); });
    document.body.append(dlg);
    dlg.showModal();
    form.querySelector('textarea, select')?.focus();
  });
}

async function reportMessage(m) {
  const reason = h('textarea', { class: 'input', id: 'report-reason', rows: 3, maxLength: reasonMax, attrs: { 'aria-label': t('mod.reason') }, placeholder: t('mod.reason.hint') });
  const text = () => reason.value.trim();
  const choice = await formDialog({
    id: 'report-dialog', title: t('mod.report.title'),
    controls: [h('blockquote', { class: 'report-quote' }, `${m.nickname || m.sender}: ${m.message}`), h('label', { for: 'report-reason' }, t('mod.reason')), reason],
    buttons: [['report', t('mod.report'), 'btn-danger']],
    // The API's limits (1–500 characters), checked before anything is sent.
    check: () => (!text() ? t('err.required') : [...text()].length > reasonMax ? t('mod.reason.long') : ''),
  });
  if (choice !== 'report') return;
  try {
    const { res } = await request(`/api/chat/message/${m.id}/report/`, { method: 'POST', body: { reason: text() } });
    toast(res.status === 201 ? t('mod.reported') : t('mod.reportedbefore'), 'success');
  } catch (err) { toast(errorText(err), 'error'); }
}

/**
 * userIDByEmail finds a user's id from the email a message carries (the
 * message object names its sender by email): the user search matches an
 * exact email even for a private profile. At most three pages are read.
 */
async function userIDByEmail(email) {
  const want = String(email).toLowerCase();
  let url = `/api/user/search-friends/${qs({ keyword: email, limit: 100 })}`;
  for (let i = 0; url && i < 3; i++) {
    const page = await list(url);
    const hit = page.items.find((u) => String(u.email).toLowerCase() === want);
    if (hit) return hit.id;
    url = page.next;
  }
  return null;
}

async function muteSender(roomID, email, name) {
  const minutes = h('select', { class: 'select', id: 'mute-minutes', attrs: { 'aria-label': t('mod.mute.length') } },
    muteChoices.map((n) => h('option', { value: String(n) }, t(`mod.mute.${n}`))));
  const choice = await formDialog({
    id: 'mute-dialog', title: t('mod.mute.title', { name }),
    controls: [h('label', { for: 'mute-minutes' }, t('mod.mute.length')), minutes],
    buttons: [['unmute', t('mod.unmute'), 'btn-ghost'], ['mute', t('mod.mute'), 'btn-danger']],
  });
  if (!choice) return;
  try {
    const user = await userIDByEmail(email);
    if (!user) { toast(t('err.notfound'), 'error'); return; }
    const res = await api(`/api/chat/room/${roomID}/mute/`, {
      method: 'POST', body: { user, minutes: choice === 'mute' ? Number(minutes.value) : 0 },
    });
    toast(res.until ? t('mod.muted', { name, until: fmtDate(res.until) }) : t('mod.unmuted', { name }), 'success');
  } catch (err) { toast(errorText(err), 'error'); }
}
