// Direct messages (docs/api.md "Direct messages, blocks, moderation,
// search"): the "메시지 보내기" button of a profile, which opens (or finds)
// the DM room of the two users with POST /api/chat/dm/, and the DM page
// /dm/<room id>, the same chat component as a post's room without a post.
import { h, avatar, toast, icon } from './dom.js';
import { t } from './i18n.js';
import { api, ApiError } from './api.js';
import { errorText } from './errors.js';
import * as session from './session.js';
import { ChatPanel } from './chat.js';
import { loginHref } from './pages/common.js';
import { attachModeration } from './moderation.js';
import { attachSearch } from './search.js';
import { attachConversation } from './roomconv.js';

/** isDM tells whether a room object is a direct-message room. */
export const isDM = (room) => room?.kind === 'dm';

/** roomHref is where a room is read: /dm/<id> for a DM, its post's page otherwise (null without one). */
export function roomHref(room) {
  if (isDM(room)) return `/dm/${room.id}`;
  return room?.post ? `/posts/${room.post}` : null;
}

/** otherUser is the id of the other member of a DM room (me being one of dm_users). */
export function otherUser(room, me = session.current()) {
  const ids = room?.dm_users || [];
  return ids.find((id) => id !== me?.user) ?? null;
}

// The other users' profiles, by user id, read once per page load: every DM
// room has the same name ("Direct message"), the other user names it.
const profiles = new Map();

/** otherProfile is the other user's profile, or null when it cannot be read (private, gone). */
export function otherProfile(room, me = session.current()) {
  const id = otherUser(room, me);
  if (!id) return Promise.resolve(null);
  if (!profiles.has(id)) profiles.set(id, api(`/api/user/friend-profile/${id}/`).catch(() => null));
  return profiles.get(id);
}

/**
 * dmButton is the "메시지 보내기" button for the user with id userID. A
 * refusal (403: a private profile that has not added me, or a block) is
 * said in place under the button, not only in a toast that goes away.
 */
export function dmButton(userID, navigate) {
  const note = h('p', { class: 'dm-refused field-error', id: 'dm-error', hidden: true, attrs: { role: 'alert' } });
  const btn = h('button', { type: 'button', class: 'btn btn-primary', id: 'dm-open' }, icon('chat'), t('dm.send'));
  btn.addEventListener('click', async () => {
    note.hidden = true;
    btn.disabled = true;
    try {
      const room = await api('/api/chat/dm/', { method: 'POST', body: { user: Number(userID) } });
      navigate(`/dm/${room.id}`);
    } catch (err) {
      note.textContent = err instanceof ApiError && err.status === 403 ? t('dm.refused') : errorText(err);
      note.hidden = false;
      btn.disabled = false;
    }
  });
  return h('div', { class: 'dm-action' }, btn, note);
}

/** dmPage renders /dm/<room id>: the conversation with one other user. */
export async function dmPage({ main, params, navigate, isCurrent }) {
  const me = session.current();
  if (!me) { navigate(loginHref(), { replace: true }); return undefined; }
  let room;
  try {
    room = await api(`/api/chat/room/${params[0]}/`);
  } catch (err) {
    if (!isCurrent()) return undefined;
    // A DM room is 404 to everyone but its two users: say only "not found".
    if (!(err instanceof ApiError) || err.status !== 404) throw err;
    main.append(h('div', { class: 'narrow' }, h('div', { class: 'empty-state card', id: 'dm-missing' },
      h('p', {}, t('dm.notfound')), h('a', { href: '/', class: 'btn btn-ghost', attrs: { 'data-link': '' } }, t('common.home')))));
    return undefined;
  }
  if (!isCurrent()) return undefined;
  if (!isDM(room)) { navigate(roomHref(room) || '/', { replace: true }); return undefined; }

  const otherID = otherUser(room, me);
  // The other user's profile names the conversation; a private one that
  // has not added me cannot be read, and then the room shows a neutral name.
  const other = await otherProfile(room, me);
  if (!isCurrent()) return undefined;
  const name = other?.nickname || other?.email || t('dm.someone');
  document.title = `${t('dm.title', { name })} · Cobra Space`;

  const chat = new ChatPanel({ roomID: room.id, me, onAuthLost: () => toast(t('chat.sessionexpired'), 'error') });
  chat.el.querySelector('.chat-head h2').textContent = t('dm.title', { name });
  chat.el.classList.add('chat-dm');
  // Here a refused send means that one of us blocks the other.
  chat.errorTexts = { forbidden: 'dm.closed' };
  const head = h('header', { class: 'dm-head card', id: 'dm-head' },
    avatar(other?.profile_picture_url, name, 'md'),
    h('div', { class: 'dm-who' },
      otherID ? h('a', { class: 'nick', href: `/users/${otherID}`, attrs: { 'data-link': '' } }, name) : h('span', { class: 'nick' }, name),
      h('span', { class: 'badge badge-muted dm-badge' }, t('dm.badge'))));
  main.append(h('div', { class: 'dm-layout narrow', id: 'dm', dataset: { room: room.id } }, head, chat.el));
  const detachMod = attachModeration(chat, room);
  const detachSearch = attachSearch(chat);
  const detachConv = attachConversation(chat);
  chat.start();
  return () => { detachConv(); detachSearch(); detachMod(); chat.destroy(); };
}
